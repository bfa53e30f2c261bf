"""RoI operators against scalar, loop-by-loop NumPy references of torchvision's definitions."""

import math

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import ops


def _bilinear(img, y, x):
    h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
        yh = yl = h - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= w - 1:
        xh = xl = w - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    hy, hx = 1 - ly, 1 - lx
    return (
        hy * hx * img[yl, xl]
        + hy * lx * img[yl, xh]
        + ly * hx * img[yh, xl]
        + ly * lx * img[yh, xh]
    )


def _ref_roi_align(x, rois, ph, pw, scale, ratio, aligned, ps=False):
    k_n = rois.shape[0]
    c = x.shape[1] // (ph * pw) if ps else x.shape[1]
    out = np.zeros((k_n, c, ph, pw))
    off = 0.5 if (aligned or ps) else 0.0
    for k in range(k_n):
        b = int(rois[k, 0])
        sw, sh = rois[k, 1] * scale - off, rois[k, 2] * scale - off
        rw, rh = rois[k, 3] * scale - off - sw, rois[k, 4] * scale - off - sh
        if not aligned and not ps:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        cnt = max(gh * gw, 1)
        for ch in range(c):
            for i in range(ph):
                for j in range(pw):
                    cin = (ch * ph + i) * pw + j if ps else ch
                    s = 0.0
                    for iy in range(gh):
                        y = sh + i * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            xx = sw + j * bw + (ix + 0.5) * bw / gw
                            s += _bilinear(x[b, cin], y, xx)
                    out[k, ch, i, j] = s / cnt
    return out


def _ref_roi_pool(x, rois, ph, pw, scale):
    def rnd(v):
        return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))

    k_n, c, h, w = rois.shape[0], x.shape[1], x.shape[2], x.shape[3]
    out = np.zeros((k_n, c, ph, pw))
    arg = np.full((k_n, c, ph, pw), -1)
    for k in range(k_n):
        b = int(rois[k, 0])
        x1, y1, x2, y2 = (rnd(v * scale) for v in rois[k, 1:])
        rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        for i in range(ph):
            hs = min(max(math.floor(i * rh / ph) + y1, 0), h)
            he = min(max(math.ceil((i + 1) * rh / ph) + y1, 0), h)
            for j in range(pw):
                ws = min(max(math.floor(j * rw / pw) + x1, 0), w)
                we = min(max(math.ceil((j + 1) * rw / pw) + x1, 0), w)
                for ch in range(c):
                    best, where = (0.0, -1) if (he <= hs or we <= ws) else (-np.inf, -1)
                    for yy in range(hs, he):
                        for xx in range(ws, we):
                            if x[b, ch, yy, xx] > best:
                                best, where = x[b, ch, yy, xx], yy * w + xx
                    out[k, ch, i, j], arg[k, ch, i, j] = best, where
    return out, arg


def _rois(rng, k, n, extent):
    xy = rng.uniform(-3, extent, (k, 2))
    wh = rng.uniform(0.3, extent / 1.5, (k, 2))
    return np.concatenate([rng.integers(0, n, (k, 1)), xy, xy + wh], 1)


