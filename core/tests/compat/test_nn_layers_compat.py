"""Everyday nn layers, their functional forms and every loss against real torch: the same
inputs (and weights copied from torch's modules) give the same outputs and gradients, the same
reprs, state_dict keys and exceptions. Needs torch: `nox -s compat`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
import tocha.core.nn.functional as TF  # noqa: E402
from tocha.core import nn as _tocha_nn  # noqa: E402, F401

F = torch.nn.functional
RNG = np.random.default_rng(0)


def _randn(*shape):
    return RNG.standard_normal(shape)


X = _randn(5, 4)
Y = _randn(5, 4)
W = RNG.uniform(0.5, 2.0, (5, 4))
P = RNG.uniform(0.05, 0.95, (5, 4))
Q = RNG.uniform(0.0, 1.0, (5, 4))
T = np.array([0, 3, 1, 2, 1])
CW = RNG.uniform(0.5, 2.0, 4)
SGN = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
X4 = _randn(2, 4, 3, 2)
T4 = RNG.integers(0, 4, (2, 3, 2))
XN = _randn(4, 6, 5) * 2 + 1
W6 = _randn(6)
B6 = _randn(6)
W5 = _randn(5)
B5 = _randn(5)
E = _randn(7, 3)
IDX = np.array([[0, 2, 2], [6, 1, 0]])
BAG = np.array([0, 2, 2, 6, 1, 0, 3, 4])
OFF = np.array([0, 3, 3, 5])
LG = _randn(7, 3, 5)
TG = np.array([[1, 2, 2], [3, 4, 0], [1, 1, 1]])
XA = _randn(5, 7) * 4
XA[0, :7] = [0.0, -3.0, 3.0, 6.0, -1.0, 100.0, -100.0]

# (name, fn(F, L, *tensors), arrays, indices of arrays that require grad or None for floats)
CASES = []
for _n, _kw in [
    ("relu", {}),
    ("relu6", {}),
    ("hardtanh", {}),
    ("hardtanh", dict(min_val=-2.0, max_val=0.5)),
    ("elu", {}),
    ("elu", dict(alpha=0.5)),
    ("selu", {}),
    ("celu", dict(alpha=2.0)),
    ("leaky_relu", dict(negative_slope=0.2)),
    ("gelu", {}),
    ("gelu", dict(approximate="tanh")),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {}),
    ("softplus", dict(beta=2, threshold=3)),
    ("hardswish", {}),
    ("hardsigmoid", {}),
    ("logsigmoid", {}),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("hardshrink", {}),
    ("softshrink", dict(lambd=1.0)),
    ("threshold", dict(threshold=0.5, value=-2.0)),
    ("sigmoid", {}),
    ("tanh", {}),
    ("rrelu", {}),
    ("softmax", dict(dim=1)),
    ("log_softmax", dict(dim=0)),
    ("softmin", dict(dim=1)),
]:
    CASES.append(
        (f"{_n}{_kw}", (lambda n, kw: lambda F, L, x: getattr(F, n)(x, **kw))(_n, _kw), [XA], None)
    )
CASES += [
    ("glu", lambda F, L, x: F.glu(x, 1), [XA[:, :6].copy()], None),
    (
        "prelu",
        lambda F, L, x, w: F.prelu(x, w),
        [XN, np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])],
        None,
    ),
    ("layer_norm", lambda F, L, x, w, b: F.layer_norm(x, (5,), w, b), [XN, W5, B5], None),
    ("layer_norm_2d", lambda F, L, x: F.layer_norm(x, (6, 5)), [XN], None),
    ("rms_norm", lambda F, L, x, w: F.rms_norm(x, (5,), w), [XN, W5], None),
    ("group_norm", lambda F, L, x, w, b: F.group_norm(x, 3, w, b), [XN, W6, B6], None),
    (
        "batch_norm_train",
        lambda F, L, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [XN, W6, B6],
        None,
    ),
    (
        "batch_norm_eval",
        lambda F, L, x, w, b: F.batch_norm(
            x, L.zeros(6, dtype=x.dtype) + 0.5, L.ones(6, dtype=x.dtype) * 2, w, b
        ),
        [XN, W6, B6],
        None,
    ),
    (
        "instance_norm",
        lambda F, L, x, w, b: F.instance_norm(x, weight=w, bias=b),
        [XN, W6, B6],
        None,
    ),
    ("lrn", lambda F, L, x: F.local_response_norm(x, 3, alpha=0.5, beta=0.6, k=2.0), [XN], None),
    ("normalize", lambda F, L, x: F.normalize(x, dim=2), [XN], None),
    ("linear", lambda F, L, x, w, b: F.linear(x, w, b), [XN, _randn(3, 5), _randn(3)], None),
    ("linear_1d", lambda F, L, x, w: F.linear(x, w), [X[0].copy(), _randn(3, 4)], None),
    (
        "bilinear",
        lambda F, L, a, b, w: F.bilinear(a, b, w),
        [X, _randn(5, 3), _randn(6, 4, 3)],
        None,
    ),
    ("embedding", lambda F, L, w: F.embedding(L.tensor(IDX), w, padding_idx=2), [E], None),
    (
        "embedding_freq",
        lambda F, L, w: F.embedding(L.tensor(IDX), w, scale_grad_by_freq=True),
        [E],
        None,
    ),
    ("cosine_similarity", lambda F, L, a, b: F.cosine_similarity(a, b), [X, Y], None),
    ("pairwise_distance", lambda F, L, a, b: F.pairwise_distance(a, b, p=3), [X, Y], None),
    ("pdist", lambda F, L, a: F.pdist(a), [X], None),
]
for _mode in ("sum", "mean", "max"):
    CASES += [
        (
            f"embedding_bag_{_mode}",
            (lambda m: lambda F, L, w: F.embedding_bag(L.tensor(BAG), w, L.tensor(OFF), mode=m))(
                _mode
            ),
            [E],
            None,
        ),
        (
            f"embedding_bag_pad_{_mode}",
            (
                lambda m: (
                    lambda F, L, w: F.embedding_bag(
                        L.tensor(BAG), w, L.tensor(OFF), mode=m, padding_idx=2
                    )
                )
            )(_mode),
            [E],
            None,
        ),
    ]
CASES.append(
    (
        "embedding_bag_psw",
        lambda F, L, w, p: F.embedding_bag(
            L.tensor(BAG), w, L.tensor(OFF), mode="sum", per_sample_weights=p
        ),
        [E, _randn(8)],
        None,
    )
)
for _red in ("mean", "sum", "none"):
    CASES += [
        (
            f"mse_{_red}",
            (lambda r: lambda F, L, x, y: F.mse_loss(x, y, reduction=r))(_red),
            [X, Y],
            None,
        ),
        (
            f"l1_{_red}",
            (lambda r: lambda F, L, x, y: F.l1_loss(x, y, reduction=r))(_red),
            [X, Y],
            None,
        ),
        (
            f"smooth_l1_{_red}",
            (lambda r: lambda F, L, x, y: F.smooth_l1_loss(x, y, reduction=r, beta=0.7))(_red),
            [X, Y],
            None,
        ),
        (
            f"huber_{_red}",
            (lambda r: lambda F, L, x, y: F.huber_loss(x, y, reduction=r, delta=0.7))(_red),
            [X, Y],
            None,
        ),
        (
            f"ce_{_red}",
            (lambda r: lambda F, L, x: F.cross_entropy(x, L.tensor(T), reduction=r))(_red),
            [X],
            None,
        ),
        (
            f"ce_all_options_{_red}",
            (
                lambda r: (
                    lambda F, L, x, w: F.cross_entropy(
                        x,
                        L.tensor([0, 3, 3, 2, 3]),
                        weight=w,
                        ignore_index=3,
                        label_smoothing=0.3,
                        reduction=r,
                    )
                )
            )(_red),
            [X, CW],
            [0],
        ),
        (
            f"ce_kdim_{_red}",
            (
                lambda r: (
                    lambda F, L, x, w: F.cross_entropy(
                        x, L.tensor(T4), weight=w, label_smoothing=0.1, reduction=r
                    )
                )
            )(_red),
            [X4, CW],
            [0],
        ),
        (
            f"ce_probs_{_red}",
            (
                lambda r: (
                    lambda F, L, x, y: F.cross_entropy(
                        x, y.softmax(1), label_smoothing=0.2, reduction=r
                    )
                )
            )(_red),
            [X, Y],
            None,
        ),
        (
            f"nll_{_red}",
            (
                lambda r: (
                    lambda F, L, x, w: F.nll_loss(
                        x, L.tensor(T), weight=w, ignore_index=1, reduction=r
                    )
                )
            )(_red),
            [X, CW],
            [0],
        ),
        (
            f"bce_{_red}",
            (lambda r: lambda F, L, p, q: F.binary_cross_entropy(p, q, reduction=r))(_red),
            [P, Q],
            None,
        ),
        (
            f"bce_logits_{_red}",
            (
                lambda r: (
                    lambda F, L, x, q, pw: F.binary_cross_entropy_with_logits(
                        x, q, pos_weight=pw, reduction=r
                    )
                )
            )(_red),
            [X, Q, CW],
            [0, 1],
        ),
        (
            f"kl_{_red}",
            (lambda r: lambda F, L, x, q: F.kl_div(x, q, reduction=r))(_red),
            [X, Q],
            None,
        ),
        (
            f"poisson_{_red}",
            (lambda r: lambda F, L, x, q: F.poisson_nll_loss(x, q * 3, reduction=r))(_red),
            [X, Q],
            None,
        ),
        (
            f"gaussian_{_red}",
            (lambda r: lambda F, L, x, y, v: F.gaussian_nll_loss(x, y, v, full=True, reduction=r))(
                _red
            ),
            [X, Y, W],
            None,
        ),
        (
            f"margin_ranking_{_red}",
            (
                lambda r: (
                    lambda F, L, a, b: F.margin_ranking_loss(
                        a, b, L.tensor(SGN), margin=0.3, reduction=r
                    )
                )
            )(_red),
            [X[:, 0].copy(), Y[:, 0].copy()],
            None,
        ),
        (
            f"hinge_{_red}",
            (
                lambda r: (
                    lambda F, L, x: F.hinge_embedding_loss(x, L.tensor(np.sign(Y)), reduction=r)
                )
            )(_red),
            [X],
            None,
        ),
        (
            f"cosine_embedding_{_red}",
            (
                lambda r: (
                    lambda F, L, a, b: F.cosine_embedding_loss(
                        a, b, L.tensor(SGN), margin=0.1, reduction=r
                    )
                )
            )(_red),
            [X, Y],
            None,
        ),
        (
            f"triplet_{_red}",
            (
                lambda r: (
                    lambda F, L, a, b, c: F.triplet_margin_loss(a, b, c, swap=True, reduction=r)
                )
            )(_red),
            [X, Y, W],
            None,
        ),
        (
            f"multi_margin_{_red}",
            (
                lambda r: (
                    lambda F, L, x, w: F.multi_margin_loss(
                        x, L.tensor(T), p=2, margin=0.5, weight=w, reduction=r
                    )
                )
            )(_red),
            [X, CW],
            [0],
        ),
        (
            f"multilabel_soft_margin_{_red}",
            (lambda r: lambda F, L, x, q: F.multilabel_soft_margin_loss(x, q, reduction=r))(_red),
            [X, (Q > 0.5).astype(np.float64)],
            [0],
        ),
        (
            f"multilabel_margin_{_red}",
            (
                lambda r: (
                    lambda F, L, x: F.multilabel_margin_loss(
                        x,
                        L.tensor(
                            [
                                [3, 0, -1, 1],
                                [1, -1, 0, 0],
                                [0, 1, 2, 3],
                                [-1, 0, 0, 0],
                                [2, 2, -1, 0],
                            ]
                        ),
                        reduction=r,
                    )
                )
            )(_red),
            [X],
            None,
        ),
        (
            f"soft_margin_{_red}",
            (
                lambda r: (
                    lambda F, L, x: F.soft_margin_loss(
                        x, L.tensor(np.sign(Y)).to(x.dtype), reduction=r
                    )
                )
            )(_red),
            [X],
            None,
        ),
        (
            f"ctc_{_red}",
            (
                lambda r: (
                    lambda F, L, x: F.ctc_loss(
                        x.log_softmax(2),
                        L.tensor(TG),
                        L.tensor([7, 6, 5]),
                        L.tensor([3, 2, 1]),
                        reduction=r,
                    )
                )
            )(_red),
            [LG],
            None,
        ),
        (
            f"ctc_leaf_{_red}",
            (
                lambda r: (
                    lambda F, L, x: F.ctc_loss(
                        x,
                        L.tensor(TG),
                        L.tensor([7, 6, 5]),
                        L.tensor([3, 2, 1]),
                        reduction=r,
                        zero_infinity=True,
                    )
                )
            )(_red),
            [LG - np.log(np.exp(LG).sum(2, keepdims=True))],
            None,
        ),
    ]


def _run(F_, L, fn, arrays, grad_idx, dtype):
    ts = []
    for i, a in enumerate(arrays):
        rg = grad_idx is None or i in grad_idx
        ts.append(L.tensor(a.astype(dtype), requires_grad=rg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(F_, L, *ts)
    grads = None
    if out.requires_grad:
        g = np.cos(np.arange(out.numel()) + 1.0).reshape(tuple(out.shape)).astype(dtype)
        out.backward(L.tensor(g))
        grads = [None if t.grad is None else t.grad.detach().numpy() for t in ts]
    return out.detach().numpy(), str(out.dtype).split(".")[-1], grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,arrays,grad_idx", CASES, ids=[c[0] for c in CASES])
def test_functional_same_as_torch(name, fn, arrays, grad_idx, dtype):
    tol = 1e-10 if dtype == np.float64 else 2e-5
    ours, our_dt, our_g = _run(TF, tocha, fn, arrays, grad_idx, dtype)
    theirs, their_dt, their_g = _run(F, torch, fn, arrays, grad_idx, dtype)
    assert our_dt == their_dt
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, err_msg=f"{name}: values")
    assert (our_g is None) == (their_g is None)
    for i, (a, b) in enumerate(zip(our_g or [], their_g or [])):
        assert (a is None) == (b is None), f"{name}: grad {i} presence"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{name}: grad {i}")


ERRORS = [
    ("ce_target_oob", lambda F, L: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 5]))),
    ("ce_batch", lambda F, L: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1]))),
    ("ce_float_target", lambda F, L: F.cross_entropy(L.zeros(3, 4), L.tensor([0.0, 1, 2]))),
    ("ce_weight", lambda F, L: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 2]), L.ones(3))),
    (
        "ce_reduction",
        lambda F, L: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 2]), reduction="x"),
    ),
    (
        "ce_smoothing",
        lambda F, L: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 2]), label_smoothing=2.0),
    ),
    ("bce_range", lambda F, L: F.binary_cross_entropy(L.ones(2) * 2, L.ones(2))),
    ("bce_size", lambda F, L: F.binary_cross_entropy(L.ones(2) / 2, L.ones(3))),
    ("bce_logits_size", lambda F, L: F.binary_cross_entropy_with_logits(L.ones(2), L.ones(3))),
    ("ln_shape", lambda F, L: F.layer_norm(L.zeros(2, 5), (10,))),
    ("gn_groups", lambda F, L: F.group_norm(L.zeros(2, 6, 3), 4)),
    (
        "bn_one_value",
        lambda F, L: F.batch_norm(L.zeros(1, 3), L.zeros(3), L.ones(3), training=True),
    ),
    ("bn_eval_no_stats", lambda F, L: F.batch_norm(L.zeros(2, 3), None, None)),
    ("embedding_oob", lambda F, L: F.embedding(L.tensor([5]), L.zeros(4, 3))),
    ("embedding_float", lambda F, L: F.embedding(L.tensor([1.0]), L.zeros(4, 3))),
    ("one_hot_neg", lambda F, L: F.one_hot(L.tensor([-1]))),
    ("one_hot_int32", lambda F, L: F.one_hot(L.tensor([1], dtype=L.int32))),
    ("dropout_p", lambda F, L: F.dropout(L.zeros(2), 1.5)),
    ("glu_odd", lambda F, L: F.glu(L.zeros(3))),
    ("gelu_approx", lambda F, L: F.gelu(L.zeros(3), approximate="x")),
    ("gelu_long", lambda F, L: F.gelu(L.tensor([1]))),
    ("linear_shapes", lambda F, L: F.linear(L.zeros(3, 4), L.zeros(5, 3))),
    (
        "ctc_input_len",
        lambda F, L: F.ctc_loss(L.zeros(5, 2, 4), L.tensor([[1, 2], [3, 3]]), [6, 4], [2, 2]),
    ),
    ("multi_margin_p", lambda F, L: F.multi_margin_loss(L.zeros(2, 3), L.tensor([0, 1]), p=3)),
    ("gaussian_var", lambda F, L: F.gaussian_nll_loss(L.zeros(2, 3), L.zeros(2, 3), L.ones(4))),
]


@pytest.mark.parametrize("name,fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_same_errors_as_torch(name, fn):
    with pytest.raises(Exception) as theirs:
        fn(F, torch)
    with pytest.raises(Exception) as ours:
        fn(TF, tocha)
    assert type(ours.value).__name__ == type(theirs.value).__name__, (ours.value, theirs.value)
    assert str(ours.value).split("\n")[0] == str(theirs.value).split("\n")[0]


# --- modules with weights copied from torch -------------------------------------------------
def _copy_state(src, dst):
    state = {k: tocha.tensor(v.detach().numpy().copy()) for k, v in src.state_dict().items()}
    dst.load_state_dict(state)


MODULES = [
    ("Linear", lambda nn: nn.Linear(4, 3), (2, 5, 4)),
    ("LinearNoBias", lambda nn: nn.Linear(4, 3, bias=False), (6, 4)),
    ("Bilinear", lambda nn: nn.Bilinear(4, 4, 3), None),
    ("PReLU", lambda nn: nn.PReLU(3, 0.1), (2, 3, 4)),
    ("LayerNorm", lambda nn: nn.LayerNorm((3, 4)), (2, 3, 4)),
    ("GroupNorm", lambda nn: nn.GroupNorm(3, 6), (2, 6, 5)),
    ("RMSNorm", lambda nn: nn.RMSNorm(4), (2, 3, 4)),
    ("BatchNorm1d", lambda nn: nn.BatchNorm1d(3), (4, 3, 5)),
    ("BatchNorm2d", lambda nn: nn.BatchNorm2d(3, momentum=None), (4, 3, 2, 2)),
    ("BatchNorm2dLongRows", lambda nn: nn.BatchNorm2d(3), (2, 3, 4, 5)),
    ("BatchNorm3d", lambda nn: nn.BatchNorm3d(3, affine=False), (2, 3, 2, 2, 2)),
    ("BatchNormNoStats", lambda nn: nn.BatchNorm1d(3, track_running_stats=False), (4, 3)),
    (
        "InstanceNorm1d",
        lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
        (2, 3, 5),
    ),
    ("InstanceNorm2d", lambda nn: nn.InstanceNorm2d(3), (3, 4, 4)),
    ("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3), (2, 5, 3)),
    ("GELU", lambda nn: nn.GELU(), (3, 4)),
    ("Softmax2d", lambda nn: nn.Softmax2d(), (2, 3, 2, 2)),
    ("Flatten", lambda nn: nn.Flatten(), (2, 3, 4)),
    ("Unflatten", lambda nn: nn.Unflatten(1, (2, 2)), (3, 4)),
]


@pytest.mark.parametrize("name,make,shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_with_copied_weights(name, make, shape):
    theirs = make(torch.nn).double()
    ours = make(tocha.nn).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_state(theirs, ours)
    for _step in range(3):  # running statistics evolve over steps
        for training in (True, False):
            theirs.train(training)
            ours.train(training)
            if shape is None:
                a, b = _randn(5, 4), _randn(5, 4)
                xa = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
                xb = [tocha.tensor(a, requires_grad=True), tocha.tensor(b, requires_grad=True)]
            else:
                a = _randn(*shape)
                xa = [torch.tensor(a, requires_grad=True)]
                xb = [tocha.tensor(a, requires_grad=True)]
            ya, yb = theirs(*xa), ours(*xb)
            np.testing.assert_allclose(yb.detach().numpy(), ya.detach().numpy(), atol=1e-10)
            g = np.cos(np.arange(ya.numel())).reshape(tuple(ya.shape))
            ya.backward(torch.tensor(g))
            yb.backward(tocha.tensor(g))
            for ta, tb in zip(xa, xb):
                np.testing.assert_allclose(tb.grad.numpy(), ta.grad.numpy(), atol=1e-10)
            pa, pb = dict(theirs.named_parameters()), dict(ours.named_parameters())
            for k in pa:
                np.testing.assert_allclose(pb[k].grad.numpy(), pa[k].grad.numpy(), atol=1e-10)
                pa[k].grad = None
                pb[k].grad = None
            sa, sb = theirs.state_dict(), ours.state_dict()
            for k in sa:
                np.testing.assert_allclose(sb[k].numpy(), sa[k].numpy(), atol=1e-12, err_msg=k)


def test_embedding_modules_match():
    emb_t = torch.nn.Embedding(10, 3, padding_idx=1, max_norm=1.5)
    emb_o = tocha.nn.Embedding(10, 3, padding_idx=1, max_norm=1.5)
    _copy_state(emb_t, emb_o)
    idx = np.array([[1, 2, 2], [9, 0, 4]])
    ya, yb = emb_t(torch.tensor(idx)), emb_o(tocha.tensor(idx))
    np.testing.assert_allclose(yb.detach().numpy(), ya.detach().numpy(), atol=1e-6)
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_allclose(emb_o.weight.grad.numpy(), emb_t.weight.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(
        emb_o.weight.detach().numpy(), emb_t.weight.detach().numpy(), atol=1e-6
    )
    w = torch.randn(4, 2)
    for cls in ("Embedding", "EmbeddingBag"):
        mt = getattr(torch.nn, cls).from_pretrained(w, freeze=False)
        mo = getattr(tocha.nn, cls).from_pretrained(tocha.tensor(w.numpy()), freeze=False)
        assert repr(mo) == repr(mt)
        i = np.array([[0, 3], [2, 2]])
        np.testing.assert_allclose(
            mo(tocha.tensor(i)).detach().numpy(), mt(torch.tensor(i)).detach().numpy(), atol=1e-6
        )
        assert mo.weight.requires_grad == mt.weight.requires_grad


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("Linear", (4, 3), {}),
        ("Embedding", (6, 3), dict(padding_idx=2)),
        ("EmbeddingBag", (6, 3), dict(mode="max", padding_idx=0)),
        ("LayerNorm", ((2, 3),), dict(bias=False)),
        ("GroupNorm", (2, 4), dict(affine=False)),
        ("BatchNorm2d", (3,), dict(momentum=None, bias=False)),
        ("InstanceNorm1d", (3,), dict(affine=True, track_running_stats=True)),
        ("Hardtanh", (-2.0, 2.0, True), {}),
        ("Threshold", (0.1, 20.0), {}),
        ("GELU", ("tanh",), {}),
        ("Softmax", (1,), {}),
        ("Dropout2d", (0.3, True), {}),
        ("CrossEntropyLoss", (), dict(label_smoothing=0.1)),
        ("TripletMarginWithDistanceLoss", (), {}),
        ("Unflatten", (1, (2, 3)), {}),
    ],
)
def test_repr_and_state_dict_keys(name, args, kwargs):
    mt = getattr(torch.nn, name)(*args, **kwargs)
    mo = getattr(tocha.nn, name)(*args, **kwargs)
    assert repr(mo) == repr(mt)
    assert list(mo.state_dict()) == list(mt.state_dict())
    assert [n for n, _ in mo.named_parameters()] == [n for n, _ in mt.named_parameters()]
    for k, v in mt.state_dict().items():
        assert str(mo.state_dict()[k].dtype) == str(v.dtype)
        assert tuple(mo.state_dict()[k].shape) == tuple(v.shape)


def test_dropout_statistics_match_torch():
    for lib, fn in ((torch, F), (tocha, TF)):
        lib.manual_seed(0)
        x = lib.ones(200000)
        y = fn.dropout(x, 0.3)
        kept = (y != 0).float().mean().item()
        assert abs(kept - 0.7) < 0.01
        assert abs(y.sum().item() / 200000 - 1.0) < 0.02
        z = fn.alpha_dropout(lib.randn(200000), 0.2, training=True)
        assert abs(z.mean().item()) < 0.02 and abs(z.std().item() - 1.0) < 0.02


def test_embedding_bag_max_with_nan_inf_and_padding_matches_torch():
    # torch's rule: a bag's first kept row starts the max (NaN / -inf included) and only a
    # strictly larger value replaces it; the gradient goes to the row that holds the max
    inf, nan = np.inf, np.nan
    w = np.array([[1, -inf], [nan, -inf], [3, 2], [-inf, -inf], [0.5, nan], [3, 2]], np.float32)
    rng = np.random.default_rng(0)
    for _ in range(60):
        idx = rng.integers(0, 6, size=9)
        off = np.sort(rng.choice(np.arange(10), size=3, replace=False))
        off[0] = 0
        pad = int(rng.integers(-1, 6))
        kw = {"mode": "max", "padding_idx": None if pad < 0 else pad}
        g = rng.standard_normal((3, 2)).astype(np.float32)
        wt = torch.from_numpy(w.copy()).requires_grad_()
        wo = tocha.from_numpy(w.copy()).requires_grad_()
        a = F.embedding_bag(torch.from_numpy(idx), wt, torch.from_numpy(off), **kw)
        b = TF.embedding_bag(tocha.from_numpy(idx), wo, tocha.from_numpy(off), **kw)
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())
        a.backward(torch.from_numpy(g))
        b.backward(tocha.from_numpy(g))
        np.testing.assert_array_equal(wo.grad.numpy(), wt.grad.numpy())
