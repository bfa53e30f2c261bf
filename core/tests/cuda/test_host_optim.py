"""optim.cu run on the host (host_kernels.py): tocha's Adam/AdamW/SGD with ``fused``/``foreach``
on "device" parameters (DeviceArray-backed tensors, so the real optimizer builds the items and
calls ``cuda/_optim``'s multi-tensor launchers), step for step against the same optimizer on
NumPy tensors (its chunked CPU kernels).

The kernels compute in float (double for float64) and store each value in the parameter's
dtype. For float32 and float64 the CPU optimizer runs on the same dtype; for float16 and
bfloat16 it runs in float32 on the same values, and its parameters and states are rounded to
the half dtype after every step, which is what the kernels store.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import tocha.core as tocha
from tocha.core import optim
from tocha.core._tensor import wrap
from tocha.core.cuda import _kernels as K
from tocha.core.cuda import _optim as O

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
# odd sizes (no vector width divides them), a 0-d parameter, and one larger than a block of
# THREADS (256) threads, so the launch has two blocks per tensor along x
SHAPES = [(), (3,), (7, 5), (33,), (2, 150)]
STATE_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer")


def _tol(dtype) -> dict:
    """Tolerances of the comparison with the CPU optimizer: the same float maths in another
    order of operations (a few float ulps), and for half types one unit in the last place of
    the stored value where a float result lands near a rounding boundary."""
    if dtype == np.float64:
        return dict(rtol=1e-13, atol=1e-15)
    if dtype == np.float32:
        return dict(rtol=4e-6, atol=1e-7)
    eps = float(ml_dtypes.finfo(dtype).eps)
    return dict(rtol=1.01 * eps, atol=1e-6)


def _is_half(dtype) -> bool:
    return dtype in (np.dtype(np.float16), BF16)


class _Pair:
    """The same parameters on the "device" (fused kernels) and on the CPU (reference)."""

    def __init__(self, host_cuda, shapes, dtypes, seed=0):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.host_cuda = host_cuda
        self.dtypes = list(dtypes)
        self.dev, self.ref = [], []
        for shape, dt in zip(shapes, self.dtypes, strict=True):
            p0 = np.asarray(rng.standard_normal(shape)).astype(dt)
            d = wrap(host_cuda.array(p0, dt))
            r = wrap(np.array(p0, dtype=np.float32 if _is_half(dt) else dt))
            self.dev.append(d.requires_grad_())
            self.ref.append(r.requires_grad_())

    def set_grads(self, skip=()):
        """New gradients (the same values on both sides); None for the indices in ``skip``."""
        for i, (d, r, dt) in enumerate(zip(self.dev, self.ref, self.dtypes, strict=True)):
            if i in skip:
                d.grad = r.grad = None
                continue
            g = np.asarray(self.rng.standard_normal(d._data.shape)).astype(dt)
            d.grad = wrap(self.host_cuda.array(g, dt))
            r.grad = wrap(np.array(g, dtype=r._data.dtype))

    def round_ref(self, ref_opt):
        """Store the CPU side's half-type parameters and states as the kernels do."""
        for r, dt in zip(self.ref, self.dtypes, strict=True):
            if not _is_half(dt):
                continue
            arrays = [r._data] + [
                ref_opt.state[r][k]._data for k in ref_opt.state[r] if k != "step"
            ]
            for a in arrays:
                a[...] = a.astype(dt).astype(np.float32)

    def check(self, dev_opt, ref_opt, step):
        for i, (d, r, dt) in enumerate(zip(self.dev, self.ref, self.dtypes, strict=True)):
            assert type(d._data) is not np.ndarray  # still a device array
            assert d._data.dtype == dt
            what = f"step {step}, parameter {i} {d._data.shape} {dt}"
            np.testing.assert_allclose(
                d._data.astype(np.float64), r._data.astype(np.float64), **_tol(dt), err_msg=what
            )
            sd, sr = dev_opt.state[d], ref_opt.state[r]
            assert sorted(sd) == sorted(sr), what
            for k in STATE_KEYS:
                if k in sr:
                    assert sd[k]._data.dtype == dt and type(sd[k]._data) is not np.ndarray
                    np.testing.assert_allclose(
                        sd[k]._data.astype(np.float64),
                        sr[k]._data.astype(np.float64),
                        **_tol(dt),
                        err_msg=f"{what}: {k}",
                    )
            if "step" in sr:
                assert float(sd["step"]) == float(sr["step"]), what


