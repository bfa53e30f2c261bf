"""The DataLoader worker process: its loop, its seeding and ``get_worker_info``.

A worker reads ``(task index, sample indices)`` from its own pipe, fetches and collates the
batch, and writes the result to its own result pipe, with the large arrays in shared memory
(see ``shm.py``). It seeds Python's ``random``, NumPy's global generator and tocha's default
generator from ``base_seed + worker_id`` so random augmentations differ between workers and
are reproducible, uses one intra-op thread (the workers are the parallelism), and exits when
told to, when its pipe closes, or when the main process is gone.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from .fetch import create_fetcher
from .shm import WorkerArena

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper"]

# how often (seconds) an idle worker checks that the main process still exists
MP_STATUS_CHECK_INTERVAL = 1.0

# main -> worker messages: (TASK, (task_idx, index), freed) | (RESUME, None, freed) | None
TASK = 0
RESUME = 1


class WorkerInfo:
    """What a worker process knows about itself (``get_worker_info()`` in a worker).

    Attributes:
        id: this worker's number, ``0 .. num_workers - 1``.
        num_workers: how many workers the loader runs.
        seed: the seed this worker's generators got (``base_seed + id``).
        dataset: this worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: object
    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, val) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Information about the current DataLoader worker, or ``None`` in the main process.

    Use it in an ``IterableDataset.__iter__`` or a ``worker_init_fn`` to give each worker its
    own share of the data.

    Example:
        >>> from tocha.core.utils.data import get_worker_info
        >>> get_worker_info() is None  # not in a worker
        True
    """
    return _worker_info


class KeyErrorMessage(str):
    """A str whose repr is itself: KeyError reprs its argument, which would mangle newlines."""

    __slots__ = ()

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process and raised there again.

    The traceback travels as text; the main process raises the same exception type with a
    message saying where it happened followed by the original traceback.
    """

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            # exceptions whose first argument is not the message but that take message=
            raise self.exc_type(message=msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            # a type that needs other arguments: the message still says what it was
            raise RuntimeError(msg) from None
        raise exc


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's iterable dataset is exhausted for this epoch."""

    worker_id: int


class _ResumeIteration:
    """Acknowledges a RESUME: everything this worker sent before it belongs to the old epoch."""


def _numpy_seed(base_seed: int, worker_id: int) -> np.ndarray:
    # NumPy's legacy seed takes 32-bit words; mix both numbers through SeedSequence so
    # neighbouring workers (and epochs) get unrelated streams
    ss = np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFFFFFFFFFF])
    return ss.generate_state(4)


def _where(worker_id: int, fetcher, kind: int) -> str:
    where = f"in DataLoader worker process {worker_id}"
    failed = getattr(fetcher, "failed_at", None)
    if failed is None:
        return where
    what, index = failed
    if what == "sample":
        if kind == 1:
            return f"{where} (sample index {index} of its stream)"
        return f"{where} (sample index {index})"
    if index is not None:
        return f"{where} (batch of sample indices {index})"
    return f"{where} (while collating a batch)"


def _worker_loop(
    kind: int,
    dataset,
    index_conn,
    result_conn,
    done_event,
    auto_collation: bool,
    collate_fn,
    drop_last: bool,
    base_seed: int,
    init_fn,
    worker_id: int,
    num_workers: int,
    persistent_workers: bool,
    shm_prefix: str,
    max_free: int,
    main_pid: int,
    direct_child: bool,
) -> None:
    global _worker_info
    arena = WorkerArena(shm_prefix, worker_id, max_free=max_free)
    try:
        # Ctrl-C reaches the whole process group: the main process handles it and shuts the
        # workers down; a worker that left on its own would only race that with a spurious
        # "exited unexpectedly" error
        with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
            signal.signal(signal.SIGINT, signal.SIG_IGN)

            # terminated (by our own shutdown, or with the whole process group by `timeout`
            # or a job scheduler): unlink the segments first, then die of the signal as usual
            def _on_sigterm(signum, frame):
                arena.close()
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

            signal.signal(signal.SIGTERM, _on_sigterm)
        from .... import _parallel
        from ...._ops.random import manual_seed

        seed = base_seed + worker_id
        random.seed(seed)
        manual_seed(seed)
        np.random.seed(_numpy_seed(base_seed, worker_id))
        _parallel.set_num_threads(1)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)

        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

        # when the main process is gone we are re-parented: leave, nobody reads our results.
        # 'fork' and 'spawn' workers are its children (so this holds even if it died before
        # we got here); a 'forkserver' worker is the server's, which ends with the main process
        ppid = main_pid if direct_child else os.getppid()
        iteration_end = False
        poll = index_conn.poll
        recv = index_conn.recv
        send = result_conn.send_bytes
        while True:
            if not poll(MP_STATUS_CHECK_INTERVAL):
                if os.getppid() != ppid:
                    break  # the main process died: nobody will read our results
                continue
            try:
                msg = recv()
            except (EOFError, OSError):
                break
            if msg is None:
                break
            op, payload, freed = msg
            if freed:
                arena.release(freed)
            if op == RESUME:
                iteration_end = False
                if kind == 1 and init_exception is None:
                    try:  # a fresh pass over the iterable dataset
                        fetcher = create_fetcher(
                            kind, dataset, auto_collation, collate_fn, drop_last
                        )
                    except Exception:
                        init_exception = ExceptionWrapper(
                            where=f"in DataLoader worker process {worker_id}"
                        )
                send(arena.dumps((_ResumeIteration(), None, arena.take_discarded())))
                continue
            if done_event.is_set() or iteration_end:
                continue  # shutting down, or nothing left to read this epoch
            idx, index = payload
            if init_exception is not None:
                data = init_exception  # this worker cannot fetch: say why, every time
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if kind == 1 and isinstance(e, StopIteration):
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=_where(worker_id, fetcher, kind))
            discarded = arena.take_discarded()
            try:
                out = arena.dumps((idx, data, discarded))
            except Exception:  # e.g. an object in the batch that cannot be pickled
                where = f"in DataLoader worker process {worker_id} (sending the batch)"
                out = arena.dumps((idx, ExceptionWrapper(where=where), discarded))
            del data
            try:
                send(out)
            except (BrokenPipeError, OSError):
                break  # the main process closed our pipe
            del out
    except KeyboardInterrupt:
        pass  # (only where SIGINT could not be ignored) the main process shuts us down
    finally:
        arena.close()
