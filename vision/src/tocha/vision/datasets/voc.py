"""`Pascal VOC <http://host.robots.ox.ac.uk/pascal/VOC/>`_ detection and segmentation.

Layout (as unpacked from the official tar files): ``root/VOCdevkit/VOC<year>/`` with
``JPEGImages/<id>.jpg``, ``Annotations/<id>.xml``, ``SegmentationClass/<id>.png`` and the split
lists ``ImageSets/{Main,Segmentation}/<image_set>.txt``.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from tocha.vision.datasets import VOCDetection
    >>> root = tempfile.mkdtemp()
    >>> voc = os.path.join(root, "VOCdevkit", "VOC2012")
    >>> for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
    ...     os.makedirs(os.path.join(voc, sub))
    >>> Image.new("RGB", (5, 4)).save(os.path.join(voc, "JPEGImages", "x1.jpg"))
    >>> with open(os.path.join(voc, "Annotations", "x1.xml"), "w") as f:
    ...     _ = f.write("<annotation><filename>x1.jpg</filename><object><name>dog</name>"
    ...                 "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>3</ymax>"
    ...                 "</bndbox></object></annotation>")
    >>> with open(os.path.join(voc, "ImageSets", "Main", "train.txt"), "w") as f:
    ...     _ = f.write("x1\\n")
    >>> img, target = VOCDetection(root)[0]
    >>> img.size, target["annotation"]["object"][0]["name"]
    ((5, 4), 'dog')
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import parse as ET_parse

from .utils import download_and_extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = ["VOCDetection", "VOCSegmentation"]

DATASET_YEAR_DICT = {
    "2012": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
        "filename": "VOCtrainval_11-May-2012.tar",
        "md5": "6cd6e144f989b92b3379bac3b3de84fd",
        "base_dir": os.path.join("VOCdevkit", "VOC2012"),
    },
    "2011": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2011/VOCtrainval_25-May-2011.tar",
        "filename": "VOCtrainval_25-May-2011.tar",
        "md5": "6c3384ef61512963050cb5d687e5bf1e",
        "base_dir": os.path.join("TrainVal", "VOCdevkit", "VOC2011"),
    },
    "2010": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2010/VOCtrainval_03-May-2010.tar",
        "filename": "VOCtrainval_03-May-2010.tar",
        "md5": "da459979d0c395079b5c75ee67908abb",
        "base_dir": os.path.join("VOCdevkit", "VOC2010"),
    },
    "2009": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2009/VOCtrainval_11-May-2009.tar",
        "filename": "VOCtrainval_11-May-2009.tar",
        "md5": "a3e00b113cfcfebf17e343f59da3caa1",
        "base_dir": os.path.join("VOCdevkit", "VOC2009"),
    },
    "2008": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2008/VOCtrainval_14-Jul-2008.tar",
        "filename": "VOCtrainval_14-Jul-2008.tar",
        "md5": "2629fa636546599198acfcfbfcf1904a",
        "base_dir": os.path.join("VOCdevkit", "VOC2008"),
    },
    "2007": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
        "filename": "VOCtrainval_06-Nov-2007.tar",
        "md5": "c52e279531787c972589f7e41ab4ae64",
        "base_dir": os.path.join("VOCdevkit", "VOC2007"),
    },
    "2007-test": {
        "url": "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar",
        "filename": "VOCtest_06-Nov-2007.tar",
        "md5": "b6e924de25625d8de591ea690078ad9f",
        "base_dir": os.path.join("VOCdevkit", "VOC2007"),
    },
}


class _VOCBase(VisionDataset):
    _SPLITS_DIR: str
    _TARGET_DIR: str
    _TARGET_FILE_EXT: str

    def __init__(
        self,
        root,
        year: str = "2012",
        image_set: str = "train",
        download: bool = False,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
    ) -> None:
        super().__init__(root, transforms, transform, target_transform)
        self.year = verify_str_arg(year, "year", [str(y) for y in range(2007, 2013)])
        valid_sets = ["train", "trainval", "val"]
        if year == "2007":
            valid_sets.append("test")
        self.image_set = verify_str_arg(image_set, "image_set", valid_sets)
        key = "2007-test" if year == "2007" and image_set == "test" else year
        info = DATASET_YEAR_DICT[key]
        self.url, self.filename, self.md5 = info["url"], info["filename"], info["md5"]
        voc_root = os.path.join(self.root, info["base_dir"])
        if download:
            download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.md5)
        if not os.path.isdir(voc_root):
            raise RuntimeError(
                "Dataset not found or corrupted. You can use download=True to download it, or "
                f"unpack {self.filename} (md5 {self.md5}) into {self.root} so that {voc_root} "
                "exists"
            )
        split_f = os.path.join(voc_root, "ImageSets", self._SPLITS_DIR, image_set + ".txt")
        if not os.path.isfile(split_f):
            raise RuntimeError(f"{type(self).__name__}: the split list {split_f} is missing")
        with open(split_f) as f:
            file_names = [x.strip() for x in f if x.strip()]
        self.images = [os.path.join(voc_root, "JPEGImages", x + ".jpg") for x in file_names]
        target_dir = os.path.join(voc_root, self._TARGET_DIR)
        self.targets = [os.path.join(target_dir, x + self._TARGET_FILE_EXT) for x in file_names]

    def __len__(self) -> int:
        return len(self.images)


class VOCSegmentation(_VOCBase):
    """VOC segmentation: items are ``(PIL RGB image, PIL mask)`` (the palette PNG as stored).

    Args:
        root: the folder holding ``VOCdevkit/``.
        year: ``"2007"`` .. ``"2012"``.
        image_set: ``train``, ``trainval``, ``val`` (and ``test`` for 2007).
        download: fetch and unpack the year's tar (MD5-checked).
        transform, target_transform, transforms: see :class:`VisionDataset`.
    """

    _SPLITS_DIR = "Segmentation"
    _TARGET_DIR = "SegmentationClass"
    _TARGET_FILE_EXT = ".png"

    @property
    def masks(self) -> list[str]:
        return self.targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img = Image.open(self.images[index]).convert("RGB")
        target = Image.open(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target


class VOCDetection(_VOCBase):
    """VOC detection: items are ``(PIL RGB image, dict)``, the annotation XML as nested dicts.

    ``target["annotation"]["object"]`` is always a list of objects, each a dict such as
    ``{"name": "dog", "bndbox": {"xmin": "1", ...}, ...}`` (values are the XML's strings).
    Arguments as for :class:`VOCSegmentation`.
    """

    _SPLITS_DIR = "Main"
    _TARGET_DIR = "Annotations"
    _TARGET_FILE_EXT = ".xml"

    @property
    def annotations(self) -> list[str]:
        return self.targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img = Image.open(self.images[index]).convert("RGB")
        target = self.parse_voc_xml(ET_parse(self.annotations[index]).getroot())
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    @staticmethod
    def parse_voc_xml(node: Element) -> dict[str, Any]:
        """An XML element as ``{tag: text}`` or ``{tag: {child_tag: value or [values]}}``.

        A tag repeated under one parent becomes a list; ``object`` directly under
        ``annotation`` is always a list.
        """
        voc_dict: dict[str, Any] = {}
        children = list(node)
        if children:
            grouped: dict[str, list] = collections.defaultdict(list)
            for child in children:
                for tag, value in VOCDetection.parse_voc_xml(child).items():
                    grouped[tag].append(value)
            if node.tag == "annotation":
                grouped["object"] = [grouped["object"]]
            voc_dict = {node.tag: {t: v[0] if len(v) == 1 else v for t, v in grouped.items()}}
        if node.text:
            text = node.text.strip()
            if not children:
                voc_dict[node.tag] = text
        return voc_dict
