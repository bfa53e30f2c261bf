"""Random images, reproducible per index (``torchvision.datasets.FakeData``).

Example:
    >>> from tocha.vision.datasets import FakeData
    >>> ds = FakeData(size=4, image_size=(3, 8, 6), num_classes=5)
    >>> img, target = ds[2]
    >>> len(ds), img.size, img.mode, 0 <= target < 5
    (4, (6, 8), 'RGB', True)
    >>> ds[2][0].tobytes() == img.tobytes() and ds[2][1] == target  # same index, same item
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tocha.core as torch

from .vision import VisionDataset

__all__ = ["FakeData"]


def _float_chw_to_pil(img):
    """ToPILImage of a float CHW tensor: ``mul(255).byte()``, then L/RGB/RGBA by channels."""
    from PIL import Image

    arr = np.transpose(img.mul(255).byte().numpy(), (1, 2, 0))
    channels = arr.shape[2]
    if channels == 1:
        return Image.fromarray(np.ascontiguousarray(arr[:, :, 0]))
    if channels in (3, 4):
        return Image.fromarray(np.ascontiguousarray(arr))
    raise ValueError(f"FakeData: image_size needs 1, 3 or 4 channels, got {channels}")


class FakeData(VisionDataset):
    """``size`` random images: item ``i`` draws ``randn(*image_size)`` and a class under seed
    ``i + random_offset``, leaving the global RNG state as it was.

    Args:
        size: number of items.
        image_size: ``(C, H, W)``.
        num_classes: targets are in ``[0, num_classes)``.
        transform, target_transform: applied to the PIL image and to the int target.
        random_offset: added to the index to form the seed.
    """

    def __init__(
        self,
        size: int = 1000,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        random_offset: int = 0,
    ) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng_state = torch.get_rng_state()
        torch.manual_seed(index + self.random_offset)
        img = torch.randn(*self.image_size)
        target = torch.randint(0, self.num_classes, size=(1,), dtype=torch.long)[0]
        torch.set_rng_state(rng_state)
        img = _float_chw_to_pil(img)
        target = target.item()
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return self.size
