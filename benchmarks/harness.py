"""Interleaved side-by-side timing: tocha and its anchor run in the same process, alternating,
so machine noise hits both equally. We report per-call medians and their ratio.

Each side settles before its timed calls: it runs untimed for ``SETTLE_S`` first. A BLAS's
worker threads (NumPy's OpenBLAS, torch's OpenMP pool) keep spinning on the cores for up to
~0.1 s after their last call; timing one side straight after the other measured the first
side's spinning threads as well (measured: torch's MLP step 2.2x slower straight after one
NumPy GEMM, 5.5 vs 12.3 ms).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Workload:
    name: str
    group: str
    tocha: Callable[[], Callable[[], object]]  # builds the closure to time
    anchor: Callable[[], Callable[[], object]]
    target: float  # the ratio tocha/anchor the issue asks for (<=)


@dataclass
class Result:
    name: str
    group: str
    tocha_s: float
    anchor_s: float
    target: float

    @property
    def ratio(self) -> float:
        return self.tocha_s / self.anchor_s


def _calls_for(fn, budget_s: float) -> int:
    """How many calls fill roughly ``budget_s`` seconds (at least 1)."""
    fn()
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < budget_s / 10:
        fn()
        n += 1
    per = (time.perf_counter() - t0) / max(n, 1)
    return max(1, int(budget_s / max(per, 1e-9)))


SETTLE_S = 0.15


def _settle(fn) -> None:
    """Untimed calls for ``SETTLE_S`` (at least one): the other side's threads go quiet."""
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < SETTLE_S:
        fn()


def measure(w: Workload, rounds: int = 15, budget_s: float = 0.02) -> Result:
    """Median seconds per call of each side over ``rounds`` alternating rounds."""
    ft, fa = w.tocha(), w.anchor()
    nt, na = _calls_for(ft, budget_s), _calls_for(fa, budget_s)
    times_t, times_a = [], []
    for r in range(rounds):
        order = ((ft, nt, times_t), (fa, na, times_a))
        for fn, n, acc in order if r % 2 == 0 else order[::-1]:
            _settle(fn)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            acc.append((time.perf_counter() - t0) / n)
    return Result(w.name, w.group, statistics.median(times_t), statistics.median(times_a), w.target)


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def table(results: list[Result], anchor: str) -> str:
    lines = [
        f"| workload | tocha | {anchor} | ratio tocha/{anchor} | target |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        ok = "" if r.ratio <= r.target else " (over)"
        lines.append(
            f"| {r.name} | {fmt_time(r.tocha_s)} | {fmt_time(r.anchor_s)} | "
            f"{r.ratio:.2f}{ok} | <= {r.target:g} |"
        )
    return "\n".join(lines)
