"""GeneralizedRCNNTransform (torchvision.models.detection.transform): normalise, resize and
batch the input images (and their targets) on the way in, map the boxes back on the way out."""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn

from .image_list import ImageList

__all__ = ["GeneralizedRCNNTransform", "paste_masks_in_image", "resize_boxes"]


def _resize_image_and_masks(
    image,
    self_min_size: int,
    self_max_size: int,
    target: dict | None = None,
    fixed_size: tuple[int, int] | None = None,
):
    size = scale_factor = recompute = None
    if fixed_size is not None:
        size = [fixed_size[1], fixed_size[0]]
    else:
        h, w = image.shape[-2:]
        # float32 arithmetic as torchvision, so the same output size comes out
        lo, hi = np.float32(min(h, w)), np.float32(max(h, w))
        scale = min(np.float32(self_min_size) / lo, np.float32(self_max_size) / hi)
        scale_factor = float(np.float32(scale))
        recompute = True
    image = F.interpolate(
        image[None],
        size=size,
        scale_factor=scale_factor,
        mode="bilinear",
        recompute_scale_factor=recompute,
        align_corners=False,
    )[0]
    if target is not None and "masks" in target:
        mask = F.interpolate(
            target["masks"][:, None].float(),
            size=size,
            scale_factor=scale_factor,
            recompute_scale_factor=recompute,
        )[:, 0].to(torch.uint8)
        target["masks"] = mask
    return image, target


def expand_masks(mask, padding: int):
    M = mask.shape[-1]
    scale = float(M + 2 * padding) / M
    return F.pad(mask, (padding,) * 4), scale


def expand_boxes(boxes, scale: float):
    w_half = (boxes[:, 2] - boxes[:, 0]) * 0.5 * scale
    h_half = (boxes[:, 3] - boxes[:, 1]) * 0.5 * scale
    x_c = (boxes[:, 2] + boxes[:, 0]) * 0.5
    y_c = (boxes[:, 3] + boxes[:, 1]) * 0.5
    return torch.stack([x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half], dim=1)


def paste_mask_in_image(mask, box, im_h: int, im_w: int):
    """One ``M x M`` mask resized (bilinear) to its integer box and placed on an empty image."""
    x0, y0, x1, y1 = (int(v) for v in box.tolist())
    w, h = max(x1 - x0 + 1, 1), max(y1 - y0 + 1, 1)
    resized = F.interpolate(mask[None, None], size=(h, w), mode="bilinear", align_corners=False)
    resized = resized[0, 0]
    im_mask = torch.zeros((im_h, im_w), dtype=mask.dtype, device=mask.device)
    xa, xb = max(x0, 0), min(x1 + 1, im_w)
    ya, yb = max(y0, 0), min(y1 + 1, im_h)
    if xb > xa and yb > ya:
        im_mask[ya:yb, xa:xb] = resized[(ya - y0) : (yb - y0), (xa - x0) : (xb - x0)]
    return im_mask


def paste_masks_in_image(masks, boxes, img_shape: tuple[int, int], padding: int = 1):
    """Mask R-CNN's ``[N, 1, M, M]`` box-relative masks as ``[N, 1, H, W]`` image masks.

    Each mask is padded by ``padding`` (its box grown to match), so the bilinear resize does
    not smear the border.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.transform import paste_masks_in_image
        >>> box = torch.tensor([[2.0, 1.0, 5.0, 6.0]])
        >>> out = paste_masks_in_image(torch.ones(1, 1, 4, 4), box, (8, 8))
        >>> out.shape, [round(v, 3) for v in out[0, 0, 3].tolist()]
        (torch.Size([1, 1, 8, 8]), [0.0, 0.1, 1.0, 1.0, 1.0, 0.1, 0.0, 0.0])
    """
    masks, scale = expand_masks(masks, padding=padding)
    boxes = expand_boxes(boxes, scale).to(dtype=torch.int64)
    im_h, im_w = img_shape
    res = [paste_mask_in_image(m[0], b, im_h, im_w) for m, b in zip(masks, boxes)]
    if res:
        return torch.stack(res, dim=0)[:, None]
    return masks.new_zeros((0, 1, im_h, im_w))


def resize_keypoints(keypoints, original_size, new_size):
    """Scale the ``(x, y)`` of ``[..., K, 3]`` keypoints from ``original_size`` to ``new_size``."""
    ratio_h = np.float32(new_size[0]) / np.float32(original_size[0])
    ratio_w = np.float32(new_size[1]) / np.float32(original_size[1])
    scale = torch.tensor([ratio_w, ratio_h], dtype=torch.float32)
    scale = scale.to(device=keypoints.device, dtype=keypoints.dtype)
    return torch.cat((keypoints[..., :2] * scale, keypoints[..., 2:]), dim=-1)


def resize_boxes(boxes, original_size, new_size):
    """Scale ``(x1, y1, x2, y2)`` boxes from an image of ``original_size = (h, w)`` to one of
    ``new_size``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.transform import resize_boxes
        >>> resize_boxes(torch.tensor([[10.0, 20.0, 30.0, 40.0]]), (100, 200), (50, 400))
        tensor([[20., 10., 60., 20.]])
    """
    ratio_h = np.float32(new_size[0]) / np.float32(original_size[0])
    ratio_w = np.float32(new_size[1]) / np.float32(original_size[1])
    ratios = torch.tensor([ratio_w, ratio_h, ratio_w, ratio_h], dtype=torch.float32)
    return boxes * ratios.to(device=boxes.device, dtype=boxes.dtype)


