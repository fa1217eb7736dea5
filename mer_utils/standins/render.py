"""Rendering: a subject's clips into frames on disk, in a pool of worker processes.

:class:`Renderer` turns one subject's planned clips into uint8 frames: the expression's field
and wrinkles along the clip's time profile, the head drift and blinks, sensor noise, flicker and
exposure (:mod:`.nuisances`). Work is cut into tasks (some clips of one subject, or all long
videos of a CAS(ME)^2 subject; :func:`make_tasks`) that :func:`run_tasks` renders, the costliest
first, in spawned worker processes; every subject and clip draws from its own seeded generator,
so one or several workers write the same bytes.
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from .. import config
from ..config import CLASSES
from ..environment import bind_to_parent
from . import layouts, nuisances, seeds
from .files import imwrite, write_video
from .looks import REFERENCE_FACE_PX, Subject, make_subject
from .motion import WRINKLE_GL_PER_PX, time_profile
from .subjects import DROP, ClipPlan, SubjectPlan

_CHUNK_FRAMES = 1200  # render tasks hold at most this many frames (whole clips)


class Renderer:
    """Turns clip plans of one subject into uint8 frames (nuisances included)."""

    def __init__(self, subject: Subject, amplitude: float, seed: int):
        self.subject = subject
        self.amplitude = float(amplitude)
        self.scale = subject.face_px / REFERENCE_FACE_PX
        p = subject.plan
        self.noise = nuisances.NoiseBank(seeds.rng(seed, p.dataset, 5, p.index), subject.base.shape)
        self.seed = seed

    def clip(
        self,
        clip: ClipPlan,
        start: Sequence[float] = (0.0, 0.0),
        exposure: tuple[float, float] | None = None,
    ) -> tuple[list[np.ndarray], tuple[float, float]]:
        """Frames onset..offset of one planned clip (or MACRO), and the head position at its
        end (x, y px). ``start`` is the head position at its start; ``exposure`` the (gain,
        offset) of the clip (drawn per clip when None; CAS(ME)^2 uses one per long video)."""
        s, p = self.subject, self.subject.plan
        rng = seeds.rng(self.seed, p.dataset, 6, p.index, clip.key)
        if exposure is None:
            exposure = nuisances.exposure(rng)
        profile = (
            time_profile(clip.n, clip.apex, p.style.shape)
            if clip.label != "rest"
            else np.zeros(clip.n)
        )
        peak = self.amplitude * self.scale * clip.factor
        depth = WRINKLE_GL_PER_PX * p.look.wrinkle * self.amplitude * clip.factor
        motion = s.motion(clip.aus) if clip.label != "rest" and clip.aus else None
        closure = nuisances.blink_closure(rng, clip.n, clip.blink)
        path_x, path_y = nuisances.drift_path(start, clip.drift, clip.n, self.scale)
        out = []
        y0, y1, x0, x1 = s.roi
        for i in range(clip.n):
            roi = s.render_roi(
                motion,
                peak * profile[i],
                depth * profile[i],
                (float(path_x[i]), float(path_y[i])),
                float(closure[i]),
            )
            noise = self.noise.frame(rng)
            frame = cv2.add(s.base, noise)
            frame[y0:y1, x0:x1] = cv2.add(roi, noise[y0:y1, x0:x1])
            gain = exposure[0] * nuisances.flicker(rng)
            # saturating round to uint8 (the few values below 0 fold back: dark-level noise)
            out.append(cv2.convertScaleAbs(frame, alpha=float(gain), beta=float(exposure[1])))
        return out, (float(path_x[-1]), float(path_y[-1]))


def _rest(n: int, key: int) -> ClipPlan:
    """A stretch of neutral frames of a CAS(ME)^2 long video (slow drift, no expression)."""
    return ClipPlan("", "rest", "", n, 0, 0, CLASSES[0], 0.0, key, drift=(0.0, 0.0, 0.0))


@dataclass(frozen=True)
class _Task:
    """One unit of rendering work: some clips (or all long videos) of one subject."""

    name: str
    seed: int
    root: str
    params: dict
    subject: SubjectPlan
    clips: tuple[int, ...]  # indices into subject.clips (not CAS(ME)^2)

    @property
    def frames(self) -> int:
        if layouts.long_videos(self.name):
            return sum(self.subject.video_frames(v) for v in range(len(self.subject.videos)))
        return sum(self.subject.clips[k].n for k in self.clips)

    @property
    def n_clips(self) -> int:
        return sum(self.subject.clips[k].label in (*CLASSES, DROP) for k in self.clips)


_SUBJECT_CACHE: dict[tuple, Subject] = {}


def _cached_subject(task: _Task) -> Subject:
    """The task's subject, rebuilt only when a worker moves on to another subject."""
    size = tuple(task.params["frame_size"])
    key = (task.seed, task.name, task.subject.index, size)
    if key not in _SUBJECT_CACHE:
        _SUBJECT_CACHE.clear()
        _SUBJECT_CACHE[key] = make_subject(
            task.subject,
            size,
            gray=bool(config.dataset_info(task.name).get("gray")),
            seed=task.seed,
        )
    return _SUBJECT_CACHE[key]


