"""Moving batches from DataLoader workers to the main process through shared memory.

A worker pickles each batch with a ``persistent_id`` hook: every array (a ``Tensor``'s data or
a NumPy array) of at least ``SHM_MIN_BYTES`` is written into a POSIX shared-memory segment
and only a small reference (segment number, shape, dtype) goes into the pickle, which travels
through a pipe. Everything else (containers, strings, numbers, small arrays) is pickled as
usual, so any sample structure comes back exactly.

The main process maps a segment the first time it sees it and unlinks its name at once: the
memory lives on only as long as some mapping of it does, so nothing can be left behind in
``/dev/shm``. The arrays it hands out are zero-copy views of the mapping; each view is owned by
a small ``ctypes`` buffer whose death (the user dropped every view of that array) is noticed
by a weak reference and reported back to the worker, which then reuses the segment for a later
batch. In the steady state no segment is created, truncated or page-faulted: an array costs one
``memcpy`` in the worker and no copy in the main process.

Names are ``<prefix>_<worker>_<n>`` with a prefix unique to one iterator, so the main process
can sweep up segments of a worker that was killed between creating and announcing one.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import io
import mmap
import os
import pickle
import sys
import warnings
import weakref

import numpy as np

from ...._tensor import Tensor, wrap

try:  # POSIX shared memory, as multiprocessing.shared_memory uses it (Linux, macOS)
    import _posixshmem
except ImportError:  # Windows: batches are pickled through the pipe instead
    _posixshmem = None

__all__ = ["SHM_MIN_BYTES", "HAVE_SHM", "WorkerArena", "MainArena", "new_prefix", "sweep"]

HAVE_SHM = _posixshmem is not None
# Arrays smaller than a page are cheaper to pickle inline than to give a segment (and a
# mapping: a process has only ~65k of those) of their own.
SHM_MIN_BYTES = 4096
_PAGE = mmap.PAGESIZE
_SHM_DIR = "/dev/shm"
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
_ndarray = np.ndarray


def new_prefix() -> str:
    """A segment-name prefix unique to this process and call (short: macOS allows 31 chars)."""
    return f"/tocha_{os.getpid()}_{os.urandom(3).hex()}"


def segment_name(prefix: str, worker_id: int, n: int) -> str:
    return f"{prefix}_{worker_id}_{n}"


def sweep(prefix: str) -> list[str]:
    """Unlink every segment whose name starts with ``prefix``; returns the names removed.

    Only possible where the segments are visible as files (Linux's ``/dev/shm``); elsewhere
    the workers' own clean-up on exit is what remains.
    """
    removed = []
    if _posixshmem is None or not os.path.isdir(_SHM_DIR):
        return removed
    stem = prefix.lstrip("/") + "_"
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:
        return removed
    for name in names:
        if name.startswith(stem):
            try:
                _posixshmem.shm_unlink("/" + name)
                removed.append(name)
            except OSError:
                pass
    return removed


def _libc_mmap():
    """libc's mmap/munmap: Python's mmap.mmap keeps a duplicate of the descriptor open for
    each mapping (until 3.13's trackfd=False), and a process may only have ~1024 of those."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        f_map, f_unmap = libc.mmap, libc.munmap
    except (OSError, AttributeError):
        return None, None
    f_map.restype = ctypes.c_void_p
    f_map.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int64,
    ]
    f_unmap.restype = ctypes.c_int
    f_unmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return f_map, f_unmap


_c_mmap, _c_munmap = _libc_mmap() if _posixshmem is not None else (None, None)
_MAP_FAILED = ctypes.c_void_p(-1).value


class _Mapping:
    """One shared mapping of a segment; unmapped when the last array viewing it is gone.

    ``buffer()`` gives a ctypes array over the mapping that keeps the mapping alive, to be
    wrapped by ``np.frombuffer``; NumPy keeps that ctypes array as the arrays' base.
    """

    __slots__ = ("addr", "size", "_keep", "__weakref__")

    def __init__(self, fd: int, size: int):
        self.addr = None
        self.size = size
        self._keep = None
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        if _c_mmap is not None:
            addr = _c_mmap(None, size, prot, mmap.MAP_SHARED | _POPULATE, fd, 0)
            if addr is None or addr == _MAP_FAILED:
                err = ctypes.get_errno()
                raise OSError(err, f"mmap of a {size}-byte shared segment: {os.strerror(err)}")
            self.addr = addr
        else:  # no libc mmap to be had: Python's (one descriptor per mapping)
            mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=prot)
            self._keep = mm
            self.addr = ctypes.addressof(ctypes.c_char.from_buffer(mm))

    def buffer(self):
        buf = (ctypes.c_char * self.size).from_address(self.addr)
        buf._mapping = self  # the views own the mapping, not the other way round
        return buf

    def __del__(self):
        if self._keep is None and self.addr is not None and _c_munmap is not None:
            _c_munmap(self.addr, self.size)
            self.addr = None


