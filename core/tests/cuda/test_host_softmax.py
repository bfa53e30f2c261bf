"""softmax.cu run on the host (host_kernels.py): the launchers and kernels against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from tocha.core.cuda import _softmax as SM


def _ref(x, dim, log):
    x = x.astype(np.float64)
    m = x.max(axis=dim, keepdims=True)
    ls = np.log(np.exp(x - m).sum(axis=dim, keepdims=True)) + m
    return x - ls if log else np.exp(x - ls)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape,dim", [((5, 37), 1), ((3, 4, 8), 1), ((2, 2100), -1)])
def test_softmax_forward_and_backward_match_numpy(host_cuda, shape, dim, log):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3
    y = SM.forward(host_cuda.array(x, np.float32), dim % len(shape), log)
    np.testing.assert_allclose(y, _ref(x, dim, log), rtol=2e-5, atol=2e-6)
    g = rng.standard_normal(shape)
    yy = _ref(x, dim, log)
    gx = SM.backward(
        host_cuda.array(yy, np.float32), host_cuda.array(g, np.float32), dim % len(shape), log
    )
    if log:
        want = g - np.exp(yy) * g.sum(axis=dim, keepdims=True)
    else:
        want = yy * (g - (g * yy).sum(axis=dim, keepdims=True))
    np.testing.assert_allclose(gx, want, rtol=2e-5, atol=2e-6)
    assert host_cuda.launched