@pytest.mark.parametrize("ratio", [1, 2, -1])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_align_matches_reference(ratio, aligned, scale):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 9, 11))
    rois = _rois(rng, 6, 2, 12 / scale)
    got = ops.roi_align(torch.tensor(x), torch.tensor(rois), (3, 2), scale, ratio, aligned)
    ref = _ref_roi_align(x, rois, 3, 2, scale, ratio, aligned)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_roi_align_list_boxes_float32_and_module():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 8, 8)).astype(np.float32)
    b0, b1 = _rois(rng, 3, 1, 8)[:, 1:], _rois(rng, 2, 1, 8)[:, 1:]
    got = ops.RoIAlign(2, 1.0, 2)(torch.tensor(x), [torch.tensor(b0), torch.tensor(b1)])
    rois = np.concatenate([np.c_[np.zeros(3), b0], np.c_[np.ones(2), b1]])
    ref = _ref_roi_align(x.astype(np.float64), rois, 2, 2, 1.0, 2, False)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_gradients(aligned):
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(2, 2, 5, 6)), requires_grad=True)
    rois = torch.tensor(_rois(rng, 4, 2, 6))
    assert torch.autograd.gradcheck(lambda t: ops.roi_align(t, rois, 2, 1.0, -1, aligned), (x,))
    # the op is linear: d<out, G>/dx equals the reference applied to unit inputs
    g = rng.normal(size=(4, 2, 2, 2))
    (ops.roi_align(x, rois, 2, 1.0, -1, aligned) * torch.tensor(g)).sum().backward()
    e = np.zeros((2, 2, 5, 6))
    e[1, 0, 2, 3] = 1.0
    ref = (_ref_roi_align(e, rois.numpy(), 2, 2, 1.0, -1, aligned) * g).sum()
    np.testing.assert_allclose(x.grad.numpy()[1, 0, 2, 3], ref, rtol=1e-10, atol=1e-12)


def test_roi_align_double_backward():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(1, 2, 5, 5)), requires_grad=True)
    rois = torch.tensor([[0.0, 0.5, 0.5, 4.0, 3.5]])
    assert torch.autograd.gradgradcheck(lambda t: ops.roi_align(t, rois, 2, 1.0, 2) ** 2, (x,))


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_pool_matches_reference(scale):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 7, 9))
    rois = _rois(rng, 8, 2, 9 / scale)
    rois[0, 1:] = [-20, -20, -10, -10]  # entirely outside: empty bins give 0
    got = ops.roi_pool(torch.tensor(x), torch.tensor(rois), (2, 3), scale)
    ref, arg = _ref_roi_pool(x, rois, 2, 3, scale)
    np.testing.assert_allclose(got.numpy(), ref)
    # the gradient lands on the argmax pixel of each bin
    xt = torch.tensor(x, requires_grad=True)
    ops.roi_pool(xt, torch.tensor(rois), (2, 3), scale).sum().backward()
    expected = np.zeros_like(x)
    for k in range(rois.shape[0]):
        for ch in range(3):
            for a in arg[k, ch].ravel():
                if a >= 0:
                    expected[int(rois[k, 0]), ch, a // 9, a % 9] += 1
    np.testing.assert_allclose(xt.grad.numpy(), expected)


@pytest.mark.parametrize("ratio", [1, 2, -1])
def test_ps_roi_align_matches_reference(ratio):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 2 * 2 * 3, 8, 7))
    rois = _rois(rng, 5, 2, 8)
    got = ops.ps_roi_align(torch.tensor(x), torch.tensor(rois), (2, 3), 1.0, ratio)
    ref = _ref_roi_align(x, rois, 2, 3, 1.0, ratio, True, ps=True)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)
    xt = torch.tensor(x[:, :, :4, :4].copy(), requires_grad=True)
    r = torch.tensor([[1.0, 0.2, 0.4, 3.1, 3.6]])
    assert torch.autograd.gradcheck(lambda t: ops.ps_roi_align(t, r, (2, 3), 1.0, ratio), (xt,))


def test_roi_errors():
    x = torch.zeros(1, 4, 5, 5)
    with pytest.raises(ValueError, match="roi_align: boxes must have shape"):
        ops.roi_align(x, torch.zeros(2, 4), 2)
    with pytest.raises(IndexError, match="roi_pool: batch index"):
        ops.roi_pool(x, torch.tensor([[3.0, 0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match="ps_roi_align: input channels"):
        ops.ps_roi_align(x, torch.tensor([[0.0, 0, 0, 1, 1]]), 3)
    with pytest.raises(ValueError, match="roi_align: input must be"):
        ops.roi_align(torch.zeros(4, 5, 5), torch.zeros(1, 5), 2)
