"""Dynamic batching: requests queue up and one worker runs them through the model together."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np


class _Job:
    __slots__ = ("x", "done", "result", "error")

    def __init__(self, x: np.ndarray):
        self.x = x
        self.done = threading.Event()
        self.result = None
        self.error = None


class Batcher:
    """Runs ``fn`` (a batch -> its outputs) on requests gathered for at most
    ``max_latency_ms`` after the first one, up to ``max_batch_size`` samples in all.

    A batch is an array whose first axis is the samples, or a dict of such arrays (named
    model inputs). Requests whose samples differ in shape or dtype run in separate batches.
    """

    def __init__(self, fn, max_batch_size: int = 32, max_latency_ms: float = 5.0):
        if max_batch_size < 1:
            raise ValueError(f"Batcher: max_batch_size must be >= 1, got {max_batch_size}")
        self.fn = fn
        self.max_batch_size = int(max_batch_size)
        self.max_latency = float(max_latency_ms) / 1000.0
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.batches = 0
        self.requests = 0
        self._thread = threading.Thread(target=self._run, name="tocha-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, x: np.ndarray, timeout: float | None = None) -> np.ndarray:
        """Run one request (a batch of samples, first axis) and return its outputs."""
        job = _Job(x)
        self._q.put(job)
        if not job.done.wait(timeout):
            raise TimeoutError("serve: the model did not answer in time")
        if job.error is not None:
            raise job.error
        return job.result

    def close(self) -> None:
        self._stop.set()
        self._q.put(None)
        self._thread.join(timeout=5)

    def _gather(self, first: _Job) -> list[_Job]:
        jobs, n = [first], _rows(first.x)
        deadline = time.monotonic() + self.max_latency
        while n < self.max_batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                job = self._q.get(timeout=left)
            except queue.Empty:
                break
            if job is None:
                self._q.put(None)
                break
            jobs.append(job)
            n += _rows(job.x)
        return jobs

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self._q.get()
            if first is None:
                break
            jobs = self._gather(first)
            groups: dict = {}
            for j in jobs:
                groups.setdefault(_signature(j.x), []).append(j)
            for group in groups.values():
                self._run_group(group)

    def _run_group(self, group: list[_Job]) -> None:
        try:
            x = group[0].x if len(group) == 1 else _concat([j.x for j in group])
            y = self.fn(x)
            self.batches += 1
            self.requests += len(group)
            start = 0
            for j in group:
                n = _rows(j.x)
                j.result = _take(y, start, start + n)
                start += n
        except Exception as e:  # the error goes back to every request of the batch
            for j in group:
                j.error = e
        for j in group:
            j.done.set()


def _rows(x) -> int:
    """Samples in a request: an array's first axis, or that of a dict's arrays."""
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def _signature(x):
    """Requests with the same signature (names, per-sample shapes, dtypes) batch together."""
    if isinstance(x, dict):
        return tuple((k, v.shape[1:], v.dtype.str) for k, v in sorted(x.items()))
    return (x.shape[1:], x.dtype.str)


def _concat(xs):
    if isinstance(xs[0], dict):
        return {k: np.concatenate([x[k] for x in xs]) for k in xs[0]}
    return np.concatenate(xs)


def _take(y, a, b):
    if isinstance(y, (tuple, list)):
        return type(y)(_take(v, a, b) for v in y)
    if isinstance(y, dict):
        return {k: _take(v, a, b) for k, v in y.items()}
    return y[a:b]
