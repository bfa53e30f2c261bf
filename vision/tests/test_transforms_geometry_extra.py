"""v2 geometry extras: rotate/affine/perspective vs Pillow, blur vs a NumPy reference of
torchvision's separable kernel, boxes vs transformed corners and masks, crops, noise, erasing."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

import tocha.core as torch
from tocha.vision import tv_tensors
from tocha.vision.transforms import InterpolationMode, v2
from tocha.vision.transforms.v2 import functional as F

NEAREST, BILINEAR = InterpolationMode.NEAREST, InterpolationMode.BILINEAR


def _photo(name):
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        pytest.skip("scikit-image (its photos are the test images) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / name
    return PIL.Image.open(path).convert("RGB")


@pytest.fixture(scope="module")
def photo():
    return _photo("chelsea.png").crop((100, 50, 260, 170))  # 160 x 120, even and odd-free


def _chw(pil):
    a = np.asarray(pil)
    return a.transpose(2, 0, 1) if a.ndim == 3 else a[None]


def _compare_pil(ours, ref, interp, border=3):
    """Interior pixels: nearest agrees except at rounding ties, bilinear within 1 level."""
    diff = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
    # Only pixels whose whole neighbourhood is inside both images (Pillow treats edges apart).
    inside = (ours.sum(0) > 0) & (ref.sum(0) > 0)
    for _ in range(border):
        inside[1:-1, 1:-1] &= (
            inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:]
        )
        inside[[0, -1], :] = False
        inside[:, [0, -1]] = False
    assert inside.sum() > 0.3 * inside.size
    d = diff[:, inside]
    if interp is NEAREST:
        assert (d == 0).mean() > 0.995, (d != 0).mean()
    else:
        assert d.max() <= 1, d.max()


@pytest.mark.parametrize("interp", [NEAREST, BILINEAR])
@pytest.mark.parametrize("angle", [30.0, -47.5, 90.0])
@pytest.mark.parametrize("expand", [False, True])
def test_rotate_tensor_matches_pillow(photo, interp, angle, expand):
    ref = _chw(F.rotate(photo, angle, interp, expand=expand))
    ours = F.rotate(torch.from_numpy(_chw(photo).copy()), angle, interp, expand=expand).numpy()
    assert ours.shape == ref.shape
    _compare_pil(ours, ref, interp)


def test_rotate_center_and_fill(photo):
    t = torch.from_numpy(_chw(photo).copy())
    ref = _chw(F.rotate(photo, 20, NEAREST, center=[30, 40], fill=[10, 20, 30]))
    ours = F.rotate(t, 20, NEAREST, center=[30, 40], fill=[10, 20, 30]).numpy()
    assert (ours == ref).mean() > 0.995
    # The corner is filled with the fill colour in both.
    assert ours[:, -1, 0].tolist() == [10, 20, 30] == ref[:, -1, 0].tolist()


@pytest.mark.parametrize("interp", [NEAREST, BILINEAR])
@pytest.mark.parametrize(
    "params",
    [
        dict(angle=25.0, translate=[7, -4], scale=1.2, shear=[10.0, -5.0]),
        dict(angle=-60.0, translate=[0, 3], scale=0.7, shear=[0.0, 15.0]),
    ],
)
def test_affine_tensor_matches_pillow(photo, interp, params):
    ref = _chw(F.affine(photo, **params, interpolation=interp))
    ours = F.affine(torch.from_numpy(_chw(photo).copy()), **params, interpolation=interp).numpy()
    _compare_pil(ours, ref, interp)


@pytest.mark.parametrize("interp", [NEAREST, BILINEAR])
def test_perspective_tensor_matches_pillow(photo, interp):
    w, h = photo.size
    start = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
    end = [[10, 5], [w - 20, 12], [w - 5, h - 9], [3, h - 25]]
    ref = _chw(F.perspective(photo, start, end, interp))
    ours = F.perspective(torch.from_numpy(_chw(photo).copy()), start, end, interp).numpy()
    _compare_pil(ours, ref, interp)


def test_affine_float_bilinear_reference():
    # The identity keeps every pixel; 180 degrees about the centre reverses both axes.
    a = np.random.default_rng(0).random((2, 5, 6)).astype(np.float32)
    out = F.affine(torch.from_numpy(a), 0.0, [0, 0], 1.0, [0.0, 0.0], BILINEAR)
    np.testing.assert_allclose(out.numpy(), a, atol=1e-6)
    out = F.rotate(torch.from_numpy(a), 180.0, BILINEAR).numpy()
    np.testing.assert_allclose(out, a[:, ::-1, ::-1], atol=1e-5)


def _box_of_mask(m):
    ys, xs = np.nonzero(m)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.parametrize(
    "op",
    [
        lambda x: F.rotate(x, 35.0),
        lambda x: F.rotate(x, -70.0, expand=True),
        lambda x: F.affine(x, 15.0, [5, -3], 0.9, [8.0, 4.0]),
        lambda x: F.perspective(
            x, [[0, 0], [59, 0], [59, 49], [0, 49]], [[4, 2], [55, 6], [57, 45], [2, 40]]
        ),
    ],
)
def test_boxes_follow_masks(op):
    """Transformed boxes enclose the transformed rectangle mask (to within a pixel)."""
    m = np.zeros((1, 50, 60), np.uint8)
    m[0, 12:30, 20:41] = 1
    mask = tv_tensors.Mask(torch.from_numpy(m))
    boxes = tv_tensors.BoundingBoxes(
        [[20.0, 12.0, 41.0, 30.0]], format="XYXY", canvas_size=(50, 60)
    )
    om, ob = op(mask), op(boxes)
    assert tuple(ob.canvas_size) == tuple(om.shape[-2:])
    np.testing.assert_allclose(ob.numpy()[0], _box_of_mask(om.numpy()[0]), atol=1.01)


def test_rotate_boxes_exact_and_formats():
    # 90 degrees counter-clockwise on a 10 x 20 (h x w) canvas around its centre (10, 5).
    b = tv_tensors.BoundingBoxes([[12.0, 1.0, 16.0, 3.0]], format="XYXY", canvas_size=(10, 20))
    out = F.rotate(b, 90.0)
    # (x, y) -> (cx + (y - cy), cy - (x - cx)): x in [6, 8], y in [-1, 3] clamped to [0, 3].
    np.testing.assert_allclose(out.numpy(), [[6.0, 0.0, 8.0, 3.0]], atol=1e-9)
    out = F.rotate(b, 90.0, expand=True)
    assert out.canvas_size == (20, 10)
    np.testing.assert_allclose(out.numpy(), [[1.0, 4.0, 3.0, 8.0]], atol=1e-9)
    cx = F.convert_bounding_box_format(b, new_format="CXCYWH")
    out_c = F.rotate(cx, 90.0)
    assert out_c.format == tv_tensors.BoundingBoxFormat.CXCYWH
    np.testing.assert_allclose(out_c.numpy(), [[7.0, 1.5, 2.0, 3.0]], atol=1e-9)


def _ref_blur(a, kx, ky, sx, sy):
    def k1(k, s):
        x = np.arange(k) - (k - 1) / 2
        p = np.exp(-0.5 * (x / s) ** 2)
        return p / p.sum()

    kern = np.outer(k1(ky, sy), k1(kx, sx))
    p = np.pad(a.astype(np.float64), [(0, 0), (ky // 2,) * 2, (kx // 2,) * 2], mode="reflect")
    h, w = a.shape[-2:]
    out = np.zeros(a.shape, np.float64)
    for i in range(ky):
        for j in range(kx):
            out += kern[i, j] * p[:, i : i + h, j : j + w]
    return out


@pytest.mark.parametrize("ks, sigma", [((5, 3), (1.5, 0.7)), (7, None), ((3, 9), 2.0)])
def test_gaussian_blur_matches_reference(photo, ks, sigma):
    a = _chw(photo).copy()
    out = F.gaussian_blur(torch.from_numpy(a), ks, sigma).numpy()
    kx, ky = (ks, ks) if isinstance(ks, int) else ks
    if sigma is None:
        sx, sy = (0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in (kx, ky))
    else:
        sx, sy = (sigma, sigma) if isinstance(sigma, float) else sigma
    ref = _ref_blur(a, kx, ky, sx, sy)
    # uint8 rounds the float32 result: at most one level away from the float64 reference.
    assert np.abs(out.astype(np.float64) - ref).max() <= 0.5 + 1e-3
    f = F.gaussian_blur(torch.from_numpy(a.astype(np.float32) / 255), ks, sigma).numpy()
    np.testing.assert_allclose(f, ref / 255, atol=1e-5)
    # PIL goes through the same tensor kernel.
    pil = np.asarray(F.gaussian_blur(photo, ks, sigma)).transpose(2, 0, 1)
    np.testing.assert_array_equal(pil, out)


def test_elastic_identity_and_shift():
    a = np.arange(30, dtype=np.float32).reshape(1, 5, 6)
    d = torch.zeros(1, 5, 6, 2)
    np.testing.assert_allclose(F.elastic(torch.from_numpy(a), d).numpy(), a)
    d[..., 1] = 2 / 5  # one pixel down in y
    out = F.elastic(torch.from_numpy(a), d, NEAREST, fill=-1).numpy()
    np.testing.assert_array_equal(out[:, :-1], a[:, 1:])
    assert (out[:, -1] == -1).all()
    b = tv_tensors.BoundingBoxes([[1.0, 1.0, 4.0, 3.0]], format="XYXY", canvas_size=(5, 6))
    # Content moves up by one pixel, so does the box.
    np.testing.assert_allclose(F.elastic(b, d).numpy(), [[1.0, 0.0, 4.0, 2.0]])


def test_five_and_ten_crop(photo):
    a = torch.from_numpy(_chw(photo).copy())
    h, w = a.shape[-2:]
    crops = F.five_crop(a, [40, 50])
    ref = [a[..., :40, :50], a[..., :40, w - 50 :], a[..., h - 40 :, :50]]
    ref += [a[..., h - 40 :, w - 50 :], a[..., 40:80, 55:105]]
    for c, r in zip(crops, ref):
        np.testing.assert_array_equal(c.numpy(), r.numpy())
    pil_crops = F.five_crop(photo, [40, 50])
    for c, r in zip(pil_crops, ref):
        np.testing.assert_array_equal(_chw(c), r.numpy())
    ten = F.ten_crop(a, 30, vertical_flip=True)
    assert len(ten) == 10
    np.testing.assert_array_equal(ten[5].numpy(), a.numpy()[..., ::-1, :][..., :30, :30])
    with pytest.raises(ValueError, match="bigger than input"):
        F.five_crop(a, 500)
    assert len(v2.TenCrop(8)(a)) == 10
    with pytest.raises(TypeError, match="FiveCrop"):
        v2.FiveCrop(8)(a, tv_tensors.Mask(torch.zeros(1, h, w)))


def test_erase_and_random_erasing():
    a = torch.ones(3, 6, 8)
    out = F.erase(a, 1, 2, 3, 4, torch.tensor([0.0, 0.5, 1.0])[:, None, None])
    ref = np.ones((3, 6, 8), np.float32)
    ref[:, 1:4, 2:6] = np.array([0.0, 0.5, 1.0])[:, None, None]
    np.testing.assert_array_equal(out.numpy(), ref)
    assert a.min().item() == 1.0  # not in place
    torch.manual_seed(3)
    out = v2.RandomErasing(p=1.0, value=0.25)(torch.ones(3, 32, 32))
    region = out.numpy() != 1.0
    assert region.any() and (out.numpy()[region] == 0.25).all()
    ys, xs = np.nonzero(region[0])
    # One rectangle, its area within the scale range.
    assert region[0].sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert 0.02 * 1024 * 0.5 < region[0].sum() < 0.33 * 1024 * 1.5
    m = tv_tensors.Mask(torch.ones(32, 32))
    _, m2 = v2.RandomErasing(p=1.0)(torch.ones(3, 32, 32), m)
    assert m2.sum().item() == 1024


def test_gaussian_noise():
    torch.manual_seed(0)
    out = F.gaussian_noise(torch.full((3, 64, 64), 0.5), mean=0.1, sigma=0.05).numpy()
    assert abs(out.mean() - 0.6) < 0.01 and abs(out.std() - 0.05) < 0.005
    out = F.gaussian_noise(torch.full((1, 64, 64), 0.99), sigma=0.5).numpy()
    assert out.max() <= 1.0 and out.min() >= 0.0
    with pytest.raises(ValueError, match="float"):
        F.gaussian_noise(torch.zeros(1, 2, 2, dtype=torch.uint8))
    torch.manual_seed(1)
    a = v2.GaussianNoise(sigma=0.2, clip=False)(torch.zeros(1, 8, 8))
    torch.manual_seed(1)
    np.testing.assert_allclose(a.numpy(), (torch.randn(1, 8, 8) * 0.2).numpy(), atol=1e-7)


def test_box_utilities():
    b = tv_tensors.BoundingBoxes([[-3, 2, 5, 12], [1, 1, 4, 4]], format="XYXY", canvas_size=(10, 8))
    c = v2.ClampBoundingBoxes()(b)
    assert c.tolist() == [[0, 2, 5, 10], [1, 1, 4, 4]]
    x = v2.ConvertBoundingBoxFormat("XYWH")(b)
    assert x.format == tv_tensors.BoundingBoxFormat.XYWH and x.tolist()[1] == [1, 1, 3, 3]
    back = F.convert_bounding_box_format(x, new_format="XYXY")
    assert back.tolist() == b.tolist()
    plain = F.convert_bounding_box_format(
        torch.tensor([[1.0, 2.0, 3.0, 4.0]]), old_format="XYWH", new_format="CXCYWH"
    )
    assert type(plain) is torch.Tensor and plain.tolist() == [[2.5, 4.0, 3.0, 4.0]]


def test_sanitize_bounding_boxes():
    b = tv_tensors.BoundingBoxes(
        [[0, 0, 4, 4], [1, 1, 1, 3], [2, 2, 9, 5], [-1, 0, 3, 3], [3, 3, 5, 5]],
        format="XYXY",
        canvas_size=(8, 8),
    )
    masks = tv_tensors.Mask(torch.arange(5).reshape(5, 1, 1).expand(5, 8, 8).contiguous())
    img = torch.zeros(3, 8, 8)
    out_img, target = v2.SanitizeBoundingBoxes(min_area=3)(
        img, {"boxes": b, "labels": torch.tensor([10, 11, 12, 13, 14]), "masks": masks}
    )
    assert out_img is img
    assert target["boxes"].tolist() == [[0, 0, 4, 4], [3, 3, 5, 5]]
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes)
    assert target["labels"].tolist() == [10, 14]
    assert isinstance(target["masks"], tv_tensors.Mask)
    assert target["masks"][:, 0, 0].tolist() == [0, 4]
    with pytest.raises(ValueError, match="labels"):
        v2.SanitizeBoundingBoxes()({"boxes": b})
    assert len(v2.SanitizeBoundingBoxes(labels_getter=None)(b)) == 2
    # An area of 4 falls below min_area=5.
    assert v2.SanitizeBoundingBoxes(min_area=5, labels_getter=None)(b).tolist() == [[0, 0, 4, 4]]


def test_random_classes_keep_sample_consistent(photo):
    torch.manual_seed(0)
    img = tv_tensors.Image(torch.from_numpy(_chw(photo).copy()))
    h, w = img.shape[-2:]
    m = np.zeros((1, h, w), np.uint8)
    m[0, 30:70, 40:100] = 1
    mask = tv_tensors.Mask(torch.from_numpy(m))
    boxes = tv_tensors.BoundingBoxes([[40.0, 30.0, 100.0, 70.0]], format="XYXY", canvas_size=(h, w))
    for t in [
        v2.RandomRotation(40, expand=True),
        v2.RandomAffine(30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-10, 10, -5, 5)),
        v2.RandomPerspective(0.4, p=1.0),
    ]:
        oi, ob, om = t(img, boxes, mask)
        assert isinstance(oi, tv_tensors.Image) and isinstance(om, tv_tensors.Mask)
        assert tuple(oi.shape[-2:]) == tuple(om.shape[-2:]) == tuple(ob.canvas_size)
        np.testing.assert_allclose(ob.numpy()[0], _box_of_mask(om.numpy()[0]), atol=1.01)
    torch.manual_seed(0)
    a = v2.RandomRotation((10, 20))(img)
    torch.manual_seed(0)
    angle = torch.empty(1).uniform_(10.0, 20.0).item()
    np.testing.assert_array_equal(a.numpy(), F.rotate(img, angle).numpy())


def test_elastic_transform_and_gaussian_blur_classes(photo):
    torch.manual_seed(0)
    img = torch.from_numpy(_chw(photo).copy())
    out = v2.ElasticTransform(alpha=30.0, sigma=4.0)(img)
    assert out.shape == img.shape and out.dtype == img.dtype
    diff = np.abs(out.numpy().astype(int) - img.numpy().astype(int))
    assert 0 < diff.mean() < 40  # a smooth, moderate warp
    torch.manual_seed(0)
    b = v2.GaussianBlur(5, sigma=(0.5, 1.5))(img)
    torch.manual_seed(0)
    s = torch.empty(1).uniform_(0.5, 1.5).item()
    np.testing.assert_array_equal(b.numpy(), F.gaussian_blur(img, 5, s).numpy())
    with pytest.raises(ValueError, match="odd"):
        v2.GaussianBlur(4)
    assert math.isclose(v2.GaussianBlur(3, 0.7).sigma[0], 0.7)
