"""Random sampling: generators, seeding and every torch sampling function.

A `Generator` wraps NumPy's PCG64 bit generator on the CPU. On a GPU it wraps a CuPy
``RandomState`` using curand's counter-based Philox generator, re-seeded for every draw from
``(seed, counter)``, so the whole CUDA state is two integers (like torch's seed and offset) and
`get_state` / `set_state` round-trip exactly.

The numbers differ from torch's (torch uses MT19937 on the CPU and Philox with its own offsets
on CUDA): the distributions and the API are the same, the bitstreams are not. Seeding is still
reproducible: the same seed gives the same stream, and two generators seeded alike agree.

Sampling functions (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``, ``poisson``, ``*_like``) accept ``generator=``, ``dtype=``, ``device=`` and
``requires_grad=`` like torch. The in-place methods (``uniform_``, ``normal_``, ``bernoulli_``,
``random_``, ``exponential_``, ``geometric_``, ``log_normal_``, ``cauchy_``) write into the
tensor's memory and bump its version counter.
"""

from __future__ import annotations

import math
import operator
import os

import numpy as np

from .. import _dtype
from .._device import array_module, cupy_or_none, to_device
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ._util import shape_arg
from .creation import _DEFAULT_DEVICE

_M64 = (1 << 64) - 1
_DEFAULT_SEED = 67280421310721  # torch's default seed for a fresh generator
_CPU_STATE_SIZE = 48  # seed, PCG64 state and increment, buffered 32-bit draw
_CUDA_STATE_SIZE = 16  # seed and counter

_C_NAME = {
    "bool": "bool",
    "uint8": "unsigned char",
    "int8": "signed char",
    "int16": "short",
    "int32": "int",
    "int64": "long int",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "float32": "float",
    "float64": "double",
}
# mantissa digits: floats can hold every integer in [-2**d, 2**d]
_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _num(v) -> str:
    """A number the way torch prints it in messages (``-1`` rather than ``-1.0``)."""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _not_implemented(kernel: str, dt: _dtype.dtype):
    return NotImplementedError(
        f"\"{kernel}\" not implemented for '{_dtype.SCALAR_TYPE_NAMES[dt.name]}'"
    )


# --- generators -----------------------------------------------------------------------------
def _norm_seed(seed) -> int:
    """torch's seed rule: any integer in [-2**63, 2**64); negatives wrap to unsigned."""
    s = int(seed)
    if not -(1 << 63) <= s <= _M64:
        raise ValueError("Overflow when unpacking long long")
    return s & _M64


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class _NumpyImpl:
    """CPU sampling primitives on NumPy's PCG64."""

    xp = np

    def __init__(self, seed: int):
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.bg = np.random.PCG64(seed)
        self.rng = np.random.Generator(self.bg)

    def uniform(self, shape, np_dt):
        return np.asarray(self.rng.random(shape, dtype=np_dt))

    def normal(self, shape, np_dt):
        return np.asarray(self.rng.standard_normal(shape, dtype=np_dt))

    def exponential(self, shape, np_dt):
        return np.asarray(self.rng.standard_exponential(shape, dtype=np_dt))

    def integers(self, low: int, high: int, shape):
        return np.asarray(self.rng.integers(low, high, shape, dtype=np.int64))

    def permutation(self, n: int):
        return self.rng.permutation(n)

    def poisson(self, lam):
        return np.asarray(self.rng.poisson(lam))

    def geometric(self, p: float, shape):
        return np.asarray(self.rng.geometric(p, shape))

    def get_state(self, seed: int) -> bytes:
        st = self.bg.state
        return (
            seed.to_bytes(8, "little")
            + st["state"]["state"].to_bytes(16, "little")
            + st["state"]["inc"].to_bytes(16, "little")
            + int(st["has_uint32"]).to_bytes(4, "little")
            + int(st["uinteger"]).to_bytes(4, "little")
        )

    def set_state(self, raw: bytes) -> int:
        seed = int.from_bytes(raw[0:8], "little")
        self.bg.state = {
            "bit_generator": "PCG64",
            "state": {
                "state": int.from_bytes(raw[8:24], "little"),
                "inc": int.from_bytes(raw[24:40], "little"),
            },
            "has_uint32": int.from_bytes(raw[40:44], "little"),
            "uinteger": int.from_bytes(raw[44:48], "little"),
        }
        return seed