def _compare(host_cuda, make, shapes, dtypes, steps=3, skips=None, seed=0):
    """Run ``make(params)`` on both sides for ``steps`` steps, comparing after each; returns
    the pair and the kernel launches made."""
    pair = _Pair(host_cuda, shapes, dtypes, seed)
    dev_opt, ref_opt = make(pair.dev), make(pair.ref)
    for s in range(steps):
        pair.set_grads(skip=(skips or {}).get(s, ()))
        dev_opt.step()
        ref_opt.step()
        pair.round_ref(ref_opt)
        pair.check(dev_opt, ref_opt, s)
    return pair, host_cuda.launched


ADAM_CONFIGS = {
    "adam": dict(lr=0.05),
    "l2-amsgrad-maximize": dict(
        lr=0.03, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True, maximize=True, eps=1e-6
    ),
    "adamw-amsgrad": dict(
        lr=0.02, weight_decay=0.5, decoupled_weight_decay=True, amsgrad=True, fused=True
    ),
    "adamw-small-beta1": dict(lr=0.1, betas=(0.3, 0.9), weight_decay=0.2, maximize=True),
}


@pytest.mark.parametrize("config", list(ADAM_CONFIGS))
@pytest.mark.parametrize("dtype", DTYPES, ids=[d.name for d in DTYPES])
def test_adam_matches_cpu_optimizer(host_cuda, dtype, config):
    kw = dict(ADAM_CONFIGS[config])
    kw.setdefault("fused", None)
    if not kw["fused"]:
        kw["foreach"] = True
    steps = 3
    _compare(host_cuda, lambda ps: optim.Adam(ps, **kw), SHAPES, [dtype] * len(SHAPES), steps)
    # one launch per step: every parameter of the group in one multi-tensor kernel
    assert host_cuda.launched == [f"adam_multi_{K.dtype_suffix(dtype)}"] * steps


def test_adamw_class_uses_the_decoupled_kernel(host_cuda):
    kw = dict(lr=0.05, weight_decay=0.3, foreach=True)
    _compare(host_cuda, lambda ps: optim.AdamW(ps, **kw), SHAPES, [np.float32] * len(SHAPES))
    assert host_cuda.launched == ["adam_multi_f32"] * 3


def test_adam_fused_with_a_tensor_learning_rate(host_cuda):
    # torch allows lr as a one-element tensor (not with foreach); the launcher gets its value
    def make(ps):
        return optim.Adam(ps, lr=tocha.tensor(0.04), weight_decay=0.1, fused=True)

    _compare(host_cuda, make, SHAPES, [np.float32] * len(SHAPES))
    assert host_cuda.launched == ["adam_multi_f32"] * 3


SGD_CONFIGS = {
    "plain": dict(lr=0.1),
    "plain-wd-maximize": dict(lr=0.1, weight_decay=0.05, maximize=True),
    "momentum-dampening-wd": dict(lr=0.05, momentum=0.9, dampening=0.25, weight_decay=0.01),
    "nesterov-maximize": dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True),
}


@pytest.mark.parametrize("config", list(SGD_CONFIGS))
@pytest.mark.parametrize("dtype", DTYPES, ids=[d.name for d in DTYPES])
def test_sgd_matches_cpu_optimizer(host_cuda, dtype, config):
    kw = dict(SGD_CONFIGS[config], foreach=True)
    steps = 3
    _compare(host_cuda, lambda ps: optim.SGD(ps, **kw), SHAPES, [dtype] * len(SHAPES), steps)
    assert host_cuda.launched == [f"sgd_multi_{K.dtype_suffix(dtype)}"] * steps


def test_sgd_fused_flag_and_momentum_buffers_start_per_parameter(host_cuda):
    # a parameter without a gradient on the first steps starts its momentum buffer later,
    # within a launch where the others are past their first step (init[] is per tensor)
    kw = dict(lr=0.05, momentum=0.9, dampening=0.5, fused=True)
    skips = {0: (1, 3), 1: (3,), 3: (0,)}
    pair, launched = _compare(
        host_cuda, lambda ps: optim.SGD(ps, **kw), SHAPES, [np.float32] * 5, 5, skips
    )
    assert launched == ["sgd_multi_f32"] * 5


