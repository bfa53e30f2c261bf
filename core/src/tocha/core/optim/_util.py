"""Shared machinery of the element-wise optimizers: scratch buffers and the chunked update driver.

Every element-wise optimizer (SGD, Adam, ...) writes its update rule once as a *kernel*: a
function of raw arrays (NumPy or CuPy) that updates the parameter and its state in place with
``out=`` ufuncs, so a step allocates nothing. ``run`` feeds a kernel one parameter at a time,
flattened and cut into cache-sized chunks: all the passes of an update rule then run over a
chunk while it is still in the CPU cache, instead of streaming the whole parameter through
memory once per pass (which is what bounds a per-op implementation on large parameters).

The kernels share the steps of torch's update rules below (``effective_grad``, ``lerp_``,
``square_avg_``, ``addcdiv_`` ...): each writes through ``out=`` into the scratch arrays it is
given, in torch's order of operations, so that a step rounds as torch's does.
"""

from __future__ import annotations

import contextvars

import numpy as np

from .. import _dtype, _parallel
from .._tensor import Tensor, wrap

__all__ = [
    "CHUNK",
    "Scratch",
    "Batch",
    "run",
    "scalar",
    "options",
    "new_step",
    "state_like",
    "full_state_like",
    "effective_grad",
    "decayed_grad",
    "lerp_",
    "square_avg_",
    "moments_",
    "addcdiv_",
    "add_",
]

# Elements per chunk: 64 Ki float32 = 256 KiB per array, so the five or six arrays an update
# touches stay within a core's L2 cache. Measured on (256, 256) and (2048, 2048) Adam steps.
CHUNK = 1 << 16

_ndarray = np.ndarray


def scalar(x) -> float:
    """A hyperparameter as a Python number (torch allows lr, betas ... as one-element tensors)."""
    return float(x) if isinstance(x, Tensor) else x


def options(group: dict, *keys: str) -> tuple:
    """The options ``keys`` of a parameter group, as a kernel's arguments: tensors as Python
    numbers, and ``betas`` as its two values."""
    out = []
    for key in keys:
        value = group[key]
        if key == "betas":
            out += [scalar(b) for b in value]
        else:
            out.append(scalar(value))
    return tuple(out)


def _scalar_np_dtype():
    # torch keeps optimizer step counters in float32, or float64 when that is the default dtype
    return np.float64 if _dtype.get_default_dtype() is _dtype.float64 else np.float32


def new_step(value: float = 0.0) -> Tensor:
    """A 0-dim step counter tensor on the CPU, like torch's ``state['step']``."""
    return wrap(np.array(value, dtype=_scalar_np_dtype()))


def state_like(p: Tensor) -> Tensor:
    """A C-contiguous zero tensor with ``p``'s shape, dtype and device (an optimizer state)."""
    arr = p._data
    xp = np if arr.__class__ is _ndarray else _xp_of(arr)
    return wrap(xp.zeros(arr.shape, dtype=arr.dtype))


def full_state_like(p: Tensor, value: float) -> Tensor:
    arr = p._data
    xp = np if arr.__class__ is _ndarray else _xp_of(arr)
    return wrap(xp.full(arr.shape, value, dtype=arr.dtype))


def _xp_of(arr):
    if arr.__class__ is _ndarray:
        return np
    import cupy

    return cupy


def _device_key(arr):
    if arr.__class__ is _ndarray:
        return None
    return arr.device.id


