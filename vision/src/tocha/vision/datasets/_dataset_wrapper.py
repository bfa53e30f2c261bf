"""``wrap_dataset_for_transforms_v2``: dataset outputs as tv_tensors for ``transforms.v2``.

The wrapper turns a detection or segmentation target into tv_tensors (``BoundingBoxes``,
``Mask``, label tensors) so that a v2 transform moves boxes and masks with the image; the
dataset's own ``transform``/``target_transform``/``transforms`` then run on the wrapped sample.
Classification datasets pass through unchanged. Images stay PIL images.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from tocha.vision.datasets import VOCDetection, wrap_dataset_for_transforms_v2
    >>> root = tempfile.mkdtemp()
    >>> voc = os.path.join(root, "VOCdevkit", "VOC2012")
    >>> for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
    ...     os.makedirs(os.path.join(voc, sub))
    >>> Image.new("RGB", (8, 6)).save(os.path.join(voc, "JPEGImages", "a.jpg"))
    >>> with open(os.path.join(voc, "Annotations", "a.xml"), "w") as f:
    ...     _ = f.write("<annotation><object><name>dog</name><bndbox><xmin>1</xmin>"
    ...                 "<ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object></annotation>")
    >>> with open(os.path.join(voc, "ImageSets", "Main", "train.txt"), "w") as f:
    ...     _ = f.write("a\\n")
    >>> ds = wrap_dataset_for_transforms_v2(VOCDetection(root))
    >>> img, target = ds[0]
    >>> target["boxes"].tolist(), target["boxes"].canvas_size, target["labels"].tolist()
    ([[1, 2, 5, 6]], (6, 8), [12])
"""

from __future__ import annotations

import collections.abc
from copy import copy
from typing import Any

import tocha.core as torch

from .cifar import CIFAR10, CIFAR100
from .coco import CocoCaptions, CocoDetection
from .folder import DatasetFolder, ImageFolder
from .imagenet import ImageNet
from .mnist import MNIST
from .voc import VOCDetection, VOCSegmentation

__all__ = ["wrap_dataset_for_transforms_v2"]

