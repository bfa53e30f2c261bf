"""v2 colour ops (invert, posterize, solarize, autocontrast, equalize, sharpness, gamma) against
Pillow on real photos, the Random* wrappers, and MixUp / CutMix label and image mixing."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from PIL import ImageEnhance, ImageOps

import tocha.core as torch
from tocha.vision import tv_tensors
from tocha.vision.transforms import v2
from tocha.vision.transforms.v2 import functional as F


def _photo(name):
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        pytest.skip("scikit-image (its photos are the test images) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / name
    return PIL.Image.open(path).convert("RGB")


@pytest.fixture(scope="module", params=["chelsea.png", "astronaut.png", "camera.png"])
def photo(request):
    img = _photo(request.param)
    if request.param == "camera.png":
        img = img.convert("L")
    if img.width > 300:  # keep the tests quick
        img = img.crop((100, 0, 356, 256))
    return img


def _chw(pil):
    a = np.asarray(pil)
    return a.transpose(2, 0, 1) if a.ndim == 3 else a[None]


def _tensor(pil):
    return torch.from_numpy(np.ascontiguousarray(_chw(pil)))


def _maxdiff(a, b):
    return int(np.abs(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)).max())


# ----------------------------------------------------------------------------- vs Pillow


@pytest.mark.parametrize(
    "ours, pil",
    [
        (F.invert, ImageOps.invert),
        (lambda x: F.posterize(x, 3), lambda im: ImageOps.posterize(im, 3)),
        (lambda x: F.posterize(x, 1), lambda im: ImageOps.posterize(im, 1)),
        (lambda x: F.solarize(x, 100), lambda im: ImageOps.solarize(im, 100)),
        (F.autocontrast, ImageOps.autocontrast),
        (F.equalize, ImageOps.equalize),
    ],
    ids=["invert", "posterize3", "posterize1", "solarize", "autocontrast", "equalize"],
)
def test_ops_match_pillow(photo, ours, pil):
    out = ours(_tensor(photo)).numpy()
    ref = _chw(pil(photo))
    assert out.dtype == np.uint8
    assert _maxdiff(out, ref) <= 1
    # The PIL path is Pillow itself.
    assert _maxdiff(_chw(ours(photo)), ref) == 0


def test_autocontrast_exact_on_lowcontrast_photo(photo):
    # Squeeze the photo into [60, 160] so the stretch does real work.
    a = (_chw(photo).astype(np.float64) * 100 / 255 + 60).astype(np.uint8)
    ref = _chw(
        ImageOps.autocontrast(
            PIL.Image.fromarray(
                a.transpose(1, 2, 0).squeeze(-1) if a.shape[0] == 1 else a.transpose(1, 2, 0)
            )
        )
    )
    assert _maxdiff(F.autocontrast(torch.from_numpy(a)).numpy(), ref) <= 1


@pytest.mark.parametrize("factor", [0.0, 0.5, 2.0])
def test_sharpness_matches_pillow(photo, factor):
    out = F.adjust_sharpness(_tensor(photo), factor).numpy()
    ref = _chw(ImageEnhance.Sharpness(photo).enhance(factor))
    assert _maxdiff(out, ref) <= 1


@pytest.mark.parametrize("gamma, gain", [(0.5, 1.0), (2.2, 1.0), (1.0, 0.7)])
def test_adjust_gamma_uint8_matches_pil_path(photo, gamma, gain):
    out = F.adjust_gamma(_tensor(photo), gamma, gain).numpy()
    ref = _chw(F.adjust_gamma(photo, gamma, gain))
    expected_lut = np.array(
        [min(255, int(255.999 * gain * (v / 255.0) ** gamma)) for v in range(256)], np.uint8
    )
    assert _maxdiff(ref, expected_lut[_chw(photo)]) == 0
    assert _maxdiff(out, ref) <= 1


def test_float_images():
    x = torch.tensor([[[0.0, 0.3, 0.5, 0.99, 1.0]]])
    np.testing.assert_allclose(F.invert(x).numpy(), [[[1.0, 0.7, 0.5, 0.01, 0.0]]], atol=1e-6)
    np.testing.assert_allclose(F.posterize(x, 2).numpy(), [[[0.0, 0.25, 0.5, 0.75, 0.75]]])
    np.testing.assert_allclose(
        F.solarize(x, 0.5).numpy(), [[[0.0, 0.3, 0.5, 0.01, 0.0]]], atol=1e-6
    )
    np.testing.assert_allclose(F.adjust_gamma(x, 2.0).numpy(), x.numpy() ** 2, rtol=1e-6)
    y = torch.tensor([[[0.2, 0.4, 0.6]]])
    np.testing.assert_allclose(F.autocontrast(y).numpy(), [[[0.0, 0.5, 1.0]]], atol=1e-6)
    # Equalize on floats goes through uint8, as in torchvision.
    u8 = (torch.arange(256, dtype=torch.float32) / 255).reshape(1, 16, 16)
    eq = F.equalize(u8)
    ref = np.asarray(
        ImageOps.equalize(PIL.Image.fromarray((u8.numpy()[0] * 255).round().astype(np.uint8)))
    )
    assert _maxdiff(np.round(eq.numpy()[0] * 255), ref) <= 1


def test_constant_channel_and_batches():
    flat = torch.full((2, 3, 4, 4), 77, dtype=torch.uint8)
    assert F.posterize(flat, 0).unique().tolist() == [0]  # tensors accept 0 bits (Pillow: 1-8)
    assert F.autocontrast(flat).unique().tolist() == [77]
    assert F.equalize(flat).unique().tolist() == [77]
    assert F.adjust_sharpness(flat, 2.0).unique().tolist() == [77]


def test_passthrough_and_errors():
    boxes = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYXY", canvas_size=(4, 4))
    assert F.invert(boxes) is boxes
    img = tv_tensors.Image(torch.zeros(3, 4, 4, dtype=torch.uint8))
    out = F.invert(img)
    assert isinstance(out, tv_tensors.Image) and out.unique().tolist() == [255]
    with pytest.raises(ValueError, match="posterize: bits"):
        F.posterize(img, 9)
    with pytest.raises(TypeError, match="solarize: threshold"):
        F.solarize(torch.zeros(1, 2, 2), 2.0)
    with pytest.raises(ValueError, match="adjust_sharpness"):
        F.adjust_sharpness(img, -1)
    with pytest.raises(TypeError, match="adjust_sharpness"):
        F.adjust_sharpness(torch.zeros(2, 4, 4), 1.5)


# ----------------------------------------------------------------------------- Random*


def test_random_transforms_apply_with_p(photo):
    x = _tensor(photo)
    cases = [
        (v2.RandomInvert, (), F.invert),
        (v2.RandomPosterize, (4,), lambda t: F.posterize(t, 4)),
        (v2.RandomSolarize, (128,), lambda t: F.solarize(t, 128)),
        (v2.RandomAdjustSharpness, (2.0,), lambda t: F.adjust_sharpness(t, 2.0)),
        (v2.RandomAutocontrast, (), F.autocontrast),
        (v2.RandomEqualize, (), F.equalize),
    ]
    for cls, args, fn in cases:
        assert torch.equal(cls(*args, p=1.0)(x), fn(x)), cls.__name__
        assert torch.equal(cls(*args, p=0.0)(x), x), cls.__name__
    # Boxes ride along unchanged.
    boxes = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYXY", canvas_size=x.shape[-2:])
    img, b = v2.RandomInvert(p=1.0)(tv_tensors.Image(x), boxes)
    assert torch.equal(img, F.invert(x)) and torch.equal(b, boxes)


def test_random_apply_rate():
    torch.manual_seed(0)
    t = v2.RandomInvert(p=0.3)
    x = torch.zeros(1, 1, 1, dtype=torch.uint8)
    hits = sum(t(x).item() == 255 for _ in range(2000))
    assert abs(hits / 2000 - 0.3) < 0.04


# ----------------------------------------------------------------------------- MixUp / CutMix


def _onehot(y, n):
    return np.eye(n, dtype=np.float32)[np.asarray(y)]


def test_mixup_exact():
    torch.manual_seed(3)
    x = torch.rand(4, 3, 5, 6)
    y = torch.tensor([0, 2, 1, 4])
    t = v2.MixUp(alpha=0.4, num_classes=5)
    torch.manual_seed(7)
    lam = t.make_params([x])["lam"]
    torch.manual_seed(7)
    x2, y2 = t(x, y)
    assert 0.0 <= lam <= 1.0
    oh = _onehot(y.numpy(), 5)
    np.testing.assert_allclose(y2.numpy(), lam * oh + (1 - lam) * np.roll(oh, 1, 0), atol=1e-6)
    xn = x.numpy()
    np.testing.assert_allclose(
        x2.numpy(), lam * xn + (1 - lam) * np.roll(xn, 1, 0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(y2.numpy().sum(1), 1.0, atol=1e-6)


def test_cutmix_exact():
    torch.manual_seed(1)
    x = torch.rand(3, 2, 10, 12)
    y = torch.tensor([1, 0, 2])
    t = v2.CutMix(num_classes=3)
    for seed in range(10):
        torch.manual_seed(seed)
        params = t.make_params([x])
        torch.manual_seed(seed)
        out = t({"image": x, "labels": y, "meta": "kept"})
        assert out["meta"] == "kept"
        x1, y1, x2, y2 = params["box"]
        lam = params["lam"]
        assert math.isclose(lam, 1 - (x2 - x1) * (y2 - y1) / 120, abs_tol=1e-12)
        expect = x.numpy().copy()
        expect[..., y1:y2, x1:x2] = np.roll(x.numpy(), 1, 0)[..., y1:y2, x1:x2]
        np.testing.assert_array_equal(out["image"].numpy(), expect)
        # The mixed label weight equals the share of pixels that stayed.
        kept = (out["image"].numpy() == x.numpy()).all(axis=1).mean(axis=(1, 2))
        oh = _onehot(y.numpy(), 3)
        np.testing.assert_allclose(
            out["labels"].numpy(), lam * oh + (1 - lam) * np.roll(oh, 1, 0), atol=1e-6
        )
        np.testing.assert_allclose(kept, lam, atol=1e-9)


def test_mixup_cutmix_statistics_and_errors():
    torch.manual_seed(0)
    t = v2.MixUp(alpha=1.0, num_classes=2)
    lams = [t.make_params([])["lam"] for _ in range(2000)]
    # Beta(1, 1) is uniform on [0, 1]: mean 1/2, variance 1/12.
    assert abs(np.mean(lams) - 0.5) < 0.03 and abs(np.var(lams) - 1 / 12) < 0.01
    x = torch.rand(2, 3, 4, 4)
    with pytest.raises(ValueError, match="num_classes"):
        v2.MixUp()(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="batched image"):
        v2.CutMix(num_classes=2)(x[0], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        v2.MixUp(num_classes=4)(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="alpha"):
        v2.MixUp(alpha=0.0)
    # Already one-hot labels are mixed as they are.
    soft = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    _, y2 = v2.MixUp()(x, soft)
    assert y2.shape == (2, 2) and np.allclose(y2.numpy().sum(1), 1.0)


# ----------------------------------------------------------------------------- auto augment

from tocha.vision.transforms import InterpolationMode  # noqa: E402
from tocha.vision.transforms.v2 import _auto_augment as AA  # noqa: E402


@pytest.mark.parametrize("m", [0.3, -0.2])
def test_geometric_ops_match_official_autoaugment(m):
    """AutoAugment's reference ops are Pillow affine transforms with the magnitude as matrix
    entry; torchvision's atan/degrees round trip must give the same images (nearest)."""
    im = _photo("chelsea.png")
    near = PIL.Image.NEAREST
    cases = [
        ("ShearX", m, (1, m, 0, 0, 1, 0)),
        ("ShearY", m, (1, 0, 0, m, 1, 0)),
        ("TranslateX", m * 100, (1, 0, -int(m * 100), 0, 1, 0)),
        ("TranslateY", m * 100, (1, 0, 0, 0, 1, -int(m * 100))),
    ]
    for op, mag, matrix in cases:
        out = AA._apply_op(im, op, mag, InterpolationMode.NEAREST, None)
        ref = im.transform(im.size, PIL.Image.AFFINE, matrix, resample=near)
        assert _maxdiff(np.asarray(out), np.asarray(ref)) == 0, op
        # The tensor path (functional.affine's own resampler) lands on the same image up to
        # nearest-neighbour rounding: negative shears pick the neighbouring pixel on ~8%.
        t = AA._apply_op(_tensor(im), op, mag, InterpolationMode.NEAREST, None)
        assert (t.numpy() != _chw(out)).any(axis=0).mean() < (0.01 if m > 0 else 0.1), op
    rot = AA._apply_op(im, "Rotate", 30 * m, InterpolationMode.NEAREST, None)
    assert _maxdiff(np.asarray(rot), np.asarray(im.rotate(30 * m, resample=near))) == 0