class Scratch:
    """Reusable temporary buffers, one set per (array type, dtype, device).

    Buffers are flat and at most ``CHUNK`` elements long, so the memory they hold is small and
    bounded no matter how large the parameters are.
    """

    __slots__ = ("_pool", "_shaped")

    def __init__(self) -> None:
        self._pool: dict = {}
        # views of the pooled buffers in the shapes asked for so far: parameters keep their
        # shapes from step to step, and building the views anew costs more than a small update
        self._shaped: dict = {}

    def get(self, like, n: int, k: int) -> list:
        """``k`` flat buffers of ``n`` elements with the dtype and device of ``like``."""
        key = (like.__class__, like.dtype, _device_key(like))
        bufs = self._pool.get(key)
        if bufs is None or len(bufs) < k or bufs[0].size < n:
            size = max(n, bufs[0].size if bufs else 0)
            xp = _xp_of(like)
            bufs = [xp.empty(size, dtype=like.dtype) for _ in range(max(k, len(bufs or ())))]
            self._pool[key] = bufs
            self._shaped.clear()  # the views would keep the replaced buffers alive
        if bufs[0].size == n:
            return bufs[:k]
        return [b[:n] for b in bufs[:k]]

    def shaped(self, like, k: int) -> list:
        """``k`` buffers with the shape, dtype and device of ``like`` (at most ``CHUNK`` elements)."""
        if like.__class__ is _ndarray:
            key = (like.dtype, like.shape, k)
        else:
            key = (like.__class__, like.dtype, like.shape, k, like.device.id)
        views = self._shaped.get(key)
        if views is None:
            views = self.get(like, like.size, k)
            if like.ndim != 1:
                views = [t.reshape(like.shape) for t in views]
            self._shaped[key] = views
        return views


def _flat(arr):
    """A writable flat view of ``arr`` (complex viewed as its real and imaginary parts)."""
    f = arr.reshape(-1)
    if f.dtype.kind == "c":
        f = f.view(f.real.dtype)
    return f


# Columns per block of ``_c_order``'s transposing copy: a block reads 256 contiguous memory
# rows of the source and writes 256-element runs of the destination, cache- and TLB-friendly,
# and is large enough for two threads copying at once not to wait on the GIL (measured on
# ResNet-18's weight gradients: 64 columns, 19 ms on one thread and 18.5 on two; 256, 17.5
# and 11.3).
_T_BLOCK = 256


def _c_order(a):
    """``a`` as a C-contiguous NumPy array, copying a transposed layout in cache blocks.

    Convolution weight gradients come out of the GEMM with their output-channel axis innermost
    in memory; NumPy's plain copy of such a layout walks the source with a stride of a whole
    row per element and is 10-30x slower than a contiguous copy at ResNet's sizes. When the
    memory order of ``a`` is a rotation of its axes, it is a transposed (rows, cols) matrix
    and is copied a column block at a time.
    """
    if a.flags.c_contiguous:
        return a
    b = np.squeeze(a)  # a view: size-1 axes have arbitrary strides and would confuse the order
    nd = b.ndim
    order = sorted(range(nd), key=lambda i: -b.strides[i])
    s = order[0]
    mem = b.transpose(order)
    if nd < 2 or s == 0 or order != [*range(s, nd), *range(s)] or not mem.flags.c_contiguous:
        return np.ascontiguousarray(a)
    rows = int(np.prod(b.shape[:s]))
    cols = b.size // rows
    src = mem.reshape(cols, rows).T
    out = np.empty((rows, cols), dtype=a.dtype)
    for j in range(0, cols, _T_BLOCK):
        out[:, j : j + _T_BLOCK] = src[:, j : j + _T_BLOCK]
    return out.reshape(a.shape)


def _units(
    kernel, p, g, states: tuple, ntmp: int, args: tuple, out: list, chunk: int = CHUNK
) -> object:
    """Append the work for one parameter to ``out`` as units of at most ``chunk`` elements.

    A unit is ``(kernel, p, g, states, ntmp, args)`` on arrays of one shape. Returns a
    write-back callable when the parameter had to be copied (strided arrays), else None.
    """
    n = p.size
    if n <= chunk and p.dtype.kind != "c" and g.shape == p.shape:
        # small parameter: one unit on the arrays as they are (element-wise ufuncs accept any
        # layout), without flattening
        out.append((kernel, p, g, states, ntmp, args))
        return None
    writable = (p, *states)
    copies = None
    for a in writable:
        if a is not None and not a.flags.c_contiguous:
            # rare (a parameter that is a strided view): run on contiguous copies, write back
            copies = [None if a is None else _xp_of(a).ascontiguousarray(a) for a in writable]
            break
    src = copies if copies is not None else writable
    fp = _flat(src[0])
    fs = tuple(None if a is None else _flat(a) for a in src[1:])
    if g.__class__ is _ndarray and not g.flags.c_contiguous:
        g = _c_order(g)
    fg = g.reshape(-1)
    if fg.dtype.kind == "c":
        if not fg.flags.c_contiguous:
            fg = _xp_of(fg).ascontiguousarray(fg)
        fg = fg.view(fg.real.dtype)
    n = fp.size
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        out.append(
            (
                kernel,
                fp[lo:hi],
                fg[lo:hi],
                tuple(None if s is None else s[lo:hi] for s in fs),
                ntmp,
                args,
            )
        )
    if copies is None:
        return None

    def write_back() -> None:
        for a, c in zip(writable, copies):
            if a is not None:
                a[...] = c

    return write_back


