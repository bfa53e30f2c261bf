"""``tocha.core.fft``: the ``torch.fft`` namespace (discrete Fourier transforms).

Every transform takes ``norm`` ("backward", the default, scales the inverse by 1/n; "forward"
scales the forward transform; "ortho" scales both by 1/sqrt(n)) and is differentiable, twice
over. Real inputs of ``fft``/``fftn`` give complex outputs; integer inputs are promoted to the
default float dtype.

Example:
    >>> import tocha.core as torch
    >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> torch.fft.irfft(torch.fft.rfft(x), n=4)
    tensor([1., 2., 3., 4.])
"""

from __future__ import annotations

from ._ops.spectral import (
    fft,
    fft2,
    fftfreq,
    fftn,
    fftshift,
    hfft,
    hfft2,
    hfftn,
    ifft,
    ifft2,
    ifftn,
    ifftshift,
    ihfft,
    ihfft2,
    ihfftn,
    irfft,
    irfft2,
    irfftn,
    rfft,
    rfft2,
    rfftfreq,
    rfftn,
)

__all__ = [
    "fft",
    "ifft",
    "fft2",
    "ifft2",
    "fftn",
    "ifftn",
    "rfft",
    "irfft",
    "rfft2",
    "irfft2",
    "rfftn",
    "irfftn",
    "hfft",
    "ihfft",
    "hfft2",
    "ihfft2",
    "hfftn",
    "ihfftn",
    "fftfreq",
    "rfftfreq",
    "fftshift",
    "ifftshift",
]
