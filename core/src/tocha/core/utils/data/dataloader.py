"""DataLoader: batches from a dataset, in this process or from worker processes.

With ``num_workers=0`` batches are fetched and collated in the calling process. With
``num_workers > 0`` each worker is a process (``fork`` on Linux by default, ``spawn`` or
``forkserver`` when asked) with its own copy of the dataset. The main process sends each
worker the indices of whole batches round-robin through a pipe per worker, keeping
``prefetch_factor * num_workers`` batches in flight, and returns the batches in sampler order.
A worker sends each batch back as a small pickle whose large arrays live in shared memory
(``_utils/shm.py``): the main process maps them without copying.

Failures: an exception in a worker is raised again in the main process, same type, naming the
worker and the sample index; a worker that dies is noticed at once (the main process waits on
the worker's process sentinel together with its result pipe) and reported with its exit code;
``timeout=`` bounds the wait for any one batch. Workers are shut down at the end of an epoch
(unless ``persistent_workers``), when the iterator is garbage collected, and at exit.
"""

from __future__ import annotations

import collections.abc
import contextlib
import itertools
import math
import multiprocessing as python_multiprocessing
import os
import signal
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from multiprocessing.connection import wait as _mp_wait
from typing import Any, Generic, TypeVar

from ... import _dtype
from ..._device import cupy_or_none
from ..._ops.creation import empty
from ._utils.collate import default_collate, default_convert
from ._utils.fetch import create_fetcher
from ._utils.shm import MainArena, new_prefix
from ._utils.worker import (
    RESUME,
    TASK,
    ExceptionWrapper,
    _IterableDatasetStopIteration,
    _ResumeIteration,
    _worker_loop,
    get_worker_info,
)
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

T_co = TypeVar("T_co", covariant=True)

# how long one wait for a worker's result lasts before the workers' health is checked again;
# a dead worker wakes the wait at once through its sentinel, this is only a backstop
_POLL_INTERVAL = 5.0
# shutting down: how long workers get to finish their current batch before being terminated
_JOIN_TIMEOUT = 5.0


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        return create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)


class _InfiniteConstantSampler(Sampler):
    """Yields ``None`` forever: the "index" for an iterable-style dataset."""

    def __iter__(self):
        while True:
            yield None


def _default_context():
    # fork on Linux: workers start in milliseconds and share the dataset's memory copy-on-write
    if sys.platform.startswith("linux"):
        return python_multiprocessing.get_context("fork")
    return python_multiprocessing.get_context()


def _cpu_count() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


