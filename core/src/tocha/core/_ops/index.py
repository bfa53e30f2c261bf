"""Indexing, gathering, scattering and sorting.

``x[key]`` / ``x[key] = v`` with torch's (NumPy's) rules, gather / scatter / scatter_reduce,
index_select / index_add / index_copy / index_fill / index_put, masked_scatter /
masked_select, take / take_along_dim / put, sort / argsort / msort / topk / kthvalue,
unique / unique_consecutive, nonzero / argwhere, searchsorted / bucketize, bincount / histc /
histogram.

Every differentiable op here is a pair of linear maps that are each other's adjoint: a
*gather* (read positions) and a *scatter-add* (accumulate into zeros at those positions). The
backward of each is the other, so gradients of any order come for free. Accumulation uses
``ufunc.at`` (``cupyx.scatter_add`` on old CuPy), which sums repeated indices exactly and
independently of the order in which they are visited (up to float rounding).

Basic indexing (ints, slices, ``None``, ``...``) returns a view sharing memory and the version
counter with its input, like torch. Advanced indexing (integer / boolean tensors, lists,
arrays) returns a copy. Like torch (and unlike NumPy), integers in a key are applied before the
advanced indices, so ``x[0, :, [0, 1]]`` has shape ``(n1, 2)``.
"""

from __future__ import annotations

import operator

import numpy as np

from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ..autograd.grad_mode import MODE
from ._util import check_same_device, is_scalar, norm_dim, xp_of
from ._util import return_type as _return_type
from ._util import type_name as _tname
from ._util import write_out as _out
from .shape import _view_of

_ndarray = np.ndarray
_INTP = np.dtype(np.int64)


# --- return types ---------------------------------------------------------------------------

sort_type = _return_type("sort")
topk_type = _return_type("topk")
kthvalue_type = _return_type("kthvalue")
histogram_type = _return_type("histogram", ("hist", "bin_edges"))


# --- small helpers --------------------------------------------------------------------------
def _ufunc_at(name: str, out, key, vals) -> None:
    """``out[key] (op)= vals`` with repeated indices all applied (NumPy's ``ufunc.at``)."""
    xp = xp_of(out)
    uf = getattr(xp, name)
    if xp is np:
        uf.at(out, key, vals)
        return
    if hasattr(uf, "at"):
        try:
            uf.at(out, key, vals)
            return
        except (NotImplementedError, TypeError):
            pass
    import cupyx

    fn = {"add": "scatter_add", "maximum": "scatter_max", "minimum": "scatter_min"}.get(name)
    if fn is not None:
        getattr(cupyx, fn)(out, key, vals)
        return
    # multiply.at has no CuPy kernel: do it on the host (rare: scatter_reduce 'prod' on a GPU)
    host = out.get()
    hkey = tuple(k.get() if hasattr(k, "get") else k for k in key)
    np.multiply.at(host, hkey, vals.get() if hasattr(vals, "get") else vals)
    out[...] = xp.asarray(host)