VOC_DETECTION_CATEGORIES = [
    "__background__",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
_VOC_CATEGORY_TO_IDX = {name: i for i, name in enumerate(VOC_DETECTION_CATEGORIES)}


def wrap_dataset_for_transforms_v2(dataset, target_keys=None):
    """Wrap ``dataset`` so its samples are tv_tensors that ``transforms.v2`` understands.

    Args:
        dataset: an instance of a supported dataset (VOC, COCO, or a classification dataset).
        target_keys: which target entries to return: None for the defaults (VOCDetection:
            ``boxes``, ``labels``; CocoDetection: ``image_id``, ``boxes``, ``labels``),
            ``"all"``, or a collection of key names.

    The result is an instance of a subclass of ``type(dataset)``; it pickles (for DataLoader
    workers) by re-wrapping the dataset.
    """
    if not (
        target_keys is None
        or target_keys == "all"
        or (
            isinstance(target_keys, collections.abc.Collection)
            and all(isinstance(key, str) for key in target_keys)
        )
    ):
        raise ValueError(
            "`target_keys` can be None, 'all', or a collection of strings denoting the keys to "
            f"be returned, but got {target_keys}"
        )
    cls = type(
        f"Wrapped{type(dataset).__name__}", (_VisionDatasetTVTensorWrapper, type(dataset)), {}
    )
    return cls(dataset, target_keys)


class _VisionDatasetTVTensorWrapper:
    def __init__(self, dataset, target_keys) -> None:
        dataset_cls = type(dataset)
        for cls in dataset_cls.mro():
            if cls in _WRAPPER_FACTORIES:
                factory = _WRAPPER_FACTORIES[cls]
                break
        else:
            raise TypeError(
                f"No wrapper exists for dataset class {dataset_cls.__name__}. "
                "Please wrap the output yourself."
            )
        if target_keys is not None and factory is _identity_factory:
            raise ValueError(
                f"{dataset_cls.__name__} wrapped for transforms v2 does not support `target_keys`"
                f" (it is a classification dataset), but got {target_keys}"
            )
        self._dataset = dataset
        self._target_keys = target_keys
        self._wrapper = factory(dataset, target_keys)
        # The dataset's transforms must see the wrapped sample: take them over.
        self.transform, dataset.transform = dataset.transform, None
        self.target_transform, dataset.target_transform = dataset.target_transform, None
        self.transforms, dataset.transforms = dataset.transforms, None

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__") or item == "_dataset":
            raise AttributeError(item)
        return getattr(self._dataset, item)

    def __getitem__(self, idx):
        sample = self._wrapper(idx, self._dataset[idx])
        if self.transforms is not None:
            sample = self.transforms(*sample)
        return sample

    def __len__(self) -> int:
        return len(self._dataset)

    def __reduce__(self):
        dataset = copy(self._dataset)
        dataset.transform = self.transform
        dataset.transforms = self.transforms
        dataset.target_transform = self.target_transform
        return wrap_dataset_for_transforms_v2, (dataset, self._target_keys)


def _parse_target_keys(target_keys, *, available: set, default: set) -> set:
    if target_keys is None:
        return set(default)
    if target_keys == "all":
        return set(available)
    target_keys = set(target_keys)
    extra = target_keys - available
    if extra:
        raise ValueError(
            f"Target keys {sorted(extra)} are not available. "
            f"The available keys are {sorted(available)}."
        )
    return target_keys


def _dict_of_lists(list_of_dicts: list[dict]) -> dict[str, list]:
    out = collections.defaultdict(list)
    for d in list_of_dicts:
        for k, v in d.items():
            out[k].append(v)
    return dict(out)


def _identity_factory(dataset, target_keys):
    return lambda idx, sample: sample


def _voc_detection_factory(dataset, target_keys):
    from tocha.vision import tv_tensors

    keys = _parse_target_keys(
        target_keys, available={"annotation", "boxes", "labels"}, default={"boxes", "labels"}
    )

    def wrapper(idx, sample):
        image, target = sample
        objects = _dict_of_lists(target["annotation"]["object"])
        if "annotation" not in keys:
            target = {}
        if "boxes" in keys:
            boxes = [
                [int(b[part]) for part in ("xmin", "ymin", "xmax", "ymax")]
                for b in objects.get("bndbox", [])
            ]
            target["boxes"] = tv_tensors.BoundingBoxes(
                torch.tensor(boxes, dtype=torch.int64).reshape(-1, 4),
                format="XYXY",
                canvas_size=(image.height, image.width),
            )
        if "labels" in keys:
            names = objects.get("name", [])
            try:
                labels = [_VOC_CATEGORY_TO_IDX[n] for n in names]
            except KeyError as e:
                raise ValueError(
                    f"VOCDetection item {idx}: unknown VOC category {e.args[0]!r} (known: "
                    f"{', '.join(VOC_DETECTION_CATEGORIES[1:])})"
                ) from None
            target["labels"] = torch.tensor(labels, dtype=torch.int64)
        return image, target

    return wrapper


def _voc_segmentation_factory(dataset, target_keys):
    from tocha.vision import tv_tensors

    def wrapper(idx, sample):
        import numpy as np

        image, mask = sample
        return image, tv_tensors.Mask(torch.from_numpy(np.array(mask)))

    return wrapper


def _coco_detection_factory(dataset, target_keys):
    from tocha.vision import tv_tensors

    keys = _parse_target_keys(
        target_keys,
        available={"segmentation", "area", "iscrowd", "image_id", "bbox", "category_id"}
        | {"boxes", "labels"},
        default={"image_id", "boxes", "labels"},
    )

    def wrapper(idx, sample):
        image_id = dataset.ids[idx]
        image, target = sample
        if not target:
            return image, {"image_id": image_id}
        batched = _dict_of_lists(target)
        target = {}
        if "image_id" in keys:
            target["image_id"] = image_id
        if "boxes" in keys:
            xywh = torch.tensor(batched["bbox"]).reshape(-1, 4)
            xyxy = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)
            target["boxes"] = tv_tensors.BoundingBoxes(
                xyxy, format="XYXY", canvas_size=(image.height, image.width)
            )
        if "labels" in keys:
            target["labels"] = torch.tensor(batched["category_id"])
        for key in keys - {"image_id", "boxes", "labels"}:
            target[key] = batched[key]
        return image, target

    return wrapper


_WRAPPER_FACTORIES = {
    CIFAR10: _identity_factory,
    CIFAR100: _identity_factory,
    MNIST: _identity_factory,
    ImageNet: _identity_factory,
    DatasetFolder: _identity_factory,
    ImageFolder: _identity_factory,
    CocoCaptions: _identity_factory,
    VOCDetection: _voc_detection_factory,
    VOCSegmentation: _voc_segmentation_factory,
    CocoDetection: _coco_detection_factory,
}
