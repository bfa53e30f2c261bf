"""tv_tensors: Tensor subclasses that tell transforms what a tensor holds (torchvision's names).

``Image`` ``[..., C, H, W]``, ``Video`` ``[..., T, C, H, W]``, ``Mask`` ``[..., H, W]``,
``BoundingBoxes`` ``[N, K]`` (with ``format``, ``canvas_size`` and ``clamping_mode``) and
``KeyPoints`` ``[..., 2]`` (with ``canvas_size``). Operations on them return plain Tensors
except ``clone``/``to``/``detach``/``requires_grad_``/``pin_memory``; see
:func:`set_return_type`.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision import tv_tensors
    >>> boxes = tv_tensors.BoundingBoxes([[0, 0, 4, 4]], format="XYXY", canvas_size=(8, 8))
    >>> moved = tv_tensors.wrap(boxes + 2, like=boxes)
    >>> moved.tolist(), moved.format.value, moved.canvas_size
    ([[2, 2, 6, 6]], 'XYXY', (8, 8))
"""

from __future__ import annotations

from typing import Any, TypeVar

from tocha.core import Tensor

from ._bounding_boxes import BoundingBoxes, BoundingBoxFormat, KeyPoints, is_rotated_bounding_format
from ._image import Image, Mask, Video
from ._torch_function_helpers import set_return_type
from ._tv_tensor import TVTensor

__all__ = [
    "BoundingBoxFormat",
    "BoundingBoxes",
    "Image",
    "KeyPoints",
    "Mask",
    "TVTensor",
    "Video",
    "is_rotated_bounding_format",
    "set_return_type",
    "wrap",
]

TVTensorType = TypeVar("TVTensorType", bound=TVTensor)


def wrap(wrappee: Tensor, *, like: TVTensorType, **kwargs: Any) -> TVTensorType:
    """``wrappee`` as the same TVTensor subclass as ``like``, with ``like``'s metadata.

    No copy is made. Metadata can be overridden by keyword (``format``, ``canvas_size``,
    ``clamping_mode`` for BoundingBoxes; ``canvas_size`` for KeyPoints); keywords a type does
    not carry are ignored.

    Args:
        wrappee: the tensor to convert.
        like: the TVTensor whose type and metadata to use.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> boxes = tv_tensors.BoundingBoxes([[0, 0, 4, 4]], format="XYXY", canvas_size=(8, 8))
        >>> tv_tensors.wrap(torch.tensor([[1, 1, 2, 2]]), like=boxes, canvas_size=(4, 4))
        BoundingBoxes([[1, 1, 2, 2]], format=BoundingBoxFormat.XYXY, canvas_size=(4, 4), clamping_mode=soft)
    """
    if not isinstance(like, TVTensor):
        raise TypeError(f"wrap: expected `like` to be a TVTensor, got {type(like).__name__}")
    if not isinstance(wrappee, Tensor):
        raise TypeError(f"wrap: expected `wrappee` to be a Tensor, got {type(wrappee).__name__}")
    meta = like._metadata()
    meta.update((k, v) for k, v in kwargs.items() if k in meta)
    if isinstance(like, (BoundingBoxes, KeyPoints)):
        return type(like)._wrap(wrappee, **meta, check_dims=False)
    return type(like)._wrap(wrappee, **meta)
