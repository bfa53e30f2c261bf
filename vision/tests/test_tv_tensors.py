"""tv_tensors: construction, type propagation, metadata, autograd, copying, set_return_type."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import tv_tensors
from tocha.vision.tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, KeyPoints, Mask, Video


def _boxes(**kw):
    kw.setdefault("format", "XYXY")
    kw.setdefault("canvas_size", (32, 48))
    return BoundingBoxes([[1.0, 2.0, 10.0, 20.0], [0.0, 0.0, 5.0, 5.0]], **kw)


# --- construction -----------------------------------------------------------------------------
def test_image_shapes_and_zero_copy():
    data = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    img = Image(data)
    assert isinstance(img, Image) and isinstance(img, torch.Tensor)
    assert img.shape == (2, 3, 4) and img.dtype == torch.uint8
    data[0, 0, 0] = 99  # no copy: the image sees the write
    assert img[0, 0, 0].item() == 99
    assert Image(torch.zeros(5, 6)).shape == (1, 5, 6)  # [H, W] gets a channel dim
    assert Image(torch.zeros(2, 3, 5, 6)).shape == (2, 3, 5, 6)
    with pytest.raises(ValueError, match=r"Image: .*got shape \(7,\)"):
        Image(torch.zeros(7))


def test_dtype_device_requires_grad_arguments():
    img = Image([[[1, 2], [3, 4]]], dtype=torch.float32, requires_grad=True)
    assert img.dtype == torch.float32 and img.requires_grad and img.device.type == "cpu"
    assert not Image(torch.zeros(1, 2, 2)).requires_grad


def test_image_and_mask_from_pil():
    PIL = pytest.importorskip("PIL.Image")
    arr = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    img = Image(PIL.fromarray(arr, mode="RGB"))
    np.testing.assert_array_equal(img.numpy(), arr.transpose(2, 0, 1))
    mask = Mask(PIL.fromarray(arr[:, :, 0], mode="L"))
    assert isinstance(mask, Mask) and mask.shape == (1, 2, 3)
    np.testing.assert_array_equal(mask.numpy()[0], arr[:, :, 0])


def test_video_needs_four_dims():
    assert Video(torch.zeros(2, 3, 4, 5)).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"Video: .*\(3, 4, 5\)"):
        Video(torch.zeros(3, 4, 5))


def test_bounding_boxes_metadata_and_validation():
    boxes = BoundingBoxes([1, 2, 3, 4], format="xywh", canvas_size=[10, 20])
    assert boxes.shape == (1, 4)
    assert boxes.format is BoundingBoxFormat.XYWH
    assert boxes.canvas_size == (10, 20) and boxes.clamping_mode == "soft"
    assert BoundingBoxes(boxes, format=BoundingBoxFormat.CXCYWH, canvas_size=(1, 1)).format is (
        BoundingBoxFormat.CXCYWH
    )
    with pytest.raises(ValueError, match="expected a 1D or 2D tensor, got 3D"):
        BoundingBoxes(torch.zeros(1, 2, 4), format="XYXY", canvas_size=(4, 4))
    with pytest.raises(ValueError, match="format must be one of"):
        BoundingBoxes([1, 2, 3, 4], format="XXYY", canvas_size=(4, 4))
    with pytest.raises(ValueError, match="clamping_mode"):
        BoundingBoxes([1, 2, 3, 4], format="XYXY", canvas_size=(4, 4), clamping_mode="firm")
    with pytest.raises(ValueError, match="canvas_size"):
        BoundingBoxes([1, 2, 3, 4], format="XYXY", canvas_size=5)
    free = BoundingBoxes([1, 2, 3, 4], format="XYXY", canvas_size=(4, 4), clamping_mode=None)
    assert free.clamping_mode is None


def test_rotated_formats():
    names = [f.value for f in BoundingBoxFormat]
    assert names == ["XYXY", "XYWH", "CXCYWH", "XYWHR", "CXCYWHR", "XYXYXYXY"]
    rotated = {n for n in names if tv_tensors.is_rotated_bounding_format(n)}
    assert rotated == {"XYWHR", "CXCYWHR", "XYXYXYXY"}
    assert tv_tensors.is_rotated_bounding_format(BoundingBoxFormat.CXCYWHR)
    boxes = BoundingBoxes([[5.0, 5.0, 4.0, 2.0, 30.0]], format="cxcywhr", canvas_size=(10, 10))
    assert boxes.format is BoundingBoxFormat.CXCYWHR and boxes.shape == (1, 5)
    with pytest.raises(ValueError, match="floating point"):
        BoundingBoxes([[5, 5, 4, 2, 30]], format="XYWHR", canvas_size=(10, 10))
    with pytest.raises(ValueError, match="should be str or BoundingBoxFormat"):
        tv_tensors.is_rotated_bounding_format(3)


def test_keypoints():
    pts = KeyPoints([1.0, 2.0], canvas_size=(4, 5))
    assert pts.shape == (1, 2) and pts.canvas_size == (4, 5)
    assert KeyPoints(torch.zeros(3, 4, 2), canvas_size=(4, 5)).shape == (3, 4, 2)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\), got \(3, 3\)"):
        KeyPoints(torch.zeros(3, 3), canvas_size=(4, 5))


# --- what operations return -------------------------------------------------------------------
def test_ops_return_plain_tensors_by_default():
    img = Image(torch.arange(12.0).reshape(3, 2, 2))
    for out in (img + 1, 2 * img, img.flip(-1), img[0], img.sum(), img.float(), -img, img @ img):
        assert type(out) is torch.Tensor
    np.testing.assert_array_equal((img + 1).numpy(), np.arange(12.0).reshape(3, 2, 2) + 1)
    assert all(type(p) is torch.Tensor for p in img.unbind(0))
    assert type(torch.add(img, 1)) is torch.Tensor  # module functions: plain as well


def test_forced_methods_keep_type_and_metadata():
    boxes = _boxes()
    for out in (
        boxes.clone(),
        boxes.to(torch.float64),
        boxes.detach(),
        boxes.requires_grad_(False),
    ):
        assert type(out) is BoundingBoxes
        assert out.format is BoundingBoxFormat.XYXY and out.canvas_size == (32, 48)
        np.testing.assert_array_equal(out.numpy(), boxes.numpy())
    assert boxes.to(torch.float64).dtype == torch.float64
    assert boxes.requires_grad_(False) is boxes
    pts = KeyPoints([[1.0, 2.0]], canvas_size=(3, 3))
    assert type(pts.clone()) is KeyPoints and pts.clone().canvas_size == (3, 3)


def test_inplace_ops_return_plain_alias_and_keep_object_type():
    img = Image(torch.zeros(1, 2, 2))
    out = img.add_(3)
    assert type(out) is torch.Tensor and type(img) is Image
    assert img.sum().item() == 12.0 and out.sum().item() == 12.0
    out.mul_(2)  # the alias shares memory
    assert img.sum().item() == 24.0


def test_set_return_type():
    boxes = _boxes()
    with tv_tensors.set_return_type("TVTensor"):
        moved = boxes + 1
        assert type(moved) is BoundingBoxes and moved.canvas_size == (32, 48)
        parts = boxes.unbind(0)
        assert all(type(p) is BoundingBoxes and p.format is BoundingBoxFormat.XYXY for p in parts)
        assert type(Image(torch.zeros(3, 2, 2)) * 2) is Image
    assert type(boxes + 1) is torch.Tensor
    tv_tensors.set_return_type("tvtensor")
    try:
        assert type(boxes * 2) is BoundingBoxes
    finally:
        tv_tensors.set_return_type("Tensor")
    assert type(boxes * 2) is torch.Tensor
    with pytest.raises(ValueError, match="'Tensor' or 'TVTensor'"):
        tv_tensors.set_return_type("numpy")


def test_wrap():
    boxes = _boxes(clamping_mode="hard")
    plain = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    out = tv_tensors.wrap(plain, like=boxes)
    assert type(out) is BoundingBoxes and out.format is BoundingBoxFormat.XYXY
    assert out.canvas_size == (32, 48) and out.clamping_mode == "hard"
    out = tv_tensors.wrap(plain, like=boxes, format="CXCYWH", canvas_size=(2, 2))
    assert out.format is BoundingBoxFormat.CXCYWH and out.canvas_size == (2, 2)
    img = tv_tensors.wrap(torch.zeros(3, 4, 4), like=Image(torch.zeros(3, 1, 1)), format="XYXY")
    assert type(img) is Image and img.shape == (3, 4, 4)
    pts = tv_tensors.wrap(torch.ones(5, 2), like=KeyPoints([0.0, 0.0], canvas_size=(9, 9)))
    assert type(pts) is KeyPoints and pts.canvas_size == (9, 9)
    with pytest.raises(TypeError, match="`like` to be a TVTensor"):
        tv_tensors.wrap(plain, like=plain)


# --- autograd, copies, repr -------------------------------------------------------------------
def test_gradients_flow_through_tv_tensors():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], requires_grad=True)
    img = Image(x)
    assert img.requires_grad and not img.is_leaf  # an alias of x, as torch's as_subclass
    (img * img).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())
    leaf = Image(torch.zeros(1, 2, 2), requires_grad=True)
    y = (leaf.clone() * 3).sum()
    assert y.requires_grad
    with torch.no_grad():
        assert not Image(x).requires_grad


def test_deepcopy_and_pickle_keep_type_and_metadata():
    boxes = _boxes(format="CXCYWH")
    for dup in (copy.deepcopy(boxes), pickle.loads(pickle.dumps(boxes))):
        assert type(dup) is BoundingBoxes
        assert dup.format is BoundingBoxFormat.CXCYWH and dup.canvas_size == (32, 48)
        np.testing.assert_array_equal(dup.numpy(), boxes.numpy())
        dup.zero_()
        assert boxes.sum().item() > 0  # a real copy
    img = Image(torch.ones(1, 2, 2), requires_grad=True)
    dup = copy.deepcopy(img)
    assert type(dup) is Image and dup.requires_grad and dup.is_leaf


def test_repr_and_hash():
    img = Image(torch.tensor([[1, 2], [3, 4]], dtype=torch.uint8))
    assert repr(img) == "Image([[[1, 2],\n        [3, 4]]], dtype=torch.uint8, )"
    assert repr(Mask(torch.tensor([[1, 0], [0, 1]]))) == "Mask([[1, 0],\n      [0, 1]])"
    boxes = BoundingBoxes([0, 0, 2, 2], format="XYXY", canvas_size=(3, 3))
    assert repr(boxes) == (
        "BoundingBoxes([[0, 0, 2, 2]], format=BoundingBoxFormat.XYXY, canvas_size=(3, 3), "
        "clamping_mode=soft)"
    )
    assert len({img, boxes}) == 2  # hashable by identity, like Tensor


def test_custom_tv_tensor_subclass():
    class Heatmap(tv_tensors.TVTensor):
        def __new__(cls, data):
            return cls._wrap(cls._to_tensor(data))

    hm = Heatmap(torch.zeros(2, 2))
    assert type(hm.clone()) is Heatmap and type(hm + 1) is torch.Tensor
    assert repr(hm).startswith("Heatmap([[0., 0.],")