class _CupyImpl:
    """CUDA sampling primitives: curand Philox re-seeded per draw from (seed, counter)."""

    def __init__(self, seed: int, index: int):
        cp = cupy_or_none()
        self.xp = cp
        self.index = index
        self.seed = seed
        self.counter = 0
        from cupy.cuda import curand

        with cp.cuda.Device(index):
            self.rs = cp.random.RandomState(
                np.uint64(seed), method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
            )

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.counter = 0

    def _next(self):
        # Each draw gets its own stream, so the state is just (seed, counter).
        self.rs.seed(np.uint64(_splitmix64(self.seed ^ _splitmix64(self.counter))))
        self.counter += 1
        return self.rs

    def _dev(self):
        return self.xp.cuda.Device(self.index)

    def uniform(self, shape, np_dt):
        with self._dev():
            return self._next().random_sample(shape, dtype=np_dt)

    def normal(self, shape, np_dt):
        with self._dev():
            return self._next().standard_normal(shape, dtype=np_dt)

    def exponential(self, shape, np_dt):
        with self._dev():
            return self._next().standard_exponential(shape, dtype=np_dt)

    def integers(self, low: int, high: int, shape):
        with self._dev():
            return self._next().randint(low, high, size=shape, dtype=np.int64)

    def permutation(self, n: int):
        with self._dev():
            return self._next().permutation(n)

    def poisson(self, lam):
        with self._dev():
            return self._next().poisson(lam, dtype=np.int64)

    def geometric(self, p: float, shape):
        # trials up to the first success: ceil(log(u) / log(1 - p)) with u in (0, 1]
        u = 1.0 - self.uniform(shape, np.float64)
        xp = self.xp
        k = xp.ceil(xp.log(u) / math.log1p(-p))
        return xp.maximum(k, 1).astype(np.int64)

    def get_state(self, seed: int) -> bytes:
        return (seed & _M64).to_bytes(8, "little") + self.counter.to_bytes(8, "little")

    def set_state(self, raw: bytes) -> int:
        self.seed = int.from_bytes(raw[0:8], "little")
        self.counter = int.from_bytes(raw[8:16], "little")
        return self.seed


def _cuda_index(dev) -> int:
    if dev.index is not None:
        return dev.index
    cp = array_module(dev)
    return int(cp.cuda.runtime.getDevice())