class GeneralizedRCNNTransform(nn.Module):
    """Normalise each image with ``image_mean``/``image_std``, resize it so the short side is
    ``min_size`` (capped so the long side stays within ``max_size``; in training a random
    choice among ``min_size`` when it is a tuple), scale the target boxes along, and pad the
    batch to a multiple of ``size_divisible``. ``postprocess`` maps detections back to the
    original image sizes.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.transform import GeneralizedRCNNTransform
        >>> t = GeneralizedRCNNTransform(64, 100, [0.5] * 3, [0.5] * 3).eval()
        >>> images, _ = t([torch.rand(3, 40, 50), torch.rand(3, 60, 30)])
        >>> images.tensors.shape, images.image_sizes
        (torch.Size([2, 3, 128, 96]), [(64, 80), (99, 49)])
    """

    def __init__(
        self,
        min_size: int | tuple[int, ...],
        max_size: int,
        image_mean: list[float],
        image_std: list[float],
        size_divisible: int = 32,
        fixed_size: tuple[int, int] | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        if not isinstance(min_size, (list, tuple)):
            min_size = (min_size,)
        self.min_size = min_size
        self.max_size = max_size
        self.image_mean = image_mean
        self.image_std = image_std
        self.size_divisible = size_divisible
        self.fixed_size = fixed_size
        self._skip_resize = kwargs.pop("_skip_resize", False)

    def forward(self, images: list, targets: list | None = None):
        images = list(images)
        if targets is not None:
            # shallow copies: the caller's dicts stay untouched
            targets = [dict(t) for t in targets]
        for i, image in enumerate(images):
            if image.dim() != 3:
                raise ValueError(
                    "images is expected to be a list of 3d tensors of shape [C, H, W], "
                    f"got {list(image.shape)}"
                )
            target = targets[i] if targets is not None else None
            image = self.normalize(image)
            image, target = self.resize(image, target)
            images[i] = image
            if targets is not None:
                targets[i] = target
        image_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        batch = self.batch_images(images, size_divisible=self.size_divisible)
        return ImageList(batch, image_sizes), targets

    def normalize(self, image):
        if not image.is_floating_point():
            raise TypeError(
                "Expected input images to be of floating type (in range [0, 1]), "
                f"but found type {image.dtype} instead"
            )
        mean = torch.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
        std = torch.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
        return (image - mean[:, None, None]) / std[:, None, None]

    def torch_choice(self, k):
        """A uniformly random element of ``k`` drawn with tocha's generator."""
        index = int(torch.empty(1).uniform_(0.0, float(len(k))).item())
        return k[index]

    def resize(self, image, target: dict | None = None):
        h, w = image.shape[-2:]
        if self.training:
            if self._skip_resize:
                return image, target
            size = self.torch_choice(self.min_size)
        else:
            size = self.min_size[-1]
        image, target = _resize_image_and_masks(image, size, self.max_size, target, self.fixed_size)
        if target is None:
            return image, target
        target["boxes"] = resize_boxes(target["boxes"], (h, w), tuple(image.shape[-2:]))
        if "keypoints" in target:
            target["keypoints"] = resize_keypoints(
                target["keypoints"], (h, w), tuple(image.shape[-2:])
            )
        return image, target

    def max_by_axis(self, the_list: list) -> list[int]:
        return [max(s[i] for s in the_list) for i in range(len(the_list[0]))]

    def batch_images(self, images: list, size_divisible: int = 32):
        max_size = self.max_by_axis([list(img.shape) for img in images])
        stride = float(size_divisible)
        max_size[1] = int(math.ceil(float(max_size[1]) / stride) * stride)
        max_size[2] = int(math.ceil(float(max_size[2]) / stride) * stride)
        # padded at the bottom and right with zeros, as torchvision
        padded = [
            F.pad(
                img,
                (
                    0,
                    max_size[2] - img.shape[2],
                    0,
                    max_size[1] - img.shape[1],
                    0,
                    max_size[0] - img.shape[0],
                ),
            )
            for img in images
        ]
        return torch.stack(padded, dim=0)

    def postprocess(self, result: list, image_shapes: list, original_image_sizes: list) -> list:
        if self.training:
            return result
        for i, (pred, im_s, o_im_s) in enumerate(zip(result, image_shapes, original_image_sizes)):
            boxes = resize_boxes(pred["boxes"], im_s, o_im_s)
            result[i]["boxes"] = boxes
            if "masks" in pred:
                result[i]["masks"] = paste_masks_in_image(pred["masks"], boxes, o_im_s)
            if "keypoints" in pred:
                result[i]["keypoints"] = resize_keypoints(pred["keypoints"], im_s, o_im_s)
        return result

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(\n"
            f"    Normalize(mean={self.image_mean}, std={self.image_std})\n"
            f"    Resize(min_size={self.min_size}, max_size={self.max_size}, "
            "mode='bilinear')\n)"
        )


def _imagenet_transform(
    min_size, max_size: int, image_mean=None, image_std=None, **kwargs
) -> GeneralizedRCNNTransform:
    """The detectors' input transform: normalised with ImageNet's mean and std (what their
    backbones were pretrained on) unless ``image_mean``/``image_std`` are given."""
    if image_mean is None:
        image_mean = [0.485, 0.456, 0.406]
    if image_std is None:
        image_std = [0.229, 0.224, 0.225]
    return GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
