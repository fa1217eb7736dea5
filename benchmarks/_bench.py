"""What every benchmark shares: one JSON line per figure, and best-of-n wall time."""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Callable


def emitter(bench: str, digits: int = 3) -> Callable[..., None]:
    """``emit(figure, value, unit, **extra)`` printing one figure of ``bench`` as a JSON line,
    with the 1-minute load average (a busy machine explains a slow figure)."""
    return functools.partial(_emit, bench, digits)


def _emit(bench: str, digits: int, figure: str, value: float, unit: str, **extra) -> None:
    record = {
        "bench": bench,
        "figure": figure,
        "value": round(float(value), digits),
        "unit": unit,
        **extra,
        "load": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(record), flush=True)


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Return the shortest wall time of ``repeat`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
