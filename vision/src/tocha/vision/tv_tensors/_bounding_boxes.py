"""BoundingBoxes (with BoundingBoxFormat) and KeyPoints: TVTensors that carry metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import tocha.core as torch
from tocha.core import Tensor

from ._tv_tensor import TVTensor, _alias

__all__ = ["BoundingBoxFormat", "BoundingBoxes", "KeyPoints", "is_rotated_bounding_format"]


class BoundingBoxFormat(Enum):
    """Coordinate format of bounding boxes.

    * ``XYXY``: top-left corner x1, y1 and bottom-right corner x2, y2.
    * ``XYWH``: top-left corner x1, y1, width w and height h.
    * ``CXCYWH``: centre cx, cy, width w and height h.
    * ``XYWHR``: rotated box: first corner x1, y1, width, height and the rotation angle r in
      degrees (counter-clockwise).
    * ``CXCYWHR``: rotated box: centre cx, cy, width, height and the angle r in degrees.
    * ``XYXYXYXY``: rotated box by its four corners x1, y1 (top left), x2, y2 (top right),
      x3, y3 (bottom right), x4, y4 (bottom left).

    Example:
        >>> from tocha.vision.tv_tensors import BoundingBoxFormat
        >>> BoundingBoxFormat["cxcywh".upper()]
        <BoundingBoxFormat.CXCYWH: 'CXCYWH'>
    """

    XYXY = "XYXY"
    XYWH = "XYWH"
    CXCYWH = "CXCYWH"
    XYWHR = "XYWHR"
    CXCYWHR = "CXCYWHR"
    XYXYXYXY = "XYXYXYXY"


_ROTATED = ("XYWHR", "CXCYWHR", "XYXYXYXY")
_CLAMPING_MODES = (None, "soft", "hard")


def is_rotated_bounding_format(format: BoundingBoxFormat | str) -> bool:
    """Whether ``format`` is one of the rotated formats (XYWHR, CXCYWHR, XYXYXYXY).

    Example:
        >>> from tocha.vision.tv_tensors import is_rotated_bounding_format
        >>> is_rotated_bounding_format("XYWHR"), is_rotated_bounding_format("XYXY")
        (True, False)
    """
    if isinstance(format, BoundingBoxFormat):
        return format.value in _ROTATED
    if isinstance(format, str):
        return format in _ROTATED
    raise ValueError(
        f"is_rotated_bounding_format: format should be str or BoundingBoxFormat, got {type(format)}"
    )


def _as_format(format: BoundingBoxFormat | str) -> BoundingBoxFormat:
    if isinstance(format, BoundingBoxFormat):
        return format
    if isinstance(format, str):
        try:
            return BoundingBoxFormat[format.upper()]
        except KeyError:
            pass
    raise ValueError(
        f"BoundingBoxes: format must be one of {[f.value for f in BoundingBoxFormat]}, "
        f"got {format!r}"
    )


def _as_canvas_size(canvas_size: Any, who: str) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in canvas_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"{who}: canvas_size must be a (height, width) pair, got {canvas_size!r}"
        ) from None
    return (h, w)


def _first(cls: type, args: Sequence[Any], kwargs: Mapping[str, Any] | None) -> Any:
    """The first instance of ``cls`` among the (nested) arguments of an op."""
    stack = list(args) + list((kwargs or {}).values())
    stack.reverse()
    while stack:
        x = stack.pop()
        if isinstance(x, cls):
            return x
        if isinstance(x, (list, tuple)):
            stack.extend(reversed(x))
        elif isinstance(x, dict):
            stack.extend(reversed(list(x.values())))
    raise TypeError(f"{cls.__name__}: no {cls.__name__} among the arguments to take metadata from")


class BoundingBoxes(TVTensor):
    """A Tensor subclass for bounding boxes of shape ``[N, K]``: ``K`` is 4 for axis-aligned
    boxes, 5 (XYWHR, CXCYWHR) or 8 (XYXYXYXY) for rotated ones.

    Keep one ``BoundingBoxes`` per sample (holding all its boxes) so that transforms find it.

    Args:
        data: anything ``torch.as_tensor`` accepts; a single box ``[K]`` becomes ``[1, K]``.
        format: a :class:`BoundingBoxFormat` or its name (case-insensitive).
        canvas_size: ``(height, width)`` of the image or video the boxes belong to.
        clamping_mode: how transforms clamp boxes to the canvas: ``"soft"`` (default),
            ``"hard"`` or None (no clamping).
        dtype, device, requires_grad: as for :class:`Image`.

    Example:
        >>> from tocha.vision import tv_tensors
        >>> tv_tensors.BoundingBoxes([10, 20, 30, 40], format="XYXY", canvas_size=(64, 48))
        BoundingBoxes([[10, 20, 30, 40]], format=BoundingBoxFormat.XYXY, canvas_size=(64, 48), clamping_mode=soft)
    """

    format: BoundingBoxFormat
    canvas_size: tuple[int, int]
    clamping_mode: str | None

    @classmethod
    def _wrap(
        cls,
        tensor: Tensor,
        *,
        format: BoundingBoxFormat | str,
        canvas_size: tuple[int, int],
        clamping_mode: str | None = "soft",
        check_dims: bool = True,
    ) -> BoundingBoxes:
        if check_dims:
            if tensor.ndim == 1:
                tensor = tensor.unsqueeze(0)
            elif tensor.ndim != 2:
                raise ValueError(
                    f"BoundingBoxes: expected a 1D or 2D tensor, got {tensor.ndim}D "
                    f"(shape {tuple(tensor.shape)})"
                )
        if clamping_mode not in _CLAMPING_MODES:
            raise ValueError(
                f"BoundingBoxes: clamping_mode must be None, 'soft' or 'hard', got {clamping_mode!r}"
            )
        boxes = _alias(tensor, cls)
        boxes.format = _as_format(format)
        boxes.canvas_size = _as_canvas_size(canvas_size, "BoundingBoxes")
        boxes.clamping_mode = clamping_mode
        return boxes

    def __new__(
        cls,
        data: Any,
        *,
        format: BoundingBoxFormat | str,
        canvas_size: tuple[int, int],
        clamping_mode: str | None = "soft",
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> BoundingBoxes:
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        fmt = _as_format(format)
        if is_rotated_bounding_format(fmt) and not tensor.is_floating_point():
            raise ValueError(
                f"BoundingBoxes: rotated bounding boxes ({fmt.value}) should be floating point "
                f"tensors, got {tensor.dtype}."
            )
        return cls._wrap(tensor, format=fmt, canvas_size=canvas_size, clamping_mode=clamping_mode)

    def _metadata(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "canvas_size": self.canvas_size,
            "clamping_mode": self.clamping_mode,
        }

    @classmethod
    def _wrap_output(
        cls, output: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        # The metadata comes from the first BoundingBoxes among the arguments (mixing formats
        # in one op is a misuse that is not guarded against, as in torchvision).
        meta = _first(BoundingBoxes, args, kwargs)._metadata()
        if isinstance(output, Tensor) and not isinstance(output, BoundingBoxes):
            return BoundingBoxes._wrap(output, **meta, check_dims=False)
        if isinstance(output, (tuple, list)):  # chunk(), unbind(), split()
            parts = [
                BoundingBoxes._wrap(p, **meta, check_dims=False) if isinstance(p, Tensor) else p
                for p in output
            ]
            make = getattr(type(output), "_make", None)
            return make(parts) if make is not None else type(output)(parts)
        return output


class KeyPoints(TVTensor):
    """A Tensor subclass for points ``[..., 2]`` (x, y) in an image: ``[N, 2]`` points,
    ``[N, P, 2]`` polygons or polylines, ``[N, B, 2, 2]`` skeletons...

    Args:
        data: anything ``torch.as_tensor`` accepts; a single point ``[2]`` becomes ``[1, 2]``.
        canvas_size: ``(height, width)`` of the image or video the points belong to.
        dtype, device, requires_grad: as for :class:`Image`.

    Example:
        >>> from tocha.vision import tv_tensors
        >>> tv_tensors.KeyPoints([[1.5, 2.0], [3.0, 4.0]], canvas_size=(8, 8))
        KeyPoints([[1.5000, 2.0000],
                   [3.0000, 4.0000]], canvas_size=(8, 8))
    """

    canvas_size: tuple[int, int]

    @classmethod
    def _wrap(cls, tensor: Tensor, *, canvas_size: tuple[int, int], check_dims: bool = True):
        if check_dims:
            if tensor.ndim == 1:
                tensor = tensor.unsqueeze(0)
            if tensor.ndim == 0 or tensor.shape[-1] != 2:
                raise ValueError(
                    f"KeyPoints: expected a tensor of shape (..., 2), got {tuple(tensor.shape)}"
                )
        points = _alias(tensor, cls)
        points.canvas_size = _as_canvas_size(canvas_size, "KeyPoints")
        return points

    def __new__(
        cls,
        data: Any,
        *,
        canvas_size: tuple[int, int],
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> KeyPoints:
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        return cls._wrap(tensor, canvas_size=canvas_size)

    def _metadata(self) -> dict[str, Any]:
        return {"canvas_size": self.canvas_size}

    @classmethod
    def _wrap_output(
        cls, output: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        meta = _first(KeyPoints, args, kwargs)._metadata()
        if isinstance(output, Tensor) and not isinstance(output, KeyPoints):
            return KeyPoints._wrap(output, **meta, check_dims=False)
        if isinstance(output, (tuple, list)):
            parts = [
                KeyPoints._wrap(p, **meta, check_dims=False) if isinstance(p, Tensor) else p
                for p in output
            ]
            make = getattr(type(output), "_make", None)
            return make(parts) if make is not None else type(output)(parts)
        return output
