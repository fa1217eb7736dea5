"""The book's sentences: templates kept as data in ``mer_utils/data/sentences.yaml``.

The report code computes the numbers and decides which sentence applies; the words are the
table's, filled in by :func:`say`. Each sentence has an id, ``<group>.<name>`` (the group is the
page family of :mod:`mer_utils.report` that says it, or ``common``), and ``str.format``
placeholders named after the values the code passes: ``say("scale.no_runs")``,
``say("results.no_protocol_runs", protocol="kfold", dataset="SMIC-HS")``. A literal brace in a
sentence (a MyST role such as ``{doc}``) is written twice: ``{{doc}}``.

Editing the table re-runs the pages (it is one of the tables every page's fingerprint reads,
:func:`mer_utils.build.fingerprints.page_tables`) and retrains nothing (no fold key reads it).
"""

from __future__ import annotations

import string

from .. import config

TABLE = "sentences"
PATH = "mer_utils/data/sentences.yaml"


class SentenceError(LookupError):
    """A sentence the code asks for that the table does not give as asked: an unknown id, a
    group where a sentence was expected, or a placeholder the code gives no value for."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


def template(key: str) -> str:
    """The sentence ``key`` (``group.name``) as written in the table, placeholders unfilled."""
    node = config.load(TABLE)
    for depth, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(key.split(".")[:depth]) or "the table"
            known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
            raise SentenceError(
                f"{PATH}: no sentence {key!r} ({where} has no {part!r}; it has: {known})"
            )
        node = node[part]
    if not isinstance(node, str):
        raise SentenceError(
            f"{PATH}: {key!r} is a group of sentences ({', '.join(sorted(node))}), not a sentence"
            if isinstance(node, dict)
            else f"{PATH}: {key!r} is not text but {type(node).__name__} {node!r}"
        )
    return node


def say(key: str, **values) -> str:
    """The sentence ``key`` with ``values`` filled in (``str.format``). An unknown id, or a
    placeholder without a value, is a :class:`SentenceError` naming the file and the id."""
    text = template(key)
    try:
        return text.format(**values)
    except KeyError as exc:
        given = ", ".join(sorted(values)) or "none"
        raise SentenceError(
            f"{PATH}: sentence {key!r} has the placeholder {{{exc.args[0]}}}, for which the "
            f"code gives no value (it gives: {given}); a literal brace is written twice"
        ) from None
    except (IndexError, ValueError) as exc:
        raise SentenceError(
            f"{PATH}: sentence {key!r} is not a valid template ({exc}); placeholders are "
            "named, {name}, and a literal brace is written twice, {{ or }}"
        ) from None


def placeholders(key: str) -> set[str]:
    """The names of the placeholders of sentence ``key``."""
    return {
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template(key))
        if name is not None
    }


def keys(node=None, prefix: str = "") -> list[str]:
    """Every sentence id of the table, in its order."""
    node = config.load(TABLE) if node is None else node
    out = []
    for name, value in node.items():
        key = f"{prefix}{name}"
        out += keys(value, key + ".") if isinstance(value, dict) else [key]
    return out
