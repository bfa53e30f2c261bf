"""The base class of every dataset here (``torchvision.datasets.VisionDataset``).

Example:
    >>> from tocha.vision.datasets import VisionDataset
    >>> class Squares(VisionDataset):
    ...     def __getitem__(self, i):
    ...         return self.transforms(i, i * i)
    ...     def __len__(self):
    ...         return 3
    >>> ds = Squares("data", transform=lambda x: -x)
    >>> ds[2]
    (-2, 4)
    >>> print(ds)
    Dataset Squares
        Number of datapoints: 3
        Root location: data
        StandardTransform
    Transform: <function <lambda> at ...>
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tocha.core.utils.data import Dataset

__all__ = ["VisionDataset", "StandardTransform"]


class VisionDataset(Dataset):
    """Holds ``root`` and the transforms; subclasses implement ``__getitem__`` and ``__len__``.

    Args:
        root: the dataset's folder (``~`` is expanded); may be None.
        transforms: a callable of ``(input, target)`` returning both transformed.
        transform: a callable applied to the input only.
        target_transform: a callable applied to the target only.

    Passing ``transforms`` together with ``transform``/``target_transform`` is a ValueError.
    """

    _repr_indent = 4

    def __init__(
        self,
        root=None,
        transforms: Callable | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        has_transforms = transforms is not None
        has_separate = transform is not None or target_transform is not None
        if has_transforms and has_separate:
            raise ValueError(
                "Only transforms or transform/target_transform can be passed as argument"
            )
        self.transform = transform
        self.target_transform = target_transform
        if has_separate:
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.__getitem__ is not implemented")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}.__len__ is not implemented")

    def __repr__(self) -> str:
        head = "Dataset " + self.__class__.__name__
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if hasattr(self, "transforms") and self.transforms is not None:
            body += [repr(self.transforms)]
        lines = [head] + [" " * self._repr_indent + line for line in body]
        return "\n".join(lines)

    def _format_transform_repr(self, transform: Callable, head: str) -> list[str]:
        lines = repr(transform).splitlines()
        return [f"{head}{lines[0]}"] + ["{}{}".format(" " * len(head), line) for line in lines[1:]]

    def extra_repr(self) -> str:
        return ""


class StandardTransform:
    """Applies ``transform`` to the input and ``target_transform`` to the target."""

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None):
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target

    def _format_transform_repr(self, transform: Callable, head: str) -> list[str]:
        lines = repr(transform).splitlines()
        return [f"{head}{lines[0]}"] + ["{}{}".format(" " * len(head), line) for line in lines[1:]]

    def __repr__(self) -> str:
        body = [self.__class__.__name__]
        if self.transform is not None:
            body += self._format_transform_repr(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += self._format_transform_repr(self.target_transform, "Target transform: ")
        return "\n".join(body)
