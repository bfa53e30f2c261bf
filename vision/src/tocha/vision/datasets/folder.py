"""Datasets read from a folder per class (``DatasetFolder``, ``ImageFolder``).

The layout is ``root/<class>/**/<file>``; classes are the sorted sub-folder names, each file's
target is its class's index. Files are found with ``os.walk(followlinks=True)`` in sorted
order, so the sample list is the same on every machine.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from tocha.vision.datasets import ImageFolder
    >>> root = tempfile.mkdtemp()
    >>> for cls, colour in (("cat", "red"), ("dog", "blue")):
    ...     os.makedirs(os.path.join(root, cls))
    ...     Image.new("RGB", (4, 3), colour).save(os.path.join(root, cls, "a.png"))
    >>> ds = ImageFolder(root)
    >>> ds.classes, ds.class_to_idx, len(ds)
    (['cat', 'dog'], {'cat': 0, 'dog': 1}, 2)
    >>> img, target = ds[1]
    >>> img.size, img.mode, img.getpixel((0, 0)), target
    ((4, 3), 'RGB', (0, 0, 255), 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .vision import VisionDataset

__all__ = [
    "IMG_EXTENSIONS",
    "DatasetFolder",
    "ImageFolder",
    "default_loader",
    "find_classes",
    "has_file_allowed_extension",
    "is_image_file",
    "make_dataset",
    "pil_loader",
]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions) -> bool:
    """Whether ``filename`` ends (case-insensitively) with one of ``extensions``."""
    return filename.lower().endswith(
        extensions if isinstance(extensions, str) else tuple(extensions)
    )


def is_image_file(filename: str) -> bool:
    """Whether ``filename`` has one of :data:`IMG_EXTENSIONS`."""
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory) -> tuple[list[str], dict[str, int]]:
    """The sorted sub-folder names of ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(
    directory,
    class_to_idx: dict[str, int] | None = None,
    extensions=None,
    is_valid_file: Callable[[str], bool] | None = None,
    allow_empty: bool = False,
) -> list[tuple[str, int]]:
    """The ``(path, class_index)`` samples under ``directory``.

    Exactly one of ``extensions`` and ``is_valid_file`` must be given. A class with no valid
    file is an error unless ``allow_empty``.
    """
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError(
            "Both extensions and is_valid_file cannot be None or not None at the same time"
        )
    if extensions is not None:

        def is_valid_file(x: str) -> bool:
            return has_file_allowed_extension(x, extensions)

    instances = []
    available = set()
    for target_class in sorted(class_to_idx):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    available.add(target_class)
    empty = set(class_to_idx) - available
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            exts = extensions if isinstance(extensions, str) else ", ".join(extensions)
            msg += f"Supported extensions are: {exts}"
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    """A generic ``root/<class>/<file>`` dataset; items are ``(loader(path), class_index)``.

    Args:
        root: the root folder.
        loader: reads a sample from its path.
        extensions: the allowed file suffixes (exclusive with ``is_valid_file``).
        transform, target_transform: applied to the sample and to the target.
        is_valid_file: a predicate on a file's path (exclusive with ``extensions``).
        allow_empty: accept class folders with no valid file.

    Attributes: ``classes``, ``class_to_idx``, ``samples`` (list of ``(path, index)``),
    ``targets`` (the indices).
    """

    def __init__(
        self,
        root,
        loader: Callable[[str], Any],
        extensions=None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(
            self.root,
            class_to_idx=class_to_idx,
            extensions=extensions,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(
        directory,
        class_to_idx: dict[str, int],
        extensions=None,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> list[tuple[str, int]]:
        if class_to_idx is None:
            # torchvision refuses here so that an override's contract stays explicit.
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(
            directory,
            class_to_idx,
            extensions=extensions,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )

    def find_classes(self, directory) -> tuple[list[str], dict[str, int]]:
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self) -> int:
        return len(self.samples)


def pil_loader(path):
    """Open an image file with Pillow as RGB (the file is closed before returning)."""
    from PIL import Image

    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def default_loader(path):
    """torchvision's default image loader: :func:`pil_loader`."""
    return pil_loader(path)


class ImageFolder(DatasetFolder):
    """``root/<class>/<image>`` with :data:`IMG_EXTENSIONS`; items are ``(PIL RGB image, int)``.

    ``imgs`` is the same list as ``samples``.
    """

    def __init__(
        self,
        root,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        loader: Callable[[str], Any] = default_loader,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(
            root,
            loader,
            IMG_EXTENSIONS if is_valid_file is None else None,
            transform=transform,
            target_transform=target_transform,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )
        self.imgs = self.samples
