"""MNIST and its relatives, read from IDX files (``torchvision.datasets.MNIST`` & co).

Files live in ``root/<ClassName>/raw/`` under their published names, either decompressed
(``train-images-idx3-ubyte``, as torchvision leaves them) or still gzipped (``...-ubyte.gz``).
:class:`FashionMNIST` also finds Debian's ``dataset-fashion-mnist`` package files in
``/usr/share/datasets/fashion-mnist/``.

Items are ``(PIL image of mode "L", int)``; ``data`` is a ``uint8`` tensor ``(N, 28, 28)`` and
``targets`` an ``int64`` tensor.

Example:
    >>> import gzip, os, struct, tempfile
    >>> from tocha.vision.datasets import MNIST
    >>> root = tempfile.mkdtemp()
    >>> raw = os.path.join(root, "MNIST", "raw")
    >>> os.makedirs(raw)
    >>> def idx(name, shape, payload):  # magic 0x0000 08 <ndim>, big-endian sizes, data
    ...     head = bytes([0, 0, 8, len(shape)]) + struct.pack(">%dI" % len(shape), *shape)
    ...     with gzip.open(os.path.join(raw, name + ".gz"), "wb") as f:
    ...         f.write(head + payload)
    >>> idx("t10k-images-idx3-ubyte", (2, 28, 28), bytes(784) + bytes([255]) * 784)
    >>> idx("t10k-labels-idx1-ubyte", (2,), bytes([7, 2]))
    >>> ds = MNIST(root, train=False)
    >>> img, label = ds[1]
    >>> len(ds), img.size, img.mode, img.getpixel((3, 3)), label, ds.classes[label]
    (2, (28, 28), 'L', 255, 2, '2 - two')
"""

from __future__ import annotations

import gzip
import os
import string
from collections.abc import Callable
from typing import Any

import numpy as np

import tocha.core as torch

from .utils import download_and_extract_archive, download_url, extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = [
    "MNIST",
    "FashionMNIST",
    "KMNIST",
    "EMNIST",
    "read_image_file",
    "read_label_file",
    "read_sn3_pascalvincent_tensor",
]

# IDX type codes (the third magic byte) -> big-endian NumPy dtype.
_IDX_TYPES = {8: ">u1", 9: ">i1", 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}


def _read_bytes(path) -> bytes:
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def _read_idx(path) -> np.ndarray:
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (magic bytes {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - header < count * dtype.itemsize:
        raise ValueError(
            f"{path}: the header announces shape {shape} ({count * dtype.itemsize} bytes of "
            f"data) but only {len(data) - header} bytes follow"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_sn3_pascalvincent_tensor(path, strict: bool = True):
    """Read an IDX file (LeCun's format, optionally gzipped) into a tensor of its dtype."""
    return torch.from_numpy(_read_idx(path))


def read_label_file(path):
    """An IDX label file (uint8, 1-d) as an int64 tensor."""
    arr = _read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise ValueError(f"{path}: expected 1-d uint8 labels, got {arr.ndim}-d {arr.dtype}")
    return torch.from_numpy(arr.astype(np.int64))


def read_image_file(path):
    """An IDX image file (uint8, ``(N, H, W)``) as a uint8 tensor."""
    arr = _read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise ValueError(f"{path}: expected 3-d uint8 images, got {arr.ndim}-d {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_ handwritten digits.

    Args:
        root: the folder holding ``MNIST/raw/``.
        train: the 60,000 training images, else the 10,000 test images.
        transform, target_transform: applied to the PIL image and to the int target.
        download: fetch the files (MD5-checked) into ``root/MNIST/raw`` if absent.
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]
    # Folders searched after raw_folder (FashionMNIST adds Debian's).
    _extra_folders: tuple[str, ...] = ()

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
        if not self._check_exists():
            raise RuntimeError(
                "Dataset not found. You can use download=True to download it, or place "
                f"{' and '.join(self._needed_names())} (gzipped or not) in {self.raw_folder}"
            )
        self.data, self.targets = self._load_data()

    # -- files -------------------------------------------------------------------------
    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "processed")

    def _split_prefix(self) -> str:
        return "train" if self.train else "t10k"

    def _needed_names(self) -> list[str]:
        p = self._split_prefix()
        return [f"{p}-images-idx3-ubyte", f"{p}-labels-idx1-ubyte"]

    def _find(self, name: str) -> str | None:
        """The path of ``name`` or ``name.gz`` in raw_folder or the extra folders."""
        for folder in (self.raw_folder, *self._extra_folders):
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        return None

    def _check_exists(self) -> bool:
        return all(self._find(n) is not None for n in self._needed_names())

    def _load_data(self):
        images, labels = (self._find(n) for n in self._needed_names())
        data, targets = read_image_file(images), read_label_file(labels)
        if data.shape[0] != targets.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: {images} holds {data.shape[0]} images but {labels} "
                f"holds {targets.shape[0]} labels"
            )
        return data, targets

    def download(self) -> None:
        """Fetch every resource from the first mirror that serves it (MD5-checked)."""
        if all(self._find(os.path.splitext(f)[0]) for f, _ in self.resources):
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            if self._find(os.path.splitext(filename)[0]) is not None:
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    download_url(f"{mirror}{filename}", self.raw_folder, filename, md5)
                except RuntimeError as e:
                    errors.append(str(e))
                    continue
                break
            else:
                raise RuntimeError(
                    f"{type(self).__name__}: could not download {filename} from any mirror "
                    f"({'; '.join(errors)}). Offline, place {filename} (md5 {md5}) in "
                    f"{self.raw_folder}"
                )

    # -- items -------------------------------------------------------------------------
    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = self.data.numpy()[index], int(self.targets[index])
        img = Image.fromarray(img)  # 2-d uint8 -> mode "L"
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_ (Zalando articles).

    Besides ``root/FashionMNIST/raw/`` it reads Debian's ``dataset-fashion-mnist`` files in
    ``/usr/share/datasets/fashion-mnist/``, so no download is needed where that is installed.
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    _extra_folders = ("/usr/share/datasets/fashion-mnist",)


class KMNIST(MNIST):
    """`Kuzushiji-MNIST <https://github.com/rois-codh/kmnist>`_ (cursive Japanese characters)."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """`EMNIST <https://www.nist.gov/itl/products-and-services/emnist-dataset>`_ (NIST letters).

    Args:
        root: the folder holding ``EMNIST/raw/``.
        split: one of ``byclass``, ``bymerge``, ``balanced``, ``letters``, ``digits``, ``mnist``.
        **kwargs: as for :class:`MNIST`.

    Files: ``emnist-<split>-<train|test>-{images-idx3,labels-idx1}-ubyte[.gz]``. Like
    torchvision, images are returned as stored (transposed relative to MNIST's orientation).
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    # Merged classes: the lower-case letters whose shape equals the upper-case one.
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root, split: str, **kwargs: Any) -> None:
        self.split = verify_str_arg(split, "split", self.splits)
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    def _needed_names(self) -> list[str]:
        p = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return [f"{p}-images-idx3-ubyte", f"{p}-labels-idx1-ubyte"]

    def download(self) -> None:
        """Fetch NIST's gzip.zip (MD5-checked) and unpack every split's files into raw/."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        download_and_extract_archive(self.url, self.raw_folder, filename="gzip.zip", md5=self.md5)
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in sorted(os.listdir(gzip_folder)):
            if name.endswith(".gz"):
                extract_archive(os.path.join(gzip_folder, name), self.raw_folder)