class Generator:
    """A random number generator with its own state (torch.Generator).

    Pass it as ``generator=`` to sampling functions to draw from an independent, reproducible
    stream. On the CPU it is NumPy's PCG64; on CUDA, curand's Philox.

    Args:
        device: where the numbers it makes live (``'cpu'`` or ``'cuda'``).

    Example:
        >>> import tocha.core as torch
        >>> g = torch.Generator().manual_seed(42)
        >>> a = torch.rand(3, generator=g)
        >>> b = torch.rand(3, generator=torch.Generator().manual_seed(42))
        >>> bool((a == b).all())
        True
    """

    def __init__(self, device="cpu"):
        dev = to_device(device)
        if dev.type == "cuda":
            dev = to_device(f"cuda:{_cuda_index(dev)}")
            self._impl = _CupyImpl(_DEFAULT_SEED, dev.index)
        else:
            self._impl = _NumpyImpl(_DEFAULT_SEED)
        self.device = dev
        self._seed = _DEFAULT_SEED

    def manual_seed(self, seed) -> Generator:
        """Seed the generator (any integer in [-2**63, 2**64)); returns the generator."""
        s = _norm_seed(seed)
        self._seed = s
        self._impl.reseed(s)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed used."""
        s = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed last set (by ``manual_seed`` or ``seed``)."""
        return self._seed

    def get_state(self) -> Tensor:
        """The full generator state as a uint8 tensor (torch's ByteTensor)."""
        raw = self._impl.get_state(self._seed)
        return wrap(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from ``get_state``; returns the generator."""
        if not isinstance(new_state, Tensor) or new_state.dtype is not _dtype.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        raw = np.ascontiguousarray(new_state._host()).reshape(-1).tobytes()
        want = _CPU_STATE_SIZE if self.device.type == "cpu" else _CUDA_STATE_SIZE
        if len(raw) != want:
            kind = "CPUGeneratorImplState" if self.device.type == "cpu" else "CUDAGeneratorState"
            raise RuntimeError(
                f"Expected a {kind} of size {want} but found the input RNG state size to be "
                f"{len(raw)}"
            )
        self._seed = self._impl.set_state(raw)
        return self

    def __getstate__(self):
        return {"device": str(self.device), "state": self._impl.get_state(self._seed)}

    def __setstate__(self, d):
        self.__init__(d["device"])
        self.set_state(wrap(np.frombuffer(d["state"], dtype=np.uint8).copy()))

    def __repr__(self) -> str:
        return f"<tocha.core.Generator object (device={self.device}) at {hex(id(self))}>"


default_generator = Generator("cpu")
_cuda_generators: dict = {}
_cuda_seed = _DEFAULT_SEED


def cuda_default_generator(index: int) -> Generator:
    """The default generator of CUDA device ``index`` (created on first use)."""
    g = _cuda_generators.get(index)
    if g is None:
        g = Generator(f"cuda:{index}").manual_seed(_cuda_seed)
        _cuda_generators[index] = g
    return g


def cuda_manual_seed_all(seed) -> None:
    """Seed the default generator of every CUDA device (also the ones not created yet)."""
    global _cuda_seed
    _cuda_seed = _norm_seed(seed)
    for g in _cuda_generators.values():
        g.manual_seed(_cuda_seed)


def _default_for(dev) -> Generator:
    if dev.type == "cpu":
        return default_generator
    return cuda_default_generator(_cuda_index(dev))


def _impl_for(generator, dev):
    """The sampling backend for an op on ``dev``, checking the generator's device type."""
    if generator is None:
        return _default_for(dev)._impl
    if not isinstance(generator, Generator):
        raise TypeError(
            f"argument 'generator' must be torch.Generator, not {type(generator).__name__}"
        )
    if generator.device.type != dev.type:
        raise RuntimeError(
            f"Expected a '{dev.type}' device type for generator but found '{generator.device.type}'"
        )
    return generator._impl


def manual_seed(seed) -> Generator:
    """Seed the default generators of every device; returns the CPU default generator.

    Example:
        >>> import tocha.core as torch
        >>> _ = torch.manual_seed(0)
        >>> a = torch.rand(2)
        >>> _ = torch.manual_seed(0)
        >>> bool((a == torch.rand(2)).all())
        True
    """
    s = _norm_seed(seed)
    cuda_manual_seed_all(s)
    return default_generator.manual_seed(s)


def seed() -> int:
    """Seed every default generator from OS entropy; returns the 64-bit seed used."""
    s = default_generator.seed()
    cuda_manual_seed_all(s)
    return s


def initial_seed() -> int:
    """The initial seed of the default CPU generator."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default CPU generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default CPU generator's state from ``get_rng_state``."""
    default_generator.set_state(new_state)


# --- raw samplers shared by the ops ---------------------------------------------------------
def _work_dtype(dt: _dtype.dtype):
    """The NumPy float dtype the samples are drawn in (float16/bfloat16 via float32)."""
    return np.float64 if dt in (_dtype.float64, _dtype.complex128) else np.float32


def _uniform01(impl, shape, dt: _dtype.dtype):
    """Uniform samples in [0, 1) of dtype ``dt`` (floating or complex)."""
    if dt.category == 3:
        w = _work_dtype(dt)
        return (impl.uniform(shape, w) + 1j * impl.uniform(shape, w)).astype(dt.np)
    if dt in (_dtype.float32, _dtype.float64):
        return impl.uniform(shape, dt.np)
    # float16/bfloat16: snap float32 draws to the target's grid of 2**-digits, so every value
    # is exact and 1.0 (which rounding could produce) never occurs
    scale = float(1 << _DIGITS[dt.name])
    xp = impl.xp
    return (xp.floor(impl.uniform(shape, np.float32) * scale) / scale).astype(dt.np)


def _standard_normal(impl, shape, dt: _dtype.dtype):
    if dt.category == 3:
        w = _work_dtype(dt)
        z = impl.normal(shape, w) + 1j * impl.normal(shape, w)
        return (z * math.sqrt(0.5)).astype(dt.np)
    w = _work_dtype(dt)
    z = impl.normal(shape, w)
    return z if z.dtype == dt.np else z.astype(dt.np)


def _finish(arr, requires_grad: bool) -> Tensor:
    t = wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _to_out(res: Tensor, out) -> Tensor:
    if out is None:
        return res
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    arr = res._data.astype(out._data.dtype, copy=False)
    if out._data.shape == arr.shape:
        out._data[...] = arr
    else:  # torch resizes `out`
        out._data = arr.copy() if arr is res._data else arr
    out._bump_version()
    return out


def _size_of(size_args, size_kw, op: str) -> tuple:
    if size_kw is not None:
        if size_args:
            raise TypeError(f"{op}() got multiple values for argument 'size'")
        size_args = (size_kw,)
    return shape_arg(size_args, op)


def _target(dtype, device, out, default=None):
    """The dtype and device of a factory's result (``out`` supplies them when given)."""
    if out is not None:
        dt = _dtype.to_dtype(dtype) if dtype is not None else out.dtype
        dev = to_device(device) if device is not None else out.device
    else:
        dt = (
            _dtype.to_dtype(dtype) if dtype is not None else (default or _dtype.get_default_dtype())
        )
        dev = to_device(device)
    if dev.type == "cuda":
        array_module(dev)  # a clear error when CUDA is missing
        dev = to_device(f"cuda:{_cuda_index(dev)}")
    return dt, dev


# --- factories ------------------------------------------------------------------------------
def rand(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kwargs,
) -> Tensor:
    """Uniform samples in [0, 1) of the given shape.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.rand(2, 3)
        >>> x.shape, bool(((x >= 0) & (x < 1)).all())
        (torch.Size([2, 3]), True)
    """
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    shape = _size_of(size, kwargs.pop("size", None), "rand")
    _no_kwargs("rand", kwargs)
    dt, dev = _target(dtype, device, out)
    if dt.category < 2:
        raise _not_implemented("check_uniform_bounds", dt)
    impl = _impl_for(generator, dev)
    return _to_out(_finish(_uniform01(impl, shape, dt), requires_grad), out)


def randn(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kwargs,
) -> Tensor:
    """Standard normal samples of the given shape.

    Example:
        >>> import tocha.core as torch
        >>> torch.randn(2, 3, dtype=torch.float64).dtype
        torch.float64
    """
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    shape = _size_of(size, kwargs.pop("size", None), "randn")
    _no_kwargs("randn", kwargs)
    dt, dev = _target(dtype, device, out)
    if dt.category < 2:
        raise _not_implemented("normal_kernel_cpu", dt)
    impl = _impl_for(generator, dev)
    return _to_out(_finish(_standard_normal(impl, shape, dt), requires_grad), out)


def _no_kwargs(op: str, kwargs: dict) -> None:
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument '{next(iter(kwargs))}'")


def _int_arg(v, op: str, name: str, pos: int) -> int:
    if isinstance(v, Tensor):
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(
            f"{op}(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}"
        )
    return operator.index(v)


def _check_int_range(lo: int, hi: int, dt: _dtype.dtype) -> None:
    """torch's checks that [lo, hi) fits the dtype (for floats: no check, like torch's warning)."""
    if lo >= hi:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}"
        )
    if dt.category == 2:
        return
    if dt is _dtype.bool:
        mn, mx = 0, 1
    else:
        info = np.iinfo(dt.np)
        mn, mx = int(info.min), int(info.max)
    if not mn <= lo <= mx:
        raise RuntimeError(f"from is out of bounds for {_C_NAME[dt.name]}")
    if not mn <= hi - 1 <= mx:
        raise RuntimeError(f"to - 1 is out of bounds for {_C_NAME[dt.name]}")


