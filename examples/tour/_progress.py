"""A dependency-free progress bar: ``for x in progress(items, "training"): ...``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_WIDTH = 28


class progress:  # noqa: N801 - used like tqdm, a function-looking iterator
    """Wrap an iterable; redraw one line on stderr at most 10 times a second.

    Where stderr is not a terminal (CI logs), only the finished bar is printed, so a log
    gets one line per bar instead of hundreds. ``set(text)`` shows a short status (a loss).
    """

    def __init__(self, items: Iterable[T], desc: str, total: int | None = None) -> None:
        self.items = items
        self.desc = desc
        self.total = total if total is not None else len(items)  # type: ignore[arg-type]
        self.status = ""
        self.tty = sys.stderr.isatty()

    def set(self, status: str) -> None:
        self.status = status

    def _line(self, n: int, elapsed: float) -> str:
        frac = n / self.total if self.total else 1.0
        fill = int(round(frac * _WIDTH))
        bar = "#" * fill + "." * (_WIDTH - fill)
        return f"  {self.desc:<24} [{bar}] {n}/{self.total} {elapsed:5.1f}s {self.status}"

    def __iter__(self) -> Iterator[T]:
        start = last = time.perf_counter()
        n = 0
        for n, item in enumerate(self.items, 1):
            yield item
            now = time.perf_counter()
            if self.tty and now - last > 0.1:
                sys.stderr.write("\r" + self._line(n, now - start) + "\033[K")
                sys.stderr.flush()
                last = now
        line = self._line(n, time.perf_counter() - start)
        sys.stderr.write("\r" + line + "\033[K\n" if self.tty else line + "\n")
        sys.stderr.flush()
