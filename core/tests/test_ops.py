"""Generic tests run for every entry of the op table (tests/opinfo): forward against the
NumPy/SciPy reference in each supported dtype, gradients and second gradients against finite
differences in float64, the same forward on CUDA when present, and the bad-input errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from opinfo import SampleInput, all_ops, grad_indices, to_tensors

import tocha.core as torch
from tocha.core.testing import assert_close

OPS = all_ops()
_DEFAULT_TOL = {
    "float16": (1e-2, 1e-2),
    "bfloat16": (2e-2, 2e-2),
    "float32": (1e-5, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1e-5, 1e-5),
    "complex128": (1e-7, 1e-7),
}


def _outs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _check_forward(op, sample, dtype, rng_seed, device=None):
    args = to_tensors(sample.args, device=device)
    actual = _outs(op.op(*args, **sample.kwargs))
    ref_kwargs = sample.kwargs if sample.ref_kwargs is None else sample.ref_kwargs
    expected = _outs(op.ref(*sample.args, **ref_kwargs))
    pick = op.compare_outputs if op.compare_outputs is not None else range(len(expected))
    rtol, atol = op.tol.get(dtype.name, _DEFAULT_TOL.get(dtype.name, (0, 0)))
    for k in pick:
        a, e = actual[k], expected[k]
        e = np.asarray(e)
        assert isinstance(a, torch.Tensor), f"{op.name}: output {k} is {type(a).__name__}"
        if device is not None:
            assert a.device.type == "cuda", f"{op.name}: output {k} left the GPU"
        assert tuple(a.shape) == e.shape, (
            f"{op.name}[{sample.name}]: shape {tuple(a.shape)} != reference {e.shape}"
        )
        if op.out_dtype is not None:
            want = op.out_dtype(sample, dtype)
            if isinstance(want, (list, tuple)):
                want = want[k]
            assert a.dtype == want, f"{op.name}[{sample.name}]: dtype {a.dtype} != {want}"
        elif (
            all(x.dtype == dtype.np for x in sample.args if isinstance(x, np.ndarray))
            and e.dtype in torch._dtype._BY_NP
            and e.dtype.kind == a._data.dtype.kind
        ):
            assert a.dtype == torch._dtype.from_numpy_dtype(e.dtype), (
                f"{op.name}[{sample.name}]: dtype {a.dtype} != reference {e.dtype}"
            )
        tol = (rtol, atol) if e.dtype.kind in "fc" or a.dtype.is_floating_point else (0, 0)
        assert_close(
            a.cpu().detach(),
            e.astype(a._host().dtype) if e.dtype.kind != "V" else e,
            rtol=tol[0],
            atol=tol[1],
            equal_nan=True,
            check_dtype=False,
            msg=f"{op.name}[{sample.name}] output {k}, {dtype}",
        )


def _params(kind):
    out = []
    for op in OPS:
        if kind == "forward":
            for dt in op.dtypes:
                out.append(pytest.param(op, dt, id=f"{op.name}-{dt.name}"))
        elif (
            kind == "grad"
            and op.supports_grad
            or kind == "gradgrad"
            and op.supports_gradgrad
            and op.supports_grad
            or kind == "errors"
            and op.error_inputs is not None
        ):
            out.append(pytest.param(op, id=op.name))
    return out


@pytest.mark.parametrize("op,dtype", _params("forward"))
def test_forward(op, dtype):
    rng = np.random.default_rng(1234)
    samples = list(op.sample_inputs(dtype, rng))
    assert samples, f"{op.name} has no sample inputs for {dtype}"
    for sample in samples:
        _check_forward(op, sample, dtype, 1234)


def _grad_samples(op):
    rng = np.random.default_rng(4321)
    return [s for s in op.sample_inputs(torch.float64, rng) if grad_indices(s)]


@pytest.mark.parametrize("op", _params("grad"))
def test_grad(op):
    samples = _grad_samples(op)
    assert samples, f"{op.name} claims gradients but has no float64 sample with float inputs"
    for sample in samples:
        idx = grad_indices(sample)
        args = to_tensors(sample.args, requires_grad_idx=idx)
        flat, rebuild = _flatten(args, idx)
        assert torch.autograd.gradcheck(
            lambda *xs, rebuild=rebuild, sample=sample: op.op(*rebuild(xs), **sample.kwargs),
            tuple(flat),
            eps=op.grad_eps,
            atol=op.grad_atol,
            rtol=op.grad_rtol,
        ), f"{op.name}[{sample.name}]"


@pytest.mark.parametrize("op", _params("gradgrad"))
def test_gradgrad(op):
    samples = _grad_samples(op)[:2]
    for sample in samples:
        idx = grad_indices(sample)
        args = to_tensors(sample.args, requires_grad_idx=idx)
        flat, rebuild = _flatten(args, idx)
        assert torch.autograd.gradgradcheck(
            lambda *xs, rebuild=rebuild, sample=sample: op.op(*rebuild(xs), **sample.kwargs),
            tuple(flat),
            eps=op.grad_eps,
            atol=op.grad_atol,
            rtol=op.grad_rtol,
        ), f"{op.name}[{sample.name}]"


def _flatten(args, idx):
    """Differentiable inputs as a flat tuple (lists of tensors, e.g. for cat, are spread out)."""
    flat, layout = [], []
    for i, a in enumerate(args):
        if i in idx and isinstance(a, (list, tuple)):
            layout.append((i, len(a), type(a)))
            flat.extend(a)
        elif i in idx:
            layout.append((i, None, None))
            flat.append(a)

    def rebuild(xs):
        out = list(args)
        pos = 0
        for i, n, kind in layout:
            if n is None:
                out[i] = xs[pos]
                pos += 1
            else:
                out[i] = kind(xs[pos : pos + n])
                pos += n
        return out

    return flat, rebuild


@pytest.mark.parametrize("op", _params("errors"))
def test_errors(op):
    cases = list(op.error_inputs())
    assert cases
    for case in cases:
        args = to_tensors(case.sample.args)
        with pytest.raises(case.exc) as info:
            op.op(*args, **case.sample.kwargs)
        assert re.search(case.match, str(info.value)), (
            f"{op.name}: message {str(info.value)!r} does not match {case.match!r}"
        )


@pytest.mark.gpu
@pytest.mark.parametrize("op,dtype", _params("forward"))
def test_forward_cuda(op, dtype):
    rng = np.random.default_rng(1234)
    for sample in op.sample_inputs(dtype, rng):
        _check_forward(op, sample, dtype, 1234, device="cuda")


_ = SampleInput
