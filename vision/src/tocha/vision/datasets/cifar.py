"""CIFAR-10 and CIFAR-100 in their "python version" batch format.

``root/cifar-10-batches-py/`` holds ``data_batch_1..5``, ``test_batch`` and ``batches.meta``
(CIFAR-100: ``root/cifar-100-python/{train,test,meta}``). Each batch is a pickled dict with
``data`` (``N x 3072`` uint8, channel-major rows) and ``labels`` (CIFAR-100: ``fine_labels``).
The pickles are read with a restricted unpickler that rebuilds only dicts, lists, strings,
bytes and NumPy arrays: a file that names any other global is refused, never executed.

Items are ``(PIL RGB 32x32 image, int)``; ``data`` is a ``(N, 32, 32, 3)`` uint8 array and
``targets`` a list of ints, as in torchvision.

Example:
    >>> import os, pickle, tempfile
    >>> import numpy as np
    >>> from tocha.vision.datasets import CIFAR10
    >>> root = tempfile.mkdtemp()
    >>> folder = os.path.join(root, "cifar-10-batches-py")
    >>> os.makedirs(folder)
    >>> batch = {"data": np.full((2, 3072), 7, np.uint8), "labels": [3, 5]}
    >>> for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
    ...     with open(os.path.join(folder, name), "wb") as f:
    ...         pickle.dump(batch, f)
    >>> with open(os.path.join(folder, "batches.meta"), "wb") as f:
    ...     pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    >>> ds = CIFAR10(root, train=False)
    >>> img, target = ds[1]
    >>> len(ds), img.size, img.mode, img.getpixel((0, 0)), target, ds.classes[target]
    (2, (32, 32), 'RGB', (7, 7, 7), 5, 'c5')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._safe_pickle import restricted_load
from .utils import check_integrity, download_and_extract_archive
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(VisionDataset):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 60,000 32x32 colour images.

    Args:
        root: the folder holding ``cifar-10-batches-py/``.
        train: the five training batches (50,000 images), else the test batch (10,000).
        transform, target_transform: applied to the PIL image and to the int target.
        download: fetch and unpack the archive (MD5-checked) if the batches are absent.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {
        "filename": "batches.meta",
        "key": "label_names",
        "md5": "5ff9c542aee3614f3951f8cda6e48888",
    }

    def __init__(
        self,
        root,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_integrity():
            missing = [n for n, _ in self._all_files() if not self._present(n)]
            raise RuntimeError(
                "Dataset not found or corrupted. You can use download=True to download it, "
                f"or unpack {self.filename} into {self.root} (missing: "
                f"{', '.join(os.path.join(self.root, self.base_folder, m) for m in missing)})"
            )
        downloaded_list = self.train_list if self.train else self.test_list
        data, targets = [], []
        for file_name, _ in downloaded_list:
            path = os.path.join(self.root, self.base_folder, file_name)
            entry = restricted_load(path, encoding="latin1")
            if not isinstance(entry, dict) or "data" not in entry:
                raise ValueError(f"{path} is not a CIFAR batch (a dict with a 'data' entry)")
            data.append(np.asarray(entry["data"], dtype=np.uint8))
            targets.extend(int(t) for t in entry.get("labels", entry.get("fine_labels", [])))
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # to HWC
        self.targets = targets
        if len(self.targets) != len(self.data):
            raise ValueError(
                f"{type(self).__name__}: {len(self.data)} images but {len(self.targets)} labels"
            )
        self._load_meta()

    def _all_files(self):
        return [*self.train_list, *self.test_list, [self.meta["filename"], self.meta["md5"]]]

    def _present(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.root, self.base_folder, name))

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not os.path.isfile(path):
            raise RuntimeError(
                "Dataset metadata file not found or corrupted. You can use download=True to "
                f"download it (expected {path})"
            )
        data = restricted_load(path, encoding="latin1")
        self.classes = list(data[self.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _check_integrity(self) -> bool:
        # Presence only: hashing 180 MB on every construction is what torchvision does, but
        # download() verifies the archive's MD5 and the unpickler refuses anything but data.
        return all(self._present(name) for name, _ in self._all_files())

    def download(self) -> None:
        """Fetch and unpack the archive unless every batch is already there."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5)
        for name, md5 in self._all_files():
            path = os.path.join(self.root, self.base_folder, name)
            if not check_integrity(path, md5):
                raise RuntimeError(f"{path} does not have md5 {md5} after unpacking")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = Image.fromarray(self.data[index]), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """`CIFAR-100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: as CIFAR-10, 100 fine labels."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {
        "filename": "meta",
        "key": "fine_label_names",
        "md5": "7973b15100ade9c7d40fb424638fde48",
    }