def _randint_array(impl, lo: int, hi: int, shape, dt: _dtype.dtype):
    if dt.category == 3:
        raise _not_implemented("random_from_to", dt)
    arr = impl.integers(lo, hi, shape)
    return arr if arr.dtype == dt.np else arr.astype(dt.np)


def randint(
    low=0,
    high=None,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """Integers drawn uniformly from [low, high), as int64 unless ``dtype`` says otherwise.

    Called as ``randint(high, size)`` or ``randint(low, high, size)``.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.randint(3, 10, (4,))
        >>> x.dtype, bool(((x >= 3) & (x < 10)).all())
        (torch.int64, True)
    """
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size): the first positional is `high`
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing 1 required positional argument: 'size'")
    if not isinstance(size, (tuple, list)):
        raise TypeError(
            f"randint(): argument 'size' must be tuple of ints, not {type(size).__name__}"
        )
    shape = shape_arg((size,), "randint")
    lo = _int_arg(low, "randint", "low", 1)
    hi = _int_arg(high, "randint", "high", 2)
    dt, dev = _target(dtype, device, out, default=_dtype.int64)
    _check_int_range(lo, hi, dt)
    impl = _impl_for(generator, dev)
    return _to_out(_finish(_randint_array(impl, lo, hi, shape, dt), requires_grad), out)


