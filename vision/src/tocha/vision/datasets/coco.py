"""`MS COCO <https://cocodataset.org/>`_ detection and captions, read from the annotation JSON.

No pycocotools is needed: :class:`COCO` here indexes the JSON the same way (images by id,
annotations per image in file order, categories) and offers the lookups the datasets use.

Example:
    >>> import json, os, tempfile
    >>> from PIL import Image
    >>> from tocha.vision.datasets import CocoDetection
    >>> root = tempfile.mkdtemp()
    >>> Image.new("RGB", (8, 6), "green").save(os.path.join(root, "a.png"))
    >>> ann = {"images": [{"id": 7, "file_name": "a.png", "width": 8, "height": 6}],
    ...        "annotations": [{"id": 1, "image_id": 7, "category_id": 3,
    ...                         "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0}],
    ...        "categories": [{"id": 3, "name": "cat"}]}
    >>> with open(os.path.join(root, "ann.json"), "w") as f:
    ...     json.dump(ann, f)
    >>> ds = CocoDetection(root, os.path.join(root, "ann.json"))
    >>> img, target = ds[0]
    >>> img.size, [(t["category_id"], t["bbox"]) for t in target]
    ((8, 6), [(3, [1, 2, 3, 4])])
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .vision import VisionDataset

__all__ = ["COCO", "CocoDetection", "CocoCaptions"]


def _as_list(ids) -> list:
    return list(ids) if isinstance(ids, (list, tuple)) else [ids]


class COCO:
    """The part of pycocotools' ``COCO`` index that the datasets need."""

    def __init__(self, annotation_file=None) -> None:
        self.dataset: dict = {}
        self.anns: dict = {}
        self.imgs: dict = {}
        self.cats: dict = {}
        self.imgToAnns: dict = defaultdict(list)
        self.catToImgs: dict = defaultdict(list)
        if annotation_file is not None:
            with open(annotation_file, encoding="utf-8") as f:
                dataset = json.load(f)
            if not isinstance(dataset, dict):
                raise ValueError(
                    f"{annotation_file}: a COCO annotation file holds a JSON object, "
                    f"got {type(dataset).__name__}"
                )
            self.dataset = dataset
            self.createIndex()

    def createIndex(self) -> None:
        for ann in self.dataset.get("annotations", []):
            self.imgToAnns[ann["image_id"]].append(ann)
            self.anns[ann["id"]] = ann
        for img in self.dataset.get("images", []):
            self.imgs[img["id"]] = img
        for cat in self.dataset.get("categories", []):
            self.cats[cat["id"]] = cat
        for ann in self.dataset.get("annotations", []):
            if "category_id" in ann:
                self.catToImgs[ann["category_id"]].append(ann["image_id"])

    def getAnnIds(self, imgIds=(), catIds=(), iscrowd=None) -> list:
        imgIds, catIds = _as_list(imgIds), _as_list(catIds)
        if imgIds:
            anns = [a for i in imgIds if i in self.imgToAnns for a in self.imgToAnns[i]]
        else:
            anns = self.dataset.get("annotations", [])
        if catIds:
            anns = [a for a in anns if a.get("category_id") in catIds]
        if iscrowd is not None:
            anns = [a for a in anns if a.get("iscrowd") == iscrowd]
        return [a["id"] for a in anns]

    def getImgIds(self, imgIds=(), catIds=()) -> list:
        ids = set(_as_list(imgIds)) if _as_list(imgIds) else set(self.imgs)
        for c in _as_list(catIds):
            ids &= set(self.catToImgs[c])
        return list(ids)

    def getCatIds(self) -> list:
        return [c["id"] for c in self.dataset.get("categories", [])]

    def loadAnns(self, ids=()) -> list:
        return [self.anns[i] for i in _as_list(ids)]

    def loadImgs(self, ids=()) -> list:
        return [self.imgs[i] for i in _as_list(ids)]

    def loadCats(self, ids=()) -> list:
        return [self.cats[i] for i in _as_list(ids)]


class CocoDetection(VisionDataset):
    """COCO detection: items are ``(PIL RGB image, list of annotation dicts)``.

    Args:
        root: the folder the images' ``file_name`` entries are relative to.
        annFile: the annotation JSON.
        transform, target_transform, transforms: see :class:`VisionDataset`.

    Items follow the sorted image ids; an image's annotations keep the file's order.
    """

    def __init__(
        self,
        root,
        annFile,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
    ) -> None:
        super().__init__(root, transforms, transform, target_transform)
        self.coco = COCO(annFile)
        self.ids = sorted(self.coco.imgs.keys())

    def _load_image(self, id: int):
        from PIL import Image

        path = self.coco.loadImgs(id)[0]["file_name"]
        return Image.open(os.path.join(self.root, path)).convert("RGB")

    def _load_target(self, id: int) -> list[Any]:
        return self.coco.loadAnns(self.coco.getAnnIds(id))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not isinstance(index, int):
            raise ValueError(f"Index must be of type integer, got {type(index)} instead.")
        id = self.ids[index]
        image, target = self._load_image(id), self._load_target(id)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self) -> int:
        return len(self.ids)


class CocoCaptions(CocoDetection):
    """COCO captions: items are ``(PIL RGB image, list of caption strings)``."""

    def _load_target(self, id: int) -> list[str]:
        return [ann["caption"] for ann in super()._load_target(id)]
