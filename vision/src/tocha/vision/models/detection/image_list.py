"""ImageList (torchvision.models.detection.image_list): a padded batch and the true sizes."""

from __future__ import annotations

__all__ = ["ImageList"]


class ImageList:
    """Images of different sizes padded into one ``[N, C, H, W]`` tensor, with each image's
    size before padding in ``image_sizes`` (a list of ``(h, w)``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.image_list import ImageList
        >>> il = ImageList(torch.zeros(2, 3, 32, 32), [(30, 32), (32, 20)])
        >>> il.to("cpu").image_sizes
        [(30, 32), (32, 20)]
    """

    def __init__(self, tensors, image_sizes: list[tuple[int, int]]) -> None:
        self.tensors = tensors
        self.image_sizes = image_sizes

    def to(self, device) -> ImageList:
        return ImageList(self.tensors.to(device), self.image_sizes)
