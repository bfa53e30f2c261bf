"""Convolutions of ``torch.nn.functional``: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold, fold.

The kernels are the ``conv`` op family (``tocha.core._ops.conv``): im2col through a strided
view plus one GEMM per group in general, Winograd F(2x2, 3x3) for 3x3 stride-1 2-D
convolutions, and adjoint node pairs so that every gradient is differentiable again.
"""

from __future__ import annotations

from ..._ops import conv as _C
from ..._tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "unfold",
    "fold",
]

conv1d = _C.conv1d
conv2d = _C.conv2d
conv3d = _C.conv3d
conv_transpose1d = _C.conv_transpose1d
conv_transpose2d = _C.conv_transpose2d
conv_transpose3d = _C.conv_transpose3d


def _pair(v, name: str) -> tuple:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    v = tuple(v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise RuntimeError(f"{name} must be an int or a tuple of two ints, got {v}")
    return tuple(int(a) for a in v)


def _fold_params(kernel_size, dilation, padding, stride) -> tuple:
    """unfold's and fold's (kernel_size, dilation, padding, stride) as checked pairs."""
    kernel_size, dilation, padding, stride = (
        _pair(kernel_size, "kernel_size"),
        _pair(dilation, "dilation"),
        _pair(padding, "padding"),
        _pair(stride, "stride"),
    )
    for name, v, pos in (
        ("kernel", kernel_size, True),
        ("dilation", dilation, True),
        ("stride", stride, True),
        ("pad", padding, False),
    ):
        bad = any(a <= 0 for a in v) if pos else any(a < 0 for a in v)
        if bad:
            what = "greater than zero" if pos else "non-negative"
            raise RuntimeError(
                f"{name if name != 'pad' else 'padding'} should be {what}, but got "
                f"{name}_height: {v[0]} {name}_width: {v[1]}"
            )
    return kernel_size, dilation, padding, stride


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks: (N, C, H, W) -> (N, C*kH*kW, L) (im2col).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.unfold(torch.arange(9.0).view(1, 1, 3, 3), 2)
        tensor([[[0., 1., 3., 4.],
                 [1., 2., 4., 5.],
                 [3., 4., 6., 7.],
                 [4., 5., 7., 8.]]])
    """
    if input.ndim < 3:
        # torch reads the channel dim at index -3 first: an IndexError for 1-D / 2-D inputs
        nd = max(input.ndim, 1)
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {nd})"
        )
    if input.ndim != 3 and input.ndim != 4:
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    K, d, p, s = _fold_params(kernel_size, dilation, padding, stride)  # noqa: N806
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    X = tuple(x.shape[2:])  # noqa: N806
    O = _C.out_size(X, K, s, d, p, p)  # noqa: N806
    if any(o < 1 for o in O):
        raise RuntimeError(
            f"Given input with spatial size {X}, kernel_size={K}, dilation={d}, padding={p}, "
            f"calculated shape of the array of sliding blocks as {O}, but its components must "
            "be at least one."
        )
    geo = _C.Geometry(X, O, K, s, d, p, 1)
    y = _C.Im2Col.apply(x, geo=geo)
    return y if batched else y.squeeze(0)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding local blocks into a tensor, summing overlaps: (N, C*kH*kW, L) ->
    (N, C, *output_size) (col2im, the adjoint of `unfold`).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.fold(torch.ones(1, 4, 4), (3, 3), 2)
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    X = _pair(output_size, "output_size")  # noqa: N806
    K, d, p, s = _fold_params(kernel_size, dilation, padding, stride)  # noqa: N806
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    ck = x.shape[1]
    if ck % (K[0] * K[1]):
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            f"but got input.size(1)={ck} and kernel_size={K}."
        )
    O = _C.out_size(X, K, s, d, p, p)  # noqa: N806
    if any(o < 1 for o in O):
        raise RuntimeError(
            f"Given output_size={X}, kernel_size={K}, dilation={d}, padding={p}, stride={s}, "
            f"calculated shape of the array of sliding blocks as {O}, but its components must "
            "be at least one."
        )
    if x.shape[2] != O[0] * O[1]:
        raise RuntimeError(
            f"Given output_size={X}, kernel_size={K}, dilation={d}, padding={p}, stride={s}, "
            f"expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {O[0]} * {O[1]} = {O[0] * O[1]}, but got input.size(2)={x.shape[2]}."
        )
    geo = _C.Geometry(X, O, K, s, d, p, 1)
    y = _C.Col2Im.apply(x, geo=geo, C=ck // (K[0] * K[1]))
    return y if batched else y.squeeze(0)
