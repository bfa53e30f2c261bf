"""`SVHN <http://ufldl.stanford.edu/housenumbers/>`_ (Street View House Numbers), cropped digits.

``root/{train,test,extra}_32x32.mat`` are MATLAB files read with :func:`scipy.io.loadmat`:
``X`` is ``(32, 32, 3, N)`` uint8 and ``y`` is ``(N, 1)`` with the digit 0 stored as 10 (mapped
back to 0 here, as torchvision does).

Example:
    >>> import os, tempfile
    >>> import numpy as np, scipy.io
    >>> from tocha.vision.datasets import SVHN
    >>> root = tempfile.mkdtemp()
    >>> X = np.zeros((32, 32, 3, 2), np.uint8); X[..., 1] = 200
    >>> scipy.io.savemat(os.path.join(root, "test_32x32.mat"), {"X": X, "y": np.array([[10], [4]])})
    >>> ds = SVHN(root, split="test")
    >>> [(img.size, img.getpixel((0, 0)), t) for img, t in ds]
    [((32, 32), (0, 0, 0), 0), ((32, 32), (200, 200, 200), 4)]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .utils import check_integrity, download_url, verify_str_arg
from .vision import VisionDataset

__all__ = ["SVHN"]


class SVHN(VisionDataset):
    """SVHN digits: items are ``(PIL RGB 32x32 image, int in 0..9)``.

    Args:
        root: the folder holding ``<split>_32x32.mat``.
        split: ``"train"``, ``"test"`` or ``"extra"``.
        transform, target_transform: applied to the PIL image and to the int target.
        download: fetch the ``.mat`` file (MD5-checked) if absent.

    ``data`` is ``(N, 3, 32, 32)`` uint8 and ``labels`` an int64 array.
    """

    split_list = {
        "train": [
            "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
            "train_32x32.mat",
            "e26dedcc434d2e4c54c9b2d4a06d8373",
        ],
        "test": [
            "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
            "test_32x32.mat",
            "eb5a983be6a315427106f1b164d9cef3",
        ],
        "extra": [
            "http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",
            "extra_32x32.mat",
            "a93ce644f1a588dc4d68dda5feec44a7",
        ],
    }

    def __init__(
        self,
        root,
        split: str = "train",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        if download:
            self.download()
        path = os.path.join(self.root, self.filename)
        if not os.path.isfile(path):
            raise RuntimeError(
                "Dataset not found or corrupted. You can use download=True to download it, or "
                f"place {self.filename} (md5 {self.file_md5}) in {self.root}"
            )
        import scipy.io as sio

        loaded = sio.loadmat(path)
        self.data = np.transpose(loaded["X"], (3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
        self.labels = loaded["y"].astype(np.int64).reshape(-1)  # (N, 1) -> (N,)
        # The files store the digit 0 as label 10.
        np.place(self.labels, self.labels == 10, 0)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img = Image.fromarray(np.ascontiguousarray(np.transpose(self.data[index], (1, 2, 0))))
        target = int(self.labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def _check_integrity(self) -> bool:
        return check_integrity(os.path.join(self.root, self.filename), self.file_md5)

    def download(self) -> None:
        download_url(self.url, self.root, self.filename, self.file_md5)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