def _scatter_at(name: str, out, coords: tuple, vals) -> None:
    """``ufunc.at`` at full coordinates (one broadcastable int array per dim of ``out``).

    NumPy's ``ufunc.at`` is several times faster with one flat index than with a tuple of
    arrays, so on a contiguous CPU buffer the coordinates are folded into flat offsets. On a
    GPU, floating outputs go to tocha's scatter kernels (atomic, or sorted runs under
    ``use_deterministic_algorithms``).
    """
    if out.__class__ is not _ndarray and _cuda_scatter(name, out, coords, vals):
        return
    if out.__class__ is not _ndarray or not out.flags.c_contiguous or not out.size:
        _ufunc_at(name, out, coords, vals)
        return
    shape = np.broadcast_shapes(*(c.shape for c in coords))
    flat = None
    for c, stride in zip(coords, out.strides):
        term = c * (stride // out.itemsize) if stride != out.itemsize else c
        flat = term if flat is None else flat + term
    flat = np.broadcast_to(flat, shape).reshape(-1)
    vals = np.broadcast_to(vals, shape).reshape(-1) if np.ndim(vals) else vals
    getattr(np, name).at(out.reshape(-1), flat, vals)


def _cuda_scatter(name: str, out, coords: tuple, vals) -> bool:  # pragma: no cover - GPU
    """``_scatter_at`` through ``cuda._segment`` on a C-contiguous floating CuPy array; False
    (nothing done) where the kernels do not apply."""
    if not out.flags.c_contiguous or not out.size:
        return False
    from ..cuda import _segment

    if not _segment.supported(out.dtype):
        return False
    xp = xp_of(out)
    shape = np.broadcast_shapes(*(c.shape for c in coords))
    tgt = _segment.flat_targets(xp, tuple(s // out.itemsize for s in out.strides), coords)
    v = xp.broadcast_to(xp.asarray(vals, dtype=out.dtype), shape).reshape(-1)
    _segment.scatter_into(out, tgt, v, name)
    return True


def _scalar_for(arr, s):
    """A Python scalar as NumPy should combine it with ``arr`` (bfloat16 needs its own type)."""
    if arr.dtype.kind == "V":
        return arr.dtype.type(s)
    return s


def _on_xp(arr, xp):
    """A raw index array moved to the array module ``xp`` (CPU indices for a GPU tensor)."""
    if xp is np:
        return arr if arr.__class__ is _ndarray else arr.get()
    return xp.asarray(arr)


def _int_index(arr, xp):
    arr = _on_xp(arr, xp)
    return arr if arr.dtype == _INTP else arr.astype(_INTP)


def _broadcast_shape(sa: tuple, sb: tuple) -> tuple:
    """Broadcast two shapes with torch's error message."""
    try:
        return tuple(np.broadcast_shapes(sa, sb))
    except ValueError:
        n = max(len(sa), len(sb))
        pa, pb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
        for i in range(n - 1, -1, -1):
            if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                raise RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) "
                    f"at non-singleton dimension {i}"
                ) from None
        raise


def _check_bounds(index, size: int, dim: int, allow_negative: bool, exc=RuntimeError, op=""):
    """Raise ``exc`` naming the first offending value when ``index`` leaves ``[0, size)``."""
    if index.size == 0:
        return
    lo = -size if allow_negative else 0
    mn, mx = int(index.min()), int(index.max())
    if mn < lo or mx >= size:
        bad = mx if mx >= size else mn
        raise exc(f"{op}index {bad} is out of bounds for dimension {dim} with size {size}")


def _as_tensor(x, like: Tensor) -> Tensor:
    from .creation import as_tensor

    return as_tensor(x, device=like.device)


# The raw array an in-place method (``scatter_`` ...) lets its node write into directly; every
# other input of a scatter-like node is copied first.
_WRITE_INTO = [None]


def _target(a):
    """The output buffer of a scatter-like node: ``a`` itself inside its in-place method."""
    return a if a is _WRITE_INTO[0] else a.copy()


def _fast_inplace(fn, name: str):
    """``name`` (e.g. ``scatter_``) for the out-of-place ``fn``: writes straight into ``self``
    when autograd has nothing to record, else the generic in-place path (which records)."""
    from .inplace import make_inplace

    generic = make_inplace(fn, name)

    def method(self, *args, **kwargs):
        data = self._data
        others = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        if (
            (MODE.grad and (self._rg or any(t._rg for t in others)))
            or (data.__class__ is _ndarray and not data.flags.writeable)
            or any(xp_of(data).may_share_memory(t._data, data) for t in others)
        ):
            return generic(self, *args, **kwargs)
        prev = _WRITE_INTO[0]
        _WRITE_INTO[0] = data
        try:
            res = fn(self, *args, **kwargs)
        finally:
            _WRITE_INTO[0] = prev
        if res._data is not data:
            if res._data.shape != data.shape:
                return generic(self, *args, **kwargs)  # raises torch's shape error
            data[...] = res._data
        self._bump_version()
        return self

    method.__name__ = name
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    return method


# --- parsing an indexing key ----------------------------------------------------------------
_BAD_INDEX = (
    "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
    "indices (got {})"
)


def _seq_is_tuple(seq: list) -> bool:
    """torch treats a short list holding tensors, sequences, slices, None or ... as a tuple."""
    if len(seq) >= 32:
        return False
    for x in seq:
        if x is None or x is Ellipsis or isinstance(x, (Tensor, slice, list, tuple, _ndarray)):
            return True
    return False


def _norm_slice(s: slice) -> slice:
    start, stop, step = s.start, s.stop, s.step
    if step is not None:
        step = operator.index(step)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        if step < 0:
            raise ValueError("step must be greater than zero")
    return slice(
        None if start is None else operator.index(start),
        None if stop is None else operator.index(stop),
        step,
    )


def _key_item(k, xp):
    """Classify one array-like key item: ('int', i) | ('bool', b) | ('mask', a) | ('arr', a)."""
    if isinstance(k, Tensor):
        arr = k._data
    elif isinstance(k, _ndarray):
        arr = k
    elif isinstance(k, (list, tuple)):
        arr = np.asarray(
            [x.item() if isinstance(x, Tensor) else x for x in k] if k else [], dtype=None
        )
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(_INTP)
        if arr.dtype.kind not in "biu":
            raise IndexError(_BAD_INDEX.format(type(k).__name__))
    else:
        arr = None
        if hasattr(k, "__cuda_array_interface__") or hasattr(k, "__dlpack__"):
            arr = k
    if arr is None:
        raise IndexError(_BAD_INDEX.format(type(k).__name__))
    kind = arr.dtype.kind
    if kind == "b" or (kind == "u" and arr.dtype.itemsize == 1 and not isinstance(k, list)):
        if arr.ndim == 0:
            return "bool", bool(arr)
        return "mask", _on_xp(arr, xp).astype(bool, copy=False)
    if kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if arr.ndim == 0:
        return "int", int(arr)
    return "arr", _int_index(arr, xp)


def _parse_key(t: Tensor, key):
    """Split ``key`` into a basic key (applied first, a view) and an advanced key (a copy).

    Returns ``(key1, key2, unique)``: ``key1`` a tuple of ints/slices/None ending in ``...``
    (or None when trivial), ``key2`` a tuple of int arrays and full slices for the dims of
    ``t[key1]`` (or None when there are no advanced indices), and whether ``key2``'s positions
    are known to be distinct (a single boolean mask), which lets backward assign instead of
    accumulate.
    """
    if key.__class__ is not tuple:
        if isinstance(key, list) and _seq_is_tuple(key):
            key = tuple(key)
        else:
            key = (key,)
    data = t._data
    shape = data.shape
    ndim = len(shape)
    xp = None
    items = []
    consumed = 0
    seen_ellipsis = False
    for k in key:
        cls = k.__class__
        if cls is int:
            items.append(("int", k))
            consumed += 1
        elif cls is slice:
            items.append(("slice", _norm_slice(k)))
            consumed += 1
        elif k is None:
            items.append(("none", None))
        elif k is Ellipsis:
            if seen_ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            items.append(("ell", None))
        elif cls is bool or isinstance(k, np.bool_):
            items.append(("bool", bool(k)))
        elif isinstance(k, (int, np.integer)):
            items.append(("int", int(k)))
            consumed += 1
        elif isinstance(k, (float, complex, str, bytes, np.floating)):
            raise IndexError(_BAD_INDEX.format(type(k).__name__))
        else:
            if xp is None:
                xp = xp_of(data)
            item = _key_item(k, xp)
            items.append(item)
            if item[0] == "mask":
                consumed += item[1].ndim
            elif item[0] != "bool":
                consumed += 1
    if consumed > ndim:
        if ndim == 0:
            raise IndexError(
                "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
            )
        raise IndexError(f"too many indices for tensor of dimension {ndim}")

    key1 = []
    adv = {}
    d = 0  # dim of t being indexed
    o = 0  # dim of t[key1]
    trivial = True
    n_arrays = n_masks = 0
    for kind, v in items:
        if kind == "slice":
            key1.append(v)
            if v != _FULL:
                trivial = False
            d += 1
            o += 1
        elif kind == "int":
            size = shape[d]
            if v >= size or v < -size:
                raise IndexError(f"index {v} is out of bounds for dimension {d} with size {size}")
            key1.append(v)
            trivial = False
            d += 1
        elif kind == "none":
            key1.append(None)
            trivial = False
            o += 1
        elif kind == "ell":
            n = ndim - consumed
            key1.extend([_FULL] * n)
            d += n
            o += n
        elif kind == "bool":
            # x[True] adds a dim of size 1, x[False] one of size 0
            key1.append(None)
            trivial = False
            if not v:
                adv[o] = (xp or xp_of(data)).zeros(0, dtype=_INTP)
                n_arrays += 1
            o += 1
        elif kind == "arr":
            size = shape[d]
            _check_bounds(v, size, d, True, IndexError)
            key1.append(_FULL)
            adv[o] = v
            n_arrays += 1
            d += 1
            o += 1
        else:  # mask
            mshape = v.shape
            for j, s in enumerate(mshape):
                if s != shape[d + j]:
                    raise IndexError(
                        f"The shape of the mask {list(mshape)} at index {j} does not match the "
                        f"shape of the indexed tensor {list(shape)} at index {d + j}"
                    )
            for nz in xp.nonzero(v):
                key1.append(_FULL)
                adv[o] = nz
                d += 1
                o += 1
            n_masks += 1
    key1.append(Ellipsis)
    key2 = None
    if adv:
        key2 = tuple(adv.get(i, _FULL) for i in range(max(adv) + 1))
    return (None if trivial else tuple(key1)), key2, (n_arrays == 0 and n_masks == 1)


_FULL = slice(None)


# --- the getitem nodes ----------------------------------------------------------------------
class BasicIndex(Node):
    """``a[key]`` for ints, slices and None: a view."""

    is_view = True

    def forward(self, a, key):
        self.key = key
        self.in_shape = a.shape
        return a[key]

    def name(self):
        # torch applies a basic index item by item; its grad_fn is the node of the last one
        # (x[0] and x[:, 1] select, x[0, 1:] slices, x[0, None] unsqueezes)
        key = self.key if self.key.__class__ is tuple else (self.key,)
        for k in reversed(key):
            if k is Ellipsis:
                continue
            if k is None:
                return "UnsqueezeBackward0"
            return "SliceBackward0" if k.__class__ is slice else "SelectBackward0"
        return "AliasBackward0"

    def backward(self, g):
        return BasicIndexBackward.apply(g, key=self.key, shape=self.in_shape)


class BasicIndexBackward(Node):
    """Place ``g`` into zeros of ``shape`` at ``key`` (the adjoint of basic indexing)."""

    def forward(self, g, key, shape):
        self.key = key
        out = xp_of(g).zeros(shape, dtype=g.dtype)
        out[key] = g
        return out

    def name(self):
        return "SliceBackwardBackward0"

    def backward(self, gg):
        return BasicIndex.apply(gg, key=self.key)


class AdvIndex(Node):
    """``a[key]`` with integer arrays (and full slices): a copy."""

    def forward(self, a, key, unique=False):
        self.key = key
        self.unique = unique
        self.in_shape = a.shape
        return a[key]

    def name(self):
        return "IndexBackward0"

    def backward(self, g):
        return AdvIndexBackward.apply(g, key=self.key, shape=self.in_shape, unique=self.unique)


class AdvIndexBackward(Node):
    """Accumulate ``g`` into zeros of ``shape`` at ``key``; repeated positions sum."""

    def forward(self, g, key, shape, unique=False):
        self.key = key
        self.unique = unique
        out = xp_of(g).zeros(shape, dtype=g.dtype)
        if unique:
            out[key] = g
        else:
            _ufunc_at("add", out, key, g)
        return out

    def name(self):
        return "IndexPutBackward0"

    def backward(self, gg):
        return AdvIndex.apply(gg, key=self.key, unique=self.unique)


def _index_keys(t: Tensor, key1, key2, unique=False) -> Tensor:
    out = t
    if key1 is not None:
        out = BasicIndex.apply(out, key=key1)
    if key2 is not None:
        out = AdvIndex.apply(out, key=key2, unique=unique)
    return out


def getitem(self: Tensor, key) -> Tensor:
    """``self[key]`` with torch's indexing rules.

    Ints, slices (positive steps), ``None`` and ``...`` give a view; integer and boolean
    tensors, lists and arrays index like NumPy's advanced indexing and give a copy.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.arange(12).reshape(3, 4)
        >>> x[1, 1:3]
        tensor([5, 6])
        >>> x[x > 9]
        tensor([10, 11])
    """
    # Fast path: a key of Python ints, int slices with a positive step, None and ``...`` is
    # basic indexing, which torch and NumPy define the same way: one view of the array, with no
    # parsing. Any IndexError (an index out of range, too many indices, two ellipses) falls
    # through to the general path, which raises torch's message.
    cls = key.__class__
    if (
        cls is int
        or (cls is tuple and _plain_key(key))
        or (cls is slice and _plain_slice(key))
        or key is None
        or key is Ellipsis
    ):
        a = self._data
        try:
            out = a[key]
        except IndexError:
            pass
        else:
            if out.__class__ is not a.__class__:
                # every dim taken by an int: NumPy returns a scalar, a trailing ... a 0-dim view
                key = (*key, Ellipsis) if cls is tuple else (key, Ellipsis)
                out = a[key]
            if self._rg and MODE.grad:
                return BasicIndex.apply(self, key=key)
            return _view_of(self, out)
    key1, key2, unique = _parse_key(self, key)
    if key1 is None and key2 is None:
        return BasicIndex.apply(self, key=(Ellipsis,))
    return _index_keys(self, key1, key2, unique)


def _plain_slice(s: slice) -> bool:
    """A slice of Python ints (or None) with a positive step: NumPy's and torch's agree."""
    start, stop, step = s.start, s.stop, s.step
    return (
        (start is None or start.__class__ is int)
        and (stop is None or stop.__class__ is int)
        and (step is None or (step.__class__ is int and step > 0))
    )


def _plain_key(key: tuple) -> bool:
    """Whether every item of ``key`` is a Python int, a plain slice, None or ``...``."""
    for k in key:
        cls = k.__class__
        if cls is int or k is None or k is Ellipsis:
            continue
        if cls is slice:
            start, stop, step = k.start, k.stop, k.step
            if (
                (start is None or start.__class__ is int)
                and (stop is None or stop.__class__ is int)
                and (step is None or (step.__class__ is int and step > 0))
            ):
                continue
        return False
    return True


# --- index_put and setitem ------------------------------------------------------------------
class ZeroAt(Node):
    """A copy of ``g`` with the positions ``[key1][key2]`` set to zero (a projection)."""

    def forward(self, g, key1=None, key2=None):
        self.key1, self.key2 = key1, key2
        out = g.copy()
        tgt = out[key1] if key1 is not None else out
        if key2 is None:
            tgt[...] = 0
        else:
            tgt[key2] = 0
        return out

    def backward(self, gg):
        return ZeroAt.apply(gg, key1=self.key1, key2=self.key2)


class IndexPut(Node):
    """``a[key1][key2] = v`` (``+=`` with ``accumulate``); ``v`` a tensor or a Python scalar."""

    def forward(self, a, v=None, key1=None, key2=None, value=None, accumulate=False, inplace=False):
        self.key1, self.key2, self.accumulate = key1, key2, accumulate
        self.v_ndim = 0 if v is None else v.ndim
        out = a if inplace else _target(a)
        _put_raw(out, v, key1, key2, value, accumulate)
        return out

    def name(self):
        return "IndexPutBackward0"

    def backward(self, g):
        needs = self.needs_input_grad
        ga = gv = None
        if needs[0]:
            ga = g if self.accumulate else ZeroAt.apply(g, key1=self.key1, key2=self.key2)
        if len(needs) > 1 and needs[1]:
            gv = _index_keys(g, self.key1, self.key2)
            if gv.ndim < self.v_ndim:  # value had extra leading size-1 dims
                gv = gv.reshape((1,) * (self.v_ndim - gv.ndim) + tuple(gv.shape))
            return ga, gv
        return (ga,) if len(needs) == 1 else (ga, None)


def _put_raw(out, v, key1, key2, value, accumulate: bool) -> None:
    """Write (or add) the array ``v`` or the scalar ``value`` into ``out[key1][key2]``."""
    tgt = out[key1] if key1 is not None else out
    if v is not None:
        vals = v if v.dtype == out.dtype else v.astype(out.dtype)
        if v.__class__ is not out.__class__:
            vals = _on_xp(vals, xp_of(out))
    else:
        vals = _scalar_for(out, value)
    try:
        if key2 is None:
            if accumulate:
                tgt += vals
            else:
                tgt[...] = vals
        elif accumulate:
            _ufunc_at("add", tgt, key2, vals)
        else:
            tgt[key2] = vals
    except ValueError:
        if key2 is None:
            _expand_error(np.shape(vals), tgt.shape)
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(np.shape(vals))} cannot be "
            f"broadcast to indexing result of shape {list(tgt[key2].shape)}"
        ) from None


