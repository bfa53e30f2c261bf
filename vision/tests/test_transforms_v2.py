"""transforms.v2 classes: parameters drawn once per sample, seeds, containers, classic names."""

from __future__ import annotations

import math

import numpy as np
import PIL.Image
import pytest

import tocha.core as torch
from tocha.vision import transforms
from tocha.vision.transforms import v2
from tocha.vision.transforms.v2 import functional as F


def _img(h=20, w=30, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8))


def test_seed_makes_random_transforms_reproducible():
    t = v2.Compose(
        [v2.RandomResizedCrop(8), v2.RandomHorizontalFlip(), v2.ColorJitter(0.4, 0.4, 0.4, 0.1)]
    )
    x = _img()
    torch.manual_seed(3)
    a = [t(x).numpy() for _ in range(5)]
    torch.manual_seed(3)
    b = [t(x).numpy() for _ in range(5)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(a[0], u) for u in a[1:])


def test_random_resized_crop_params_and_application():
    t = v2.RandomResizedCrop(8, scale=(0.2, 0.9), ratio=(0.5, 2.0))
    torch.manual_seed(0)
    for _ in range(50):
        p = t.make_params([_img(40, 60)])
        area = p["height"] * p["width"]
        assert 0 <= p["top"] <= 40 - p["height"] and 0 <= p["left"] <= 60 - p["width"]
        # Rounding of h and w moves area and ratio a little outside the drawn ranges.
        assert 0.2 * 2400 * 0.8 <= area <= 0.9 * 2400 * 1.2
        assert 0.5 * 0.7 <= p["width"] / p["height"] <= 2.0 * 1.4
    x = _img(40, 60)
    torch.manual_seed(5)
    p = t.make_params([x])
    torch.manual_seed(5)
    out = t(x)
    ref = F.resize(F.crop(x, p["top"], p["left"], p["height"], p["width"]), [8, 8])
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_random_resized_crop_fallback_is_central():
    # No crop can satisfy a ratio of 10 on a square image: the central fallback is used.
    t = v2.RandomResizedCrop(4, scale=(0.9, 1.0), ratio=(10.0, 11.0))
    p = t.make_params([_img(20, 20)])
    assert p == {"top": 9, "left": 0, "height": 2, "width": 20}


def test_flip_probabilities_and_pil():
    x = _img()
    np.testing.assert_array_equal(v2.RandomHorizontalFlip(1.0)(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(v2.RandomVerticalFlip(1.0)(x).numpy(), x.numpy()[:, ::-1])
    assert v2.RandomHorizontalFlip(0.0)(x) is x
    torch.manual_seed(0)
    flips = [
        not np.array_equal(v2.RandomHorizontalFlip()(x).numpy(), x.numpy()) for _ in range(200)
    ]
    assert 70 < sum(flips) < 130
    pil = PIL.Image.fromarray(x.numpy().transpose(1, 2, 0))
    out = v2.RandomHorizontalFlip(1.0)(pil)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(pil)[:, ::-1])
    with pytest.raises(ValueError, match="probability"):
        v2.RandomHorizontalFlip(1.5)


def test_same_params_for_every_input_of_a_sample():
    # Two plain tensors: only the first is the image; a PIL image makes tensors pass through.
    x = _img()
    other = torch.zeros(3, 20, 30)
    out, passed = v2.RandomCrop(5)(x, other)
    assert tuple(out.shape) == (3, 5, 5) and passed is other
    pil = PIL.Image.fromarray(x.numpy().transpose(1, 2, 0))
    sample = {"image": pil, "copy": pil.copy(), "label": 3, "mask_like": x}
    torch.manual_seed(1)
    out = v2.RandomResizedCrop(6)(sample)
    assert out["label"] == 3 and out["mask_like"] is x
    np.testing.assert_array_equal(np.asarray(out["image"]), np.asarray(out["copy"]))
    assert out["image"].size == (6, 6)


def test_random_crop_padding_and_pad_if_needed():
    x = _img(4, 5)
    torch.manual_seed(0)
    out = v2.RandomCrop(6, pad_if_needed=True, fill=0)(x)
    assert tuple(out.shape) == (3, 6, 6)
    t = v2.RandomCrop([6, 7], padding=1)
    p = t.make_params([x])
    assert p["padding"] == [1, 1, 1, 1] and p["top"] == 0 and p["left"] == 0
    np.testing.assert_array_equal(t(x).numpy(), F.pad(x, 1).numpy())
    with pytest.raises(ValueError, match="larger"):
        v2.RandomCrop(10)(x)
    torch.manual_seed(2)
    big = _img(10, 10)
    tops = {v2.RandomCrop(3).make_params([big])["top"] for _ in range(100)}
    assert tops == set(range(8))


def test_color_jitter_applies_drawn_factors_in_drawn_order():
    x = _img()
    t = v2.ColorJitter(brightness=0.5, contrast=(0.8, 1.2), saturation=0.3, hue=0.2)
    torch.manual_seed(7)
    p = t.make_params([x])
    assert sorted(p["fn_idx"]) == [0, 1, 2, 3]
    assert 0.5 <= p["brightness_factor"] <= 1.5 and 0.8 <= p["contrast_factor"] <= 1.2
    assert 0.7 <= p["saturation_factor"] <= 1.3 and -0.2 <= p["hue_factor"] <= 0.2
    ref = x
    fns = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
    keys = ["brightness_factor", "contrast_factor", "saturation_factor", "hue_factor"]
    for i in p["fn_idx"]:
        ref = fns[i](ref, p[keys[i]])
    torch.manual_seed(7)
    np.testing.assert_array_equal(t(x).numpy(), ref.numpy())
    assert v2.ColorJitter(brightness=0).brightness is None
    with pytest.raises(ValueError, match="hue"):
        v2.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="non-negative"):
        v2.ColorJitter(brightness=-1)