def _render_task(task: _Task) -> int:
    """Render and write the frames of one task; return the number of frames written."""
    subject = _cached_subject(task)
    render = Renderer(subject, task.params["amplitude"], task.seed)
    root = Path(task.root)
    p = task.subject
    written = 0
    if layouts.long_videos(task.name):
        fps = float(config.dataset_info(task.name)["fps"])
        for v, video in enumerate(p.videos):
            rng = seeds.rng(task.seed, task.name, 7, p.index, v)
            exposure = nuisances.exposure(rng)
            frames: list[np.ndarray] = []
            pos = (0.0, 0.0)
            for j, (kind, n) in enumerate(video.segments):
                clip = _rest(n, 5000 + 100 * v + j) if kind == "rest" else p.clips[n]
                new, end = render.clip(clip, tuple(0.7 * v_ for v_ in pos), exposure)
                frames += new
                pos = end
            folder = root / "rawpic" / p.id / video.folder
            folder.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(frames, start=1):
                imwrite(folder / f"img{i}.jpg", img)
            written += len(frames)
            if task.params["casme_sq_videos"]:
                write_video(root / "rawvideo" / p.id / f"{video.folder}.avi", frames, fps)
        return written
    for k in task.clips:
        clip = p.clips[k]
        rel, pattern = layouts.frames_folder(task.name, p, clip)
        folder = root / rel
        folder.mkdir(parents=True, exist_ok=True)
        frames, _ = render.clip(clip)
        for i, img in enumerate(frames):
            imwrite(folder / pattern.format(clip.start + i), img)
        written += len(frames)
    return written


def make_tasks(
    name: str, seed: int, root: Path, params: dict, plans: list[SubjectPlan]
) -> list[_Task]:
    out = []
    for p in plans:
        if layouts.long_videos(name):
            out.append(_Task(name, seed, str(root), params, p, tuple(range(len(p.clips)))))
            continue
        chunk: list[int] = []
        frames = 0
        for k, c in enumerate(p.clips):
            if chunk and frames + c.n > _CHUNK_FRAMES:
                out.append(_Task(name, seed, str(root), params, p, tuple(chunk)))
                chunk, frames = [], 0
            chunk.append(k)
            frames += c.n
        if chunk:
            out.append(_Task(name, seed, str(root), params, p, tuple(chunk)))
    return out


def _worker_init() -> None:
    """A rendering worker: dies with its parent (even on SIGKILL), leaves Ctrl-C to it, and
    renders on one thread (the pool is the parallelism)."""
    bind_to_parent()
    cv2.setNumThreads(1)


def run_tasks(tasks: list[_Task], workers: int, bars: dict[str, Any]) -> None:
    """Render every task, the costliest first, in ``workers`` processes (spawned: safe even
    when the parent process has started TensorFlow).

    The workers are bound to this process (:func:`mer_utils.build.processes.bind_to_parent`): killing
    it, even with SIGKILL, takes them down too. Ctrl-C reaches this process alone (the workers
    start with SIGINT blocked and then ignore it): it stops the pool at once and the
    ``KeyboardInterrupt`` goes on, once; so does a failing task's error."""
    order = sorted(tasks, key=lambda t: -t.frames * math.prod(t.params["frame_size"]))
    if workers <= 1 or len(order) < 2:
        for task in order:
            _render_task(task)
            bars[task.name].update(task.n_clips)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(int(workers), mp_context=ctx, initializer=_worker_init)
    try:
        # Workers are spawned while the tasks are submitted: with SIGINT blocked meanwhile they
        # inherit the block, so a Ctrl-C while they start cannot print a traceback from them;
        # here it waits until the submissions are done.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures = {pool.submit(_render_task, task): task for task in order}
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for future in as_completed(futures):
            future.result()
            task = futures[future]
            bars[task.name].update(task.n_clips)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool) -> None:
    """Kill the pool's workers at once and drop the tasks not yet started."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for process in workers:
        process.kill()
    for process in workers:
        process.join(timeout=5)
    pool.shutdown(wait=False, cancel_futures=True)