def _expand_error(vshape: tuple, target: tuple):
    """torch's message for a value that does not broadcast to a basic-indexing target."""
    vshape, target = tuple(vshape), tuple(target)
    lead = len(target) - len(vshape)
    for i in range(len(vshape) - 1, -1, -1):
        t = target[lead + i] if lead + i >= 0 else 1
        if vshape[i] != t and vshape[i] != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({t}) must match the existing size "
                f"({vshape[i]}) at non-singleton dimension {max(lead + i, 0)}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(vshape)}"
            )
    raise RuntimeError(
        f"shape mismatch: value tensor of shape {list(vshape)} cannot be broadcast to indexing "
        f"result of shape {list(target)}"
    )


def _value_arg(self: Tensor, value):
    """A setitem / index_put value as (tensor or None, scalar or None)."""
    if isinstance(value, Tensor):
        if value._data.__class__ is not self._data.__class__ and value._data.ndim != 0:
            check_same_device("index_put_", self, value)
        return value, None
    if is_scalar(value):
        return None, value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple, _ndarray)):
        return _as_tensor(np.asarray(value), self), None
    raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")


def _alias(t: Tensor) -> Tensor:
    from .inplace import _alias as alias

    return alias(t)


def _check_writable(self: Tensor, vt, track: bool, name: str) -> None:
    if not track:
        return
    if self._rg and self.grad_fn is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = self._base
    if base is not None and base._rg and base.grad_fn is None:
        raise RuntimeError(
            f"{name}: a view of a leaf Variable that requires grad is being used in an in-place "
            "operation."
        )


def _index_put_inplace(self, key1, key2, value, accumulate: bool, name: str) -> Tensor:
    """Write ``value`` into ``self[key1][key2]`` in place, recording history when needed."""
    vt, vs = _value_arg(self, value)
    track = MODE.grad and (self._rg or (vt is not None and vt._rg))
    _check_writable(self, vt, track, name)
    data = self._data
    if data.__class__ is _ndarray and not data.flags.writeable:
        raise RuntimeError(f"{name}: cannot write into a read-only tensor (e.g. an expand() view)")
    if not track:
        _put_raw(data, None if vt is None else vt._data, key1, key2, vs, accumulate)
        self._bump_version()
        return self
    if self._base is not None:
        return _put_through_base(self, key1, key2, vt, vs, accumulate)
    prev = _alias(self)
    inputs = (prev,) if vt is None else (prev, vt)
    res = IndexPut.apply(
        *inputs, key1=key1, key2=key2, value=vs, accumulate=accumulate, inplace=True
    )
    self._bump_version()
    self.grad_fn = res.grad_fn
    self._nr = 0
    self._rg = True
    return self


# --- writing through a view: the base's history is rewritten (torch's CopySlices) ----------
def _elem_offsets(arr):
    """Byte offset of every element of ``arr`` from its first byte (an int64 array)."""
    xp = xp_of(arr)
    off = xp.zeros((), dtype=_INTP)
    for size, stride in zip(arr.shape, arr.strides):
        off = off[..., None] + xp.arange(size, dtype=_INTP) * stride
    return off


def _data_ptr(arr) -> int:
    if arr.__class__ is _ndarray:
        return arr.__array_interface__["data"][0]
    return arr.data.ptr


def _view_positions(view, base):
    """For each element of ``view``, its flat position in ``base`` (same memory)."""
    xp = xp_of(base)
    voff = _elem_offsets(view) + (_data_ptr(view) - _data_ptr(base))
    if base.flags.c_contiguous:
        return voff // base.itemsize
    boff = _elem_offsets(base).reshape(-1)
    order = xp.argsort(boff)
    return order[xp.searchsorted(boff[order], voff)]


class ViewOfBase(Node):
    """Re-derive an existing view from its (rewritten) base: output is the view's memory."""

    is_view = True

    def forward(self, base, view, pos):
        self.pos = pos
        self.base_shape = base.shape
        return view

    def name(self):
        return "AsStridedBackward0"

    def backward(self, g):
        flat = AdvIndexBackward.apply(
            g, key=(self.pos,), shape=(int(np.prod(self.base_shape)),), unique=True
        )
        return flat.reshape(self.base_shape)


def _put_through_base(self, key1, key2, vt, vs, accumulate):
    base = self._base
    pos = _view_positions(self._data, base._data)
    sub = pos[key1] if key1 is not None else pos
    if key2 is not None:
        sub = sub[key2]
    bkey = tuple(xp_of(sub).unravel_index(sub, base._data.shape))
    value = vt if vt is not None else vs
    if vt is not None and vt._data.ndim > sub.ndim:
        value = vt.reshape(vt.shape[vt._data.ndim - sub.ndim :])
    _index_put_inplace(base, None, bkey, value, accumulate, "index_put_")
    res = ViewOfBase.apply(base, view=self._data, pos=pos)
    self.grad_fn = res.grad_fn
    self._nr = 0
    self._rg = True
    return self


def setitem(self: Tensor, key, value) -> None:
    """``self[key] = value`` in place; ``value`` a number, a tensor (broadcast) or an array.

    Records autograd history on ``self`` when ``self`` or ``value`` requires grad.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.zeros(2, 3)
        >>> x[0, 1:] = torch.tensor([1., 2.])
        >>> x
        tensor([[0., 1., 2.],
                [0., 0., 0.]])
    """
    key1, key2, _ = _parse_key(self, key)
    _index_put_inplace(self, key1, key2, value, False, "index_put_")


def _index_put_args(input: Tensor, indices, values, op: str):
    if not isinstance(values, Tensor):
        raise TypeError(
            f"{op}(): argument 'values' (position 3) must be Tensor, not {type(values).__name__}"
        )
    if values._data.dtype != input._data.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{_tname(input._data)} for the destination and {_tname(values._data)} for the "
            "source."
        )
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}(): argument 'indices' must be tuple of Tensors")
    for i, ix in enumerate(indices):
        if not isinstance(ix, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 1, but got {type(ix).__name__}"
            )
    return _parse_key(input, tuple(indices))


def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written (or added, ``accumulate=True``) at ``indices``.

    ``indices`` is a tuple of index tensors (integer or boolean), one per leading dim.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.zeros(4)
        >>> torch.index_put(x, (torch.tensor([0, 0, 2]),), torch.tensor(1.), accumulate=True)
        tensor([2., 0., 1., 0.])
    """
    key1, key2, _ = _index_put_args(input, indices, values, "index_put")
    return IndexPut.apply(input, values, key1=key1, key2=key2, accumulate=bool(accumulate))


def index_put_(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """In-place ``index_put``."""
    key1, key2, _ = _index_put_args(input, indices, values, "index_put_")
    return _index_put_inplace(input, key1, key2, values, bool(accumulate), "index_put_")


# --- gather / scatter -----------------------------------------------------------------------
def _coords(xp, index, dim: int) -> tuple:
    """Advanced key selecting, per element of ``index``, that position along ``dim`` and its
    own position along every other dim."""
    nd = index.ndim
    out = []
    for d in range(nd):
        if d == dim:
            out.append(index)
        else:
            shp = [1] * nd
            shp[d] = index.shape[d]
            out.append(xp.arange(index.shape[d], dtype=_INTP).reshape(shp))
    return tuple(out)


class Gather(Node):
    def forward(self, a, index, dim):
        self.index, self.dim, self.in_shape = index, dim, a.shape
        return a[_coords(xp_of(a), index, dim)]

    def backward(self, g):
        z = wrap(xp_of(g._data).zeros(self.in_shape, dtype=g._data.dtype))
        return ScatterAdd.apply(z, g, index=self.index, dim=self.dim, fresh=True)


class ScatterAdd(Node):
    """``a`` with ``src`` accumulated at (index, dim); ``src`` has ``index``'s shape."""

    def forward(self, a, src, index, dim, fresh=False):
        self.index, self.dim = index, dim
        out = a if fresh else _target(a)
        _scatter_at("add", out, _coords(xp_of(a), index, dim), src)
        return out

    def backward(self, g):
        ga, gs = self.needs_input_grad
        return (g if ga else None), (
            Gather.apply(g, index=self.index, dim=self.dim) if gs else None
        )