def test_colour_ops_and_magnitude_spaces(photo):
    x = _tensor(photo)
    near = InterpolationMode.NEAREST
    assert torch.equal(AA._apply_op(x, "Solarize", 0.5, near, None), F.solarize(x, 127.5))
    assert torch.equal(AA._apply_op(x, "Posterize", 5.0, near, None), F.posterize(x, 5))
    assert torch.equal(AA._apply_op(x, "Sharpness", -0.3, near, None), F.adjust_sharpness(x, 0.7))
    assert torch.equal(AA._apply_op(x, "Color", 0.4, near, None), F.adjust_saturation(x, 1.4))
    assert torch.equal(AA._apply_op(x, "Identity", 0.0, near, None), x)
    space = AA._space_autoaugment(10, 331, 662)
    assert space["Posterize"][0].tolist() == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
    np.testing.assert_allclose(space["TranslateX"][0][-1], 300.0, rtol=1e-6)  # 150/331 * width
    np.testing.assert_allclose(space["TranslateY"][0][-1], 150.0, rtol=1e-6)
    assert AA._posterize_bits(8, 6, 31)[[0, 15, 30]].tolist() == [8, 5, 2]
    assert AA._posterize_bits(4, 4, 10).tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]
    for policy, subs in AA._POLICIES.items():
        assert len(subs) == 25, policy
        for sub in subs:
            for op, p, bin_id in sub:
                assert 0.0 <= p <= 1.0 and op in space
                assert (bin_id is None) == (space[op][0] is None)


