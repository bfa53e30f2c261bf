"""Detection building blocks against NumPy references: anchors, default boxes, box coding,
matching, sampling, the image transform, FrozenBatchNorm2d and the backbone extractor."""

import re
import warnings

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import nn
from tocha.vision.models import resnet18
from tocha.vision.models.detection._frozen_bn import FrozenBatchNorm2d
from tocha.vision.models.detection._utils import (
    BalancedPositiveNegativeSampler,
    BoxCoder,
    Matcher,
    SSDMatcher,
    overwrite_eps,
)
from tocha.vision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from tocha.vision.models.detection.backbone_utils import (
    _resnet_fpn_extractor,
    _validate_trainable_layers,
)
from tocha.vision.models.detection.image_list import ImageList
from tocha.vision.models.detection.roi_heads import fastrcnn_loss
from tocha.vision.models.detection.rpn import concat_box_prediction_layers
from tocha.vision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes


def _np(t):
    return t.detach().cpu().numpy()


def _np_anchors(sizes, ratios, grid, stride):
    scales = np.asarray(sizes, np.float32)
    h = np.sqrt(np.asarray(ratios, np.float32))
    ws = ((1 / h)[:, None] * scales[None]).reshape(-1)
    hs = (h[:, None] * scales[None]).reshape(-1)
    base = np.round(np.stack([-ws, -hs, ws, hs], 1) / 2)
    out = []
    for y in range(grid[0]):
        for x in range(grid[1]):
            sx, sy = x * stride[1], y * stride[0]
            out.append(base + np.array([sx, sy, sx, sy], np.float32))
    return np.concatenate(out, 0)


def test_anchor_generator_matches_numpy_and_hand_values():
    gen = AnchorGenerator(sizes=((32, 64), (128,)), aspect_ratios=((0.5, 1.0, 2.0), (1.0,)))
    assert gen.num_anchors_per_location() == [6, 1]
    # size 32, ratio 0.5: w = 32 * sqrt(2) = 45.25, h = 22.63, halved and rounded
    assert gen.cell_anchors[0][0].tolist() == [-23.0, -11.0, 23.0, 11.0]
    images = ImageList(torch.zeros(2, 3, 64, 96), [(64, 96), (60, 90)])
    feats = [torch.zeros(2, 4, 8, 12), torch.zeros(2, 4, 4, 6)]
    anchors = gen(images, feats)
    assert len(anchors) == 2
    ref = np.concatenate(
        [
            _np_anchors((32, 64), (0.5, 1.0, 2.0), (8, 12), (8, 8)),
            _np_anchors((128,), (1.0,), (4, 6), (16, 16)),
        ]
    )
    np.testing.assert_array_equal(_np(anchors[0]), ref)
    np.testing.assert_array_equal(_np(anchors[1]), ref)


def test_anchor_generator_rejects_mismatched_levels():
    gen = AnchorGenerator(sizes=((32,), (64,)), aspect_ratios=((1.0,), (1.0,)))
    images = ImageList(torch.zeros(1, 3, 32, 32), [(32, 32)])
    with pytest.raises(ValueError, match="2"):
        gen(images, [torch.zeros(1, 1, 4, 4)])


def _np_default_boxes(aspect_ratios, scales, grids, image_size, steps=None, clip=True):
    out = []
    for k, (fh, fw) in enumerate(grids):
        wh = [[scales[k]] * 2, [np.sqrt(scales[k] * scales[k + 1])] * 2]
        for ar in aspect_ratios[k]:
            wh += [[scales[k] * np.sqrt(ar), scales[k] / np.sqrt(ar)]]
            wh += [[scales[k] / np.sqrt(ar), scales[k] * np.sqrt(ar)]]
        wh = np.asarray(wh)
        if clip:
            wh = np.clip(wh, 0, 1)
        xf = image_size[1] / steps[k] if steps else fw
        yf = image_size[0] / steps[k] if steps else fh
        for y in range(fh):
            for x in range(fw):
                c = np.array([(x + 0.5) / xf, (y + 0.5) / yf])
                for w, h in wh:
                    out.append([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2])
    out = np.asarray(out)
    return out * np.array([image_size[1], image_size[0]] * 2)