class Scatter(Node):
    """``a`` with ``src`` written at (index, dim), or ``value`` when there is no ``src``."""

    def forward(self, a, src=None, index=None, dim=0, value=None):
        self.index, self.dim = index, dim
        out = _target(a)
        out[_coords(xp_of(a), index, dim)] = src if src is not None else _scalar_for(out, value)
        return out

    def backward(self, g):
        needs = self.needs_input_grad
        ga = _scatter_zero(g, self.index, self.dim) if needs[0] else None
        if len(needs) == 1:
            return (ga,)
        gs = Gather.apply(g, index=self.index, dim=self.dim) if needs[1] else None
        return ga, gs


def _scatter_zero(g: Tensor, index, dim: int) -> Tensor:
    """``g`` with the positions named by (index, dim) set to zero."""
    return Scatter.apply(g, index=index, dim=dim, value=0)


class ScatterLegacyReduce(Node):
    """``scatter(..., reduce='add'|'multiply')``: torch gives it no derivative."""

    def forward(self, a, src=None, index=None, dim=0, value=None, reduce="add"):
        out = _target(a)
        vals = src if src is not None else _scalar_for(out, value)
        _scatter_at(
            "add" if reduce == "add" else "multiply", out, _coords(xp_of(a), index, dim), vals
        )
        return out

    def backward(self, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")


class ScatterReduce(Node):
    """``scatter_reduce`` with 'sum', 'prod', 'mean', 'amax' or 'amin'."""

    save_inputs = (0, 1)
    save_outputs = (0,)

    def forward(self, a, src, index, dim, reduce, include_self):
        xp = xp_of(a)
        self.index, self.dim, self.reduce, self.include_self = index, dim, reduce, include_self
        if reduce in ("sum", "mean"):
            # their gradients need only the index: keep no tensors alive (or version-checked)
            self.save_inputs = self.save_outputs = ()
        coords = _coords(xp, index, dim)
        out = _target(a)
        if reduce in ("sum", "mean"):
            ident, uf = 0, "add"
        elif reduce == "prod":
            ident, uf = 1, "multiply"
        elif reduce == "amax":
            ident, uf = _lowest(a.dtype), "maximum"
        else:
            ident, uf = _highest(a.dtype), "minimum"
        if not include_self:
            out[coords] = _scalar_for(out, ident)
        _scatter_at(uf, out, coords, src)
        if reduce == "mean":
            cnt = xp.full(a.shape, 1 if include_self else 0, dtype=_INTP)
            _scatter_at("add", cnt, coords, 1)
            cnt = xp.maximum(cnt, 1)
            self.count = cnt
            if out.dtype.kind in "iub":
                out[...] = xp.floor_divide(out, cnt)
            else:
                out[...] = out / cnt.astype(out.dtype)
        return out

    def backward(self, g):
        need_a, need_s = self.needs_input_grad
        index, dim, red = self.index, self.dim, self.reduce
        ga = gs = None
        if red in ("prod", "amax", "amin"):
            a, src = self.saved_inputs
        if red == "sum":
            ga = g if need_a else None
            gs = Gather.apply(g, index=index, dim=dim) if need_s else None
        elif red == "mean":
            g = g / wrap(self.count.astype(g._data.dtype))
            ga = g if need_a else None
            gs = Gather.apply(g, index=index, dim=dim) if need_s else None
        elif red == "prod":
            (res,) = self.saved_outputs
            inc = self.include_self
            idx_t = wrap(index)
            if need_a:
                # a zero in self would make res / self undefined: divide the product taken with
                # that zero replaced by one instead
                masked_a = a.masked_fill(a == 0, 1)
                masked_res = scatter_reduce(masked_a, dim, idx_t, src, "prod", include_self=inc)
                ga = g * masked_res / masked_a
            if need_s:
                zero = src == 0
                zeros_like_a = wrap(xp_of(g._data).zeros(a._data.shape, dtype=g._data.dtype))
                n_zero = ScatterAdd.apply(zeros_like_a, zero.to(g.dtype), index=index, dim=dim)
                single = zero & (Gather.apply(n_zero, index=index, dim=dim) == 1)
                masked_src = src.masked_fill(single, 1)
                masked_src_res = scatter_reduce(a, dim, idx_t, masked_src, "prod", include_self=inc)
                gs = _where(
                    single,
                    Gather.apply(g * masked_src_res, index=index, dim=dim),
                    Gather.apply(g * res, index=index, dim=dim) / src.masked_fill(zero, 1),
                )
        else:  # amax / amin
            (res,) = self.saved_outputs
            value = Gather.apply(res, index=index, dim=dim)
            a_is = (a == res).to(g.dtype)
            if not self.include_self:
                a_is = _scatter_zero(a_is, index, dim)
            s_is = (src == value).to(g.dtype)
            n = ScatterAdd.apply(a_is, s_is, index=index, dim=dim)
            dist = g / n.masked_fill(n == 0, 1)
            ga = a_is * dist if need_a else None
            gs = s_is * Gather.apply(dist, index=index, dim=dim) if need_s else None
        if ga is not None and not self.include_self and red != "amax" and red != "amin":
            ga = _scatter_zero(ga, index, dim)
        return ga, gs


def _where(cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
    from .. import where

    return where(cond, a, b)


def _lowest(dt):
    if dt.kind == "f" or dt.kind == "V":
        return -np.inf
    if dt.kind == "b":
        return False
    return np.iinfo(dt).min


def _highest(dt):
    if dt.kind == "f" or dt.kind == "V":
        return np.inf
    if dt.kind == "b":
        return True
    return np.iinfo(dt).max


def _gs_check(op: str, input: Tensor, dim, index, src=None, name: str = "input"):
    """Validate gather/scatter arguments like torch; returns (dim, raw int64 index)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    tag = "gather" if op == "gather" else "scatter"
    idt = index._data.dtype
    if idt.kind not in "iu" or idt.itemsize not in (4, 8):
        raise RuntimeError(f"{tag}(): Expected dtype int32/int64 for index")
    nd = input._data.ndim
    if index._data.ndim != nd and not (nd <= 1 and index._data.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {name} tensor")
    d = norm_dim(dim, nd, op)
    ishape, sshape = index._data.shape, input._data.shape
    if src is not None:
        if src._data.ndim != index._data.ndim and not (
            src._data.ndim <= 1 and index._data.ndim <= 1
        ):
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
        if src._data.dtype != input._data.dtype:
            raise RuntimeError(f"{tag}(): Expected self.dtype to be equal to src.dtype")
    if nd and index._data.size:
        for k in range(nd):
            too_big = k != d and ishape[k] > sshape[k]
            if src is not None and src._data.ndim == nd:
                too_big = too_big or ishape[k] > src._data.shape[k]
            if too_big:
                if op == "gather":
                    raise RuntimeError(
                        f"Size does not match at dimension {k} expected index {list(ishape)} to "
                        f"be no larger than self {list(sshape)} apart from dimension {d}"
                    )
                tail = (
                    f" and to be no larger size than src {list(src._data.shape)}"
                    if src is not None
                    else ""
                )
                raise RuntimeError(
                    f"Expected index {list(ishape)} to be no larger than self {list(sshape)} "
                    f"apart from dimension {d}{tail}"
                )
    if input._data.__class__ is not index._data.__class__:
        check_same_device(op, input, index)
    raw = _int_index(index._data, xp_of(input._data))
    _check_bounds(raw, sshape[d] if nd else 1, d, False, RuntimeError)
    return d, raw


def _fit_src(src: Tensor, ishape: tuple) -> Tensor:
    """``src`` cut to the index's shape (torch reads only that corner of a larger src)."""
    if tuple(src._data.shape) == tuple(ishape):
        return src
    if src._data.ndim != len(ishape):
        return src.reshape(ishape)
    return getitem(src, tuple(slice(0, s) for s in ishape))


def _as_1d(t: Tensor):
    return t if t._data.ndim else t.reshape(1)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False, out=None):
    """Pick values along ``dim``: ``out[i][j] = input[i][index[i][j]]`` for ``dim=1``.

    ``index`` has ``input``'s number of dims and is no larger than ``input`` outside ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([[1., 2.], [3., 4.]])
        >>> torch.gather(x, 1, torch.tensor([[0, 0], [1, 0]]))
        tensor([[1., 1.],
                [4., 3.]])
    """
    d, idx = _gs_check("gather", input, dim, index)
    if input._data.ndim == 0 or idx.ndim == 0:
        res = Gather.apply(_as_1d(input), index=idx.reshape(-1), dim=0)
        return res.reshape(index._data.shape)
    return _out(Gather.apply(input, index=idx, dim=d), out)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None, out=None):
    """A copy of ``input`` with ``src`` (a tensor) or ``value`` (a number) written at ``index``
    along ``dim``: ``out[i][index[i][j]] = src[i][j]`` for ``dim=1``.

    ``reduce='add'`` or ``'multiply'`` (deprecated in torch, no gradient) combines instead.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(2, 3).scatter(1, torch.tensor([[2], [0]]), 1.0)
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if src is None and value is None:
        raise TypeError("scatter(): expected a 'src' tensor or a 'value' number")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    d, idx = _gs_check("scatter", input, dim, index, src, name="self")
    if input._data.ndim == 0:
        res = scatter(
            input.reshape(1),
            0,
            index.reshape(-1),
            src if src is None else src.reshape(-1),
            value=value,
            reduce=reduce,
        )
        return _out(res.reshape(()), out)
    if isinstance(value, Tensor):
        value = value.item()
    if src is not None:
        src = _fit_src(src, idx.shape)
    if reduce is not None:
        args = (input,) if src is None else (input, src)
        return _out(
            ScatterLegacyReduce.apply(*args, index=idx, dim=d, value=value, reduce=reduce), out
        )
    if src is None:
        return _out(Scatter.apply(input, index=idx, dim=d, value=value), out)
    return _out(Scatter.apply(input, src, index=idx, dim=d), out)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor, *, out=None) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim``; repeats accumulate.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(3).scatter_add(0, torch.tensor([0, 0, 2]), torch.tensor([1., 2., 3.]))
        tensor([3., 0., 3.])
    """
    d, idx = _gs_check("scatter_add", input, dim, index, src, name="self")
    if input._data.ndim == 0:
        return _out(
            scatter_add(input.reshape(1), 0, index.reshape(-1), src.reshape(-1)).reshape(()), out
        )
    return _out(ScatterAdd.apply(input, _fit_src(src, idx.shape), index=idx, dim=d), out)


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(
    input: Tensor,
    dim: int,
    index: Tensor,
    src: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
    out=None,
) -> Tensor:
    """Reduce ``src`` into ``input`` at ``index`` along ``dim`` with ``reduce`` in 'sum', 'prod',
    'mean', 'amax', 'amin'; ``include_self=False`` leaves ``input``'s values out of the
    reduction at the positions that receive something.

    Example:
        >>> import tocha.core as torch
        >>> src = torch.tensor([1., 5., 2.])
        >>> torch.zeros(2).scatter_reduce(0, torch.tensor([0, 0, 1]), src, 'amax')
        tensor([5., 2.])
    """
    if reduce not in _REDUCTIONS:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    d, idx = _gs_check("scatter_reduce", input, dim, index, src, name="self")
    if input._data.ndim == 0:
        res = scatter_reduce(
            input.reshape(1),
            0,
            index.reshape(-1),
            src.reshape(-1),
            reduce,
            include_self=include_self,
        )
        return _out(res.reshape(()), out)
    return _out(
        ScatterReduce.apply(
            input,
            _fit_src(src, idx.shape),
            index=idx,
            dim=d,
            reduce=reduce,
            include_self=bool(include_self),
        ),
        out,
    )


