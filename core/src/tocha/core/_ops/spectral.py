"""Spectral ops: the discrete Fourier transforms behind ``torch.fft``, window functions and the
short-time Fourier transform (``stft`` / ``istft``).

Three graph nodes carry every transform, as torch's do (their ``grad_fn`` names match):

- ``FftC2C``: complex to complex, forward or inverse, over any dims;
- ``FftR2C``: real to complex, the full spectrum or the one-sided half (``rfft``);
- ``FftC2R``: a one-sided Hermitian half-spectrum back to a real signal (``irfft``).

Each backward is another transform written with tocha ops, so gradients are differentiable
again. The adjoint of a transform with normalisation ``norm`` is the opposite-direction
transform with the *dual* normalisation ("backward" and "forward" swap, "ortho" stays), because
the unnormalised DFT matrix F satisfies F^H = N * F^-1. ``hfft``/``ihfft``, the 2-D and n-D
variants, ``stft`` and ``istft`` are compositions of these nodes with existing differentiable
ops (conj, narrow, unfold, padding), so they need no backward of their own.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import _dtype
from .._tensor import Tensor, wrap
from ..autograd.function import Node
from ._util import norm_dim, xp_of


def _fft_of(a):
    """The FFT module for ``a``: scipy.fft on the CPU (it transforms float32/complex64 natively
    and batches rows, ~10x faster than numpy.fft there), the array module's own on GPU."""
    xp = xp_of(a)
    if xp is np:
        import scipy.fft

        return scipy.fft
    return xp.fft


_NORMS = {None: "backward", "backward": "backward", "forward": "forward", "ortho": "ortho"}
_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_COMPLEX_OF = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


# --- the three transform nodes ----------------------------------------------------------------
class FftC2C(Node):
    """``fftn`` (``forward``) or ``ifftn`` of a complex array over ``dims``."""

    def forward(self, a, dims, norm, forward):
        self.dims, self.norm, self.fwd = dims, norm, forward
        fft = _fft_of(a)
        out = (fft.fftn if forward else fft.ifftn)(a, axes=dims, norm=norm)
        return out.astype(a.dtype, copy=False)

    def backward(self, g):
        return FftC2C.apply(g, dims=self.dims, norm=_DUAL[self.norm], forward=not self.fwd)


class FftR2C(Node):
    """The forward DFT of a real array over ``dims``: the full spectrum, or (``onesided``) the
    first ``n // 2 + 1`` bins of the last transformed dim."""

    def forward(self, a, dims, norm, onesided):
        self.dims, self.norm, self.onesided = dims, norm, onesided
        self.in_shape = a.shape
        fft = _fft_of(a)
        out = (fft.rfftn if onesided else fft.fftn)(a, axes=dims, norm=norm)
        return out.astype(_COMPLEX_OF[a.dtype], copy=False)

    def backward(self, g):
        if self.onesided:
            # the one-sided output is the full spectrum cut short: its adjoint pads with zeros
            d = self.dims[-1]
            g = _pad_zeros(g, d, self.in_shape[d])
        gi = FftC2C.apply(g, dims=self.dims, norm=_DUAL[self.norm], forward=False)
        return gi.real  # the input was real: its gradient is the real part


class FftC2R(Node):
    """The inverse DFT of a one-sided Hermitian spectrum over ``dims`` to a real array whose
    last transformed dim has ``n`` points (the input has ``n // 2 + 1`` there)."""

    def forward(self, a, dims, norm, n):
        self.dims, self.norm, self.n = dims, norm, n
        s = [a.shape[d] for d in dims[:-1]] + [n]
        out = _fft_of(a).irfftn(a, s=s, axes=dims, norm=norm)
        return out.astype(a.real.dtype, copy=False)

    def backward(self, g):
        gi = FftR2C.apply(g, dims=self.dims, norm=_DUAL[self.norm], onesided=True)
        # each bin other than DC (and Nyquist for even n) stands for itself and its mirror
        # image in the full spectrum, so its gradient counts twice; the imaginary parts of DC
        # and Nyquist are ignored by the transform, and rfft gives them a zero gradient anyway
        n, d = self.n, self.dims[-1]
        m = gi._data.shape[d]
        xp = xp_of(gi._data)
        mask = xp.full(m, 2.0, dtype=g._data.dtype)
        mask[0] = 1.0
        if n % 2 == 0:
            mask[-1] = 1.0
        mask = mask.reshape((m,) + (1,) * (gi._data.ndim - d - 1))
        return gi * wrap(mask)


