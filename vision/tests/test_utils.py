"""tocha.vision.utils: grids, saving and drawing on real values."""

import importlib.util
import os

import numpy as np
import pytest
from PIL import Image

import tocha.core as torch
from tocha.vision import utils


def _astronaut():
    loc = importlib.util.find_spec("skimage").submodule_search_locations[0]
    return np.asarray(Image.open(os.path.join(loc, "data", "astronaut.png")).convert("RGB"))


def test_make_grid_layout_and_padding():
    x = np.arange(5 * 3 * 2 * 2, dtype=np.float32).reshape(5, 3, 2, 2)
    g = utils.make_grid(torch.tensor(x), nrow=3, padding=1, pad_value=-1).numpy()
    assert g.shape == (3, 1 + 2 * 3, 1 + 3 * 3)
    np.testing.assert_array_equal(g[:, 1:3, 1:3], x[0])
    np.testing.assert_array_equal(g[:, 1:3, 7:9], x[2])
    np.testing.assert_array_equal(g[:, 4:6, 4:6], x[4])
    np.testing.assert_array_equal(g[:, 4:6, 7:9], -1)  # the empty sixth cell
    assert (g[:, 0] == -1).all() and (g[:, :, 3] == -1).all()
    # one image comes back as it is; one channel becomes three
    np.testing.assert_array_equal(utils.make_grid(torch.tensor(x[:1])).numpy(), x[0])
    gray = utils.make_grid(torch.tensor(x[:2, :1]), padding=0).numpy()
    np.testing.assert_array_equal(gray[0], gray[2])


def test_make_grid_normalize():
    x = np.stack([np.full((1, 2, 2), 2.0), np.array([[[0.0, 4], [8, 2]]])]).astype(np.float32)
    g = utils.make_grid(torch.tensor(x), padding=0, normalize=True).numpy()
    np.testing.assert_allclose(g[0, :, 2:], [[0, 0.5], [1, 0.25]])
    np.testing.assert_allclose(g[0, :, :2], 0.25)
    g = utils.make_grid(torch.tensor(x), padding=0, normalize=True, scale_each=True).numpy()
    np.testing.assert_allclose(g[0, :, :2], 0.0)  # a constant image: (x - lo) / 1e-5 = 0
    g = utils.make_grid(torch.tensor(x), padding=0, normalize=True, value_range=(0, 4)).numpy()
    np.testing.assert_allclose(g[0, :, 2:], [[0, 1], [1, 0.5]])


def test_save_image_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 5, 7)).astype(np.float32)
    path = tmp_path / "x.png"
    utils.save_image(torch.tensor(x), path)
    back = np.asarray(Image.open(path)).transpose(2, 0, 1)
    np.testing.assert_array_equal(back, np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8))


def test_draw_bounding_boxes_on_photo():
    img = _astronaut()[:64, :80]
    t = torch.tensor(img.transpose(2, 0, 1).copy())
    out = utils.draw_bounding_boxes(
        t, torch.tensor([[10, 12, 40, 50], [5, 5, 20, 20]]), colors=["red", (0, 255, 0)], width=2
    ).numpy()
    assert out.dtype == np.uint8 and out.shape == (3, 64, 80)
    # the outlines in the box colours, two pixels wide; inside and outside untouched
    np.testing.assert_array_equal(out[:, 30, 10], [255, 0, 0])
    np.testing.assert_array_equal(out[:, 30, 11], [255, 0, 0])
    np.testing.assert_array_equal(out[:, 5, 12], [0, 255, 0])
    np.testing.assert_array_equal(out[:, 30, 25], img[30, 25])
    np.testing.assert_array_equal(out[:, 60, 70], img[60, 70])
    filled = utils.draw_bounding_boxes(
        t, torch.tensor([[30, 30, 60, 60]]), colors="blue", fill=True
    )
    inside = filled.numpy()[:, 45, 45].astype(int)
    # Pillow blends the fill at alpha 100/255
    expected = np.round(img[45, 45] * (155 / 255) + np.array([0, 0, 255]) * (100 / 255))
    np.testing.assert_allclose(inside, expected, atol=1)
    with pytest.raises(ValueError, match="number of colors must be"):
        utils.draw_bounding_boxes(t, torch.tensor([[1, 1, 2, 2], [3, 3, 4, 4]]), colors=["red"])
    with pytest.raises(ValueError, match="x1 <= x2"):
        utils.draw_bounding_boxes(t, torch.tensor([[5, 1, 2, 2]]))


