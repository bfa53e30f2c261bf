"""deform_conv2d against a scalar loop reference of its definition and against conv2d."""

import math

import numpy as np
import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.vision import ops


def _bilinear(img, y, x):
    h, w = img.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    total = 0.0
    for yc, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xc, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yc < h and 0 <= xc < w:
                total += wy * wx * img[yc, xc]
    return total


def _ref(x, off, wt, bias, stride, pad, dil, mask):
    b, cin, h, w = x.shape
    cout, cin_g, kh, kw = wt.shape
    ho, wo = off.shape[-2:]
    og = off.shape[1] // (2 * kh * kw)
    groups = cin // cin_g
    out = np.zeros((b, cout, ho, wo))
    for n in range(b):
        for o in range(cout):
            gi = o // (cout // groups)
            for oy in range(ho):
                for ox in range(wo):
                    s = bias[o] if bias is not None else 0.0
                    for ci in range(cin_g):
                        c = gi * cin_g + ci
                        g = c // (cin // og)
                        for i in range(kh):
                            for j in range(kw):
                                k = i * kw + j
                                dy = off[n, 2 * (g * kh * kw + k), oy, ox]
                                dx = off[n, 2 * (g * kh * kw + k) + 1, oy, ox]
                                yy = oy * stride[0] - pad[0] + i * dil[0] + dy
                                xx = ox * stride[1] - pad[1] + j * dil[1] + dx
                                v = _bilinear(x[n, c], yy, xx)
                                if mask is not None:
                                    v *= mask[n, g * kh * kw + k, oy, ox]
                                s += wt[o, ci, i, j] * v
                    out[n, o, oy, ox] = s
    return out


@pytest.mark.parametrize(
    "cin,cout,groups,og,stride,pad,dil,use_mask",
    [
        (2, 3, 1, 1, (1, 1), (1, 1), (1, 1), False),
        (4, 2, 2, 2, (2, 1), (0, 1), (1, 2), True),
        (4, 4, 1, 4, (1, 2), (2, 0), (2, 1), True),
    ],
)
def test_deform_conv2d_matches_reference(cin, cout, groups, og, stride, pad, dil, use_mask):
    rng = np.random.default_rng(0)
    kh, kw = 3, 2
    x = rng.normal(size=(2, cin, 6, 7))
    wt = rng.normal(size=(cout, cin // groups, kh, kw))
    bias = rng.normal(size=cout)
    ho = (6 + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (7 + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    off = rng.normal(scale=1.5, size=(2, 2 * og * kh * kw, ho, wo))
    mask = rng.uniform(size=(2, og * kh * kw, ho, wo)) if use_mask else None
    got = ops.deform_conv2d(
        torch.tensor(x),
        torch.tensor(off),
        torch.tensor(wt),
        torch.tensor(bias),
        stride,
        pad,
        dil,
        None if mask is None else torch.tensor(mask),
    )
    ref = _ref(x, off, wt, bias, stride, pad, dil, mask)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_zero_offset_is_conv2d():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(2, 4, 8, 8)).astype(np.float32))
    m = ops.DeformConv2d(4, 6, 3, stride=2, padding=1, groups=2)
    got = m(x, torch.zeros(2, 18, 4, 4))
    ref = F.conv2d(x, m.weight, m.bias, stride=2, padding=1, groups=2)
    np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_deform_conv2d_gradients():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(1, 2, 4, 4)), requires_grad=True)
    # offsets kept away from integers: bilinear sampling is not differentiable there
    off = torch.tensor(rng.uniform(0.1, 0.4, size=(1, 2 * 4, 3, 3)), requires_grad=True)
    mask = torch.tensor(rng.uniform(size=(1, 4, 3, 3)), requires_grad=True)
    wt = torch.tensor(rng.normal(size=(3, 2, 2, 2)), requires_grad=True)
    bias = torch.tensor(rng.normal(size=3), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, o, mk, ww, bb: ops.deform_conv2d(a, o, ww, bb, mask=mk),
        (x, off, mask, wt, bias),
    )


def test_deform_conv2d_errors():
    x, w = torch.zeros(1, 2, 5, 5), torch.zeros(3, 2, 3, 3)
    with pytest.raises(ValueError, match="deform_conv2d: offset must be"):
        ops.deform_conv2d(x, torch.zeros(1, 18, 4, 4), w)
    with pytest.raises(ValueError, match="deform_conv2d: mask must be"):
        ops.deform_conv2d(x, torch.zeros(1, 18, 3, 3), w, mask=torch.zeros(1, 8, 3, 3))
