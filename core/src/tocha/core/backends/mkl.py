"""``torch.backends.mkl``: whether tocha's CPU matrix products run on Intel MKL."""

from __future__ import annotations

from .. import _blas

__all__ = ["is_available"]


def is_available() -> bool:
    """Whether the CPU GEMMs (``nn.Linear``, 2-D ``matmul``, convolutions) call Intel MKL:
    installed with the ``mkl`` extra (``pip install "tocha-core[mkl]"``) and not turned off with
    ``TOCHA_BLAS=openblas``. Otherwise they run on NumPy's OpenBLAS.

    Example:
        >>> import tocha.core as torch
        >>> isinstance(torch.backends.mkl.is_available(), bool)
        True
    """
    return _blas.library() == "mkl"