def _replay_autoaugment(policy, x, seed):
    """The ops AutoAugment applies for ``seed``, replayed from the same RNG draws."""
    torch.manual_seed(seed)
    subs = AA._POLICIES[policy]
    sub = subs[int(torch.randint(len(subs), (1,)).item())]
    probs = torch.rand(2).tolist()
    signs = torch.randint(2, (2,)).tolist()
    h, w = x.shape[-2:]
    space = AA._space_autoaugment(10, h, w)
    for i, (op, p, bin_id) in enumerate(sub):
        if probs[i] <= p:
            mag = 0.0 if bin_id is None else float(space[op][0][bin_id])
            if space[op][1] and signs[i] == 0:
                mag = -mag
            x = AA._apply_op(x, op, mag, InterpolationMode.NEAREST, None)
    return x


@pytest.mark.parametrize("policy", list(AA.AutoAugmentPolicy))
def test_autoaugment_policies(photo, policy):
    x = _tensor(photo)
    t = v2.AutoAugment(policy)
    changed = 0
    for seed in range(6):
        torch.manual_seed(seed)
        out = t(x)
        assert out.dtype == torch.uint8 and out.shape == x.shape
        assert torch.equal(out, _replay_autoaugment(policy, x, seed))
        changed += not torch.equal(out, x)
    assert changed >= 2
    # A label next to the image passes through; boxes are refused.
    torch.manual_seed(0)
    img, label = t(tv_tensors.Image(x), 3)
    assert label == 3 and isinstance(img, tv_tensors.Image)
    boxes = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYXY", canvas_size=x.shape[-2:])
    with pytest.raises(TypeError, match="bounding boxes"):
        t(tv_tensors.Image(x), boxes)
    with pytest.raises(ValueError, match="policy"):
        v2.AutoAugment("imagenet21k")


