"""A page's stand-in data, generated on demand when the page runs where they are missing.

Every dataset page of the book starts with a hidden cell that calls :func:`ensure_data` with the
page's own parameters. In a run of the study the folder is there (the runner generated it) and
nothing happens. A page downloaded from the book and re-run with papermill on another machine,
or opened from a launch button, finds no folder: its ``dataset_dir`` names the stand-in folder
by the digest of the generation parameters (``<stand-ins>/<digest>/<dataset folder>``,
:func:`mer_utils.sources.standin_root`), and the page's ``profile`` gives those parameters, so
the same stand-in is generated there (byte-identical for the same parameters and generator
version). Licensed data are never generated, and a folder whose name does not match the
profile's parameters is an error naming the folder and the digest it should have.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .. import config
from ..sources import standin_digest

log = logging.getLogger("mer_utils.standins")


def ensure_data(dataset: str, dataset_dir: str | Path, data_kind: str, profile: str) -> Path:
    """Make sure the folder a page reads exists; generate it when it is a missing stand-in.

    ``dataset_dir`` is the page's parameter: a dataset's folder, or for a composite (MEGC 2019)
    the folder holding its parts' folders. Returns the folder. Raises ``FileNotFoundError``
    (one line naming the folder and what is wrong) for missing licensed data or a missing
    folder that is not named as the profile's stand-in."""
    folder = Path(dataset_dir)
    if folder.is_dir():
        return folder
    if data_kind != "stand-in":
        raise FileNotFoundError(
            f"{folder}: the {dataset} folder does not exist; licensed data are never "
            "generated: pass the folder of your licensed copy as dataset_dir"
        )
    info = config.dataset_info(dataset)
    parts = list(info.get("parts") or ())
    root = folder if parts else folder.parent
    if not parts and folder.name != info["folder"]:
        raise FileNotFoundError(
            f"{folder}: no such folder, and a stand-in of {dataset} would be named "
            f"{info['folder']}; pass dataset_dir=<stand-ins>/<digest>/{info['folder']}"
        )
    standin = dict(config.profile(profile)["standin"])
    digest = standin_digest(standin)
    if root.name != digest:
        raise FileNotFoundError(
            f"{folder}: no such folder, and {root} is not named by the digest of profile "
            f"{profile}'s stand-in parameters ({digest}): pass dataset_dir="
            f"{root.parent / digest / (info.get('folder') or '')} to generate it, or run the study"
        )
    from .write import generate_all

    seed = int(standin.pop("seed", 0))
    log.warning("%s: missing; generating the %s stand-in of profile %s", folder, dataset, profile)
    generate_all(root, seed=seed, datasets=parts or [dataset], **standin)
    return folder