class DataLoader(Generic[T_co]):
    """Iterate over a dataset in batches, optionally shuffled, optionally with worker processes.

    Args:
        dataset: a map-style :class:`Dataset` (``__getitem__``/``__len__``) or an
            :class:`IterableDataset`.
        batch_size: samples per batch; ``None`` turns automatic batching off (each sample
            is only converted with ``default_convert``).
        shuffle: reshuffle the indices every epoch (map-style datasets).
        sampler: the order of indices (exclusive with ``shuffle``).
        batch_sampler: yields whole lists of indices (exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: worker processes for loading; 0 loads in the main process.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).
        pin_memory: copy every batch's tensors into page-locked host memory (with CUDA),
            so ``.to('cuda', non_blocking=True)`` copies them asynchronously; without a GPU
            a warning says it is not used, as in torch.
        drop_last: drop the last, incomplete batch.
        timeout: seconds to wait for one batch from the workers (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a start method name (``'fork'``, ``'spawn'``,
            ``'forkserver'``) or a context; default ``fork`` on Linux.
        generator: the random generator for shuffling and for the workers' base seed.
        prefetch_factor: batches loaded in advance per worker (default 2 with workers).
        persistent_workers: keep the workers (and their dataset copies) between epochs.
        pin_memory_device: deprecated in torch; accepted and ignored.
        in_order: return batches in sampler order (``False``: as soon as any is ready).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.utils.data import DataLoader, TensorDataset
        >>> ds = TensorDataset(torch.arange(10.0).reshape(5, 2), torch.arange(5))
        >>> loader = DataLoader(ds, batch_size=2)
        >>> len(loader)
        3
        >>> [y.tolist() for _, y in loader]
        [[0, 1], [2, 3], [4]]
    """

    dataset: Dataset[T_co]
    batch_size: int | None
    num_workers: int
    pin_memory: bool
    drop_last: bool
    timeout: float
    sampler: Sampler | Iterable
    prefetch_factor: int | None
    _iterator: Any
    __initialized = False

    def __init__(
        self,
        dataset: Dataset[T_co],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing.let "
                "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)

        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator

        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers

        self.__initialized = True
        # len(dataset) as last reported through len(loader), to warn when more comes
        self._IterableDataset_len_called = None
        self._iterator = None

        self.check_worker_number_rationality()

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context) -> None:
        if multiprocessing_context is not None:
            if self.num_workers > 0:
                if isinstance(multiprocessing_context, str):
                    valid = python_multiprocessing.get_all_start_methods()
                    if multiprocessing_context not in valid:
                        raise ValueError(
                            "multiprocessing_context option should specify a valid start "
                            f"method in {valid!r}, but got "
                            f"multiprocessing_context={multiprocessing_context!r}"
                        )
                    multiprocessing_context = python_multiprocessing.get_context(
                        multiprocessing_context
                    )
                if not isinstance(
                    multiprocessing_context, python_multiprocessing.context.BaseContext
                ):
                    raise TypeError(
                        "multiprocessing_context option should be a valid context object or a "
                        "string specifying the start method, but got "
                        f"multiprocessing_context={multiprocessing_context}"
                    )
            else:
                raise ValueError(
                    "multiprocessing_context can only be used with multi-process loading "
                    f"(num_workers > 0), but got num_workers={self.num_workers}"
                )
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr, val) -> None:
        if self.__initialized and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    def __iter__(self) -> _BaseDataLoaderIter:
        # with persistent workers the same iterator (and its workers) serves every epoch
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        # what the workers are given: lists of indices with automatic batching, else indices
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            # an iterable dataset's len() is only a hint; remember it to warn if exceeded
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self) -> None:
        """Warn when more workers are asked for than there are CPUs to run them."""
        if not self.num_workers:
            return
        cpus = _cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker processes in total. "
                f"Our suggested max number of worker in current system is {cpus}, which is "
                "smaller than what this DataLoader is going to create. Please be aware that "
                "excessive worker creation might get DataLoader running slow or even freeze, "
                "lower the worker number to avoid potential slowness/freeze if necessary.",
                stacklevel=2,
            )


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._shared_seed = None
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory and loader.pin_memory_device:
            warnings.warn(
                "pin_memory_device is deprecated, the current accelerator will be used as the "
                f"device,ignore pin_memory_device='{loader.pin_memory_device}'.",
                stacklevel=2,
            )
        if loader.pin_memory and cupy_or_none() is None:
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, then device "
                "pinned memory won't be used.",
                stacklevel=2,
            )
        self._pin_memory = bool(loader.pin_memory) and cupy_or_none() is not None
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = int(
            empty((), dtype=_dtype.int64).random_(generator=loader.generator).item()
        )
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)  # may raise StopIteration

    def _next_data(self):
        raise NotImplementedError

    def __next__(self) -> Any:
        if self._sampler_iter is None:
            self._reset()  # type: ignore[call-arg]
        data = self._next_data()
        if self._pin_memory:
            data = pin_memory(data)
        self._num_yielded += 1
        if (
            self._dataset_kind == _DatasetKind.Iterable
            and self._IterableDataset_len_called is not None
            and self._num_yielded > self._IterableDataset_len_called
        ):
            msg = (
                f"Length of IterableDataset {self._dataset} was reported to be "
                f"{self._IterableDataset_len_called}(when accessing len(dataloader)), but "
                f"{self._num_yielded} samples have been fetched. "
            )
            if self._num_workers > 0:
                msg += (
                    "For multiprocessing data-loading, this could be caused by not properly "
                    "configuring the IterableDataset replica at each worker. Please see "
                    "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset "
                    "for examples."
                )
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        if self._num_workers != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires num_workers == 0")
        self._dataset_fetcher = create_fetcher(
            self._dataset_kind,
            self._dataset,
            self._auto_collation,
            self._collate_fn,
            self._drop_last,
        )

    def _next_data(self):
        index = self._next_index()  # may raise StopIteration
        return self._dataset_fetcher.fetch(index)  # may raise StopIteration