def test_draw_bounding_boxes_labels_default_palette_and_float():
    img = torch.zeros(1, 30, 60)
    out = utils.draw_bounding_boxes(img, torch.tensor([[0, 0, 59, 29]]), labels=["cat"])
    assert out.dtype == torch.float32 and out.shape == (3, 30, 60)
    # palette entry 0 is black; the text (also black) leaves the float image unchanged
    assert float(out.abs().max()) == 0.0
    out = utils.draw_bounding_boxes(
        torch.zeros(3, 30, 60, dtype=torch.uint8),
        torch.tensor([[0, 0, 59, 29], [2, 2, 50, 25]]),
        labels=["a", "dog"],
    ).numpy()
    palette1 = [(2**25 - 1) % 255, (2**15 - 1) % 255, (2**21 - 1) % 255]
    np.testing.assert_array_equal(out[:, 2, 10], palette1)
    # the label glyphs sit inside the box, below and right of its corner
    assert (out[:, 4:16, 4:25] != 0).any()


def test_draw_segmentation_masks_formula():
    img = _astronaut()[100:140, 100:150].transpose(2, 0, 1).copy()
    m = np.zeros((2, 40, 50), bool)
    m[0, 5:20, 5:30] = True
    m[1, 15:35, 20:45] = True
    out = utils.draw_segmentation_masks(
        torch.tensor(img), torch.tensor(m), alpha=0.6, colors=["#FF00FF", (0, 128, 255)]
    ).numpy()
    painted = img.copy().astype(np.float64)
    painted[:, m[0]] = np.array([255, 0, 255])[:, None]
    painted[:, m[1]] = np.array([0, 128, 255])[:, None]  # the later mask wins the overlap
    expected = (img * 0.4 + painted * 0.6).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match="masks must be bool"):
        utils.draw_segmentation_masks(torch.tensor(img), torch.tensor(m.astype(np.uint8)))


def test_draw_keypoints_circles_and_lines():
    img = torch.zeros(3, 20, 20, dtype=torch.uint8)
    kp = torch.tensor([[[3.0, 3.0], [15.0, 3.0], [15.0, 15.0]]])
    out = utils.draw_keypoints(
        img,
        kp,
        connectivity=[(0, 1)],
        colors="yellow",
        radius=2,
        width=1,
        visibility=torch.tensor([[True, True, False]]),
    ).numpy()
    np.testing.assert_array_equal(out[:, 3, 3], [255, 255, 0])
    np.testing.assert_array_equal(out[:, 3, 9], [255, 255, 0])  # on the joining line
    np.testing.assert_array_equal(out[:, 15, 15], [0, 0, 0])  # invisible point
    np.testing.assert_array_equal(out[:, 10, 10], [0, 0, 0])


def test_flow_to_image_values():
    flow = np.zeros((2, 2, 3), np.float32)
    flow[:, 0, 1] = [-2.0, 0.0]  # left, full magnitude
    flow[:, 0, 2] = [0.0, 1.0]  # down, half magnitude
    flow[:, 1, 0] = [0.0, -2.0]  # up, full magnitude
    img = utils.flow_to_image(torch.tensor(flow)).numpy()
    assert img.dtype == np.uint8 and img.shape == (3, 2, 3)
    np.testing.assert_array_equal(img[:, 1, 1], [255, 255, 255])  # no motion: white
    # left: angle atan2(0, 2) = 0 -> a = 0 -> wheel position 27 (in the CB segment)
    wheel27 = np.array([0, 255 - np.floor(255 * 2 / 11), 255])
    np.testing.assert_array_equal(img[:, 0, 1], np.floor(255 * (wheel27 / 255)).astype(int))
    # down at half magnitude: a = atan2(-1, 0)/pi = -0.5 -> position 13.5 between 13 and 14
    w13, w14 = (
        np.array([255, np.floor(255 * 13 / 15), 0]),
        np.array([255, np.floor(255 * 14 / 15), 0]),
    )
    col = 1 - 0.5 * (1 - (0.5 * w13 + 0.5 * w14) / 255)
    np.testing.assert_allclose(img[:, 0, 2], np.floor(255 * col), atol=1)
    batch = utils.flow_to_image(torch.tensor(flow[None]))
    np.testing.assert_array_equal(batch.numpy()[0], img)
    with pytest.raises(ValueError, match="flow_to_image: flow must be"):
        utils.flow_to_image(torch.zeros(3, 4, 4))