# --- index_select / index_add / index_copy / index_fill -------------------------------------
class IndexSelect(Node):
    def forward(self, a, index, dim):
        self.index, self.dim, self.in_shape = index, dim, a.shape
        return xp_of(a).take(a, index, axis=dim)

    def backward(self, g):
        z = wrap(xp_of(g._data).zeros(self.in_shape, dtype=g._data.dtype))
        return IndexAdd.apply(z, g, index=self.index, dim=self.dim, fresh=True)


class IndexAdd(Node):
    def forward(self, a, src, index, dim, alpha=1, fresh=False):
        self.index, self.dim, self.alpha = index, dim, alpha
        out = a if fresh else _target(a)
        if alpha != 1:
            src = (src * _scalar_for(src, alpha)).astype(out.dtype, copy=False)
        xp = xp_of(out)
        coords = tuple(
            index.reshape((-1,) + (1,) * (out.ndim - k - 1))
            if k == dim
            else xp.arange(n, dtype=_INTP).reshape((-1,) + (1,) * (out.ndim - k - 1))
            for k, n in enumerate(out.shape)
        )
        _scatter_at("add", out, coords, src)
        return out

    def backward(self, g):
        need_a, need_s = self.needs_input_grad
        gs = None
        if need_s:
            gs = IndexSelect.apply(g, index=self.index, dim=self.dim)
            if self.alpha != 1:
                gs = gs * self.alpha
        return (g if need_a else None), gs


class IndexCopy(Node):
    def forward(self, a, src, index, dim):
        self.index, self.dim = index, dim
        out = _target(a)
        out[(_FULL,) * dim + (index,)] = src
        return out

    def backward(self, g):
        ga, gs = self.needs_input_grad
        return (
            IndexFill.apply(g, index=self.index, dim=self.dim, value=0) if ga else None,
            IndexSelect.apply(g, index=self.index, dim=self.dim) if gs else None,
        )


class IndexFill(Node):
    """``a`` with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-dim
    tensor input)."""

    def forward(self, a, v=None, index=None, dim=0, value=None):
        self.index, self.dim = index, dim
        out = _target(a)
        fill = v.astype(out.dtype) if v is not None else _scalar_for(out, value)
        out[(_FULL,) * dim + (index,)] = fill
        return out

    def backward(self, g):
        needs = self.needs_input_grad
        ga = IndexFill.apply(g, index=self.index, dim=self.dim, value=0) if needs[0] else None
        if len(needs) == 1:
            return (ga,)
        gv = None
        if needs[1]:
            # each filled slice counts once, however often its index repeats
            uniq = xp_of(self.index).unique(self.index)
            gv = IndexSelect.apply(g, index=uniq, dim=self.dim).sum()
        return ga, gv


def _dim_index(op: str, input: Tensor, dim, index):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    nd = input._data.ndim
    d = norm_dim(dim, nd, op)
    if input._data.__class__ is not index._data.__class__:
        check_same_device(op, input, index)
    return d, _int_index(index._data, xp_of(input._data)).reshape(-1)


def _is_int32_64(arr) -> bool:
    return arr.dtype.kind in "iu" and arr.dtype.itemsize in (4, 8)


def index_select(input: Tensor, dim: int, index: Tensor, *, out=None) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in ``index`` (a vector).

    Example:
        >>> import tocha.core as torch
        >>> x = torch.arange(6).reshape(2, 3)
        >>> torch.index_select(x, 1, torch.tensor([2, 0]))
        tensor([[2, 0],
                [5, 3]])
    """
    if isinstance(index, Tensor):
        if not _is_int32_64(index._data):
            raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
        if index._data.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
    d, idx = _dim_index("index_select", input, dim, index)
    if input._data.ndim == 0 and idx.size != 1:
        raise RuntimeError(
            f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)"
        )
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise IndexError("index out of range in self")
    if input._data.ndim == 0:
        return _out(IndexSelect.apply(input.reshape(1), index=idx, dim=0).reshape(()), out)
    return _out(IndexSelect.apply(input, index=idx, dim=d), out)


def _index_src_checks(op: str, input: Tensor, d: int, idx, source: Tensor, count_exc, msg):
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
    nd = input._data.ndim
    ssize = source._data.shape[d] if source._data.ndim else 1
    if idx.size != ssize:
        raise count_exc(msg.format(n=idx.size, s=ssize, d=d))
    if nd and source._data.ndim:
        ok = source._data.ndim == nd and all(
            source._data.shape[k] == input._data.shape[k] for k in range(nd) if k != d
        )
        if not ok:
            raise RuntimeError(
                "source tensor shape must match self tensor shape, excluding the specified "
                f"dimension. Got self.shape = {list(input._data.shape)} source.shape = "
                f"{list(source._data.shape)}"
            )


def _accumulate_checks(op: str, input: Tensor, dim, index, source: Tensor):
    """index_add's and index_reduce's checks of a vector ``index`` and ``source`` (count, shape
    and dtype, in torch's order and words); returns the dim and the flat index."""
    if isinstance(index, Tensor) and index._data.ndim > 1:
        raise IndexError(
            f"{op}_(): Index is supposed to be a vector, but got dim: {index._data.ndim} "
            f"with type: {_tname(index._data)} and size: {list(index._data.shape)}"
        )
    d, idx = _dim_index(op, input, dim, index)
    _index_src_checks(
        op,
        input,
        d,
        idx,
        source,
        RuntimeError,
        f"{op}_(): Number of indices ({{n}}) should be equal to source.size(dim): ({{s}}), "
        "for dim: {d}",
    )
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"{op}_(): self ({_tname(input._data)}) and source ({_tname(source._data)}) "
            "must have the same scalar type"
        )
    return d, idx


def index_add(
    input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1, out=None
) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added to the slices at ``index`` along
    ``dim``; repeated indices accumulate.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(3, 2).index_add(0, torch.tensor([0, 0]), torch.ones(2, 2))
        tensor([[2., 2.],
                [0., 0.],
                [0., 0.]])
    """
    if isinstance(index, Tensor) and not _is_int32_64(index._data):
        raise RuntimeError(
            f"index_add_(): Expected dtype int32/int64 for index but got: {_tname(index._data)}"
        )
    d, idx = _accumulate_checks("index_add", input, dim, index, source)
    size = input._data.shape[d] if input._data.ndim else 1
    _check_bounds(idx, size, d, False, RuntimeError)
    if input._data.ndim == 0:
        res = IndexAdd.apply(_as_1d(input), source.reshape(-1), index=idx, dim=0, alpha=alpha)
        return _out(res.reshape(()), out)
    src = source if source._data.ndim else source.reshape(1)
    return _out(IndexAdd.apply(input, src, index=idx, dim=d, alpha=alpha), out)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor, *, out=None) -> Tensor:
    """A copy of ``input`` with the slices at ``index`` along ``dim`` replaced by ``source``.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(3).index_copy(0, torch.tensor([2]), torch.tensor([5.]))
        tensor([0., 0., 5.])
    """
    if isinstance(index, Tensor):
        if index._data.dtype != _INTP:
            raise RuntimeError(
                f"index_copy_(): Expected a long tensor for index, but got {_tname(index._data)}"
            )
        if index._data.ndim > 1:
            raise IndexError(
                f"index_copy_(): Index should have dimension 1 or 0 (got {index._data.ndim})"
            )
    d, idx = _dim_index("index_copy", input, dim, index)
    if isinstance(source, Tensor) and source._data.dtype != input._data.dtype:
        raise RuntimeError(
            "index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{_tname(input._data)} and (source) {_tname(source._data)}"
        )
    _index_src_checks(
        "index_copy",
        input,
        d,
        idx,
        source,
        IndexError,
        "index_copy_(): Number of indices ({n}) should be equal to source.size(dim) ({s})",
    )
    size = input._data.shape[d] if input._data.ndim else 1
    _check_bounds(idx, size, d, False, IndexError, "index_copy_(): ")
    if input._data.ndim == 0:
        res = IndexCopy.apply(_as_1d(input), source.reshape(-1), index=idx, dim=0)
        return _out(res.reshape(()), out)
    src = source if source._data.ndim else source.reshape(1)
    return _out(IndexCopy.apply(input, src, index=idx, dim=d), out)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number
    or a 0-dim tensor, which then receives a gradient).

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(2, 3).index_fill(1, torch.tensor([0, 2]), -1.)
        tensor([[-1.,  0., -1.],
                [-1.,  0., -1.]])
    """
    if isinstance(index, Tensor):
        if index._data.dtype != _INTP:
            raise IndexError("index_fill_(): Expected dtype int64 for index.")
        if index._data.ndim > 1:
            raise RuntimeError("Index has to be a vector/scalar")
    d, idx = _dim_index("index_fill", input, dim, index)
    size = input._data.shape[d] if input._data.ndim else 1
    _check_bounds(idx, size, d, True, IndexError)
    idx = idx % size if idx.size else idx
    x = _as_1d(input)
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s)."
            )
        res = IndexFill.apply(x, value, index=idx, dim=d)
    else:
        res = IndexFill.apply(x, index=idx, dim=d, value=value)
    return res if input._data.ndim else res.reshape(())


