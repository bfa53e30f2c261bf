"""Image, Video and Mask: TVTensors without metadata."""

from __future__ import annotations

from typing import Any

import tocha.core as torch
from tocha.core import Tensor

from ._tv_tensor import TVTensor, _alias, _reindent

__all__ = ["Image", "Video", "Mask"]


def _from_pil(data: Any) -> Any:
    """A PIL image as a CHW tensor (what ``pil_to_tensor`` gives); anything else unchanged."""
    try:
        import PIL.Image
    except ImportError:  # pragma: no cover - pillow is a dependency of tocha-vision
        return data
    if isinstance(data, PIL.Image.Image):
        from ..io._pil import pil_to_chw

        return torch.from_numpy(pil_to_chw(data))
    return data


class Image(TVTensor):
    """A Tensor subclass for images of shape ``[..., C, H, W]``.

    Args:
        data: anything ``torch.as_tensor`` accepts, or a PIL image (converted to uint8 CHW).
            A 2-D ``[H, W]`` tensor gets a channel dimension.
        dtype: the dtype (default: inferred from ``data``).
        device: the device (default: ``data``'s for a tensor, else the CPU).
        requires_grad: whether autograd records operations (default: ``data``'s for a
            tensor, else False).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> tv_tensors.Image(torch.zeros(2, 3, dtype=torch.uint8))
        Image([[[0, 0, 0],
                [0, 0, 0]]], dtype=torch.uint8, )
    """

    def __new__(
        cls,
        data: Any,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> Image:
        tensor = cls._to_tensor(
            _from_pil(data), dtype=dtype, device=device, requires_grad=requires_grad
        )
        if tensor.ndim < 2:
            raise ValueError(
                f"Image: expected a tensor of at least 2 dimensions ([H, W] or [..., C, H, W]), "
                f"got shape {tuple(tensor.shape)}"
            )
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        return _alias(tensor, cls)


class Video(TVTensor):
    """A Tensor subclass for videos of shape ``[..., T, C, H, W]``.

    Args:
        data: anything ``torch.as_tensor`` accepts, with at least 4 dimensions.
        dtype, device, requires_grad: as for :class:`Image`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> tv_tensors.Video(torch.zeros(2, 3, 4, 4)).shape
        torch.Size([2, 3, 4, 4])
    """

    def __new__(
        cls,
        data: Any,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> Video:
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if tensor.ndim < 4:
            raise ValueError(
                f"Video: expected a tensor of at least 4 dimensions ([..., T, C, H, W]), "
                f"got shape {tuple(tensor.shape)}"
            )
        return _alias(tensor, cls)


class Mask(TVTensor):
    """A Tensor subclass for segmentation and detection masks, of shape ``[..., H, W]``.

    Args:
        data: anything ``torch.as_tensor`` accepts, or a PIL image (converted to a CHW tensor).
        dtype, device, requires_grad: as for :class:`Image`.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> tv_tensors.Mask(torch.tensor([[0, 1], [1, 0]], dtype=torch.bool))
        Mask([[False,  True],
              [ True, False]])
    """

    def __new__(
        cls,
        data: Any,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> Mask:
        tensor = cls._to_tensor(
            _from_pil(data), dtype=dtype, device=device, requires_grad=requires_grad
        )
        return _alias(tensor, cls)

    def __repr__(self) -> str:
        # torchvision's Mask keeps torch's subclass repr (no trailing ", )")
        return _reindent(Tensor.__repr__(self), "tensor(", f"{type(self).__name__}(")