def test_adam_step_counts_differ_per_parameter(host_cuda):
    # parameters skipped on some steps are at other step counts: step_size and
    # sqrt(1 - beta2^t) are per tensor
    kw = dict(lr=0.05, amsgrad=True, foreach=True)
    skips = {0: (0, 2), 1: (2,), 2: (4,)}
    _compare(host_cuda, lambda ps: optim.Adam(ps, **kw), SHAPES, [np.float64] * 5, 4, skips)
    assert host_cuda.launched == ["adam_multi_f64"] * 4


def test_mixed_dtypes_and_groups_launch_once_per_dtype_and_group(host_cuda):
    dtypes = [np.float32, np.float64, np.float16, np.float32, BF16, np.float64]
    shapes = [(5,), (9,), (4, 3), (300,), (17,), ()]

    def make(ps):
        return optim.Adam(
            [
                {"params": ps[:3]},
                {"params": ps[3:], "lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
            ],
            lr=0.05,
            foreach=True,
        )

    _compare(host_cuda, make, shapes, dtypes, steps=2)
    per_step = ["adam_multi_f32", "adam_multi_f64", "adam_multi_f16"]
    per_step += ["adam_multi_f32", "adam_multi_bf16", "adam_multi_f64"]
    assert host_cuda.launched == per_step * 2


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_launch_batches_and_grid_stride(host_cuda, monkeypatch, opt):
    # more tensors than one launch takes (the launcher's y-limit, made 2 here, so `first`
    # offsets the tensor index) and a grid of one block along x, so every thread strides
    # over several elements of the tensors larger than a block
    batches = O.batches
    monkeypatch.setattr(O, "batches", lambda n: batches(n, 2))
    monkeypatch.setattr(O, "MAX_BLOCKS_X", 1)
    shapes = [(600,), (3,), (257,), (1,), (40, 13)]
    if opt == "adam":
        kw = dict(lr=0.05, weight_decay=0.1, amsgrad=True, foreach=True)
        make, name = (lambda ps: optim.Adam(ps, **kw)), "adam_multi_f32"
    else:
        kw = dict(lr=0.05, momentum=0.9, nesterov=True, foreach=True)
        make, name = (lambda ps: optim.SGD(ps, **kw)), "sgd_multi_f32"
    _compare(host_cuda, make, shapes, [np.float32] * 5, steps=2)
    assert host_cuda.launched == [name] * 6  # 3 launches (2 + 2 + 1 tensors) per step


def test_strided_gradient_and_empty_parameter(host_cuda):
    # a transposed (non-contiguous) gradient goes through a contiguous copy; a parameter with
    # no elements is in the launch and changes nothing
    pair = _Pair(host_cuda, [(6, 5), (0,), (4,)], [np.float32] * 3)
    kw = dict(lr=0.05, momentum=0.5, foreach=True)
    dev_opt, ref_opt = optim.SGD(pair.dev, **kw), optim.SGD(pair.ref, **kw)
    for s in range(2):
        pair.set_grads()
        gt = pair.host_cuda.array(np.asarray(pair.dev[0].grad._data).T).T
        assert not gt.flags.c_contiguous
        pair.dev[0].grad = wrap(gt)
        dev_opt.step()
        ref_opt.step()
        pair.check(dev_opt, ref_opt, s)
    assert host_cuda.launched == ["sgd_multi_f32"] * 2
    assert pair.dev[1]._data.shape == (0,)


def test_launcher_argument_widths_are_checked(host_cuda):
    # the harness checks every packed scalar against the C parameter's size: a launch with
    # the kernel's own argument list goes through, one with an int64 for an int does not
    fn = host_cuda.function("optim", "sgd_multi_f32")
    p = host_cuda.array(np.ones(3), np.float32)
    g = host_cuda.array(np.full(3, 2.0), np.float32)
    ptrs = (
        host_cuda.array(O.pack([p])),
        host_cuda.array(O.pack([g])),
        host_cuda.array(O.pack([None])),
    )
    sizes = host_cuda.array([3], np.int64)
    init = host_cuda.array([0], np.int32)
    args = [*ptrs, sizes, init, *map(np.float64, (0.5, 0.0, 0.0, 0.0))]
    fn((1, 1), (32,), (*args, np.int32(0), np.int32(0), np.int32(0), np.int64(0)))
    np.testing.assert_array_equal(p, [0.0, 0.0, 0.0])  # 1 - 0.5 * 2
    with pytest.raises(TypeError, match="argument 9 is 8 bytes"):
        fn((1, 1), (32,), (*args, np.int64(0), np.int32(0), np.int32(0), np.int64(0)))