def test_grayscale_transforms():
    x = _img()
    assert tuple(v2.Grayscale()(x).shape) == (1, 20, 30)
    g3 = v2.RandomGrayscale(p=1.0)(x)
    np.testing.assert_array_equal(g3.numpy(), F.rgb_to_grayscale(x, 3).numpy())
    assert v2.RandomGrayscale(p=0.0)(x) is x


def test_containers():
    x = _img()
    torch.manual_seed(0)
    applied = [v2.RandomApply([v2.RandomHorizontalFlip(1.0)], p=0.3)(x) for _ in range(300)]
    n = sum(not np.array_equal(a.numpy(), x.numpy()) for a in applied)
    assert 60 < n < 120
    choice = v2.RandomChoice([v2.Resize(4), v2.Resize(5)], p=[0.0, 1.0])
    assert tuple(choice(x).shape) == (3, 5, 7)
    order = v2.RandomOrder([v2.CenterCrop(10), v2.Resize([4, 4])])
    torch.manual_seed(1)
    # Crop-then-resize gives 4x4; resize-then-crop pads the 4x4 up to 10x10.
    shapes = {tuple(order(x).shape) for _ in range(20)}
    assert shapes == {(3, 4, 4), (3, 10, 10)}
    lam = v2.Lambda(lambda v: v + 1, int)
    assert lam((1, "a")) == (2, "a")
    with pytest.raises(TypeError, match="callable"):
        v2.Lambda(3)
    with pytest.raises(ValueError, match="at least one"):
        v2.Compose([])


def test_compose_multiple_inputs_and_conversion_chain():
    x = _img()
    pil = PIL.Image.fromarray(x.numpy().transpose(1, 2, 0))
    t = v2.Compose(
        [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.25] * 3)]
    )
    out = t(pil)
    np.testing.assert_allclose(out.numpy(), (x.numpy() / 255.0 - 0.5) / 0.25, rtol=1e-5, atol=1e-6)
    a, b = v2.Compose([v2.Resize(10), v2.CenterCrop(8)])(pil, 5)
    assert a.size == (8, 8) and b == 5
    assert isinstance(v2.ToPILImage()(x), PIL.Image.Image)
    np.testing.assert_array_equal(v2.PILToTensor()(pil).numpy(), x.numpy())
    tt = v2.ToTensor()(pil)
    assert tt.dtype == torch.float32 and float(tt.max().item()) <= 1.0
    assert v2.ConvertImageDtype()(x).dtype == torch.float32
    assert v2.ToDtype(torch.float64)(x).dtype == torch.float64
    assert v2.ToDtype({torch.Tensor: torch.int16})(x).dtype == torch.int16