# --- masks ----------------------------------------------------------------------------------
def _nonzero_key(mask):
    return tuple(xp_of(mask).nonzero(mask))


class MaskedScatter(Node):
    def forward(self, a, src, mask):
        xp = xp_of(a)
        out = xp.array(xp.broadcast_to(a, mask.shape)) if a.shape != mask.shape else _target(a)
        key = _nonzero_key(mask)
        n = int(key[0].size) if key else int(bool(mask))
        if n > src.size:
            raise RuntimeError("Number of elements of source < number of ones in mask")
        self.key, self.n, self.src_shape = key, n, src.shape
        out[key] = src.reshape(-1)[:n]
        return out

    def backward(self, g):
        need_a, need_s = self.needs_input_grad
        ga = gs = None
        if need_a:
            ga = ZeroAt.apply(g, key2=self.key)
        if need_s:
            # the first n source elements were used; the rest get a zero gradient
            sel = AdvIndex.apply(g, key=self.key, unique=True)
            size = int(np.prod(self.src_shape))
            gs = BasicIndexBackward.apply(sel, key=(slice(0, self.n),), shape=(size,))
            gs = gs.reshape(self.src_shape)
        return ga, gs


def _bool_mask(op: str, mask, msg: str):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._data.dtype.kind != "b":
        raise RuntimeError(msg.format(_tname(mask._data)))
    return mask


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with ``source``'s first elements (in order) written where ``mask``
    is True; ``mask`` and ``input`` broadcast.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.tensor([True, False, True])
        >>> torch.zeros(3).masked_scatter(m, torch.tensor([1., 2., 3.]))
        tensor([1., 0., 2.])
    """
    _bool_mask(
        "masked_scatter",
        mask,
        "masked_scatter_ only supports boolean masks, but got mask with dtype {}",
    )
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(
            "masked_scatter_: expected self and source to have same dtypes but got "
            f"{_tname(input._data)} and {_tname(source._data)}"
        )
    shape = _broadcast_shape(input._data.shape, mask._data.shape)
    xp = xp_of(input._data)
    m = _on_xp(mask._data, xp)
    if m.shape != shape:
        m = xp.broadcast_to(m, shape)
    return MaskedScatter.apply(input, source, mask=m)


def masked_select(input: Tensor, mask: Tensor, *, out=None) -> Tensor:
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (they broadcast).

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([[1, 2], [3, 4]])
        >>> torch.masked_select(x, x > 1)
        tensor([2, 3, 4])
    """
    _bool_mask("masked_select", mask, "masked_select: expected BoolTensor for mask")
    shape = _broadcast_shape(input._data.shape, mask._data.shape)
    xp = xp_of(input._data)
    m = _on_xp(mask._data, xp)
    if m.shape != shape:
        m = xp.broadcast_to(m, shape)
    x = input if input._data.shape == shape else input.expand(shape)
    if not shape:
        x, m = x.reshape(1), m.reshape(1)
    return _out(AdvIndex.apply(x, key=_nonzero_key(m), unique=True), out)


# --- take / take_along_dim / put ------------------------------------------------------------
def _flat_index(op: str, input: Tensor, index: Tensor):
    if index._data.dtype != _INTP:
        raise RuntimeError(
            f"{op}(): Expected a long tensor for index, but got {_tname(index._data)}"
        )
    idx = _int_index(index._data, xp_of(input._data))
    n = input._data.size
    if idx.size:
        mn, mx = int(idx.min()), int(idx.max())
        if mx >= n or mn < -n:
            raise IndexError(
                f"out of range: tried to access index {mx if mx >= n else mn} on a tensor of "
                f"{n} elements."
            )
    return idx


def take(input: Tensor, index: Tensor) -> Tensor:
    """``input`` read as 1-D at ``index``; the result has ``index``'s shape.

    Example:
        >>> import tocha.core as torch
        >>> torch.take(torch.tensor([[4, 3], [5, 7]]), torch.tensor([0, 3]))
        tensor([4, 7])
    """
    idx = _flat_index("take", input, index)
    return AdvIndex.apply(input.reshape(-1), key=(idx,))


def take_along_dim(input: Tensor, indices: Tensor, dim=None, *, out=None) -> Tensor:
    """``gather`` with broadcasting of ``input`` and ``indices`` outside ``dim`` (``dim=None``:
    both flattened), as NumPy's ``take_along_axis``.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([[10., 30., 20.]])
        >>> torch.take_along_dim(x, x.argsort(dim=1), dim=1)
        tensor([[10., 20., 30.]])
    """
    if indices._data.dtype != _INTP:
        raise RuntimeError(
            "torch.take_along_dim(): dtype of indices should be Long but got "
            f"{_tname(indices._data)}"
        )
    if dim is None:
        return _out(gather(input.reshape(-1), 0, indices.reshape(-1)), out)
    nd = input._data.ndim
    if indices._data.ndim != nd:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {nd} dimensions for input, and {indices._data.ndim} "
            "dimensions for indices"
        )
    d = norm_dim(dim, nd, "take_along_dim")
    ssizes = list(input._data.shape)
    ssizes[d] = indices._data.shape[d]
    ishape = _broadcast_shape(tuple(ssizes), indices._data.shape)
    isizes = list(indices._data.shape)
    isizes[d] = input._data.shape[d]
    xshape = _broadcast_shape(tuple(isizes), input._data.shape)
    x = input if input._data.shape == xshape else input.expand(xshape)
    ix = indices if indices._data.shape == ishape else indices.expand(ishape)
    return _out(gather(x, d, ix), out)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``source`` written (or added) at the flat positions ``index``.

    Example:
        >>> import tocha.core as torch
        >>> torch.zeros(2, 2).put(torch.tensor([0, 3]), torch.tensor([1., 2.]))
        tensor([[1., 0.],
                [0., 2.]])
    """
    if index._data.dtype != _INTP:
        raise RuntimeError(
            f"put_(): Expected a long tensor for index, but got {_tname(index._data)}"
        )
    if source._data.size != index._data.size:
        raise IndexError(
            "put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source._data.size}, index.numel() = {index._data.size}"
        )
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(
            "put_(): self and source expected to have the same dtype, but got self.dtype = "
            f"{_tname(input._data)} and source.dtype = {_tname(source._data)}"
        )
    idx = _flat_index("put_", input, index).reshape(-1)
    flat = input.reshape(-1)
    res = IndexPut.apply(flat, source.reshape(-1), key2=(idx,), accumulate=bool(accumulate))
    return res.reshape(input._data.shape)


# --- sorting --------------------------------------------------------------------------------
def _argsort(a, axis: int, descending: bool):
    """Stable argsort; descending keeps equal elements in their original order (like torch's
    stable sort) and puts NaN first."""
    xp = xp_of(a)
    # CuPy's sort is always stable and accepts no ``kind``
    kw = {"kind": "stable"} if xp is np else {}
    if not descending:
        return xp.argsort(a, axis=axis, **kw)
    n = a.shape[axis]
    idx = xp.argsort(xp.flip(a, axis), axis=axis, **kw)
    return (n - 1) - xp.flip(idx, axis)


def _sortable(input: Tensor, op: str, dim):
    """(tensor with at least one dim, normalised dim, whether it was 0-dim)."""
    nd = input._data.ndim
    d = norm_dim(dim, nd, op)
    if nd == 0:
        return input.reshape(1), 0, True
    return input, d, False


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *, out=None):
    """Sort along ``dim``; returns ``(values, indices)``. The sort is always stable (equal
    elements keep their order, also when descending); NaN sorts as the largest value.

    Example:
        >>> import tocha.core as torch
        >>> torch.sort(torch.tensor([3., 1., 2.]))
        torch.return_types.sort(
        values=tensor([1., 2., 3.]),
        indices=tensor([1, 2, 0]))
    """
    x, d, was0 = _sortable(input, "sort", dim)
    idx = _argsort(x._data, d, bool(descending))
    values = Gather.apply(x, index=idx, dim=d)
    indices = wrap(idx)
    if was0:
        values, indices = values.reshape(()), indices.reshape(())
    return sort_type(values, indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort ``input`` along ``dim`` (a stable sort).

    Example:
        >>> import tocha.core as torch
        >>> torch.argsort(torch.tensor([3., 1., 2.]), descending=True)
        tensor([0, 2, 1])
    """
    x, d, was0 = _sortable(input, "argsort", dim)
    idx = wrap(_argsort(x._data, d, bool(descending)))
    return idx.reshape(()) if was0 else idx