def randperm(
    n,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 by default).

    Example:
        >>> import tocha.core as torch
        >>> sorted(torch.randperm(5).tolist())
        [0, 1, 2, 3, 4]
    """
    if device is None:
        device = _DEFAULT_DEVICE[0]  # torch.set_default_device; None: the CPU
    n = _int_arg(n, "randperm", "n", 1)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt, dev = _target(dtype, device, out, default=_dtype.int64)
    if dt is _dtype.bool or dt.category == 3:
        raise _not_implemented("randperm", dt)
    if dt.category == 1 and n > 0 and n - 1 > int(np.iinfo(dt.np).max):
        raise RuntimeError(
            f"randperm: n={n} is too large for dtype {dt} (values up to {n - 1} must fit)"
        )
    impl = _impl_for(generator, dev)
    arr = impl.permutation(n).astype(dt.np)
    return _to_out(_finish(arr, requires_grad), out)


def _sample_like(sample, input: Tensor, *args, generator, dtype, device, requires_grad) -> Tensor:
    """``sample(*args, input.shape)`` in ``input``'s dtype and on its device unless others are
    asked for: the ``*_like`` samplers."""
    return sample(
        *args,
        tuple(input.shape),
        generator=generator,
        dtype=dtype if dtype is not None else input.dtype,
        device=device if device is not None else input.device,
        requires_grad=requires_grad,
    )


def rand_like(
    input: Tensor,
    *,
    generator=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    memory_format=None,
) -> Tensor:
    """``rand`` with the shape (and by default dtype and device) of ``input``."""
    return _sample_like(
        rand, input, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad
    )


def randn_like(
    input: Tensor,
    *,
    generator=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    memory_format=None,
) -> Tensor:
    """``randn`` with the shape (and by default dtype and device) of ``input``."""
    return _sample_like(
        randn, input, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad
    )


def randint_like(
    input: Tensor,
    low=0,
    high=None,
    *,
    generator=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    memory_format=None,
) -> Tensor:
    """``randint`` with the shape (and by default dtype and device) of ``input``.

    Called as ``randint_like(input, high)`` or ``randint_like(input, low, high)``.
    """
    if high is None:
        low, high = 0, low
    return _sample_like(
        randint,
        input,
        low,
        high,
        generator=generator,
        dtype=dtype,
        device=device,
        requires_grad=requires_grad,
    )


# --- normal ---------------------------------------------------------------------------------
class _ZeroGrad(Node):
    """Sampling ops: torch defines their gradient as zero for every input."""

    label = "Normal"
    index = 0

    def name(self) -> str:
        return f"{self.label}Backward{self.index}"

    def backward(self, g):
        from .creation import zeros_like

        return tuple((zeros_like(g) if need else None) for need in self.needs_input_grad)


class _NormalTT(_ZeroGrad):
    index = 3

    def forward(self, mean, std, z=None, dt=None):
        w = z.dtype
        return (mean.astype(w, copy=False) + std.astype(w, copy=False) * z).astype(dt, copy=False)


class _NormalTS(_ZeroGrad):
    index = 1

    def forward(self, mean, z=None, std=1.0, dt=None):
        w = z.dtype
        return (mean.astype(w, copy=False) + z * w.type(std)).astype(dt, copy=False)


class _NormalST(_ZeroGrad):
    index = 2

    def forward(self, std, z=None, mean=0.0, dt=None):
        w = z.dtype
        return (std.astype(w, copy=False) * z + w.type(mean)).astype(dt, copy=False)


def _broadcast_shape(a: tuple, b: tuple) -> tuple:
    """``np.broadcast_shapes`` with torch's message on a mismatch."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        n = max(len(a), len(b))
        pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
        for i in range(n - 1, -1, -1):
            if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                raise RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) "
                    f"at non-singleton dimension {i}"
                ) from None
        raise


def _check_float(t: Tensor, kernel: str) -> None:
    if t._data.dtype.kind not in "fcV":
        raise _not_implemented(kernel, t.dtype)


