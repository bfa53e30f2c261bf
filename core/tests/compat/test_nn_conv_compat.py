"""Convolution, pooling, padding and the spatial functional ops against real torch: the same
inputs (and weights copied from torch's modules) give the same outputs and the same gradients
for inputs, weights and biases, over many configurations (strides, paddings incl. 'same' with
even kernels, dilations, groups incl. depthwise, transposed with output_padding, pooling with
ceil_mode and indices, every interpolate mode with align_corners True/False, grid_sample modes),
plus reprs, state_dict keys and exception types. Needs torch: `nox -s compat`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
import tocha.core.nn.functional as TF  # noqa: E402

F = torch.nn.functional
RNG = np.random.default_rng(0)


@pytest.fixture(params=["winograd", "im2col"])
def path(request, monkeypatch):
    """The kernel choice of one core (Winograd for 3x3 stride 1) or of several (im2col)."""
    from tocha.core._ops import conv as conv_ops

    single = request.param == "winograd"
    monkeypatch.setattr(conv_ops, "_single_core", lambda: single)
    return request.param


def _randn(*shape):
    return RNG.standard_normal(shape)


def _run(lib, fn, arrays, grad_idx, dtype):
    mod = torch if lib == "torch" else tocha
    tens = []
    for i, a in enumerate(arrays):
        if a.dtype.kind == "f":
            t = mod.tensor(a.astype(dtype))
            if i in grad_idx:
                t.requires_grad_(True)
        else:
            t = mod.tensor(a)
        tens.append(t)
    Fm = F if lib == "torch" else TF  # noqa: N806
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(Fm, mod, *tens)
    extra = None
    if isinstance(out, tuple):
        out, extra = out
    g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
    if grad_idx:
        out.backward(mod.tensor(g))
    grads = [tens[i].grad.numpy() for i in grad_idx]
    return out.detach().numpy(), (None if extra is None else extra.numpy()), grads


def _compare(fn, arrays, grad_idx=None, dtype=np.float64, rtol=1e-10, atol=1e-10):
    if grad_idx is None:
        grad_idx = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ty, ti, tg = _run("torch", fn, arrays, grad_idx, dtype)
    cy, ci, cg = _run("tocha", fn, arrays, grad_idx, dtype)
    assert cy.shape == ty.shape and cy.dtype == ty.dtype
    np.testing.assert_allclose(cy, ty, rtol=rtol, atol=atol)
    if ti is not None:
        np.testing.assert_array_equal(ci, ti)
    for a, b in zip(cg, tg):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# --- convolutions ---------------------------------------------------------------------------------
CONV = [
    # (dims, x shape, w shape, kwargs)
    (1, (2, 3, 11), (4, 3, 3), dict(stride=2, padding=1)),
    (1, (2, 4, 10), (6, 2, 4), dict(dilation=2, groups=2, padding="same")),
    (1, (2, 3, 9), (2, 3, 4), dict(padding="same")),
    (1, (3, 7), (2, 3, 2), dict(padding="valid")),
    (2, (2, 3, 9, 8), (4, 3, 3, 3), dict(padding=1)),
    (2, (2, 3, 9, 8), (4, 3, 2, 4), dict(padding="same")),
    (2, (2, 4, 9, 8), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    (2, (2, 6, 7, 7), (6, 1, 3, 3), dict(padding=1, groups=6)),
    (2, (2, 6, 7, 7), (12, 1, 5, 5), dict(padding=2, groups=6, stride=2)),
    (2, (1, 3, 8, 8), (5, 3, 1, 1), dict(stride=2)),
    (2, (2, 16, 9, 7), (8, 16, 3, 3), dict(padding=1)),
    (2, (2, 16, 9, 7), (8, 16, 3, 3), dict(padding=(0, 2))),
    (2, (9, 6, 12, 12), (16, 6, 5, 5), {}),
    (2, (8, 7, 7), (4, 8, 3, 3), dict(padding=1)),
    (3, (1, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 1, 0))),
    (3, (1, 4, 4, 5, 3), (4, 2, 3, 3, 3), dict(padding="same", groups=2)),
]


@pytest.mark.parametrize("nd,xs,ws,kw", CONV)
def test_conv_matches_torch(nd, xs, ws, kw, path):
    fn_name = f"conv{nd}d"
    b = _randn(ws[0])

    def fn(Fm, L, x, w, bb):  # noqa: N803
        return getattr(Fm, fn_name)(x, w, bb, **kw)

    _compare(fn, [_randn(*xs), _randn(*ws), b])
    # float32: the same kernels (Winograd for 3x3 / stride 1) within float32 rounding
    _compare(fn, [_randn(*xs), _randn(*ws), b], dtype=np.float32, rtol=2e-4, atol=2e-4)


CONVT = [
    (1, (2, 4, 5), (4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    (1, (1, 4, 6), (4, 1, 2), dict(stride=3, output_padding=2, groups=2)),
    (
        2,
        (2, 4, 5, 6),
        (4, 3, 3, 3),
        dict(stride=(2, 3), padding=(0, 2), output_padding=(1, 2), dilation=(1, 2), groups=2),
    ),
    (2, (1, 16, 5, 6), (16, 8, 3, 3), dict(padding=1)),
    (2, (2, 8, 4, 4), (8, 4, 4, 4), dict(stride=2, padding=1)),
    (2, (8, 3, 5, 5), (3, 2, 3, 3), dict(padding=1)),
    (3, (1, 2, 3, 4, 2), (2, 2, 2, 3, 2), dict(stride=2, output_padding=1)),
]


@pytest.mark.parametrize("nd,xs,ws,kw", CONVT)
def test_conv_transpose_matches_torch(nd, xs, ws, kw, path):
    fn_name = f"conv_transpose{nd}d"
    b = _randn(ws[1] * kw.get("groups", 1))

    def fn(Fm, L, x, w, bb):  # noqa: N803
        return getattr(Fm, fn_name)(x, w, bb, **kw)

    _compare(fn, [_randn(*xs), _randn(*ws), b])
    _compare(fn, [_randn(*xs), _randn(*ws), b], dtype=np.float32, rtol=2e-4, atol=2e-4)


def test_unfold_fold_match_torch():
    def unfold(Fm, L, x):  # noqa: N803
        return Fm.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))

    _compare(unfold, [_randn(2, 3, 6, 7)])

    def fold(Fm, L, c):  # noqa: N803
        return Fm.fold(c, (6, 7), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))

    _compare(fold, [_randn(2, 18, 20)])


def _copy_params(tm, cm):
    sd = {k: tocha.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    cm.load_state_dict(sd)


@pytest.mark.parametrize(
    "ctor,args,kwargs,xs",
    [
        ("Conv1d", (3, 6, 3), dict(stride=2, padding=1), (2, 3, 10)),
        ("Conv2d", (3, 6, 3), dict(padding="same", padding_mode="reflect"), (2, 3, 7, 8)),
        (
            "Conv2d",
            (4, 6, (2, 3)),
            dict(padding=(1, 2), padding_mode="circular", groups=2),
            (2, 4, 6, 7),
        ),
        (
            "Conv2d",
            (4, 4, 4),
            dict(padding="same", padding_mode="replicate", bias=False),
            (2, 4, 6, 7),
        ),
        ("Conv2d", (16, 16, 3), dict(padding=1), (2, 16, 8, 8)),
        ("Conv3d", (2, 4, 3), dict(padding=1, dilation=(1, 2, 1)), (1, 2, 4, 5, 6)),
        ("ConvTranspose1d", (4, 2, 3), dict(stride=2, output_padding=1), (2, 4, 5)),
        ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 5, 5)),
        ("ConvTranspose3d", (2, 2, 2), dict(stride=2), (1, 2, 2, 3, 2)),
    ],
)
def test_conv_layers_match_torch(ctor, args, kwargs, xs, path):
    tm = getattr(torch.nn, ctor)(*args, **kwargs).double()
    cm = getattr(tocha.nn, ctor)(*args, **kwargs).double()
    assert repr(cm) == repr(tm)
    assert list(cm.state_dict()) == list(tm.state_dict())
    assert tuple(cm.weight.shape) == tuple(tm.weight.shape)
    _copy_params(tm, cm)
    x = _randn(*xs)
    tx, cx = torch.tensor(x, requires_grad=True), tocha.tensor(x, requires_grad=True)
    ty, cy = tm(tx), cm(cx)
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = _randn(*ty.shape)
    ty.backward(torch.tensor(g))
    cy.backward(tocha.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (n, tp), (_, cp) in zip(tm.named_parameters(), cm.named_parameters()):
        np.testing.assert_allclose(
            cp.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=n
        )


def test_conv_transpose_output_size_matches_torch():
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    cm = tocha.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    _copy_params(tm, cm)
    x = _randn(1, 3, 4, 5)
    ty = tm(torch.tensor(x), output_size=(8, 10))
    cy = cm(tocha.tensor(x), output_size=(8, 10))
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), atol=1e-12)


def test_default_init_statistics_match_torch():
    # same distribution (kaiming_uniform_(a=sqrt(5)) and the fan_in bias bound)
    tw = torch.nn.Conv2d(16, 32, 3).weight.detach().numpy()
    cw = tocha.nn.Conv2d(16, 32, 3).weight.detach().numpy()
    assert abs(tw.max() - cw.max()) < 0.01 and abs(tw.min() - cw.min()) < 0.01
    assert abs(tw.std() - cw.std()) < 0.005


# --- pooling ----------------------------------------------------------------------------------------
POOL = [
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("max_pool2d", (2, 3, 9, 10), dict(kernel_size=2, return_indices=True)),
    (
        "max_pool2d",
        (2, 3, 9, 10),
        dict(kernel_size=3, stride=2, ceil_mode=True, return_indices=True),
    ),
    (
        "max_pool2d",
        (1, 2, 9, 10),
        dict(kernel_size=(2, 3), stride=1, dilation=2, padding=1, return_indices=True),
    ),
    ("max_pool2d", (1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (
        "max_pool3d",
        (1, 2, 5, 6, 7),
        dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1), return_indices=True),
    ),
    (
        "avg_pool1d",
        (2, 3, 11),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ),
    ("avg_pool2d", (2, 3, 9, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (
        "avg_pool2d",
        (1, 2, 7, 7),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=4),
    ),
    (
        "avg_pool2d",
        (1, 2, 9, 10),
        dict(kernel_size=(2, 3), stride=(1, 2), padding=1, count_include_pad=False),
    ),
    ("avg_pool3d", (1, 2, 5, 6, 7), dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1))),
    ("adaptive_avg_pool1d", (2, 3, 11), dict(output_size=4)),
    ("adaptive_avg_pool2d", (2, 3, 9, 10), dict(output_size=(4, 3))),
    ("adaptive_avg_pool2d", (2, 3, 9, 10), dict(output_size=1)),
    ("adaptive_avg_pool3d", (1, 2, 5, 6, 7), dict(output_size=(2, 3, 4))),
    ("adaptive_max_pool1d", (2, 3, 11), dict(output_size=4, return_indices=True)),
    ("adaptive_max_pool2d", (2, 3, 9, 10), dict(output_size=(4, 3), return_indices=True)),
    ("adaptive_max_pool2d", (2, 3, 8, 8), dict(output_size=4, return_indices=True)),
    ("adaptive_max_pool3d", (1, 2, 5, 6, 7), dict(output_size=(2, 3, 4), return_indices=True)),
    ("lp_pool2d", (2, 3, 8, 9), dict(norm_type=2, kernel_size=3, stride=2, ceil_mode=True)),
]


@pytest.mark.parametrize("name,xs,kw", POOL)
def test_pooling_matches_torch(name, xs, kw):
    def fn(Fm, L, x):  # noqa: N803
        return getattr(Fm, name)(x, **kw)

    _compare(fn, [_randn(*xs)])
    _compare(fn, [_randn(*xs)], dtype=np.float32, rtol=1e-5, atol=1e-6)


def test_max_pool_ties_and_unpool_match_torch():
    x = np.round(_randn(2, 3, 8, 8))  # many ties
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)]:

        def fn(Fm, L, a, kw=kw):  # noqa: N803
            return Fm.max_pool2d(a, return_indices=True, **kw)

        _compare(fn, [x])

    def unpool(Fm, L, a):  # noqa: N803
        v, i = Fm.max_pool2d(a, 2, return_indices=True)
        return Fm.max_unpool2d(v * 2, i, 2, output_size=(9, 9))

    _compare(unpool, [_randn(2, 3, 9, 9)])


@pytest.mark.parametrize(
    "nd,xs,k,o", [(2, (2, 3, 9, 11), (3, 2), (5, 7)), (3, (2, 2, 7, 8, 9), (2, 3, 2), (4, 3, 5))]
)
def test_fractional_max_pool_matches_torch(nd, xs, k, o):
    samples = RNG.uniform(0, 1, (xs[0], xs[1], nd))

    def fn(Fm, L, x, s):  # noqa: N803
        f = getattr(Fm, f"fractional_max_pool{nd}d")
        return f(x, k, output_size=o, return_indices=True, _random_samples=s)

    _compare(fn, [_randn(*xs), samples], grad_idx=[0])


def test_pool_layers_repr_match_torch():
    for ctor, args in [
        ("MaxPool2d", (2,)),
        ("MaxPool2d", (3, 2, 1, 2, True, True)),
        ("AvgPool2d", (2,)),
        ("AvgPool1d", (3, 2)),
        ("AvgPool2d", (3,)),
        ("AdaptiveAvgPool2d", ((1, None),)),
        ("AdaptiveMaxPool2d", (1, True)),
        ("LPPool2d", (2, 3)),
        ("MaxUnpool2d", (2,)),
        ("ZeroPad2d", (1,)),
        ("ZeroPad1d", ((1, 2),)),
        ("ConstantPad2d", (2, 3.5)),
        ("ReflectionPad2d", (1,)),
        ("ReplicationPad3d", (1,)),
        ("CircularPad1d", (2,)),
        ("Upsample", ()),
        ("PixelShuffle", (2,)),
        ("PixelUnshuffle", (2,)),
        ("Fold", (4, 2)),
        ("Unfold", (2,)),
        ("ChannelShuffle", (2,)),
    ]:
        kwargs = dict(scale_factor=2) if ctor == "Upsample" else {}
        assert repr(getattr(tocha.nn, ctor)(*args, **kwargs)) == repr(
            getattr(torch.nn, ctor)(*args, **kwargs)
        ), ctor
    assert repr(tocha.nn.Upsample(size=3, mode="bilinear")) == repr(
        torch.nn.Upsample(size=3, mode="bilinear")
    )


# --- padding --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "xs,pad",
    [
        ((2, 3, 7), (2, 3)),
        ((2, 3, 7), (-1, 2)),
        ((3, 6, 7), (1, 2, 1, 0)),
        ((2, 3, 6, 7), (1, 2, 3, 0)),
        ((2, 2, 4, 5, 6), (1, 1, 2, 0, 3, 1)),
    ],
)
def test_pad_matches_torch(mode, xs, pad):
    def fn(Fm, L, x):  # noqa: N803
        kw = {"value": 1.5} if mode == "constant" else {}
        return Fm.pad(x, pad, mode=mode, **kw)

    _compare(fn, [_randn(*xs)])


# --- interpolate ----------------------------------------------------------------------------------------
INTERP = []
for _mode, _xs in [
    ("nearest", (2, 3, 7)),
    ("nearest", (2, 3, 5, 7)),
    ("nearest", (1, 2, 3, 4, 5)),
    ("nearest-exact", (2, 3, 5, 7)),
    ("linear", (2, 3, 7)),
    ("bilinear", (2, 3, 5, 7)),
    ("bicubic", (2, 3, 5, 7)),
    ("trilinear", (1, 2, 3, 4, 5)),
    ("area", (2, 3, 9, 10)),
]:
    _nd = len(_xs) - 2
    for _size, _sf, _rsf in [
        ((11,) * _nd, None, None),
        ((3,) * _nd, None, None),
        (None, 2, None),
        (None, 1.7, None),
        (None, 1.7, True),
        (None, 0.6, None),
    ]:
        for _ac in [None] if _mode in ("nearest", "nearest-exact", "area") else [False, True]:
            INTERP.append(
                (
                    _mode,
                    _xs,
                    dict(
                        size=_size, scale_factor=_sf, align_corners=_ac, recompute_scale_factor=_rsf
                    ),
                )
            )


@pytest.mark.parametrize("mode,xs,kw", INTERP)
def test_interpolate_matches_torch(mode, xs, kw):
    def fn(Fm, L, x):  # noqa: N803
        return Fm.interpolate(x, mode=mode, **kw)

    _compare(fn, [_randn(*xs)], rtol=1e-9, atol=1e-10)
    _compare(fn, [_randn(*xs)], dtype=np.float32, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(3, 4), (9, 13), (14, 20)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_antialias_matches_torch(mode, size, align_corners):
    def fn(Fm, L, x):  # noqa: N803
        return Fm.interpolate(x, size=size, mode=mode, antialias=True, align_corners=align_corners)

    _compare(fn, [_randn(2, 3, 11, 14)], rtol=1e-9, atol=1e-10)
    if not align_corners:

        def lanczos(Fm, L, x):  # noqa: N803
            return Fm.interpolate(x, size=size, mode="lanczos", antialias=True)

        _compare(lanczos, [_randn(2, 3, 11, 14)], rtol=1e-9, atol=1e-10)


# --- grid_sample / affine_grid / shuffles -----------------------------------------------------
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners):
    def fn(Fm, L, x, g):  # noqa: N803
        return Fm.grid_sample(
            x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners
        )

    grid = RNG.uniform(-1.3, 1.3, (2, 4, 7, 2))
    _compare(fn, [_randn(2, 3, 5, 6), grid], rtol=1e-9, atol=1e-10)
    if mode != "bicubic":
        grid3 = RNG.uniform(-1.3, 1.3, (2, 3, 4, 2, 3))
        _compare(fn, [_randn(2, 3, 4, 5, 6), grid3], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_and_shuffles_match_torch(align_corners):
    def ag(Fm, L, t):  # noqa: N803
        return Fm.affine_grid(t, (2, 3, 4, 5), align_corners=align_corners)

    _compare(ag, [_randn(2, 2, 3)])

    def ag3(Fm, L, t):  # noqa: N803
        return Fm.affine_grid(t, (2, 3, 4, 5, 6), align_corners=align_corners)

    _compare(ag3, [_randn(2, 3, 4)])
    _compare(lambda Fm, L, x: Fm.pixel_shuffle(x, 2), [_randn(2, 8, 3, 4)])
    _compare(lambda Fm, L, x: Fm.pixel_unshuffle(x, 2), [_randn(2, 3, 4, 6)])
    _compare(lambda Fm, L, x: Fm.channel_shuffle(x, 3), [_randn(2, 6, 4, 5)])


# --- errors: the same exception types -------------------------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda Fm, L: Fm.conv2d(L.zeros(2, 4, 8, 8), L.zeros(6, 3, 3, 3)),
        lambda Fm, L: Fm.conv2d(L.zeros(2, 4, 8, 8), L.zeros(6, 4, 3, 3), stride=2, padding="same"),
        lambda Fm, L: Fm.conv2d(L.zeros(2, 4, 8, 8), L.zeros(6, 4, 9, 9)),
        lambda Fm, L: Fm.conv_transpose2d(
            L.zeros(2, 4, 8, 8), L.zeros(4, 3, 3, 3), output_padding=1
        ),
        lambda Fm, L: Fm.conv_transpose2d(L.zeros(2, 4, 8, 8), L.zeros(4, 3, 3, 3), padding="same"),
        lambda Fm, L: Fm.max_pool2d(L.zeros(1, 2, 5, 5), 3, padding=2),
        lambda Fm, L: Fm.max_pool2d(L.zeros(1, 2, 5, 5), 6),
        lambda Fm, L: Fm.avg_pool2d(L.zeros(1, 2, 5, 5), 2, divisor_override=0),
        lambda Fm, L: Fm.adaptive_avg_pool2d(L.zeros(5, 5), 2),
        lambda Fm, L: Fm.pad(L.zeros(1, 3, 4), (1, 2, 3)),
        lambda Fm, L: Fm.pad(L.zeros(1, 3, 4), (4, 2), mode="reflect"),
        lambda Fm, L: Fm.pad(L.zeros(1, 3, 4), (1, 1), mode="foo"),
        lambda Fm, L: Fm.pad(L.zeros(3, 4), (1, 1, 1, 1), mode="reflect"),
        lambda Fm, L: Fm.interpolate(L.zeros(1, 2, 5, 5), scale_factor=2, align_corners=True),
        lambda Fm, L: Fm.interpolate(L.zeros(1, 2, 5, 5), size=3, mode="linear"),
        lambda Fm, L: Fm.interpolate(L.zeros(1, 2, 5, 5), size=3, antialias=True),
        lambda Fm, L: Fm.grid_sample(L.zeros(1, 2, 5, 5), L.zeros(1, 3, 4, 2), mode="foo"),
        lambda Fm, L: Fm.pixel_shuffle(L.zeros(1, 6, 2, 2), 2),
        lambda Fm, L: Fm.unfold(L.zeros(2, 3), 2),
    ],
)
def test_error_types_match_torch(fn):
    errs = []
    for Fm, L in ((F, torch), (TF, tocha)):  # noqa: N806
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(Fm, L)
        except Exception as e:  # noqa: BLE001 - comparing the types
            errs.append(type(e))
        else:
            errs.append(None)
    assert errs[0] is not None and errs[0] is errs[1], errs
