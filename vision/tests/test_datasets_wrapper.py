"""wrap_dataset_for_transforms_v2: VOC/COCO targets as tv_tensors, moved by v2 transforms."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from test_datasets import make_coco, make_mnist, make_voc

from tocha.vision import datasets, tv_tensors
from tocha.vision.transforms import v2


def test_voc_detection_boxes_and_labels(tmp_path):
    make_voc(tmp_path)
    ds = datasets.wrap_dataset_for_transforms_v2(datasets.VOCDetection(tmp_path, image_set="val"))
    assert isinstance(ds, datasets.VOCDetection) and len(ds) == 2
    img, target = ds[0]
    assert set(target) == {"boxes", "labels"}
    boxes = target["boxes"]
    assert isinstance(boxes, tv_tensors.BoundingBoxes)
    assert boxes.format.value == "XYXY" and boxes.canvas_size == (4, 6)
    assert boxes.tolist() == [[1, 1, 5, 3], [2, 1, 5, 3]]
    assert target["labels"].tolist() == [12, 8]  # dog, cat in VOC's category order
    full = datasets.wrap_dataset_for_transforms_v2(
        datasets.VOCDetection(tmp_path, image_set="val"), target_keys="all"
    )
    _, target = full[1]
    assert target["annotation"]["filename"] == "im2.jpg" and target["labels"].tolist() == [7]
    with pytest.raises(ValueError, match=r"Target keys \['masks'\] are not available"):
        datasets.wrap_dataset_for_transforms_v2(
            datasets.VOCDetection(tmp_path, image_set="val"), target_keys={"masks"}
        )


def test_v2_transforms_move_boxes_with_the_image(tmp_path):
    make_voc(tmp_path)
    base = datasets.VOCDetection(
        tmp_path, image_set="val", transforms=v2.RandomHorizontalFlip(p=1.0)
    )
    ds = datasets.wrap_dataset_for_transforms_v2(base)
    img, target = ds[0]
    # Width 6: x -> 6 - x, so [1, 1, 5, 3] becomes [1, 1, 5, 3] and [2, 1, 5, 3] -> [1, 1, 4, 3].
    assert target["boxes"].tolist() == [[1, 1, 5, 3], [1, 1, 4, 3]]
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes)
    # Pickling (DataLoader workers) re-wraps with the transforms intact.
    again = pickle.loads(pickle.dumps(ds))
    assert again[0][1]["boxes"].tolist() == [[1, 1, 5, 3], [1, 1, 4, 3]]


def test_voc_segmentation_mask(tmp_path):
    make_voc(tmp_path)
    ds = datasets.wrap_dataset_for_transforms_v2(
        datasets.VOCSegmentation(tmp_path, image_set="val")
    )
    _, mask = ds[0]
    assert isinstance(mask, tv_tensors.Mask) and tuple(mask.shape) == (4, 6)
    np.testing.assert_array_equal(mask.numpy(), np.ones((4, 6), np.uint8))


def test_coco_detection_xywh_to_xyxy(tmp_path):
    ann_file = make_coco(tmp_path)
    ds = datasets.wrap_dataset_for_transforms_v2(
        datasets.CocoDetection(tmp_path / "imgs", ann_file)
    )
    img, target = ds[1]
    assert set(target) == {"image_id", "boxes", "labels"} and target["image_id"] == 42
    assert target["boxes"].tolist() == [[0, 0, 2, 2], [5, 4, 8, 7]]
    assert target["boxes"].canvas_size == (8, 10) and target["labels"].tolist() == [1, 2]
    keys = datasets.wrap_dataset_for_transforms_v2(
        datasets.CocoDetection(tmp_path / "imgs", ann_file), target_keys=["iscrowd", "bbox"]
    )
    assert keys[1][1] == {"iscrowd": [0, 1], "bbox": [[0, 0, 2, 2], [5, 4, 3, 3]]}


def test_classification_passes_through_and_unknown_datasets_are_refused(tmp_path):
    make_mnist(tmp_path)
    plain = datasets.MNIST(tmp_path)
    wrapped = datasets.wrap_dataset_for_transforms_v2(datasets.MNIST(tmp_path))
    img, target = wrapped[2]
    assert target == plain[2][1] and img.tobytes() == plain[2][0].tobytes()
    assert wrapped.classes == plain.classes and len(wrapped) == 5
    with pytest.raises(TypeError, match="No wrapper exists for dataset class FakeData"):
        datasets.wrap_dataset_for_transforms_v2(datasets.FakeData(2))
    with pytest.raises(ValueError, match="`target_keys` can be None, 'all', or a collection"):
        datasets.wrap_dataset_for_transforms_v2(datasets.MNIST(tmp_path), target_keys=3)
