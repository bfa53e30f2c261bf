"""FeaturePyramidNetwork, MultiScaleRoIAlign and sigmoid_focal_loss against direct formulas."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.vision import ops
from tocha.vision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7


def _np_focal(x, t, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2), (-1, 1.5), (0.5, 0)])
def test_sigmoid_focal_loss_values_and_grad(alpha, gamma):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)) * 3
    t = (rng.uniform(size=(4, 5)) > 0.6).astype(np.float64)
    ref = _np_focal(x, t, alpha, gamma)
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t)
    np.testing.assert_allclose(
        ops.sigmoid_focal_loss(xt, tt, alpha, gamma).detach().numpy(), ref, 1e-10
    )
    np.testing.assert_allclose(
        ops.sigmoid_focal_loss(xt, tt, alpha, gamma, "mean").item(), ref.mean(), 1e-10
    )
    np.testing.assert_allclose(
        ops.sigmoid_focal_loss(xt, tt, alpha, gamma, "sum").item(), ref.sum(), 1e-10
    )
    assert torch.autograd.gradcheck(lambda a: ops.sigmoid_focal_loss(a, tt, alpha, gamma), (xt,))
    with pytest.raises(ValueError, match="sigmoid_focal_loss: invalid reduction 'avg'"):
        ops.sigmoid_focal_loss(xt, tt, reduction="avg")


def test_fpn_matches_manual_top_down():
    torch.manual_seed(0)
    fpn = ops.FeaturePyramidNetwork([3, 4, 6], 5, extra_blocks=LastLevelMaxPool())
    keys = set(fpn.state_dict())
    assert keys == {
        f"{b}.{i}.0.{p}"
        for b in ("inner_blocks", "layer_blocks")
        for i in range(3)
        for p in ("weight", "bias")
    }
    for k, v in fpn.state_dict().items():
        if k.endswith("bias"):
            # torchvision's init: zero biases, kaiming_uniform(a=1) weights
            assert float(v.abs().max()) == 0.0
        else:
            fan_in = v.shape[1] * v.shape[2] * v.shape[3]
            assert float(v.abs().max()) <= math.sqrt(3.0 / fan_in) + 1e-7
    # give biases values so the test sees them
    with torch.no_grad():
        for name, p in fpn.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape))
    x = OrderedDict(
        a=torch.randn(2, 3, 16, 12), b=torch.randn(2, 4, 8, 6), c=torch.randn(2, 6, 4, 3)
    )
    out = fpn(x)
    assert list(out) == ["a", "b", "c", "pool"]

    def conv(block, t):
        c = block[0]
        with torch.no_grad():
            return F.conv2d(t, c.weight, c.bias, padding=c.padding)

    feats = list(x.values())
    inner = conv(fpn.inner_blocks[2], feats[2]).numpy()
    expect = {"c": conv(fpn.layer_blocks[2], torch.tensor(inner)).numpy()}
    for i, name in ((1, "b"), (0, "a")):
        # nearest 2x upsampling is a repeat along both axes
        up = inner.repeat(2, axis=2).repeat(2, axis=3)
        inner = conv(fpn.inner_blocks[i], feats[i]).numpy() + up
        expect[name] = conv(fpn.layer_blocks[i], torch.tensor(inner)).numpy()
    for name in "abc":
        np.testing.assert_allclose(out[name].detach().numpy(), expect[name], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["pool"].detach().numpy(), expect["c"][:, :, ::2, ::2])
    sum(v.sum() for v in out.values()).backward()
    assert fpn.inner_blocks[0][0].weight.grad is not None


def test_last_level_p6p7_shapes():
    blk = LastLevelP6P7(6, 5)
    p, names = blk([torch.randn(1, 5, 8, 8)], [torch.randn(1, 6, 8, 8)], ["p5"])
    assert names == ["p5", "p6", "p7"]
    assert [tuple(t.shape) for t in p] == [(1, 5, 8, 8), (1, 5, 4, 4), (1, 5, 2, 2)]
    assert not blk.use_P5


def test_multiscale_roi_align_levels():
    rng = np.random.default_rng(1)
    feats = OrderedDict(
        f0=torch.tensor(rng.normal(size=(2, 3, 32, 32))),
        skip=torch.tensor(rng.normal(size=(2, 3, 8, 8))),
        f1=torch.tensor(rng.normal(size=(2, 3, 16, 16))),
        f2=torch.tensor(rng.normal(size=(2, 3, 8, 8))),
    )
    boxes = [
        torch.tensor([[0.0, 0, 20, 20], [5, 5, 100, 90], [0, 0, 127, 127]]),
        torch.tensor([[10.0, 10, 60, 70], [1, 2, 8, 9]]),
    ]
    m = ops.MultiScaleRoIAlign(["f0", "f1", "f2"], (2, 3), 2, canonical_scale=64)
    x = OrderedDict((k, v.requires_grad_()) for k, v in feats.items())
    out = m(x, boxes, [(128, 128), (120, 100)])
    got = out.detach().numpy()
    # scales 1/4, 1/8, 1/16 -> k = 2, 3, 4; k = floor(4 + log2(sqrt(area) / 64)) clamped
    names, scales = ["f0", "f1", "f2"], [0.25, 0.125, 0.0625]
    row, used = 0, set()
    for img, bs in enumerate(boxes):
        for b in bs.numpy():
            s = math.sqrt((b[2] - b[0]) * (b[3] - b[1]))
            lvl = min(max(math.floor(4 + math.log2(s / 64) + 1e-6), 2), 4) - 2
            used.add(lvl)
            rois = torch.tensor([[float(img), *b]])
            with torch.no_grad():
                ref = ops.roi_align(feats[names[lvl]], rois, (2, 3), scales[lvl], 2).numpy()
            np.testing.assert_allclose(got[row], ref[0], rtol=1e-12)
            row += 1
    assert used == {0, 1, 2}
    out.sum().backward()
    assert x["f1"].grad is not None and x["skip"].grad is None


def test_multiscale_roi_align_single_level_and_errors():
    feats = {"p": torch.arange(64.0).reshape(1, 1, 8, 8)}
    m = ops.MultiScaleRoIAlign(["p"], 1, 1)
    got = m(feats, [torch.tensor([[0.0, 0, 4, 4]])], [(16, 16)])
    np.testing.assert_allclose(got.numpy().ravel(), [9.0])  # sample at (1, 1) of the 1/2 map
    with pytest.raises(ValueError, match="MultiScaleRoIAlign: none of"):
        m({"q": feats["p"]}, [torch.zeros(1, 4)], [(16, 16)])
