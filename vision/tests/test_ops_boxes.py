"""tocha.vision.ops box utilities and NMS against brute-force NumPy references."""

import math

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import ops
from tocha.vision.ops import boxes as boxes_mod


def _ref_iou(a, b):
    """IoU of every pair, straight from the definition (broadcast over pairs)."""
    a, b = a[:, None, :], b[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter)


def _ref_nms(boxes, scores, thr):
    """Textbook greedy NMS: the highest remaining box suppresses all with IoU > thr."""
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    iou = _ref_iou(boxes, boxes)
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if not iou[i, j] > thr]
    return np.array(keep, dtype=np.int64)


def _random_boxes(rng, n, extent=100.0, size=30.0):
    xy = rng.uniform(0, extent, (n, 2))
    wh = rng.uniform(1, size, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


@pytest.mark.parametrize("thr", [0.0, 0.2, 0.5, 0.7, 1.0, -0.1])
@pytest.mark.parametrize("seed", [0, 1])
def test_nms_matches_brute_force(thr, seed):
    rng = np.random.default_rng(seed)
    b = _random_boxes(rng, 300)
    s = rng.uniform(size=300)
    got = ops.nms(torch.tensor(b, dtype=torch.float32), torch.tensor(s), thr).numpy()
    np.testing.assert_array_equal(got, _ref_nms(b.astype(np.float32), s, thr))
    assert got.dtype == np.int64


@pytest.mark.parametrize("method", ["sweep", "blocks"])
@pytest.mark.parametrize("crowded", [False, True])
def test_nms_both_strategies(method, crowded):
    rng = np.random.default_rng(5)
    b = _random_boxes(rng, 700, extent=40.0 if crowded else 300.0)
    s = rng.uniform(size=700)
    for thr in (0.0, 0.3, 0.6):
        got = boxes_mod._nms_numpy(b, s, thr, method=method)
        np.testing.assert_array_equal(got, _ref_nms(b, s, thr))


@pytest.mark.parametrize("method", ["sweep", "blocks"])
def test_nms_zero_area_boxes(method):
    # untrained detectors emit degenerate boxes: they overlap nothing (0/0 IoU is no overlap)
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 100, (300, 2))
    points = np.concatenate([corners, corners], 1)
    b = np.concatenate([points, _random_boxes(rng, 300)])
    s = rng.uniform(size=600)
    with np.errstate(invalid="ignore"):
        want = _ref_nms(b, s, 0.6)
    np.testing.assert_array_equal(boxes_mod._nms_numpy(b, s, 0.6, method=method), want)
    got = ops.nms(torch.tensor(points), torch.ones(300), 0.6).numpy()
    np.testing.assert_array_equal(got, np.arange(300))


def test_nms_dense_clusters_long_chains():
    # boxes sliding by one pixel: each overlaps the next strongly, a long suppression chain
    x = np.arange(400, dtype=np.float64)
    b = np.stack([x, np.zeros_like(x), x + 10, np.full_like(x, 10)], 1)
    s = np.linspace(1, 0, 400)
    got = ops.nms(torch.tensor(b), torch.tensor(s), 0.5).numpy()
    np.testing.assert_array_equal(got, _ref_nms(b, s, 0.5))
    assert got.tolist()[:3] == [0, 4, 8]


def test_nms_empty_and_errors():
    assert ops.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="nms: boxes must have shape"):
        ops.nms(torch.zeros(3, 5), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="nms: scores must have shape"):
        ops.nms(torch.zeros(3, 4), torch.zeros(2), 0.5)


def test_batched_nms_per_class():
    rng = np.random.default_rng(3)
    b = _random_boxes(rng, 200)
    s = rng.uniform(size=200)
    c = rng.integers(0, 4, 200)
    got = ops.batched_nms(torch.tensor(b), torch.tensor(s), torch.tensor(c), 0.3).numpy()
    ref = []
    for k in range(4):
        idx = np.nonzero(c == k)[0]
        ref.extend(idx[_ref_nms(b[idx], s[idx], 0.3)])
    ref = np.array(ref)
    ref = ref[np.argsort(-s[ref], kind="stable")]
    np.testing.assert_array_equal(got, ref)