def test_resize_pad_center_crop_classes():
    x = _img()
    assert tuple(v2.Resize(10)(x).shape) == (3, 10, 15)
    assert tuple(v2.Resize([7, 9], antialias=False)(x).shape) == (3, 7, 9)
    assert tuple(v2.Resize(None, max_size=15)(x).shape) == (3, 10, 15)
    np.testing.assert_array_equal(
        v2.Pad([1, 2], padding_mode="edge")(x).numpy(),
        np.pad(x.numpy(), [(0, 0), (2, 2), (1, 1)], mode="edge"),
    )
    assert tuple(v2.CenterCrop([5, 6])(x).shape) == (3, 5, 6)
    with pytest.raises(ValueError, match="size"):
        v2.Resize([1, 2, 3])


def test_classic_namespace_mirrors_torchvision_v1():
    names = [
        "Compose",
        "ToTensor",
        "PILToTensor",
        "ConvertImageDtype",
        "ToPILImage",
        "Normalize",
        "Resize",
        "CenterCrop",
        "Pad",
        "Lambda",
        "RandomApply",
        "RandomChoice",
        "RandomOrder",
        "RandomCrop",
        "RandomHorizontalFlip",
        "RandomVerticalFlip",
        "RandomResizedCrop",
        "ColorJitter",
        "Grayscale",
        "RandomGrayscale",
        "InterpolationMode",
    ]
    for name in names:
        assert hasattr(transforms, name), name
    for name in [
        "to_tensor",
        "to_pil_image",
        "hflip",
        "vflip",
        "resize",
        "crop",
        "center_crop",
        "pad",
        "normalize",
        "adjust_hue",
        "rgb_to_grayscale",
        "get_image_size",
    ]:
        assert hasattr(transforms.functional, name), name


def test_classic_imagenet_pipeline_on_pil():
    rng = np.random.default_rng(0)
    pil = PIL.Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    t = transforms.Compose(
        [
            transforms.RandomResizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]
    )
    torch.manual_seed(0)
    out = t(pil)
    assert tuple(out.shape) == (3, 224, 224) and out.dtype == torch.float32
    lo = (0 - 0.485) / 0.229
    assert float(out.min().item()) >= min(lo, (0 - 0.406) / 0.225) - 1e-6
    assert math.isfinite(float(out.sum().item()))


# ----------------------------------------------------------------------------- tv_tensors

tv_tensors = pytest.importorskip("tocha.vision.tv_tensors")


def _box_sample():
    image = tv_tensors.Image(_img(20, 30))
    mask = np.zeros((20, 30), np.uint8)
    mask[4:10, 6:16] = 1  # the object covered by the first box
    boxes = tv_tensors.BoundingBoxes(
        [[6, 4, 16, 10], [0, 0, 30, 20]], format="XYXY", canvas_size=(20, 30)
    )
    return image, tv_tensors.Mask(torch.from_numpy(mask)), boxes