def _pad_zeros(x: Tensor, dim: int, size: int) -> Tensor:
    """``x`` zero-padded at the end of ``dim`` to ``size`` (differentiable)."""
    from .shape import NarrowPad

    shape = list(x._data.shape)
    shape[dim] = size
    return NarrowPad.apply(x, in_shape=tuple(shape), dim=dim, start=0)


# --- argument handling shared by the torch.fft functions --------------------------------------
def _norm(norm) -> str:
    try:
        return _NORMS[norm]
    except (KeyError, TypeError):
        raise RuntimeError(f'Invalid normalization mode: "{norm}"') from None


def _as_float_or_complex(x: Tensor, op: str, real_only: bool = False) -> Tensor:
    """Integer and bool inputs become the default float dtype (torch's promotion); half
    precision is refused, as torch's CPU FFT refuses it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    k = x._data.dtype
    if k.kind in "iub":
        return x.to(_dtype.get_default_dtype())
    if k.kind == "V" or k == np.float16:
        raise RuntimeError(f"{op}: Unsupported dtype {_dtype.SCALAR_TYPE_NAMES[x.dtype.name]}")
    if real_only and k.kind == "c":
        raise RuntimeError(
            f"{op} expects a real input tensor, but got {_dtype.SCALAR_TYPE_NAMES[x.dtype.name]}"
        )
    return x


def _to_complex(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "c":
        return x
    return x.to(_dtype.from_numpy_dtype(np.dtype(_COMPLEX_OF[x._data.dtype])))


def _check_n(n, op: str) -> None:
    if n is not None and n < 1:
        raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")


def _resize(x: Tensor, dims: tuple, sizes) -> Tensor:
    """Zero-pad or truncate ``x`` along ``dims`` to ``sizes`` (None entries: unchanged)."""
    for d, s in zip(dims, sizes):
        if s is None or s == -1:
            continue
        n = x._data.shape[d]
        if s < n:
            x = x.narrow(d, 0, s)
        elif s > n:
            x = _pad_zeros(x, d, s)
    return x


def _dims_1d(x: Tensor, dim, op: str) -> tuple:
    return (norm_dim(dim, x._data.ndim, op),)


def _dims_nd(x: Tensor, s, dim, op: str, default_last: int | None = None):
    """torch's rules for ``s`` and ``dim`` of the n-D transforms: dims (normalised) and sizes."""
    nd = x._data.ndim
    if dim is None and default_last is not None:
        dim = tuple(range(-default_last, 0))
    if s is not None:
        s = [int(v) for v in s]
        if dim is None:
            if len(s) > nd:
                raise RuntimeError(
                    f"{op}: Got shape with {len(s)} values but input tensor only has {nd} "
                    "dimensions."
                )
            dim = tuple(range(nd - len(s), nd))
    if dim is None:
        dims = tuple(range(nd))
    else:
        if isinstance(dim, (int, np.integer)):
            dim = (dim,)
        dims = tuple(norm_dim(d, nd, op) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: FFT dims must be unique")
    if s is not None and len(s) != len(dims):
        raise RuntimeError(
            f"{op}: When given, dim and shape arguments must have the same length, got "
            f"{len(dims)} dims and {len(s)} sizes"
        )
    if s is not None:
        for v in s:
            if v != -1:
                _check_n(v, op)
    return dims, s


# --- complex-to-complex and real-to-complex ---------------------------------------------------
def _c2c(x: Tensor, dims, s, norm, forward: bool, op: str) -> Tensor:
    x = _as_float_or_complex(x, op)
    norm = _norm(norm)
    if s is not None:
        x = _resize(x, dims, s)
    if x._data.dtype.kind == "c":
        return FftC2C.apply(x, dims=dims, norm=norm, forward=forward)
    if forward:
        return FftR2C.apply(x, dims=dims, norm=norm, onesided=False)
    # the inverse DFT of a real signal is the conjugate of its forward DFT with the dual scale
    return FftR2C.apply(x, dims=dims, norm=_DUAL[norm], onesided=False).conj()


def _r2c(x: Tensor, dims, s, norm, op: str) -> Tensor:
    x = _as_float_or_complex(x, op, real_only=True)
    norm = _norm(norm)
    if s is not None:
        x = _resize(x, dims, s)
    return FftR2C.apply(x, dims=dims, norm=norm, onesided=True)


def _c2r(x: Tensor, dims, s, norm, op: str) -> Tensor:
    x = _to_complex(_as_float_or_complex(x, op))
    norm = _norm(norm)
    last = dims[-1]
    n = s[-1] if s is not None and s[-1] != -1 else 2 * (x._data.shape[last] - 1)
    if n < 1:
        raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")
    sizes = (list(s[:-1]) if s is not None else [None] * (len(dims) - 1)) + [n // 2 + 1]
    x = _resize(x, dims, sizes)
    return FftC2R.apply(x, dims=dims, norm=norm, n=n)


def _out(res: Tensor, out):
    from ._util import write_out

    return write_out(res, out)


def fft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The 1-D discrete Fourier transform of ``input`` along ``dim``.

    Example:
        >>> import tocha.core as torch
        >>> torch.fft.fft(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
    """
    _check_n(n, "fft_fft")
    dims = _dims_1d(input, dim, "fft_fft")
    return _out(_c2c(input, dims, None if n is None else [n], norm, True, "fft_fft"), out)


def ifft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The 1-D inverse discrete Fourier transform along ``dim``."""
    _check_n(n, "fft_ifft")
    dims = _dims_1d(input, dim, "fft_ifft")
    return _out(_c2c(input, dims, None if n is None else [n], norm, False, "fft_ifft"), out)


def rfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The 1-D DFT of a real signal: the ``n // 2 + 1`` non-negative frequency bins.

    Example:
        >>> import tocha.core as torch
        >>> torch.fft.rfft(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor([10.+0.j, -2.+2.j, -2.+0.j])
    """
    _check_n(n, "rfft")
    dims = _dims_1d(input, dim, "rfft")
    return _out(_r2c(input, dims, None if n is None else [n], norm, "rfft"), out)


def irfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The inverse of ``rfft``: a real signal of ``n`` points (default ``2 * (m - 1)``)."""
    _check_n(n, "irfft")
    dims = _dims_1d(input, dim, "irfft")
    return _out(_c2r(input, dims, None if n is None else [n], norm, "irfft"), out)


def hfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The DFT of a Hermitian-symmetric signal given by its one-sided half: a real spectrum."""
    _check_n(n, "hfft")
    dims = _dims_1d(input, dim, "hfft")
    x = _as_float_or_complex(input, "hfft")
    x = x.conj() if x._data.dtype.kind == "c" else x
    res = _c2r(x, dims, None if n is None else [n], _DUAL[_norm(norm)], "hfft")
    return _out(res, out)


def ihfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The inverse of ``hfft``: the one-sided half of the inverse DFT of a real signal."""
    _check_n(n, "ihfft")
    dims = _dims_1d(input, dim, "ihfft")
    res = _r2c(input, dims, None if n is None else [n], _DUAL[_norm(norm)], "ihfft").conj()
    return _out(res, out)


def fftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-D DFT over ``dim`` (default: all dims, or the last ``len(s)``)."""
    dims, s = _dims_nd(input, s, dim, "fftn")
    return _out(_c2c(input, dims, s, norm, True, "fftn"), out)


def ifftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-D inverse DFT over ``dim``."""
    dims, s = _dims_nd(input, s, dim, "ifftn")
    return _out(_c2c(input, dims, s, norm, False, "ifftn"), out)


def rfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-D DFT of a real signal, one-sided along the last transformed dim."""
    dims, s = _dims_nd(input, s, dim, "rfftn")
    return _out(_r2c(input, dims, s, norm, "rfftn"), out)


def irfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse of ``rfftn``."""
    dims, s = _dims_nd(input, s, dim, "irfftn")
    return _out(_c2r(input, dims, s, norm, "irfftn"), out)


def hfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-D DFT of a Hermitian-symmetric signal given by its one-sided half."""
    dims, s = _dims_nd(input, s, dim, "hfftn")
    x = _as_float_or_complex(input, "hfftn")
    x = x.conj() if x._data.dtype.kind == "c" else x
    return _out(_c2r(x, dims, s, _DUAL[_norm(norm)], "hfftn"), out)


def ihfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse of ``hfftn``."""
    dims, s = _dims_nd(input, s, dim, "ihfftn")
    return _out(_r2c(input, dims, s, _DUAL[_norm(norm)], "ihfftn").conj(), out)


def fft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The 2-D DFT over ``dim`` (the last two dims by default)."""
    return fftn(input, s, dim, norm, out=out)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The 2-D inverse DFT over ``dim``."""
    return ifftn(input, s, dim, norm, out=out)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The 2-D DFT of a real signal, one-sided along the last of ``dim``."""
    return rfftn(input, s, dim, norm, out=out)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The inverse of ``rfft2``."""
    return irfftn(input, s, dim, norm, out=out)


def hfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The 2-D ``hfftn``."""
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The 2-D ``ihfftn``."""
    return ihfftn(input, s, dim, norm, out=out)


def _freq_tensor(values, n, d, dtype, device, requires_grad):
    from .creation import tensor

    dt = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    if not dt.is_floating_point and not dt.is_complex:
        raise RuntimeError(f"fftfreq: expected a floating point dtype, got {dt}")
    arr = (values / (n * d)).astype(dt.np)
    return tensor(arr, dtype=dt, device=device, requires_grad=requires_grad)


def fftfreq(
    n: int, d: float = 1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """The sample frequencies of an ``n``-point DFT with sample spacing ``d``.

    Example:
        >>> import tocha.core as torch
        >>> torch.fft.fftfreq(4)
        tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    k = np.arange(n, dtype=np.float64)
    k[(n + 1) // 2 :] -= n
    return _out(_freq_tensor(k, n, d, dtype, device, requires_grad), out)


def rfftfreq(
    n: int, d: float = 1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """The non-negative sample frequencies of an ``n``-point ``rfft``."""
    k = np.arange(n // 2 + 1, dtype=np.float64)
    return _out(_freq_tensor(k, n, d, dtype, device, requires_grad), out)


def _shift(input: Tensor, dim, sign: int) -> Tensor:
    from .shape import roll

    nd = input._data.ndim
    if dim is None:
        dims = tuple(range(nd))
    elif isinstance(dim, (int, np.integer)):
        dims = (norm_dim(dim, nd, "fftshift"),)
    else:
        dims = tuple(norm_dim(d, nd, "fftshift") for d in dim)
    if not dims:
        return input.clone()
    return roll(input, [(input._data.shape[d] // 2) * sign for d in dims], dims)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Move the zero-frequency bin to the centre of ``dim`` (all dims by default)."""
    return _shift(input, dim, 1)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of ``fftshift``."""
    return _shift(input, dim, -1)


# --- window functions -------------------------------------------------------------------------
def _window(name: str, window_length: int, periodic: bool, dtype, device, requires_grad, fn):
    """A window of ``window_length`` points from ``fn(n, N)`` (n = 0..N-1 as float64, N the
    symmetric length); ``periodic`` computes N + 1 points and drops the last, as torch does."""
    from .creation import tensor

    if window_length < 0:
        raise RuntimeError(
            f"{name} requires non-negative window_length, got window_length={window_length}"
        )
    dt = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    if not dt.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    if window_length == 0:
        arr = np.zeros(0)
    elif window_length == 1:
        arr = np.ones(1)
    else:
        N = window_length + 1 if periodic else window_length
        arr = fn(np.arange(N, dtype=np.float64), N)[:window_length]
    return tensor(arr.astype(dt.np), dtype=dt, device=device, requires_grad=requires_grad)


def hann_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype=None,
    layout=None,
    device=None,
    pin_memory=False,
    requires_grad=False,
) -> Tensor:
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (N - 1))``; ``periodic`` for spectral analysis.

    Example:
        >>> import tocha.core as torch
        >>> torch.hann_window(4)
        tensor([0.0000, 0.5000, 1.0000, 0.5000])
    """
    return _window(
        "hann_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, N: 0.5 - 0.5 * np.cos(2 * math.pi * n / (N - 1)),
    )


def hamming_window(
    window_length: int,
    periodic: bool = True,
    alpha: float = 0.54,
    beta: float = 0.46,
    *,
    dtype=None,
    layout=None,
    device=None,
    pin_memory=False,
    requires_grad=False,
) -> Tensor:
    """The Hamming window ``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window(
        "hamming_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, N: alpha - beta * np.cos(2 * math.pi * n / (N - 1)),
    )


def blackman_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype=None,
    layout=None,
    device=None,
    pin_memory=False,
    requires_grad=False,
) -> Tensor:
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (N-1)) + 0.08 cos(4 pi n / (N-1))``."""
    return _window(
        "blackman_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, N: (
            0.42
            - 0.5 * np.cos(2 * math.pi * n / (N - 1))
            + 0.08 * np.cos(4 * math.pi * n / (N - 1))
        ),
    )


def bartlett_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype=None,
    layout=None,
    device=None,
    pin_memory=False,
    requires_grad=False,
) -> Tensor:
    """The Bartlett (triangular) window ``1 - |2n / (N - 1) - 1|``."""
    return _window(
        "bartlett_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, N: 1.0 - np.abs(2.0 * n / (N - 1) - 1.0),
    )


def kaiser_window(
    window_length: int,
    periodic: bool = True,
    beta: float = 12.0,
    *,
    dtype=None,
    layout=None,
    device=None,
    pin_memory=False,
    requires_grad=False,
) -> Tensor:
    """The Kaiser window ``I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta)``."""
    from scipy.special import i0

    def fn(n, N):
        r = 2.0 * n / (N - 1) - 1.0
        return i0(beta * np.sqrt(np.clip(1.0 - r * r, 0.0, None))) / i0(beta)

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, fn)


# --- stft / istft -----------------------------------------------------------------------------
def _stft_window(window, win_length: int, n_fft: int, like: Tensor, op: str, warn_msg: str):
    """The window as a tensor of ``n_fft`` points (centred and zero-padded when shorter)."""
    if window is None:
        warnings.warn(warn_msg, UserWarning, stacklevel=3)
        xp = xp_of(like._data)
        real = like._data.real.dtype if like._data.dtype.kind == "c" else like._data.dtype
        window = wrap(xp.ones(win_length, dtype=real))
    elif window._data.ndim != 1 or window._data.shape[0] != win_length:
        raise RuntimeError(
            f"{op}: expected a 1D window tensor of size equal to win_length={win_length}, but "
            f"got window with size {list(window._data.shape)}"
        )
    if win_length < n_fft:
        from .shape import NarrowPad

        left = (n_fft - win_length) // 2
        window = NarrowPad.apply(window, in_shape=(n_fft,), dim=0, start=left)
    return window


def stft(
    input: Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Tensor | None = None,
    center: bool = True,
    pad_mode: str = "reflect",
    normalized: bool = False,
    onesided: bool | None = None,
    return_complex: bool | None = None,
    align_to_window: bool | None = None,
) -> Tensor:
    """The short-time Fourier transform of a 1-D signal or a batch of them.

    Frames of ``n_fft`` samples every ``hop_length`` (default ``n_fft // 4``) are multiplied
    by ``window`` (``win_length`` points, centred in ``n_fft``; rectangular when not given)
    and transformed. ``center`` pads the signal by ``n_fft // 2`` on both sides with
    ``pad_mode`` first. The result has shape ``(*batch, freq, frames)``; ``freq`` is
    ``n_fft // 2 + 1`` when ``onesided`` (the default for a real signal and window).

    Example:
        >>> import tocha.core as torch
        >>> x = torch.arange(8.0)
        >>> torch.stft(x, 4, hop_length=2, window=torch.hann_window(4), return_complex=True).shape
        torch.Size([3, 5])
    """
    from ..nn.functional import pad

    if return_complex is None and not (
        input._data.dtype.kind == "c" or (window is not None and window._data.dtype.kind == "c")
    ):
        raise RuntimeError(
            "stft requires the return_complex parameter be given for real inputs, and will "
            "further require that return_complex=True in a future PyTorch release."
        )
    if return_complex is False:
        warnings.warn(
            "stft with return_complex=False is deprecated. In a future pytorch release, stft "
            "will return complex tensors for all inputs, and return_complex=False will raise an "
            "error.\nNote: you can still call torch.view_as_real on the complex output to "
            "recover the old return format.",
            UserWarning,
            stacklevel=2,
        )
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    win = n_fft if win_length is None else int(win_length)
    nd = input._data.ndim
    desc = (
        f"stft(input of shape {list(input._data.shape)}, n_fft={n_fft}, hop_length={hop}, "
        f"win_length={win})"
    )
    if nd not in (1, 2):
        raise RuntimeError(f"{desc}: expected a 1D or 2D tensor")
    x = _as_float_or_complex(input, "stft")
    batched = nd == 2
    if not batched:
        x = x.unsqueeze(0)
    if center:
        p = n_fft // 2
        x = pad(x.unsqueeze(1), (p, p), mode=pad_mode).squeeze(1)
    length = x._data.shape[-1]
    if n_fft <= 0 or n_fft > length:
        raise RuntimeError(f"{desc}: expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{desc}: expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        raise RuntimeError(f"{desc}: expected 0 < win_length <= n_fft, but got win_length={win}")
    window = _stft_window(
        window,
        win,
        n_fft,
        x,
        "stft",
        "A window was not provided. A rectangular window will be applied,which is known to "
        "cause spectral leakage. Other windows such as torch.hann_window or "
        "torch.hamming_window are recommended to reduce spectral leakage.To suppress this "
        "warning and use a rectangular window, explicitly set `window=torch.ones(n_fft, "
        "device=<device>)`.",
    )
    frames = x.unfold(-1, n_fft, hop) * window  # (batch, frames, n_fft)
    complex_in = x._data.dtype.kind == "c" or window._data.dtype.kind == "c"
    if onesided is None:
        onesided = not complex_in
    if onesided and complex_in:
        raise RuntimeError("stft: Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else "backward"
    spec = rfft(frames, dim=-1, norm=norm) if onesided else fft(frames, dim=-1, norm=norm)
    spec = spec.transpose(-1, -2)  # (batch, freq, frames)
    if not batched:
        spec = spec.squeeze(0)
    if return_complex is False:
        from .. import view_as_real

        return view_as_real(spec)
    return spec


def istft(
    input: Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Tensor | None = None,
    center: bool = True,
    normalized: bool = False,
    onesided: bool | None = None,
    length: int | None = None,
    return_complex: bool = False,
) -> Tensor:
    """The inverse of ``stft``: overlap-add of the inverse-transformed frames, divided by the
    overlap-added squared window (least-squares signal estimate, Griffin & Lim 1984).

    Example:
        >>> import tocha.core as torch
        >>> x = torch.arange(16.0)
        >>> w = torch.hann_window(8)
        >>> s = torch.stft(x, 8, hop_length=2, window=w, return_complex=True)
        >>> bool(torch.allclose(torch.istft(s, 8, hop_length=2, window=w), x, atol=1e-5))
        True
    """
    if input._data.dtype.kind != "c":
        raise RuntimeError(
            "istft requires a complex-valued input tensor matching the output from stft with "
            f"return_complex=True (got {_dtype.SCALAR_TYPE_NAMES[input.dtype.name]} of shape "
            f"{list(input._data.shape)})."
        )
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    win = n_fft if win_length is None else int(win_length)
    nd = input._data.ndim
    if nd not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex, got {nd}")
    x = input if nd == 3 else input.unsqueeze(0)
    n_freq, n_frames = x._data.shape[-2], x._data.shape[-1]
    if onesided is None:
        onesided = n_freq != n_fft
    expect = n_fft // 2 + 1 if onesided else n_fft
    if n_freq != expect:
        raise RuntimeError(
            f"istft: expected the frequency dimension (3rd to the last) of the input tensor to "
            f"match n_fft / 2 + 1 when onesided=True, but got {n_freq}"
            if onesided
            else f"istft: expected the frequency dimension of the input tensor to match n_fft "
            f"when onesided=False, but got {n_freq}"
        )
    if win <= 0 or win > n_fft:
        raise RuntimeError(f"istft: expected 0 < win_length <= n_fft, but got win_length={win}")
    if hop <= 0 or hop > win:
        raise RuntimeError(
            f"istft: expected 0 < hop_length <= win_length, but got hop_length={hop}, "
            f"win_length={win}"
        )
    window = _stft_window(
        window,
        win,
        n_fft,
        x.real,
        "istft",
        "A window was not provided. A rectangular window will be applied.Please provide the "
        "same window used by stft to make the inversion lossless.To suppress this warning and "
        "use a rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`.",
    )
    if return_complex and onesided:
        raise RuntimeError("istft: Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else "backward"
    spec = x.transpose(-1, -2)  # (batch, frames, freq)
    if return_complex:
        frames = ifft(spec, dim=-1, norm=norm)
    else:
        if not onesided:
            spec = spec.narrow(-1, 0, n_fft // 2 + 1)
        frames = irfft(spec, n=n_fft, dim=-1, norm=norm)
    frames = frames * window  # (batch, frames, n_fft)
    expected_len = n_fft + hop * (n_frames - 1)
    from .shape import UnfoldBackward

    batch = frames._data.shape[0]
    y = UnfoldBackward.apply(frames, in_shape=(batch, expected_len), dim=1, size=n_fft, step=hop)
    wsq = (window * window.conj()).real if window._data.dtype.kind == "c" else window * window
    wsq = wsq.unsqueeze(0).expand(n_frames, n_fft)
    env = UnfoldBackward.apply(wsq, in_shape=(expected_len,), dim=0, size=n_fft, step=hop)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + int(length)
    elif center:
        end = expected_len - n_fft // 2
    else:
        end = expected_len
    end = min(end, expected_len)
    y = y.narrow(-1, start, end - start)
    env = env.narrow(-1, start, end - start)
    env_min = float(abs(env._data).min()) if env._data.size else 1.0
    if env_min < 1e-11:
        raise RuntimeError(
            f"istft: window overlap add min: {env_min:.3g}, the window and hop_length "
            f"(window={win} points, hop_length={hop}) leave samples with no coverage (nonzero "
            "overlap-add constraint)"
        )
    y = y / env
    if length is not None and y._data.shape[-1] < length:
        y = _pad_zeros(y, y._data.ndim - 1, int(length))
    return y if nd == 3 else y.squeeze(0)


FUNCTIONS = [
    "hann_window",
    "hamming_window",
    "blackman_window",
    "bartlett_window",
    "kaiser_window",
    "stft",
    "istft",
]
TENSOR_METHODS = {"stft": stft, "istft": istft}
INPLACE: dict = {}