def _run_units(units, scratch: Scratch) -> None:
    shaped = scratch.shaped
    for kernel, p, g, states, ntmp, args in units:
        xp = np if p.__class__ is _ndarray else _xp_of(p)
        kernel(xp, p, g, states, shaped(p, ntmp), *args)


def run(kernel, scratch: Scratch, p, g, states: tuple, ntmp: int, args: tuple) -> None:
    """Apply ``kernel(xp, p, g, states, tmps, *args)`` to one parameter, chunk by chunk.

    ``p`` and the arrays in ``states`` (``None`` entries allowed) are updated in place; ``g``
    is only read. The kernel sees arrays of equal shape: the parameter's own when it fits in
    one chunk, else flat C-contiguous chunks (complex tensors are processed as pairs of reals,
    like torch's ``view_as_real``).
    """
    units: list = []
    write_back = _units(kernel, p, g, states, ntmp, args, units)
    _run_units(units, scratch)
    if write_back is not None:
        write_back()


# Total elements of a step below which it runs on one thread (handing work to the pool costs
# tens of microseconds).
PARALLEL_MIN = 1 << 18
# Elements per unit when a step runs on several threads: NumPy calls on CHUNK elements run no
# faster on two Python threads than on one (the GIL changes hands around every call), so the
# threads take larger units, trading some cache locality for calls long enough to overlap.
PARALLEL_CHUNK = 1 << 18


class Batch:
    """The updates of one ``step``, run after the loop over parameters.

    Updates of different parameters (and different chunks of one) are independent, so a large
    step is spread over tocha's intra-op threads (``tocha.core.set_num_threads``) the way
    torch's kernels use its threads. Every element is computed by the same ufunc sequence
    whichever thread runs it, so results do not depend on the number of threads.
    """

    __slots__ = ("scratches", "jobs", "size")

    def __init__(self, scratches: list) -> None:
        self.scratches = scratches
        self.jobs: list = []
        self.size = 0

    def add(self, kernel, p, g, states: tuple, ntmp: int, args: tuple) -> None:
        """Queue ``kernel(xp, p, g, states, tmps, *args)`` with ``ntmp`` scratch arrays."""
        self.jobs.append((kernel, p, g, states, ntmp, args))
        self.size += p.size

    def run(self) -> None:
        jobs = self.jobs
        if not jobs:
            return
        # a kernel with a compiled form for all parameters at once (SGD's): one call
        every = getattr(jobs[0][0], "every", None)
        if every is not None and all(j[0] is jobs[0][0] for j in jobs) and every(jobs):
            return
        scratch = self.scratches[0]
        threads = _parallel.get_num_threads()
        if (
            threads <= 1
            or self.size < PARALLEL_MIN
            or jobs[0][1].__class__ is not _ndarray
            or len({id(j[1]) for j in jobs}) != len(jobs)  # a parameter listed twice
        ):
            for job in jobs:
                run(job[0], scratch, *job[1:])
            return
        pool = _parallel._get_pool()
        jobs = _c_order_grads(jobs, threads, pool)
        units: list = []
        write_backs = []
        for job in jobs:
            wb = _units(*job, units, chunk=PARALLEL_CHUNK)
            if wb is not None:
                write_backs.append(wb)
        # contiguous runs of units with about the same number of elements per thread
        parts: list[list] = [[] for _ in range(threads)]
        total = sum(u[1].size for u in units)
        acc, k = 0, 0
        for u in units:
            if acc >= total * (k + 1) / threads and k < threads - 1:
                k += 1
            parts[k].append(u)
            acc += u[1].size
        while len(self.scratches) < threads:
            self.scratches.append(Scratch())
        futures = [
            pool.submit(contextvars.copy_context().run, _run_units, part, self.scratches[i])
            for i, part in enumerate(parts[1:], 1)
            if part
        ]
        _run_units(parts[0], scratch)
        for f in futures:
            f.result()
        for wb in write_backs:
            wb()