def _check_std_scalar(std) -> None:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_num(std)}")


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    """Normal samples with the given mean and standard deviation (torch's four overloads).

    - ``normal(mean: Tensor, std: Tensor)``: elementwise parameters, broadcast together;
    - ``normal(mean: Tensor, std: float = 1.0)`` and ``normal(mean: float, std: Tensor)``;
    - ``normal(mean: float, std: float, size)``: a new tensor of shape ``size``.

    With tensor parameters the result has the dtype of the tensor (``mean``'s when both are
    tensors). Like torch, the result has a ``grad_fn`` whose gradient is zero.

    Example:
        >>> import tocha.core as torch
        >>> torch.normal(2.0, 3.0, size=(2, 2)).shape
        torch.Size([2, 2])
        >>> torch.normal(torch.zeros(3), torch.ones(3)).shape
        torch.Size([3])
    """
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not (mt or st):
        if size is None:
            raise TypeError(
                "normal() received an invalid combination of arguments - got "
                f"({type(mean).__name__}, {type(std).__name__}): with float mean and std, "
                "'size' is required"
            )
        shape = shape_arg((size,), "normal")
        _check_std_scalar(std)
        dt, dev = _target(dtype, device, out)
        if dt.category < 2:
            raise _not_implemented("normal_kernel_cpu", dt)
        impl = _impl_for(generator, dev)
        z = _standard_normal(impl, shape, dt)
        w = z.dtype if dt.category == 3 else np.dtype(_work_dtype(dt))
        arr = (z.astype(w, copy=False) * w.type(std) + w.type(mean)).astype(dt.np, copy=False)
        return _to_out(_finish(arr, requires_grad), out)
    if size is not None:
        raise TypeError(
            "normal() received an invalid combination of arguments: 'size' is only accepted "
            "with float mean and std"
        )
    if mt and st:
        _check_float(mean, "normal_kernel_cpu")
        _check_float(std, "normal_kernel_cpu")
        if mean.device != std.device:
            raise RuntimeError(
                "normal: Expected all tensors to be on the same device, but found at least two "
                f"devices, {mean.device} and {std.device}!"
            )
        if bool((std._data < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = _broadcast_shape(mean._data.shape, std._data.shape)
        dt = mean.dtype
        z = _standard_normal(_impl_for(generator, mean.device), shape, _z_dtype(dt))
        res = _NormalTT.apply(mean, std, z=z, dt=dt.np)
    elif mt:
        _check_float(mean, "normal_kernel_cpu")
        _check_std_scalar(std)
        dt = mean.dtype
        z = _standard_normal(_impl_for(generator, mean.device), mean._data.shape, _z_dtype(dt))
        res = _NormalTS.apply(mean, z=z, std=std, dt=dt.np)
    else:
        _check_float(std, "normal_kernel_cpu")
        if bool((std._data < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        dt = std.dtype
        z = _standard_normal(_impl_for(generator, std.device), std._data.shape, _z_dtype(dt))
        res = _NormalST.apply(std, z=z, mean=mean, dt=dt.np)
    return _to_out(res, out)


def _z_dtype(dt: _dtype.dtype) -> _dtype.dtype:
    """Draw in float32 for the 16-bit floats, else in ``dt`` itself."""
    return _dtype.float32 if dt in (_dtype.float16, _dtype.bfloat16) else dt


# --- bernoulli / multinomial / poisson ------------------------------------------------------
class _Bernoulli(_ZeroGrad):
    label = "Bernoulli"

    def forward(self, p, u=None):
        return (u < p.astype(u.dtype, copy=False)).astype(p.dtype)


class _Poisson(_ZeroGrad):
    label = "Poisson"

    def forward(self, lam, k=None):
        return k.astype(lam.dtype)


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    """0/1 samples: ``1`` with probability ``input`` (elementwise), or ``p`` when given.

    The result has ``input``'s dtype and shape.

    Example:
        >>> import tocha.core as torch
        >>> torch.bernoulli(torch.tensor([0.0, 1.0, 1.0]))
        tensor([0., 1., 1.])
    """
    if p is not None:
        return _to_out(_bernoulli_fill(input, p, generator=generator, name="bernoulli"), out)
    if input._data.dtype.kind not in "fV":
        raise _not_implemented("bernoulli_tensor_cpu_p_", input.dtype)
    pa = input._data
    if bool(((pa < 0) | (pa > 1)).any()):
        raise RuntimeError(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false. "
            "(bernoulli: every probability must lie in [0, 1])"
        )
    w = np.float64 if pa.dtype == np.float64 else np.float32
    u = _impl_for(generator, input.device).uniform(pa.shape, w)
    return _to_out(_Bernoulli.apply(input, u=u), out)


def _bernoulli_fill(self: Tensor, p, *, generator=None, name="bernoulli_") -> Tensor:
    """Samples shaped and typed like ``self`` with probability ``p`` (float or tensor)."""
    dt = self.dtype
    if dt.category == 3:
        raise _not_implemented("bernoulli_scalar_cpu_", dt)
    impl = _impl_for(generator, self.device)
    shape = self._data.shape
    if isinstance(p, Tensor):
        pa = p._data
        if bool(((pa < 0) | (pa > 1)).any()):
            raise RuntimeError(
                "Expected p_in >= 0 && p_in <= 1 to be true, but got false. "
                f"({name}: every probability must lie in [0, 1])"
            )
        if _broadcast_shape(shape, pa.shape) != tuple(shape):
            raise RuntimeError(
                f"{name}: p of shape {list(pa.shape)} can't be broadcast to the shape "
                f"{list(shape)} of self"
            )
        w = np.float64 if pa.dtype == np.float64 else np.float32
        arr = impl.uniform(shape, w) < pa.astype(w, copy=False)
    else:
        p = float(p)
        if not 0 <= p <= 1:
            raise RuntimeError(f"{name} expects p to be in [0, 1], but got p={_num(p)}")
        arr = impl.uniform(shape, np.float64) < p
    return wrap(arr.astype(dt.np))


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None, out=None
) -> Tensor:
    """Indices sampled from the categorical distributions in the rows of ``input``.

    ``input`` holds non-negative weights (they need not sum to one), 1-D or 2-D (one
    distribution per row). Without replacement no index repeats within a row: sampling is an
    exponential race (the Gumbel-top-k trick), which draws in the same order as sequential
    sampling. Returns int64 of shape ``(num_samples,)`` or ``(rows, num_samples)``.

    Example:
        >>> import tocha.core as torch
        >>> torch.multinomial(torch.tensor([0.0, 1.0, 0.0]), 1)
        tensor([1])
    """
    if input._data.dtype.kind not in "fV":
        raise RuntimeError(
            "multinomial only supports floating-point dtypes for input, got: "
            f"{_dtype.SCALAR_TYPE_NAMES[input.dtype.name]}"
        )
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    k = _int_arg(num_samples, "multinomial", "num_samples", 2)
    if k <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = input._data.shape[-1]
    if not replacement and k > n:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    xp = input.xp
    p = input._data.reshape(-1, n).astype(np.float64)
    rows = p.shape[0]
    impl = _impl_for(generator, input.device)
    if rows == 0:
        res = xp.zeros((0, k), dtype=np.int64)
    else:
        if n == 0 or bool((~xp.isfinite(p) | (p < 0)).any()):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        cdf = xp.cumsum(p, axis=1)
        total = cdf[:, -1:]
        if bool((total <= 0).any()):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement or k == 1:
            res = _inverse_cdf(xp, impl, p, cdf / total, k)
        else:
            res = _exponential_race(xp, impl, p, k)
    if input.ndim == 1:
        res = res.reshape(k)
    return _to_out(wrap(res), out)


def _inverse_cdf(xp, impl, p, cdf, k):
    """Sampling with replacement: the first index whose normalised cdf exceeds u ~ U[0, 1)."""
    rows, n = p.shape
    u = impl.uniform((rows, k), np.float64)
    if rows == 1:
        idx = xp.searchsorted(cdf[0], u[0], side="right").reshape(1, k)
    else:
        # one searchsorted for every row: shift row i by 2*i so rows don't interleave
        off = (2.0 * xp.arange(rows, dtype=np.float64))[:, None]
        flat = (cdf + off).reshape(-1)
        idx = xp.searchsorted(flat, (u + off).reshape(-1), side="right").reshape(rows, k)
        idx = idx - (xp.arange(rows, dtype=idx.dtype) * n)[:, None]
    # rounding can push u past the last positive weight: clamp to it (never to a zero weight)
    last = n - 1 - xp.argmax((p > 0)[:, ::-1], axis=1)
    return xp.minimum(idx, last[:, None]).astype(np.int64)


def _exponential_race(xp, impl, p, k):
    """Sampling without replacement: the k smallest of E_i / p_i, E_i ~ Exp(1), in order."""
    rows, n = p.shape
    e = impl.exponential((rows, n), np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = xp.where(p > 0, e / p, xp.inf)
    if k < n:
        part = xp.argpartition(keys, k - 1, axis=1)[:, :k]
        order = xp.argsort(xp.take_along_axis(keys, part, axis=1), axis=1)
        return xp.take_along_axis(part, order, axis=1).astype(np.int64)
    return xp.argsort(keys, axis=1)[:, :k].astype(np.int64)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson samples with rates ``input`` (same dtype and shape).

    Example:
        >>> import tocha.core as torch
        >>> torch.poisson(torch.zeros(3))
        tensor([0., 0., 0.])
    """
    if input._data.dtype.kind not in "fV":
        raise _not_implemented("poisson_cpu", input.dtype)
    lam = input._data.astype(np.float64)
    if bool((lam < 0).any()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    k = _impl_for(generator, input.device).poisson(lam)
    return _Poisson.apply(input, k=k)


# --- in-place sampling methods --------------------------------------------------------------
class _Fill(_ZeroGrad):
    """An in-place sampling op: ``self`` is replaced by samples; its gradient is zero."""

    def forward(self, a, values=None):
        return values


_FILL_NODES = {
    label: type(f"_{label}Fill", (_Fill,), {"label": label})
    for label in ("Uniform", "Normal", "Bernoulli", "Random", "Exponential", "Geometric")
    + ("LogNormal", "Cauchy")
}


def _filled(self: Tensor, label: str, arr) -> Tensor:
    return _FILL_NODES[label].apply(self, values=arr)


def _check_continuous(self: Tensor, what: str) -> None:
    dt = self.dtype
    if dt.category < 2:
        name = _C_NAME[dt.name] if what == "Cauchy" else _dtype.SCALAR_TYPE_NAMES[dt.name]
        raise RuntimeError(
            f"{what} distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {name}"
        )


def _affine(z, scale, shift, dt: _dtype.dtype):
    """``z * scale + shift`` in the sample's precision, cast to ``dt``.

    For complex tensors torch shifts both the real and the imaginary part.
    """
    w = z.dtype
    if w.kind == "c":
        return (z * scale + shift * (1 + 1j)).astype(dt.np, copy=False)
    return (z * w.type(scale) + w.type(shift)).astype(dt.np, copy=False)


def _uniform_(self: Tensor, from_=0.0, to=1.0, *, generator=None) -> Tensor:
    dt = self.dtype
    if dt.category < 2:
        raise _not_implemented("check_uniform_bounds", dt)
    lo, hi = _scalar(from_), _scalar(to)
    if lo > hi:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={_num(lo)} > "
            f"to={_num(hi)}"
        )
    impl = _impl_for(generator, self.device)
    wdt = dt if dt.category == 3 else _z_dtype(dt)
    u = _uniform01(impl, self._data.shape, wdt)
    return _filled(self, "Uniform", _affine(u, hi - lo, lo, dt))


def _scalar(v):
    return v.item() if isinstance(v, Tensor) else v


def _normal_(self: Tensor, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    dt = self.dtype
    if dt.category < 2:
        raise _not_implemented("normal_kernel_cpu", dt)
    mean, std = _scalar(mean), _scalar(std)
    _check_std_scalar(std)
    impl = _impl_for(generator, self.device)
    z = _standard_normal(impl, self._data.shape, dt if dt.category == 3 else _z_dtype(dt))
    return _filled(self, "Normal", _affine(z, std, mean, dt))


def _bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    return _filled(self, "Bernoulli", _bernoulli_fill(self, p, generator=generator)._data)


_MISSING = object()


def _random_(self: Tensor, from_=_MISSING, to=_MISSING, *, generator=None) -> Tensor:
    """``random_()``, ``random_(to)``, ``random_(from, to)``; ``to=None`` means the dtype's max.

    Without bounds, floats get integers in [0, 2**mantissa_digits] (all exactly representable).
    """
    dt = self.dtype
    if dt.category == 3:
        raise _not_implemented("random_kernel_cpu", dt)
    if from_ is _MISSING:
        lo, hi = 0, (None if to is _MISSING else to)
    elif to is _MISSING:
        lo, hi = 0, from_  # a single positional argument is `to`
    else:
        lo, hi = from_, to
    lo = _int_arg(lo, "random_", "from", 1)
    if hi is None:
        if dt.category == 2:
            hi = (1 << _DIGITS[dt.name]) + 1
        elif dt is _dtype.bool:
            hi = 2
        else:
            hi = int(np.iinfo(dt.np).max) + 1
    else:
        hi = _int_arg(hi, "random_", "to", 2)
    _check_int_range(lo, hi, dt)
    impl = _impl_for(generator, self.device)
    return _filled(self, "Random", _randint_array(impl, lo, hi, self._data.shape, dt))


def _exponential_(self: Tensor, lambd=1.0, *, generator=None) -> Tensor:
    _check_continuous(self, "Exponential")
    lambd = _scalar(lambd)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_num(lambd)}")
    dt = self.dtype
    e = _impl_for(generator, self.device).exponential(self._data.shape, _work_dtype(dt))
    return _filled(self, "Exponential", (e / e.dtype.type(lambd)).astype(dt.np, copy=False))


def _geometric_(self: Tensor, p, *, generator=None) -> Tensor:
    p = float(_scalar(p))
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_num(p)}")
    dt = self.dtype
    if dt.category == 3:
        raise _not_implemented("geometric_cpu", dt)
    k = _impl_for(generator, self.device).geometric(p, self._data.shape)
    return _filled(self, "Geometric", k.astype(dt.np))


def _log_normal_(self: Tensor, mean=1.0, std=2.0, *, generator=None) -> Tensor:
    dt = self.dtype
    if dt.category != 2:
        raise _not_implemented("log_normal_cpu", dt)
    mean, std = _scalar(mean), _scalar(std)
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_num(std)}")
    impl = _impl_for(generator, self.device)
    z = impl.normal(self._data.shape, _work_dtype(dt))
    w = z.dtype.type
    return _filled(self, "LogNormal", impl.xp.exp(z * w(std) + w(mean)).astype(dt.np))


def _cauchy_(self: Tensor, median=0.0, sigma=1.0, *, generator=None) -> Tensor:
    _check_continuous(self, "Cauchy")
    dt = self.dtype
    median, sigma = _scalar(median), _scalar(sigma)
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_num(sigma)}")
    impl = _impl_for(generator, self.device)
    u = impl.uniform(self._data.shape, np.float64)
    c = impl.xp.tan(math.pi * (u - 0.5)) * sigma + median
    return _filled(self, "Cauchy", c.astype(dt.np))


FUNCTIONS = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "rand",
    "randn",
    "randint",
    "randperm",
    "rand_like",
    "randn_like",
    "randint_like",
    "normal",
    "bernoulli",
    "multinomial",
    "poisson",
]
TENSOR_METHODS = {
    "bernoulli": bernoulli,
    "multinomial": multinomial,
}
INPLACE = {
    "uniform_": _uniform_,
    "normal_": _normal_,
    "bernoulli_": _bernoulli_,
    "random_": _random_,
    "exponential_": _exponential_,
    "geometric_": _geometric_,
    "log_normal_": _log_normal_,
    "cauchy_": _cauchy_,
}