class WorkerArena:
    """The worker's side: owns the segments it creates and reuses the ones released to it."""

    def __init__(self, prefix: str, worker_id: int, max_free: int = 16):
        self.prefix = prefix
        self.worker_id = worker_id
        self.max_free = max_free
        self.enabled = HAVE_SHM
        self._maps: dict[int, _Mapping] = {}  # n -> this process's mapping
        self._free: list[int] = []  # segments the main process has released
        self._created: list[str] = []  # every name made, unlinked again on close
        self._discarded: list[int] = []  # dropped segments the main process should forget
        self._next = 0
        self._pids: dict[int, tuple] = {}  # id(obj) -> reference, within one dumps()
        self._taken: list[int] = []  # segments filled by the dumps() under way

    # --- segments ---------------------------------------------------------------------------
    def release(self, ns) -> None:
        """Segments the main process no longer uses: reuse them, keep at most ``max_free``."""
        free = self._free
        free.extend(ns)
        while len(free) > self.max_free:
            # drop the smallest: a large free segment serves any later request
            free.sort(key=lambda k: self._maps[k].size)
            self._drop(free.pop(0))

    def _drop(self, n: int) -> None:
        self._maps.pop(n, None)  # unmapped with its last reference
        self._discarded.append(n)

    def _take(self, nbytes: int) -> int | None:
        """A segment of at least ``nbytes``: the best-fitting free one or a new one."""
        best = None
        best_cap = None
        for i, n in enumerate(self._free):
            cap = self._maps[n].size
            if cap >= nbytes and (best_cap is None or cap < best_cap):
                best, best_cap = i, cap
        # a much larger free segment would be pinned by a small array: make a new one instead
        if best is not None and best_cap <= 2 * nbytes + 16 * _PAGE:
            return self._free.pop(best)
        return self._create(nbytes)

    def _create(self, nbytes: int) -> int | None:
        cap = -(-nbytes // _PAGE) * _PAGE
        n = self._next
        self._next += 1
        name = segment_name(self.prefix, self.worker_id, n)
        # listed before it exists: a SIGTERM handler running close() between the two steps
        # must still find the name to unlink
        self._created.append(name)
        try:
            fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        except OSError as e:
            self._created.pop()
            return self._give_up(e)
        try:
            os.ftruncate(fd, cap)
            if hasattr(os, "posix_fallocate"):
                # reserve the pages now: on a full /dev/shm a write to an mmap'd page would
                # kill the worker with SIGBUS, this raises ENOSPC instead (then: pickle inline)
                os.posix_fallocate(fd, 0, cap)
            self._maps[n] = _Mapping(fd, cap)
        except OSError as e:
            with contextlib.suppress(OSError):
                _posixshmem.shm_unlink(name)
            return self._give_up(e)
        finally:
            os.close(fd)
        return n

    def _give_up(self, err: OSError) -> None:
        # no more shared memory for this worker (full /dev/shm, too many mappings ...): the
        # batches still arrive, pickled through the pipe, and the user learns why it is slower
        self.enabled = False
        warnings.warn(
            f"DataLoader worker {self.worker_id}: shared memory unavailable ({err}); sending "
            "batches through a pipe instead (slower). A larger /dev/shm fixes this.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None

    def close(self) -> None:
        """Unlink every name this worker made (the main process unlinked most already)."""
        for name in self._created:
            with contextlib.suppress(OSError):
                _posixshmem.shm_unlink(name)
        self._created.clear()
        self._maps.clear()

    # --- pickling ---------------------------------------------------------------------------
    def _persistent_id(self, obj):
        cls = obj.__class__
        if cls is Tensor:
            arr = obj._data
            if arr.__class__ is not _ndarray:
                return None  # a GPU tensor pickles through the host
            kind = 1
        elif cls is _ndarray:
            arr = obj
            kind = 0
        else:
            return None
        key = id(obj)
        pid = self._pids.get(key)
        if pid is not None:  # the same object twice in one batch: one segment, one object
            return pid
        if arr.nbytes < SHM_MIN_BYTES or arr.dtype.hasobject or not self.enabled:
            return None
        n = self._take(arr.nbytes)
        if n is None:
            return None  # no shared memory to be had: pickle this one inline
        self._taken.append(n)
        m = self._maps[n]
        dst = np.frombuffer(m.buffer(), dtype=arr.dtype, count=arr.size)
        np.copyto(dst.reshape(arr.shape), arr, casting="no")
        pid = (kind, n, m.size, arr.shape, arr.dtype, kind == 1 and obj._rg)
        self._pids[key] = pid
        return pid

    def dumps(self, obj) -> bytes:
        """Pickle ``obj`` (a message to the main process) with arrays moved to segments."""
        buf = io.BytesIO()
        p = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
        if self.enabled:
            p.persistent_id = self._persistent_id
        try:
            p.dump(obj)
        except BaseException:
            self._free.extend(self._taken)  # nothing was sent: the segments are free again
            raise
        finally:
            self._pids.clear()
            self._taken = []
        return buf.getvalue()

    def take_discarded(self) -> list[int]:
        out, self._discarded = self._discarded, []
        return out


class MainArena:
    """The main process's side: maps segments, hands out views, reports them released."""

    def __init__(self, prefix: str, num_workers: int):
        self.prefix = prefix
        self._maps: list[dict[int, object]] = [{} for _ in range(num_workers)]
        # filled by weakref callbacks (any thread, any time): only appends, read by take_freed
        self._freed = [collections.deque() for _ in range(num_workers)]
        self._refs: dict[int, weakref.ref] = {}  # keeps the weak references themselves alive

    def take_freed(self, worker_id: int) -> list[int]:
        dq = self._freed[worker_id]
        out = []
        while dq:
            out.append(dq.popleft())
        return out

    def forget(self, worker_id: int, ns) -> None:
        maps = self._maps[worker_id]
        for n in ns:
            maps.pop(n, None)

    def _mapping(self, worker_id: int, n: int, cap: int):
        m = self._maps[worker_id].get(n)
        if m is not None:
            return m
        name = segment_name(self.prefix, worker_id, n)
        fd = _posixshmem.shm_open(name, os.O_RDWR, 0o600)
        try:
            _posixshmem.shm_unlink(name)  # from now on only the mappings keep it alive
            try:
                m = _Mapping(fd, cap)
            except OSError:
                # out of mappings (vm.max_map_count): keep the descriptor and copy instead
                m = os.dup(fd)
        finally:
            os.close(fd)
        self._maps[worker_id][n] = m
        return m

    def loads(self, worker_id: int, payload: bytes):
        """Rebuild a worker's message; its large arrays become views of shared memory."""
        up = pickle.Unpickler(io.BytesIO(payload))
        made: dict[int, object] = {}
        freed = self._freed[worker_id]
        refs = self._refs

        def persistent_load(pid):
            kind, n, cap, shape, dtype, requires_grad = pid
            obj = made.get(n)
            if obj is not None:
                return obj
            m = self._mapping(worker_id, n, cap)
            count = 1
            for s in shape:
                count *= s
            if isinstance(m, int):
                arr = np.empty(shape, dtype=dtype)
                os.preadv(m, [memoryview(arr.reshape(-1).view(np.uint8))], 0)
                freed.append(n)  # already copied out: the worker may reuse it at once
            else:
                owner = m.buffer()

                def _released(ref, n=n):
                    refs.pop(id(ref), None)
                    freed.append(n)

                ref = weakref.ref(owner, _released)
                refs[id(ref)] = ref
                arr = np.frombuffer(owner, dtype=dtype, count=count).reshape(shape)
            if kind == 1:
                obj = wrap(arr)
                if requires_grad:
                    obj._rg = True
            else:
                obj = arr
            made[n] = obj
            return obj

        up.persistent_load = persistent_load
        return up.load()

    def close(self) -> None:
        """Drop the cached mappings (live views keep theirs) and sweep leftover names."""
        for maps in self._maps:
            for m in maps.values():
                if isinstance(m, int):
                    os.close(m)
            maps.clear()
        sweep(self.prefix)


if sys.platform == "win32":  # pragma: no cover - no POSIX shared memory
    HAVE_SHM = False