def test_randaugment_trivialaugment_pil_and_tensor(photo):
    x = _tensor(photo)
    for t in (v2.RandAugment(), v2.RandAugment(num_ops=4, magnitude=30), v2.TrivialAugmentWide()):
        changed = 0
        for seed in range(5):
            torch.manual_seed(seed)
            out = t(x)
            torch.manual_seed(seed)
            out_pil = t(photo)
            assert out.shape == x.shape and out.dtype == torch.uint8
            # Same RNG draws -> same ops; the PIL and tensor kernels differ by at most a level
            # except where geometry resamples (compare only the fraction of differing pixels).
            diff = np.abs(_chw(out_pil).astype(int) - out.numpy().astype(int))
            assert (diff > 1).mean() < 0.02, type(t).__name__
            changed += not torch.equal(out, x)
        assert changed >= 3, type(t).__name__
    with pytest.raises(ValueError, match="magnitude"):
        v2.RandAugment(magnitude=31)


def test_augmix_mixing_exact(photo):
    x = _tensor(photo)
    t = v2.AugMix(mixture_width=3, chain_depth=1, alpha=0.7)
    t._space = lambda h, w: {"Equalize": (None, False)}  # one known op
    for seed in range(3):
        torch.manual_seed(seed)
        out = t(x)
        torch.manual_seed(seed)
        m = AA._sample_dirichlet([0.7, 0.7])
        w = AA._sample_dirichlet([0.7] * 3) * m[1]
        assert math.isclose(w.sum(), m[1], rel_tol=1e-12)
        eq = F.equalize(x).numpy().astype(np.float32)
        expect = x.numpy().astype(np.float32) * np.float32(m[0])
        for wi in w:
            expect += eq * np.float32(wi)
        assert _maxdiff(out.numpy(), expect.astype(np.uint8)) == 0
    torch.manual_seed(0)
    out = v2.AugMix()(photo)
    assert isinstance(out, PIL.Image.Image) and out.size == photo.size
    with pytest.raises(ValueError, match="severity"):
        v2.AugMix(severity=11)