def pin_memory(data):
    """``data`` with every tensor in it (nested in mappings, namedtuples, lists, tuples, or an
    object with its own ``pin_memory()``) copied into page-locked memory, as torch's loader
    pins a batch."""
    from ..._tensor import Tensor

    if isinstance(data, Tensor):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: pin_memory(v) for k, v in data.items()})
        except TypeError:  # a mapping type that cannot be built from a dict
            return {k: pin_memory(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(pin_memory(v) for v in data))
    if isinstance(data, tuple):
        return tuple(pin_memory(v) for v in data)
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([pin_memory(v) for v in data])
        except TypeError:
            return [pin_memory(v) for v in data]
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except (ValueError, AttributeError):
        return f"signal {-code}"


class _WorkerPool:
    """The worker processes of one iterator, their pipes and shared memory, and their end.

    Kept apart from the iterator so the iterator's finalizer (run when it is garbage
    collected, or at exit) can shut the workers down without keeping the iterator alive.
    """

    def __init__(self, loader: DataLoader, base_seed: int, ctx) -> None:
        self.pid = os.getpid()
        self.prefix = new_prefix()
        n = loader.num_workers
        self.num_workers = n
        self.arena = MainArena(self.prefix, n)
        self.closed = False
        self._final: list | None = None  # (pid, exit code) per worker, once shut down
        self.workers: list = []
        self.index_conns: list = []
        self.result_conns: list = []
        self.done_event = ctx.Event()
        # segments a worker may keep for reuse: about what is in flight, with headroom
        max_free = max(16, 4 * (loader.prefetch_factor or 2))
        try:
            for i in range(n):
                idx_r, idx_w = ctx.Pipe(duplex=False)
                res_r, res_w = ctx.Pipe(duplex=False)
                w = ctx.Process(
                    target=_worker_loop,
                    args=(
                        loader._dataset_kind,
                        loader.dataset,
                        idx_r,
                        res_w,
                        self.done_event,
                        loader._auto_collation,
                        loader.collate_fn,
                        loader.drop_last,
                        base_seed,
                        loader.worker_init_fn,
                        i,
                        n,
                        loader.persistent_workers,
                        self.prefix,
                        max_free,
                        self.pid,
                        ctx.get_start_method() in ("fork", "spawn"),
                    ),
                    daemon=True,
                )
                # the pipes are registered before start() so a failed start closes them too
                self.index_conns.append(idx_w)
                self.result_conns.append(res_r)
                try:
                    w.start()
                finally:
                    idx_r.close()  # the worker's ends now live in the worker
                    res_w.close()
                self.workers.append(w)
        except BaseException:
            self.shutdown()
            raise
        self._eof: set[int] = set()  # workers whose result pipe reached end-of-file
        self._conn_worker = {c: i for i, c in enumerate(self.result_conns)}
        self._sentinel_worker = {w.sentinel: i for i, w in enumerate(self.workers)}
        self._wait_on = list(self.result_conns) + list(self._sentinel_worker)

    # --- talking to workers -----------------------------------------------------------------
    def send(self, worker_id: int, msg) -> None:
        if self.closed:
            self.raise_if_dead()
            raise RuntimeError("DataLoader workers have been shut down")
        try:
            self.index_conns[worker_id].send(msg)
        except (BrokenPipeError, ConnectionResetError, OSError):
            # the worker's end is closed: it is exiting; its exit status follows shortly
            _mp_wait([self.workers[worker_id].sentinel], _JOIN_TIMEOUT)
            self._eof.add(worker_id)
            self.raise_if_dead()
            raise

    def recv(self, timeout: float | None):
        """The next message from any worker as ``(worker_id, message)``; None on timeout.

        Waits on every worker's result pipe and process sentinel at once, so a worker that
        dies wakes the wait immediately instead of leaving it blocked.
        """
        if self.closed:
            self.raise_if_dead()
            raise RuntimeError("DataLoader workers have been shut down")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait_for = _POLL_INTERVAL
            if deadline is not None:
                wait_for = min(wait_for, max(0.0, deadline - time.monotonic()))
            ready = _mp_wait(self._wait_on, wait_for)
            exited = False
            for r in ready:
                w = self._conn_worker.get(r)
                if w is None:
                    exited = True  # a sentinel: that worker's process has ended
                    continue
                try:
                    payload = r.recv_bytes()
                except (EOFError, OSError):
                    # its writing end is closed: the worker is exiting; its sentinel follows
                    self._eof.add(w)
                    self._wait_on.remove(r)
                    continue
                return w, self.arena.loads(w, payload)
            if exited or not ready:
                self.raise_if_dead()
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def raise_if_dead(self) -> None:
        """Raise RuntimeError naming the first worker that has exited (after shutting down)."""
        for i, (pid, code) in enumerate(self._status()):
            if code is None:
                continue
            if not self.closed and i not in self._eof and self.result_conns[i].poll():
                continue  # it left results behind: those are read first
            self.shutdown()
            msg = f"DataLoader worker (pid {pid}) exited unexpectedly with exit code {code}"
            if code < 0:
                msg += f" (killed by {_signal_name(code)})"
            raise RuntimeError(
                msg + ". Details are lost due to multiprocessing. Rerunning with "
                "num_workers=0 may give better error trace."
            )

    def _status(self) -> list:
        """``(pid, exit code or None)`` of every worker."""
        if self._final is not None:
            return self._final
        return [(w.pid, w.exitcode) for w in self.workers]

    # --- the end ----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop every worker (politely, then by signal), reap it, and free shared memory."""
        if self.closed or os.getpid() != self.pid:
            return  # done already, or a forked child holding a copy of this object
        self.closed = True
        # (at interpreter exit the event's semaphore may already be gone)
        with contextlib.suppress(Exception):
            self.done_event.set()
        for c in self.index_conns:
            with contextlib.suppress(Exception):
                c.send(None)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        alive = [w for w in self.workers if w.exitcode is None]
        while alive and time.monotonic() < deadline:
            # keep reading results so no worker blocks on a full pipe; they are discarded
            # (their segments are swept below)
            for c in self.result_conns:
                try:
                    while c.poll():
                        c.recv_bytes()
                except (EOFError, OSError):
                    pass
            _mp_wait([w.sentinel for w in alive], 0.05)
            alive = [w for w in alive if w.exitcode is None]
        for w in alive:
            w.terminate()
        for w in alive:
            w.join(1.0)
            if w.exitcode is None:
                w.kill()
        for w in self.workers:
            w.join()  # reap: no zombies
        self._final = [(w.pid, w.exitcode) for w in self.workers]
        for w in self.workers:
            w.close()  # its sentinel pipe
        for c in self.index_conns + self.result_conns:
            with contextlib.suppress(Exception):
                c.close()
        self.arena.close()


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or _default_context()
        self._pool = _WorkerPool(loader, self._base_seed, ctx)
        # shuts the workers down when this iterator is collected, or at interpreter exit
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._shutdown = False
        self._reset(loader, first_iter=True)

    @property
    def _workers(self) -> list:
        return self._pool.workers

    @property
    def _worker_pids(self) -> list[int]:
        return [pid for pid, _ in self._pool._status()]

    @property
    def _shm_prefix(self) -> str:
        return self._pool.prefix

    def _reset(self, loader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0  # the next task to send
        self._rcvd_idx = 0  # the next task to return
        # task -> (worker,) while in flight, (worker, data) once received out of order
        self._task_info: dict[int, tuple] = {}
        self._tasks_outstanding = 0
        # per worker: still has data this epoch (False once its iterable dataset ran out)
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        pool = self._pool
        if not first_iter:
            # persistent workers: results still in flight belong to the last epoch; each
            # worker answers RESUME after them, so everything before the answers is dropped
            for w in range(self._num_workers):
                pool.send(w, (RESUME, None, pool.arena.take_freed(w)))
            waiting = self._num_workers
            while waiting > 0:
                got = self._get_data()
                if isinstance(got[0], _ResumeIteration):
                    waiting -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _get_data(self):
        """The next message ``(task_idx, data, worker_id)`` from any worker."""
        pool = self._pool
        timeout = self._timeout if self._timeout > 0 else None
        got = pool.recv(timeout)
        if got is None:
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        w, (idx, data, discarded) = got
        if discarded:
            pool.arena.forget(w, discarded)
        return idx, data, w

    def _next_data(self):
        while True:
            # skip tasks of workers whose iterable dataset has run out
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    if len(info) == 2 or self._workers_status[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:  # arrived earlier, out of order
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process_data(info[1], info[0])

            idx, data, w = self._get_data()
            self._tasks_outstanding -= 1
            if self._dataset_kind == _DatasetKind.Iterable and isinstance(
                data, _IterableDatasetStopIteration
            ):
                self._workers_status[data.worker_id] = False
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    # hand it out now; the loop above skips its task number later
                    del self._task_info[idx]
                    return self._process_data(data, w)
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process_data(data, w)

    def _try_put_index(self) -> None:
        max_tasks = self._prefetch_factor * self._num_workers
        if self._tasks_outstanding >= max_tasks:
            raise AssertionError("Number of outstanding tasks exceeded maximum allowed tasks")
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next worker that still has data
            w = next(self._worker_queue_idx_cycle)
            if self._workers_status[w]:
                if self._in_order:
                    break
                if self._workers_num_tasks[w] < max_tasks // sum(self._workers_status):
                    break
        else:
            return
        pool = self._pool
        pool.send(w, (TASK, (self._send_idx, index), pool.arena.take_freed(w)))
        self._task_info[self._send_idx] = (w,)
        self._workers_num_tasks[w] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data, worker_id: int):
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        if not self._shutdown:
            self._shutdown = True
            self._finalizer()