def msort(input: Tensor, *, out=None) -> Tensor:
    """``sort(input, dim=0).values``."""
    return _out(sort(input, dim=0).values, out)


def topk(
    input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, out=None
):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, in order.

    Example:
        >>> import tocha.core as torch
        >>> torch.topk(torch.tensor([1., 5., 3., 4.]), 2)
        torch.return_types.topk(
        values=tensor([5., 4.]),
        indices=tensor([1, 3]))
    """
    x, d, was0 = _sortable(input, "topk", dim)
    a = x._data
    n = a.shape[d]
    k = operator.index(k)
    if k < 0 or k > n:
        raise RuntimeError("selected index k out of range")
    xp = xp_of(a)
    if k > 0 and 4 * k <= n and a.dtype.kind in "fiub":
        # partition first: O(n) to find the k candidates, then sort only those
        part = xp.argpartition(a, n - k if largest else k - 1, axis=d)
        sl = [_FULL] * a.ndim
        sl[d] = slice(n - k, None) if largest else slice(0, k)
        cand = part[tuple(sl)]
        order = _argsort(xp.take_along_axis(a, cand, axis=d), d, bool(largest))
        idx = xp.take_along_axis(cand, order, axis=d)
    else:
        sl = [_FULL] * a.ndim
        sl[d] = slice(0, k)
        idx = _argsort(a, d, bool(largest))[tuple(sl)]
    values = Gather.apply(x, index=idx, dim=d)
    indices = wrap(idx)
    if was0:
        values, indices = values.reshape(()), indices.reshape(())
    return topk_type(values, indices)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """The ``k``-th smallest element (1-based) along ``dim`` and its index.

    Example:
        >>> import tocha.core as torch
        >>> torch.kthvalue(torch.tensor([4., 1., 3.]), 2)
        torch.return_types.kthvalue(
        values=tensor(3.),
        indices=tensor(2))
    """
    x, d, was0 = _sortable(input, "kthvalue", dim)
    a = x._data
    n = a.shape[d]
    k = operator.index(k)
    if k < 1 or k > n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    xp = xp_of(a)
    sl = [_FULL] * a.ndim
    sl[d] = slice(k - 1, k)
    if a.dtype.kind in "fiub":
        idx = xp.argpartition(a, k - 1, axis=d)[tuple(sl)]
    else:
        idx = _argsort(a, d, False)[tuple(sl)]
    values = Gather.apply(x, index=idx, dim=d)
    indices = wrap(idx)
    if was0:
        return kthvalue_type(values.reshape(()), indices.reshape(()))
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return kthvalue_type(values, indices)


# --- unique ---------------------------------------------------------------------------------
def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim=None,
):
    """The distinct values (sorted), optionally with the inverse map and the counts; with
    ``dim``, the distinct slices along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.unique(torch.tensor([3, 1, 3, 2]), return_counts=True)
        (tensor([1, 2, 3]), tensor([1, 1, 2]))
    """
    a = input._data
    xp = xp_of(a)
    if dim is None:
        res = xp.unique(
            a.reshape(-1), return_inverse=bool(return_inverse), return_counts=bool(return_counts)
        )
    else:
        d = norm_dim(dim, a.ndim, "unique")
        res = xp.unique(
            a, return_inverse=bool(return_inverse), return_counts=bool(return_counts), axis=d
        )
    if not (return_inverse or return_counts):
        return wrap(res)
    res = list(res)
    if return_inverse:
        inv = res[1].astype(_INTP, copy=False)
        res[1] = inv.reshape(a.shape) if dim is None else inv.reshape(-1)
    if return_counts:
        res[-1] = res[-1].astype(_INTP, copy=False)
    return tuple(wrap(r) for r in res)


def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None
):
    """Collapse runs of equal consecutive values (or slices along ``dim``) to one.

    Example:
        >>> import tocha.core as torch
        >>> torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 1]))
        tensor([1, 2, 1])
    """
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = a.reshape(-1)
        n = flat.shape[0]
        change = xp.ones(n, dtype=bool)
        if n > 1:
            change[1:] = flat[1:] != flat[:-1]
        values = flat[change]
        inv_shape = a.shape
    else:
        d = norm_dim(dim, a.ndim, "unique_consecutive")
        moved = xp.moveaxis(a, d, 0)
        n = moved.shape[0]
        rows = moved.reshape(n, -1)
        change = xp.ones(n, dtype=bool)
        if n > 1:
            change[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        values = xp.compress(change, a, axis=d)
        inv_shape = (n,)
    out = [wrap(values)]
    if return_inverse:
        out.append(wrap((xp.cumsum(change) - 1).astype(_INTP).reshape(inv_shape)))
    if return_counts:
        starts = xp.nonzero(change)[0]
        ends = xp.concatenate([starts[1:], xp.asarray([n], dtype=starts.dtype)])
        out.append(wrap((ends - starts).astype(_INTP)))
    return out[0] if len(out) == 1 else tuple(out)


# --- nonzero / argwhere ---------------------------------------------------------------------
def nonzero(input: Tensor, *, out=None, as_tuple: bool = False):
    """Indices of the non-zero elements: an ``(N, ndim)`` int64 tensor, or with
    ``as_tuple=True`` one 1-D tensor per dim (what ``torch.where(condition)`` returns).

    Example:
        >>> import tocha.core as torch
        >>> torch.nonzero(torch.tensor([[0, 1], [2, 0]]))
        tensor([[0, 1],
                [1, 0]])
    """
    a = input._data
    xp = xp_of(a)
    nz = a if a.dtype.kind == "b" else a != 0
    if as_tuple:
        if nz.ndim == 0:
            return (wrap(xp.zeros(int(bool(nz)), dtype=_INTP)),)
        return tuple(wrap(i.astype(_INTP, copy=False)) for i in xp.nonzero(nz))
    return _out(wrap(xp.argwhere(nz).astype(_INTP, copy=False)), out)


def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``: the ``(N, ndim)`` indices of the non-zero elements."""
    return nonzero(input)


def where_condition(condition: Tensor) -> tuple:
    """``torch.where(condition)`` (one argument): ``nonzero(condition, as_tuple=True)``.

    The pointwise family's ``where`` calls this for its single-argument overload.
    """
    return nonzero(condition, as_tuple=True)


# --- searchsorted / bucketize ---------------------------------------------------------------
def _search(seq, vals, side: str):
    """Row-wise searchsorted: ``seq`` (..., m) sorted rows, ``vals`` (..., n), same leading
    dims. All rows are searched in one call by ranking every value and offsetting each row's
    ranks into its own range."""
    xp = xp_of(seq)
    if seq.ndim == 1:
        return xp.searchsorted(seq, vals, side=side)
    lead = seq.shape[:-1]
    rows = int(np.prod(lead))
    m, n = seq.shape[-1], vals.shape[-1]
    s2, v2 = seq.reshape(rows, m), vals.reshape(rows, n)
    both = xp.concatenate([s2.reshape(-1), v2.reshape(-1)])
    _, rank = xp.unique(both, return_inverse=True)
    rank = rank.reshape(-1).astype(_INTP)
    span = int(both.size) + 1
    off = xp.arange(rows, dtype=_INTP)[:, None] * span
    ks = (rank[: rows * m].reshape(rows, m) + off).reshape(-1)
    kv = (rank[rows * m :].reshape(rows, n) + off).reshape(-1)
    pos = xp.searchsorted(ks, kv, side=side).reshape(rows, n) - xp.arange(rows)[:, None] * m
    return pos.reshape(vals.shape)