def _c_order_grads(jobs: list, threads: int, pool) -> list:
    """``jobs`` with their large strided gradients replaced by C-ordered copies, made over the
    threads (the transposing copies cost about as much as the updates themselves)."""
    todo = [
        i
        for i, job in enumerate(jobs)
        if job[2].size > CHUNK and job[2].dtype.kind != "c" and not job[2].flags.c_contiguous
    ]
    if not todo:
        return jobs
    # largest first onto the least loaded thread
    loads = [0] * threads
    parts: list[list] = [[] for _ in range(threads)]
    for i in sorted(todo, key=lambda i: -jobs[i][2].size):
        k = loads.index(min(loads))
        parts[k].append(i)
        loads[k] += jobs[i][2].size

    def copy(idx: list) -> list:
        return [(i, _c_order(jobs[i][2])) for i in idx]

    futures = [pool.submit(copy, part) for part in parts[1:] if part]
    done = copy(parts[0])
    for f in futures:
        done.extend(f.result())
    jobs = list(jobs)
    for i, g in done:
        jobs[i] = (jobs[i][0], jobs[i][1], g, *jobs[i][3:])
    return jobs


def effective_grad(xp, p, g, tmps, weight_decay: float, maximize: bool):
    """The gradient an update uses: ``-g`` when maximizing, plus ``weight_decay * p`` (L2).

    Writes into ``tmps[1]`` (and uses ``tmps[0]``) only when it has to; ``g`` itself is never
    modified.
    """
    if maximize:
        g = xp.negative(g, out=tmps[1])
    if weight_decay != 0:
        out = tmps[1]
        # grad + weight_decay * param, the rounding of torch's grad.add(param, alpha=wd)
        xp.multiply(p, weight_decay, out=tmps[0])
        xp.add(g, tmps[0], out=out)
        g = out
    return g


def decayed_grad(xp, p, g, tmps, lr: float, weight_decay: float, maximize: bool, decoupled: bool):
    """``effective_grad`` for the optimizers with a ``decoupled_weight_decay`` option.

    Decoupled (AdamW-style) decay scales ``p`` by ``1 - lr * weight_decay`` in place first and
    then leaves the gradient without an L2 term.
    """
    if weight_decay != 0 and decoupled:
        p *= 1 - lr * weight_decay
        weight_decay = 0
    return effective_grad(xp, p, g, tmps, weight_decay, maximize)


def lerp_(xp, a, b, w: float, t) -> None:
    """``a += w * (b - a)`` in place (torch's lerp, with its two-sided form for large ``w``)."""
    xp.subtract(b, a, out=t)
    if w < 0.5:
        t *= w
        a += t
    else:
        dt = a.dtype.type
        t *= dt(1) - dt(w)
        xp.subtract(b, t, out=a)


def square_avg_(xp, v, g, beta: float, t) -> None:
    """``v <- beta * v + (1 - beta) * g * g`` in place (torch's ``mul_`` then ``addcmul_``)."""
    v *= beta
    xp.multiply(g, 1 - beta, out=t)
    t *= g
    v += t


def moments_(xp, m, v, g, beta1: float, beta2: float, t) -> None:
    """Adam's running averages: ``m`` of the gradient (a lerp), ``v`` of its square."""
    lerp_(xp, m, g, 1 - beta1, t)
    square_avg_(xp, v, g, beta2, t)


def addcdiv_(xp, p, a, b, value: float, t) -> None:
    """``p += (value * a) / b`` in place, with the roundings of torch's ``addcdiv_``."""
    xp.multiply(a, value, out=t)
    t /= b
    p += t


def add_(xp, p, a, alpha: float, t) -> None:
    """``p += alpha * a`` in place (torch's ``add_(a, alpha=alpha)``); ``t`` may be ``a``."""
    xp.multiply(a, alpha, out=t)
    p += t