def test_default_box_generator_matches_numpy():
    ars = [[2], [2, 3], [2]]
    gen = DefaultBoxGenerator(ars, min_ratio=0.2, max_ratio=0.9)
    np.testing.assert_allclose(gen.scales, [0.2, 0.55, 0.9, 1.0])
    assert gen.num_anchors_per_location() == [4, 6, 4]
    images = ImageList(torch.zeros(1, 3, 60, 80), [(60, 80)])
    grids = [(6, 8), (3, 4), (1, 2)]
    boxes = gen(images, [torch.zeros(1, 1, h, w) for h, w in grids])[0]
    ref = _np_default_boxes(ars, gen.scales, grids, (60, 80))
    np.testing.assert_allclose(_np(boxes), ref, rtol=1e-5, atol=1e-4)
    # explicit scales and steps, no clipping (SSD300's configuration style)
    gen = DefaultBoxGenerator([[2], [3]], scales=[0.3, 1.2, 1.5], steps=[8, 16], clip=False)
    grids = [(4, 5), (2, 3)]
    boxes = gen(images, [torch.zeros(1, 1, h, w) for h, w in grids])[0]
    ref = _np_default_boxes([[2], [3]], [0.3, 1.2, 1.5], grids, (60, 80), [8, 16], False)
    np.testing.assert_allclose(_np(boxes), ref, rtol=1e-5, atol=1e-4)