def test_iou_family_values():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 7), _random_boxes(rng, 5)
    ta, tb = torch.tensor(a), torch.tensor(b)
    iou = _ref_iou(a, b)
    np.testing.assert_allclose(ops.box_iou(ta, tb).numpy(), iou, rtol=1e-12)
    lt, rb = np.minimum(a[:, None, :2], b[None, :, :2]), np.maximum(a[:, None, 2:], b[None, :, 2:])
    enc = np.prod(rb - lt, -1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    inter = iou * (area(a)[:, None] + area(b)[None]) / (1 + iou)
    union = area(a)[:, None] + area(b)[None] - inter
    np.testing.assert_allclose(
        ops.generalized_box_iou(ta, tb).numpy(), iou - (enc - union) / enc, rtol=1e-10
    )
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    d2 = ((ca[:, None] - cb[None]) ** 2).sum(-1)
    diag2 = ((rb - lt) ** 2).sum(-1) + 1e-7
    diou = iou - d2 / diag2
    np.testing.assert_allclose(ops.distance_box_iou(ta, tb).numpy(), diou, rtol=1e-10)
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    wb, hb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    v = 4 / math.pi**2 * (np.arctan(wb / hb)[None] - np.arctan(wa / ha)[:, None]) ** 2
    alpha = v / (1 - iou + v + 1e-7)
    np.testing.assert_allclose(ops.complete_box_iou(ta, tb).numpy(), diou - alpha * v, rtol=1e-10)


def test_box_iou_gradient_flows():
    a = torch.tensor([[0.0, 0, 2, 2]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[1.0, 1, 3, 3]], dtype=torch.float64)
    ops.box_iou(a, b).sum().backward()
    # iou = 1 / (8 - 1) ; d iou / d x2 = (h_inter * union - inter * (h_a - h_inter)) / union^2
    np.testing.assert_allclose(a.grad.numpy()[0, 2], (1 * 7 - 1 * (2 - 1)) / 49)


def test_integer_boxes_promoted():
    a = torch.tensor([[0, 0, 2, 2]])
    assert ops.box_area(a).dtype == torch.float32
    np.testing.assert_allclose(ops.box_iou(a, a).numpy(), [[1.0]])


@pytest.mark.parametrize(
    "fmt,expected",
    [("xywh", [10, 20, 20, 40]), ("cxcywh", [20, 40, 20, 40]), ("xyxy", [10, 20, 30, 60])],
)
def test_box_convert_round_trip(fmt, expected):
    b = torch.tensor([[10.0, 20, 30, 60]])
    out = ops.box_convert(b, "xyxy", fmt)
    np.testing.assert_allclose(out.numpy(), [expected])
    np.testing.assert_allclose(ops.box_convert(out, fmt, "xyxy").numpy(), b.numpy())
    with pytest.raises(ValueError, match="box_convert: unsupported format"):
        ops.box_convert(b, "xyxy", "yxyx")


def test_clip_remove_area_masks():
    b = torch.tensor([[-5.0, 2, 30, 40], [3, -1, 4, 5]])
    np.testing.assert_allclose(
        ops.clip_boxes_to_image(b, (20, 25)).numpy(), [[0, 2, 25, 20], [3, 0, 4, 5]]
    )
    np.testing.assert_array_equal(ops.remove_small_boxes(b, 2.0).numpy(), [0])
    np.testing.assert_allclose(ops.box_area(b).numpy(), [35 * 38, 6])
    m = np.zeros((3, 6, 7), np.uint8)
    m[0, 1:4, 2:6] = 1
    m[1, 5, 0] = 1
    got = ops.masks_to_boxes(torch.tensor(m)).numpy()
    np.testing.assert_array_equal(got, [[2, 1, 5, 3], [0, 5, 0, 5], [0, 0, 0, 0]])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_box_losses_match_pairwise_diagonals(reduction):
    rng = np.random.default_rng(7)
    a, b = _random_boxes(rng, 6), _random_boxes(rng, 6)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b)
    red = {"none": lambda x: x, "mean": np.mean, "sum": np.sum}[reduction]
    cases = [
        (ops.generalized_box_iou_loss, ops.generalized_box_iou),
        (ops.distance_box_iou_loss, ops.distance_box_iou),
        (ops.complete_box_iou_loss, ops.complete_box_iou),
    ]
    for loss_fn, pair_fn in cases:
        got = loss_fn(ta, tb, reduction=reduction)
        ref = red(1 - np.diag(pair_fn(ta, tb).detach().numpy()))
        # the losses put eps in the denominators: differences of order 1e-7 / area
        np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-6, atol=1e-8)
        got.sum().backward()
        assert np.isfinite(ta.grad.numpy()).all()
        ta.grad = None
    with pytest.raises(ValueError, match="generalized_box_iou_loss: invalid reduction"):
        ops.generalized_box_iou_loss(ta, tb, reduction="avg")
    with pytest.raises(ValueError, match="must have the same shape"):
        ops.distance_box_iou_loss(ta, tb[:3])


def test_box_loss_gradient_against_finite_differences():
    a = torch.tensor([[0.0, 0.0, 2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[1.0, 0.5, 3.5, 2.5]], dtype=torch.float64)
    for fn in (ops.generalized_box_iou_loss, ops.distance_box_iou_loss):
        assert torch.autograd.gradcheck(lambda t, f=fn: f(t, b), (a,))
