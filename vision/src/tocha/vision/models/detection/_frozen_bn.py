"""FrozenBatchNorm2d (torchvision.ops.misc.FrozenBatchNorm2d): batch norm with fixed statistics
and affine parameters, all stored as buffers so no optimizer touches them."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import nn

__all__ = ["FrozenBatchNorm2d"]


class FrozenBatchNorm2d(nn.Module):
    """``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` with every term fixed.

    The detectors use it in pretrained backbones, where batches are too small for batch
    statistics. A BatchNorm2d checkpoint loads into it (``num_batches_tracked`` is dropped).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
        >>> bn = FrozenBatchNorm2d(2)
        >>> sorted(bn.state_dict()), len(list(bn.parameters()))
        (['bias', 'running_mean', 'running_var', 'weight'], 0)
        >>> bn(torch.ones(1, 2, 1, 1)).flatten()
        tensor([1.0000, 1.0000])
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x):
        # folded into one scale and shift: two cheap broadcasts instead of four
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"
