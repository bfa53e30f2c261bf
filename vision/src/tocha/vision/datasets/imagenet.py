"""`ImageNet 2012 <https://image-net.org/>`_ classification, in torchvision's folder layout.

``root/train/<wnid>/*.JPEG`` and ``root/val/<wnid>/*.JPEG`` are read as :class:`ImageFolder`;
``root/meta.bin`` holds ``(wnid_to_classes, val_wnids)`` (a ``torch.save`` file from
torchvision or a ``tocha.core.save`` file). Where those are missing they are built, as
torchvision does, from the archives that must be downloaded by hand (ImageNet needs a login):
``ILSVRC2012_devkit_t12.tar.gz`` (class names and validation labels, read with scipy),
``ILSVRC2012_img_train.tar`` (one tar per class inside) and ``ILSVRC2012_img_val.tar``.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> import tocha.core as torch
    >>> from tocha.vision.datasets import ImageNet
    >>> root = tempfile.mkdtemp()
    >>> for wnid in ("n01440764", "n01443537"):
    ...     os.makedirs(os.path.join(root, "val", wnid))
    ...     Image.new("RGB", (3, 3)).save(os.path.join(root, "val", wnid, "x.JPEG"))
    >>> torch.save(({"n01440764": ("tench", "Tinca tinca"), "n01443537": ("goldfish",)},
    ...             ["n01440764", "n01443537"]), os.path.join(root, "meta.bin"))
    >>> ds = ImageNet(root, split="val")
    >>> ds.classes, ds.class_to_idx["Tinca tinca"], ds.wnid_to_idx["n01443537"], ds[1][1]
    ([('tench', 'Tinca tinca'), ('goldfish',)], 0, 1, 1)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import tocha.core as torch

from .folder import ImageFolder
from .utils import extract_archive, verify_str_arg

__all__ = ["ImageNet", "load_meta_file", "parse_devkit_archive"]

ARCHIVE_META = {
    "train": ("ILSVRC2012_img_train.tar", "1d675b47d978889d74fa0da5fadfb00e"),
    "val": ("ILSVRC2012_img_val.tar", "29b22e2961454d5413ddabcf34fc5622"),
    "devkit": ("ILSVRC2012_devkit_t12.tar.gz", "fa75699e90414af021442c21a62c3abf"),
}
META_FILE = "meta.bin"


def _archive(root: str, key: str) -> str:
    """The path of an archive that must be placed by hand; a clear error when it is not."""
    name, md5 = ARCHIVE_META[key]
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        raise RuntimeError(
            f"The archive {name} is not present in the root directory. ImageNet cannot be "
            f"downloaded automatically: download it from image-net.org and place it in {root} "
            f"(md5 {md5})."
        )
    return path


def load_meta_file(root, file: str | None = None) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """``(wnid_to_classes, val_wnids)`` from ``root/meta.bin``."""
    path = os.path.join(os.fspath(root), file or META_FILE)
    if not os.path.isfile(path):
        raise RuntimeError(
            f"The meta file {path} is not present in the root directory or is corrupted. This "
            "file is automatically created by the ImageNet dataset from ILSVRC2012_devkit_t12.tar.gz."
        )
    return torch.load(path, weights_only=True)


def parse_devkit_archive(root, file: str | None = None) -> None:
    """Read class names and validation labels from the devkit; write ``root/meta.bin``."""
    import scipy.io as sio

    root = os.fspath(root)
    archive = os.path.join(root, file) if file else _archive(root, "devkit")
    with tempfile.TemporaryDirectory() as tmp:
        extract_archive(archive, tmp)
        devkit = os.path.join(tmp, "ILSVRC2012_devkit_t12", "data")
        synsets = sio.loadmat(os.path.join(devkit, "meta.mat"), squeeze_me=True)["synsets"]
        # Fields: ILSVRC2012_ID, WNID, words, gloss, num_children, ...; leaves are the classes.
        leaves = [s for s in synsets if int(s["num_children"]) == 0]
        idx_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in leaves}
        wnid_to_classes = {str(s["WNID"]): tuple(str(s["words"]).split(", ")) for s in leaves}
        with open(os.path.join(devkit, "ILSVRC2012_validation_ground_truth.txt")) as f:
            val_wnids = [idx_to_wnid[int(line)] for line in f if line.strip()]
    torch.save((wnid_to_classes, val_wnids), os.path.join(root, META_FILE))


def parse_train_archive(root, file: str | None = None, folder: str = "train") -> None:
    """Unpack the training tar into ``root/train/<wnid>/`` (it holds one tar per class)."""
    root = os.fspath(root)
    archive = os.path.join(root, file) if file else _archive(root, "train")
    train_root = os.path.join(root, folder)
    extract_archive(archive, train_root)
    for name in sorted(os.listdir(train_root)):
        inner = os.path.join(train_root, name)
        if name.endswith(".tar"):
            extract_archive(inner, os.path.splitext(inner)[0], remove_finished=True)


def parse_val_archive(root, file: str | None = None, wnids=None, folder: str = "val") -> None:
    """Unpack the validation tar and move image ``i`` (sorted by name) into its wnid folder."""
    root = os.fspath(root)
    archive = os.path.join(root, file) if file else _archive(root, "val")
    if wnids is None:
        wnids = load_meta_file(root)[1]
    val_root = os.path.join(root, folder)
    extract_archive(archive, val_root)
    images = sorted(os.listdir(val_root))
    if len(images) != len(wnids):
        raise RuntimeError(
            f"parse_val_archive: {archive} holds {len(images)} images but the devkit lists "
            f"{len(wnids)} validation labels"
        )
    for wnid in set(wnids):
        os.makedirs(os.path.join(val_root, wnid), exist_ok=True)
    for wnid, img in zip(wnids, images):
        shutil.move(os.path.join(val_root, img), os.path.join(val_root, wnid, img))


class ImageNet(ImageFolder):
    """ImageNet 2012: items are ``(PIL RGB image, class index)``.

    Args:
        root: the folder holding ``train/``, ``val/`` and ``meta.bin`` (or the archives).
        split: ``"train"`` or ``"val"``.
        **kwargs: as for :class:`ImageFolder`.

    Attributes: ``wnids`` (sorted WordNet ids), ``wnid_to_idx``, ``classes`` (a tuple of
    names per class) and ``class_to_idx`` (every name of every class to its index).
    """

    def __init__(self, root, split: str = "train", **kwargs: Any) -> None:
        root = self.root = os.path.expanduser(os.fspath(root))
        self.split = verify_str_arg(split, "split", ("train", "val"))
        self.parse_archives()
        wnid_to_classes = load_meta_file(self.root)[0]
        super().__init__(self.split_folder, **kwargs)
        self.root = root
        self.wnids = self.classes
        self.wnid_to_idx = self.class_to_idx
        self.classes = [wnid_to_classes[wnid] for wnid in self.wnids]
        self.class_to_idx = {cls: idx for idx, clss in enumerate(self.classes) for cls in clss}

    def parse_archives(self) -> None:
        if not os.path.isfile(os.path.join(self.root, META_FILE)):
            parse_devkit_archive(self.root)
        if not os.path.isdir(self.split_folder):
            if self.split == "train":
                parse_train_archive(self.root)
            else:
                parse_val_archive(self.root)

    @property
    def split_folder(self) -> str:
        return os.path.join(self.root, self.split)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