def searchsorted(
    sorted_sequence: Tensor,
    input,
    *,
    out_int32: bool = False,
    right: bool = False,
    side=None,
    sorter=None,
    out=None,
) -> Tensor:
    """Indices where ``input`` would be inserted into the innermost dim of
    ``sorted_sequence`` to keep it sorted (``right``/``side='right'``: after equal values).

    Example:
        >>> import tocha.core as torch
        >>> torch.searchsorted(torch.tensor([1, 3, 5, 7]), torch.tensor([3, 6]))
        tensor([1, 3])
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    seq = sorted_sequence._data
    xp = xp_of(seq)
    scalar = not isinstance(input, Tensor)
    vals = xp.asarray(input) if scalar else _on_xp(input._data, xp)
    if seq.ndim == 0:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
            "dimension"
        )
    if vals.ndim == 0 and seq.ndim != 1:
        raise RuntimeError(
            "torch.searchsorted(): input value can be a scalar only when boundaries tensor "
            f"dimension is 1, but we got boundaries tensor dim({seq.ndim}) and input value's "
            f"dim({vals.ndim}) numel({vals.size})"
        )
    if seq.ndim != 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}"
        )
    if sorter is not None:
        srt = _on_xp(sorter._data, xp)
        if srt.shape != seq.shape:
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got "
                f"boundary tensor {list(seq.shape)}and got sorter tensor {list(srt.shape)}"
            )
        seq = xp.take_along_axis(seq, srt.astype(_INTP), axis=-1)
    pos = _search(seq, vals, "right" if right else "left")
    res = xp.asarray(pos).astype(np.int32 if out_int32 else _INTP)
    return _out(wrap(res.reshape(vals.shape)), out)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False, out=None):
    """The bucket of each value given sorted 1-D ``boundaries``:
    ``boundaries[i-1] < x <= boundaries[i]`` (``right=True``: ``boundaries[i-1] <= x <
    boundaries[i]``).

    Example:
        >>> import tocha.core as torch
        >>> torch.bucketize(torch.tensor([1, 4, 9]), torch.tensor([1, 3, 5, 7]))
        tensor([0, 2, 4])
    """
    if boundaries._data.ndim != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


# --- counting -------------------------------------------------------------------------------
def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """Count each non-negative integer of a 1-D tensor (summing ``weights`` instead when given).

    Example:
        >>> import tocha.core as torch
        >>> torch.bincount(torch.tensor([0, 2, 2]))
        tensor([1, 0, 2])
    """
    a = input._data
    if a.dtype.kind not in "iu":
        raise NotImplementedError(f"\"bincount\" not implemented for '{_tname(a)}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if a.ndim != 1 or (a.size and int(a.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    xp = xp_of(a)
    if weights is None:
        return wrap(xp.bincount(a, minlength=minlength).astype(_INTP, copy=False))
    w = _on_xp(weights._data, xp)
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dt = np.float32 if w.dtype == np.float32 else np.float64
    res = xp.bincount(a, weights=w.astype(np.float64), minlength=minlength)
    return wrap(res.astype(dt, copy=False))


def _float_only(a, op: str):
    if a.dtype.kind not in "fV":
        raise NotImplementedError(f"\"{op}\" not implemented for '{_tname(a)}'")


def histc(input: Tensor, bins: int = 100, min=0, max=0, *, out=None) -> Tensor:
    """Histogram of ``bins`` equal-width bins over ``[min, max]`` (the data's range when
    ``min == max``); values outside are ignored.

    Example:
        >>> import tocha.core as torch
        >>> torch.histc(torch.tensor([1., 2., 1.]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    a = input._data
    _float_only(a, "histogram")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    xp = xp_of(a)
    calc = a.astype(np.float32) if a.dtype.kind == "V" else a
    x = calc.reshape(-1)
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    lo_t, hi_t = calc.dtype.type(lo), calc.dtype.type(hi)
    x = x[(x >= lo_t) & (x <= hi_t)]
    pos = ((x - lo_t) * calc.dtype.type(bins) / (hi_t - lo_t)).astype(_INTP)
    pos = xp.minimum(pos, bins - 1)
    hist = xp.bincount(pos, minlength=bins)[:bins]
    return _out(wrap(hist.astype(a.dtype)), out)


def histogram(input: Tensor, bins=100, *, range=None, weight=None, density: bool = False, out=None):
    """Histogram with ``bins`` equal bins (or the given edges); returns ``(hist, bin_edges)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.histogram(torch.tensor([1., 2., 1.]), bins=2)
        torch.return_types.histogram(
        hist=tensor([2., 1.]),
        bin_edges=tensor([1.0000, 1.5000, 2.0000]))
    """
    a = input._data
    _float_only(a, "histogram")
    xp = xp_of(a)
    calc = a.astype(np.float32) if a.dtype.kind == "V" else a
    if isinstance(bins, Tensor):
        b = _on_xp(bins._data, xp)
    else:
        b = operator.index(bins)
        if b <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {b} for dimension 0")
    w = None if weight is None else _on_xp(weight._data, xp)
    hist, edges = xp.histogram(
        calc.reshape(-1),
        bins=b,
        range=range,
        weights=(None if w is None else w.reshape(-1)),
        density=bool(density),
    )
    return histogram_type(wrap(hist.astype(a.dtype)), wrap(edges.astype(a.dtype)))


# --- exports --------------------------------------------------------------------------------


# --- index_reduce / isin / unravel_index / fill_diagonal_ -----------------------------------
_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def index_reduce(
    input: Tensor,
    dim: int,
    index: Tensor,
    source: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
    out=None,
) -> Tensor:
    """A copy of ``input`` whose slices at ``index`` along ``dim`` are reduced ('prod', 'mean',
    'amax' or 'amin') with the slices of ``source``; ``include_self=False`` leaves ``input``'s
    own values out wherever something is reduced into.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.ones(3)
        >>> x.index_reduce(0, torch.tensor([0, 0, 2]), torch.tensor([2., 3., 4.]), 'prod')
        tensor([6., 1., 4.])
    """
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(
            "index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
            f"{reduce}."
        )
    d, idx = _accumulate_checks("index_reduce", input, dim, index, source)
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise IndexError("index out of range in self")
    if input._data.ndim == 0:
        res = index_reduce(
            input.reshape(1), 0, wrap(idx), source.reshape(-1), reduce, include_self=include_self
        )
        return _out(res.reshape(()), out)
    # index_reduce is scatter_reduce with the index vector broadcast over source's other dims
    src = source if source._data.ndim else source.reshape(1)
    nd = src._data.ndim
    xp = xp_of(input._data)
    full = xp.broadcast_to(idx.reshape((1,) * d + (-1,) + (1,) * (nd - d - 1)), src._data.shape)
    res = ScatterReduce.apply(
        input,
        src,
        index=xp.ascontiguousarray(full),
        dim=d,
        reduce=reduce,
        include_self=bool(include_self),
    )
    return _out(res, out)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """A bool tensor of ``elements``' shape: whether each element is in ``test_elements``
    (either may be a scalar); ``invert`` negates it.

    Example:
        >>> import tocha.core as torch
        >>> torch.isin(torch.tensor([1, 2, 3]), torch.tensor([2, 5]))
        tensor([False,  True, False])
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(
            "isin(): expected at least one of 'elements' or 'test_elements' to be a Tensor"
        )
    like = elements if isinstance(elements, Tensor) else test_elements
    xp = xp_of(like._data)
    e = elements._data if isinstance(elements, Tensor) else xp.asarray(elements)
    t = test_elements._data if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    if isinstance(elements, Tensor) and isinstance(test_elements, Tensor):
        check_same_device("isin", elements, test_elements)
    res = xp.isin(e, t, assume_unique=assume_unique, invert=invert)
    return wrap(xp.asarray(res))


def unravel_index(indices, shape) -> tuple:
    """The coordinates in an array of ``shape`` of flat ``indices`` (one int64 tensor per dim).

    Negative or too large indices wrap around per dimension, as torch's arithmetic does.

    Example:
        >>> import tocha.core as torch
        >>> torch.unravel_index(torch.tensor([4, 7]), (2, 4))
        (tensor([1, 1]), tensor([0, 3]))
    """
    if isinstance(indices, Tensor):
        arr = indices._data
    else:
        arr = np.asarray(indices)
    if arr.dtype.kind not in "iu" or arr.dtype == bool:
        from .. import _dtype

        name = _dtype.from_numpy_dtype(arr.dtype) if arr.dtype in _dtype._BY_NP else arr.dtype
        raise TypeError(f"expected 'indices' to be integer dtype, but got {name}")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    xp = xp_of(arr)
    flat = arr.astype(np.int64)
    out = []
    stride = 1
    for s in reversed(shape):
        out.append(wrap(xp.floor_divide(flat, stride) % s if s else flat * 0))
        stride *= s
    return tuple(reversed(out))


class FillDiagonal(Node):
    """A copy of ``a`` with its main diagonal (wrapping every ``cols + 1`` rows of a tall
    matrix when ``wrap``) set to ``value``."""

    def forward(self, a, value, wrap):
        self.wrap = wrap
        out = a.copy()
        xp = xp_of(a)
        fill = _scalar_for(out, value) if out.dtype.kind != "b" else bool(value)
        xp.fill_diagonal(out, fill, wrap=wrap)
        return out

    def backward(self, g):
        return FillDiagonal.apply(g, value=0, wrap=self.wrap)


def _fill_diagonal(input: Tensor, fill_value, wrap: bool = False) -> Tensor:
    a = input._data
    if a.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return FillDiagonal.apply(input, value=fill_value, wrap=bool(wrap))


def _method_scatter(self, dim, index, src=None, *, value=None, reduce=None):
    return scatter(self, dim, index, src, value=value, reduce=reduce)


TENSOR_METHODS = {
    "__getitem__": getitem,
    "__setitem__": setitem,
    "gather": gather,
    "scatter": scatter,
    "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce,
    "index_select": index_select,
    "index_add": index_add,
    "index_copy": index_copy,
    "index_fill": index_fill,
    "index_put": index_put,
    "index_put_": index_put_,
    "masked_scatter": masked_scatter,
    "masked_select": masked_select,
    "take": take,
    "take_along_dim": take_along_dim,
    "put": put,
    "sort": sort,
    "argsort": argsort,
    "msort": msort,
    "topk": topk,
    "kthvalue": kthvalue,
    "unique": unique,
    "unique_consecutive": unique_consecutive,
    "nonzero": nonzero,
    "argwhere": argwhere,
    "bincount": bincount,
    "histc": histc,
    "histogram": histogram,
}

TENSOR_METHODS.update(
    {
        name: _fast_inplace(fn, name)
        for name, fn in {
            "scatter_": scatter,
            "scatter_add_": scatter_add,
            "scatter_reduce_": scatter_reduce,
            "index_add_": index_add,
            "index_copy_": index_copy,
            "index_fill_": index_fill,
            "masked_scatter_": masked_scatter,
            "put_": put,
        }.items()
    }
)
INPLACE: dict = {}

FUNCTIONS = [
    "gather",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "index_select",
    "index_add",
    "index_copy",
    "index_fill",
    "index_put",
    "index_put_",
    "masked_scatter",
    "masked_select",
    "take",
    "take_along_dim",
    "put",
    "sort",
    "argsort",
    "msort",
    "topk",
    "kthvalue",
    "unique",
    "unique_consecutive",
    "nonzero",
    "argwhere",
    "searchsorted",
    "bucketize",
    "bincount",
    "histc",
    "histogram",
]
FUNCTIONS += ["index_reduce", "isin", "unravel_index"]
TENSOR_METHODS["index_reduce"] = index_reduce
TENSOR_METHODS["index_reduce_"] = _fast_inplace(index_reduce, "index_reduce_")
INPLACE["fill_diagonal_"] = _fill_diagonal