def _mask_bbox(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_functional_geometry_on_boxes_and_masks():
    image, mask, boxes = _box_sample()
    flipped = F.horizontal_flip(boxes)
    assert isinstance(flipped, tv_tensors.BoundingBoxes)
    assert flipped.tolist() == [[14, 4, 24, 10], [0, 0, 30, 20]]
    assert _mask_bbox(F.horizontal_flip(mask).numpy()) == flipped.tolist()[0]
    assert F.vertical_flip(boxes).tolist() == [[6, 10, 16, 16], [0, 0, 30, 20]]
    cropped = F.crop(boxes, 2, 8, 10, 10)
    assert cropped.canvas_size == (10, 10) and cropped.tolist() == [[0, 2, 8, 8], [0, 0, 10, 10]]
    assert _mask_bbox(F.crop(mask, 2, 8, 10, 10).numpy()) == cropped.tolist()[0]
    padded = F.pad(boxes, [1, 2, 3, 4])
    assert padded.canvas_size == (26, 34) and padded.tolist()[0] == [7, 6, 17, 12]
    resized = F.resize(boxes, [40, 15])
    assert resized.canvas_size == (40, 15) and resized.tolist()[0] == [3, 8, 8, 20]
    rmask = F.resize(mask, [40, 15], antialias=True)
    assert isinstance(rmask, tv_tensors.Mask) and set(np.unique(rmask.numpy())) == {0, 1}
    assert _mask_bbox(rmask.numpy()) == [3, 8, 8, 20]
    img = F.resize(image, [10, 10])
    assert isinstance(img, tv_tensors.Image) and tuple(img.shape) == (3, 10, 10)
    # Colour ops and normalisation leave boxes and masks alone.
    assert F.adjust_brightness(boxes, 2.0) is boxes and F.adjust_hue(mask, 0.1) is mask


def test_box_formats_round_trip_through_geometry():
    xyxy = tv_tensors.BoundingBoxes([[6.0, 4.0, 16.0, 10.0]], format="XYXY", canvas_size=(20, 30))
    xywh = tv_tensors.BoundingBoxes([[6.0, 4.0, 10.0, 6.0]], format="XYWH", canvas_size=(20, 30))
    cxcywh = tv_tensors.BoundingBoxes(
        [[11.0, 7.0, 10.0, 6.0]], format="CXCYWH", canvas_size=(20, 30)
    )
    for fn in [F.horizontal_flip, lambda b: F.crop(b, 1, 2, 15, 20), lambda b: F.resize(b, [7, 9])]:
        a = fn(xyxy).numpy()[0]
        w = fn(xywh).numpy()[0]
        c = fn(cxcywh).numpy()[0]
        np.testing.assert_allclose([w[0], w[1], w[0] + w[2], w[1] + w[3]], a, atol=1e-5)
        np.testing.assert_allclose(
            [c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2], a, atol=1e-5
        )
    crop_out = F.crop(xyxy, 0, 10, 20, 30).tolist()[0]
    assert crop_out == [0.0, 4.0, 6.0, 10.0]  # clamped to the new canvas ("soft" mode)
    loose = tv_tensors.BoundingBoxes(
        [[6.0, 4.0, 16.0, 10.0]], format="XYXY", canvas_size=(20, 30), clamping_mode=None
    )
    assert F.crop(loose, 0, 10, 20, 30).tolist()[0] == [-4.0, 4.0, 6.0, 10.0]


def test_transforms_move_image_boxes_and_mask_together():
    image, mask, boxes = _box_sample()
    t = v2.Compose(
        [
            v2.RandomResizedCrop(16, scale=(0.5, 1.0)),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.Pad(2),
            v2.ColorJitter(0.3, 0.3, 0.3, 0.05),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    torch.manual_seed(0)
    for _ in range(20):
        img_out, mask_out, boxes_out, label = t(image, mask, boxes, 7)
        assert label == 7
        assert isinstance(img_out, tv_tensors.Image) and img_out.dtype == torch.float32
        assert isinstance(mask_out, tv_tensors.Mask) and mask_out.dtype == torch.uint8
        assert tuple(img_out.shape) == (3, 20, 20) and tuple(mask_out.shape) == (20, 20)
        assert boxes_out.canvas_size == (20, 20)
        m = mask_out.numpy()
        if m.any():
            # Nearest resampling of the mask against scaled box coordinates: within a pixel.
            np.testing.assert_allclose(_mask_bbox(m), boxes_out.numpy()[0], atol=1.01)
    # A plain tensor beside an Image is not treated as an image.
    plain = torch.zeros(3, 20, 30)
    out_img, out_plain = v2.RandomCrop(5)(image, plain)
    assert tuple(out_img.shape) == (3, 5, 5) and out_plain is plain


def test_to_image_and_to_dtype_with_tv_tensors():
    image, mask, boxes = _box_sample()
    pil = PIL.Image.fromarray(image.numpy().transpose(1, 2, 0))
    out = v2.ToImage()(pil)
    assert isinstance(out, tv_tensors.Image)
    np.testing.assert_array_equal(out.numpy(), image.numpy())
    img_f, mask_same = v2.ToDtype(torch.float32, scale=True)(image, mask)
    assert img_f.dtype == torch.float32 and mask_same.dtype == torch.uint8
    img_f, mask_i = v2.ToDtype(
        {tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}
    )(image, mask)
    assert img_f.dtype == torch.float32 and mask_i.dtype == torch.int64
    assert float(img_f.max().item()) > 1.0  # scale=False keeps values
    assert v2.query_size([image, mask, boxes]) == (20, 30)
    with pytest.raises(ValueError, match="multiple"):
        v2.query_size([image, F.resize(mask, [5, 5])])