def test_ssdlite_scales():
    gen = DefaultBoxGenerator([[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95)
    np.testing.assert_allclose(gen.scales, [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0])


def _random_boxes(rng, n, size=100.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


def test_box_coder_encode_matches_numpy_and_round_trips():
    rng = np.random.default_rng(0)
    gt, props = _random_boxes(rng, 50), _random_boxes(rng, 50)
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    codes = coder.encode_single(torch.tensor(gt), torch.tensor(props))
    pw, ph = props[:, 2] - props[:, 0], props[:, 3] - props[:, 1]
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    ref = np.stack(
        [
            10 * ((gt[:, 0] + gw / 2) - (props[:, 0] + pw / 2)) / pw,
            10 * ((gt[:, 1] + gh / 2) - (props[:, 1] + ph / 2)) / ph,
            5 * np.log(gw / pw),
            5 * np.log(gh / ph),
        ],
        1,
    )
    np.testing.assert_allclose(_np(codes), ref, rtol=1e-10)
    back = coder.decode(codes, [torch.tensor(props[:20]), torch.tensor(props[20:])])
    assert tuple(back.shape) == (50, 1, 4)
    np.testing.assert_allclose(_np(back[:, 0]), gt, rtol=1e-9, atol=1e-9)
    # list form splits per image
    parts = coder.encode(
        [torch.tensor(gt[:20]), torch.tensor(gt[20:])],
        [torch.tensor(props[:20]), torch.tensor(props[20:])],
    )
    assert [p.shape[0] for p in parts] == [20, 30]


def test_box_coder_clamps_large_log_deltas():
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    anchor = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    out = coder.decode_single(torch.tensor([[0.0, 0.0, 100.0, 0.0]]), anchor)
    # exp(clip) * 10 = 1000 / 16 * 10
    np.testing.assert_allclose(_np(out)[0], [5 - 312.5, 0.0, 5 + 312.5, 10.0], rtol=1e-5)


def _np_matcher(q, high, low, allow_low):
    matches = q.argmax(0)
    vals = q.max(0)
    out = matches.copy()
    out[vals < low] = -1
    out[(vals >= low) & (vals < high)] = -2
    if allow_low:
        best = q.max(1)
        for g in range(q.shape[0]):
            for p in np.nonzero(q[g] == best[g])[0]:
                out[p] = matches[p]
    return out


@pytest.mark.parametrize("allow_low", [False, True])
def test_matcher_matches_numpy(allow_low):
    rng = np.random.default_rng(1)
    q = rng.uniform(0, 1, (6, 40)).astype(np.float32) ** 3
    q[2, 7] = q[2, 9] = q[2].max() + 0.01  # a tie for the best prediction of one ground truth
    got = Matcher(0.7, 0.3, allow_low_quality_matches=allow_low)(torch.tensor(q))
    np.testing.assert_array_equal(_np(got), _np_matcher(q, 0.7, 0.3, allow_low))
    assert got.dtype == torch.int64


def test_matcher_errors_on_empty():
    with pytest.raises(ValueError, match="ground-truth"):
        Matcher(0.5, 0.4)(torch.zeros(0, 5))
    with pytest.raises(ValueError, match="proposal"):
        Matcher(0.5, 0.4)(torch.zeros(3, 0))


def test_ssd_matcher_forces_best_prediction_per_gt():
    q = np.array([[0.2, 0.1, 0.3], [0.1, 0.45, 0.05]], np.float32)
    got = SSDMatcher(0.5)(torch.tensor(q))
    # nothing passes 0.5, but each ground truth keeps its best prediction
    assert got.tolist() == [-1, 1, 0]


def test_sampler_counts_and_subsets():
    torch.manual_seed(0)
    labels = torch.tensor([1] * 10 + [0] * 30 + [-1] * 5)
    pos, neg = BalancedPositiveNegativeSampler(16, 0.25)([labels])
    p, n = _np(pos[0]).astype(bool), _np(neg[0]).astype(bool)
    assert p.sum() == 4 and n.sum() == 12
    assert p[:10].sum() == 4 and n[10:40].sum() == 12 and not (p | n)[40:].any()
    # too few positives: the rest of the batch is negatives
    pos, neg = BalancedPositiveNegativeSampler(16, 0.5)([torch.tensor([1, 1] + [0] * 20)])
    assert int(pos[0].sum()) == 2 and int(neg[0].sum()) == 14


def test_transform_resize_normalize_batch_and_targets():
    t = GeneralizedRCNNTransform(64, 100, [0.1, 0.2, 0.3], [0.5, 0.5, 0.5])
    t.eval()
    img = torch.rand(3, 40, 50)
    images, _ = t([img])
    # 64 / 40 = 1.6 -> 64 x 80, padded to multiples of 32
    assert images.image_sizes == [(64, 80)]
    assert tuple(images.tensors.shape) == (1, 3, 64, 96)
    assert float(images.tensors[0, :, :, 80:].abs().sum()) == 0.0
    # a constant image stays constant through bilinear resizing: check the normalisation
    images, _ = t([torch.full((3, 40, 50), 0.6)])
    np.testing.assert_allclose(
        _np(images.tensors[0, :, 10, 10]), [(0.6 - 0.1) / 0.5, (0.6 - 0.2) / 0.5, 0.6], rtol=1e-6
    )
    # the max_size cap: 200 x 50 -> scale min(64/50, 100/200) = 0.5
    t.train()
    target = {"boxes": torch.tensor([[10.0, 20.0, 30.0, 180.0]]), "labels": torch.tensor([1])}
    images, targets = t([torch.rand(3, 200, 50)], [target])
    assert images.image_sizes == [(100, 25)]
    np.testing.assert_allclose(_np(targets[0]["boxes"]), [[5.0, 10.0, 15.0, 90.0]])
    assert target["boxes"][0, 0].item() == 10.0  # the caller's target is not modified


def test_transform_postprocess_scales_boxes_back():
    t = GeneralizedRCNNTransform(64, 100, [0.0] * 3, [1.0] * 3).eval()
    result = [{"boxes": torch.tensor([[8.0, 16.0, 32.0, 48.0]]), "labels": torch.tensor([1])}]
    out = t.postprocess(result, [(64, 80)], [(40, 50)])
    np.testing.assert_allclose(_np(out[0]["boxes"]), [[5.0, 10.0, 20.0, 30.0]])
    np.testing.assert_allclose(
        _np(resize_boxes(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), (10, 20), (30, 10))),
        [[0.5, 6.0, 1.5, 12.0]],
    )


def test_transform_input_errors():
    t = GeneralizedRCNNTransform(64, 100, [0.0] * 3, [1.0] * 3).eval()
    with pytest.raises(TypeError, match="floating"):
        t([torch.zeros(3, 8, 8, dtype=torch.uint8)])
    with pytest.raises(ValueError, match="3d tensors"):
        t([torch.zeros(8, 8)])


def test_frozen_batchnorm_matches_formula_and_loads_batchnorm_state():
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm2d(3)
    sd = {
        "weight": torch.tensor(rng.uniform(0.5, 2, 3).astype(np.float32)),
        "bias": torch.tensor(rng.normal(size=3).astype(np.float32)),
        "running_mean": torch.tensor(rng.normal(size=3).astype(np.float32)),
        "running_var": torch.tensor(rng.uniform(0.5, 2, 3).astype(np.float32)),
        "num_batches_tracked": torch.tensor(7),
    }
    bn.load_state_dict(sd)
    frozen = FrozenBatchNorm2d(3)
    frozen.load_state_dict(bn.state_dict())
    assert len(list(frozen.parameters())) == 0
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    ref = (x - _np(sd["running_mean"])[:, None, None]) / np.sqrt(
        _np(sd["running_var"])[:, None, None] + 1e-5
    ) * _np(sd["weight"])[:, None, None] + _np(sd["bias"])[:, None, None]
    np.testing.assert_allclose(_np(frozen(torch.tensor(x))), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(bn.eval()(torch.tensor(x))), ref, rtol=1e-5, atol=1e-5)
    overwrite_eps(nn.Sequential(frozen), 0.0)
    assert frozen.eps == 0.0


def test_resnet_fpn_extractor_trainable_layers():
    body = _resnet_fpn_extractor(resnet18(norm_layer=FrozenBatchNorm2d), 2)
    trainable = {n.split(".")[0] for n, p in body.body.named_parameters() if p.requires_grad}
    assert trainable == {"layer3", "layer4"}
    assert all(p.requires_grad for p in body.fpn.parameters())
    feats = body(torch.zeros(1, 3, 64, 64))
    assert [(k, tuple(v.shape)) for k, v in feats.items()] == [
        ("0", (1, 256, 16, 16)),
        ("1", (1, 256, 8, 8)),
        ("2", (1, 256, 4, 4)),
        ("3", (1, 256, 2, 2)),
        ("pool", (1, 256, 1, 1)),
    ]
    with pytest.raises(ValueError, match="range"):
        _resnet_fpn_extractor(resnet18(), 6)
    with pytest.raises(ValueError, match="returned layer"):
        _resnet_fpn_extractor(resnet18(), 3, returned_layers=[0, 1])


def test_validate_trainable_layers():
    assert _validate_trainable_layers(True, None, 5, 3) == 3
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert _validate_trainable_layers(False, 2, 5, 3) == 5
    assert "no effect" in str(w[0].message)
    with pytest.raises(ValueError, match=r"\[0,5\]"):
        _validate_trainable_layers(True, 7, 5, 3)


def test_concat_box_prediction_layers_is_location_major():
    # level with A=2 anchors, C=1: logits[n, a, y, x] must land at row (y * W + x) * A + a
    logits = torch.arange(2 * 2 * 3.0).reshape(1, 2, 2, 3)
    deltas = torch.arange(8 * 2 * 3.0).reshape(1, 8, 2, 3)
    cls, reg = concat_box_prediction_layers([logits], [deltas])
    ref = np.arange(12.0).reshape(2, 2, 3).transpose(1, 2, 0).reshape(-1, 1)
    np.testing.assert_array_equal(_np(cls), ref)
    ref_reg = np.arange(48.0).reshape(2, 4, 2, 3).transpose(2, 3, 0, 1).reshape(-1, 4)
    np.testing.assert_array_equal(_np(reg), ref_reg)


def test_fastrcnn_loss_matches_numpy():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    deltas = rng.normal(size=(6, 12)).astype(np.float32)
    labels = np.array([1, 0, 2, 2, 0, 1])
    targets = rng.normal(size=(6, 4)).astype(np.float32)
    cls, box = fastrcnn_loss(
        torch.tensor(logits),
        torch.tensor(deltas),
        [torch.tensor(labels[:4]), torch.tensor(labels[4:])],
        [torch.tensor(targets[:4]), torch.tensor(targets[4:])],
    )
    lse = np.log(np.exp(logits).sum(1))
    ref_cls = np.mean(lse - logits[np.arange(6), labels])
    pos = labels > 0
    d = deltas.reshape(6, 3, 4)[np.arange(6), labels][pos] - targets[pos]
    beta = 1 / 9
    ad = np.abs(d)
    sl1 = np.where(ad < beta, 0.5 * ad**2 / beta, ad - 0.5 * beta).sum() / 6
    np.testing.assert_allclose(cls.item(), ref_cls, rtol=1e-5)
    np.testing.assert_allclose(box.item(), sl1, rtol=1e-5)


def _to_v1_keys(sd):
    """Rename to the layout of torchvision's version-1 checkpoints (the COCO weights files)."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"fpn\.(inner|layer)_blocks\.(\d+)\.0\.", r"fpn.\1_blocks.\2.", k)
        k = k.replace("rpn.head.conv.0.0.", "rpn.head.conv.")
        m = re.match(r"(head\.\w+_head\.conv\.)(\d)\.0\.(.*)", k)
        if m:
            k = f"{m.group(1)}{2 * int(m.group(2))}.{m.group(3)}"
        out[k] = v
    return out


def test_version1_checkpoint_keys_load():
    from tocha.vision.models.detection import FasterRCNN, RetinaNet
    from tocha.vision.ops.feature_pyramid_network import LastLevelP6P7

    def build(kind, seed):
        torch.manual_seed(seed)
        if kind == "frcnn":
            return FasterRCNN(_resnet_fpn_extractor(resnet18(), 5), 3)
        body = _resnet_fpn_extractor(resnet18(), 5, [2, 3, 4], LastLevelP6P7(256, 256))
        return RetinaNet(body, 3)

    for kind, old in [
        ("frcnn", ["backbone.fpn.inner_blocks.0.weight", "rpn.head.conv.weight"]),
        ("retina", ["head.classification_head.conv.6.weight", "head.regression_head.conv.2.bias"]),
    ]:
        src, dst = build(kind, 0), build(kind, 1)
        v1 = _to_v1_keys(src.state_dict())
        assert all(k in v1 for k in old)
        dst.load_state_dict(v1)
        loaded = dst.state_dict()
        for k, v in src.state_dict().items():
            assert torch.equal(loaded[k], v), k


def test_box_losses_match_numpy():
    from tocha.vision.models.detection._utils import _box_loss

    rng = np.random.default_rng(5)
    anchors, gt = _random_boxes(rng, 8), _random_boxes(rng, 8)
    reg = rng.normal(size=(8, 4)) * 0.2
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    a, g, r = torch.tensor(anchors), torch.tensor(gt), torch.tensor(reg)
    enc = _np(coder.encode_single(g, a))
    np.testing.assert_allclose(_box_loss("l1", coder, a, g, r).item(), np.abs(reg - enc).sum())
    d = np.abs(reg - enc)
    ref = np.where(d < 0.5, 0.5 * d**2 / 0.5, d - 0.25).sum()
    got = _box_loss("smooth_l1", coder, a, g, r, {"beta": 0.5}).item()
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    p = _np(coder.decode_single(r, a))
    lt, rb = np.maximum(p[:, :2], gt[:, :2]), np.minimum(p[:, 2:], gt[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    union = area(p) + area(gt) - inter
    hull = (np.maximum(p[:, 2:], gt[:, 2:]) - np.minimum(p[:, :2], gt[:, :2])).prod(1)
    giou = inter / union - (hull - union) / hull
    np.testing.assert_allclose(
        _box_loss("giou", coder, a, g, r).item(), (1 - giou).sum(), rtol=1e-6
    )
    with pytest.raises(ValueError, match="unsupported"):
        _box_loss("l2", coder, a, g, r)
