"""Loss functions and modules against NumPy re-implementations of their formulas (CTC against
brute-force enumeration of alignments), reductions, class weights, ignore_index, label
smoothing, K-dimensional inputs, gradients (first and second order) and errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import special

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn
from tocha.core.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 4))
Y = RNG.standard_normal((5, 4))
P = RNG.uniform(0.05, 0.95, (5, 4))
Q = RNG.uniform(0.0, 1.0, (5, 4))
W = RNG.uniform(0.5, 2.0, (5, 4))
T = np.array([0, 3, 1, 2, 1])
CW = np.array([0.5, 1.0, 2.0, 1.5])


def t(a, rg=False):
    return torch.tensor(a, requires_grad=rg)


def _red(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def _logsoftmax(x, axis=1):
    return x - special.logsumexp(x, axis=axis, keepdims=True)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_regression_losses(reduction):
    d = X - Y
    z = np.abs(d)
    cases = [
        (F.mse_loss(t(X), t(Y), reduction=reduction), d**2),
        (F.l1_loss(t(X), t(Y), reduction=reduction), z),
        (
            F.smooth_l1_loss(t(X), t(Y), reduction=reduction, beta=0.7),
            np.where(z < 0.7, 0.5 * z * z / 0.7, z - 0.35),
        ),
        (
            F.huber_loss(t(X), t(Y), reduction=reduction, delta=0.7),
            np.where(z < 0.7, 0.5 * z * z, 0.7 * (z - 0.35)),
        ),
        (
            F.soft_margin_loss(t(X), t(np.sign(Y)), reduction=reduction),
            np.log1p(np.exp(-np.sign(Y) * X)),
        ),
    ]
    for got, ref in cases:
        np.testing.assert_allclose(got.numpy(), _red(ref, reduction), rtol=1e-12, atol=1e-12)


def test_regression_weights_and_broadcast_warning():
    got = F.mse_loss(t(X), t(Y), weight=t(W))
    np.testing.assert_allclose(got.numpy(), ((X - Y) ** 2 * W).sum() / W.sum())
    got = F.huber_loss(t(X), t(Y), weight=t(W))
    z = np.abs(X - Y)
    np.testing.assert_allclose(got.numpy(), (np.where(z < 1, 0.5 * z * z, z - 0.5) * W).mean())
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(t(X), t(Y[0]))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        got = F.mse_loss(t(X), t(Y), size_average=False)
    np.testing.assert_allclose(got.numpy(), ((X - Y) ** 2).sum())
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.l1_loss(t(X), t(Y), reduction="foo")


def _ce_ref(x, tgt, weight=None, ignore=-100, eps=0.0, reduction="mean"):
    c = x.shape[1]
    lp = _logsoftmax(x)
    w = np.ones(c) if weight is None else weight
    valid = tgt != ignore
    tt = np.where(valid, tgt, 0)
    wt = w[tt] * valid
    nll = -lp[np.arange(len(tgt)), tt] * wt
    smooth = -(lp * w).sum(1) * valid
    loss = (1 - eps) * nll + eps / c * smooth
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        dict(weight=CW),
        dict(ignore_index=1),
        dict(label_smoothing=0.2),
        dict(weight=CW, ignore_index=3, label_smoothing=0.3),
    ],
    ids=["plain", "weight", "ignore", "smoothing", "all"],
)
def test_cross_entropy_indices(kw, reduction):
    kw2 = dict(kw)
    w = kw2.pop("weight", None)
    got = F.cross_entropy(
        t(X), t(T), weight=None if w is None else t(w), reduction=reduction, **kw2
    )
    ref = _ce_ref(X, T, w, kw.get("ignore_index", -100), kw.get("label_smoothing", 0.0), reduction)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)

    def fn(x):
        return F.cross_entropy(
            x, t(T), weight=None if w is None else t(w), reduction=reduction, **kw2
        )

    assert gradcheck(fn, (t(X, True),))
    assert gradgradcheck(fn, (t(X, True),))


def test_cross_entropy_kdim_1d_probs_and_nll():
    x4 = RNG.standard_normal((2, 4, 3, 2))
    t4 = RNG.integers(0, 4, (2, 3, 2))
    rows = np.moveaxis(x4, 1, -1).reshape(-1, 4)
    got = F.cross_entropy(t(x4), t(t4), reduction="none")
    assert tuple(got.shape) == (2, 3, 2)
    np.testing.assert_allclose(
        got.numpy().reshape(-1), _ce_ref(rows, t4.reshape(-1), reduction="none")
    )
    np.testing.assert_allclose(F.cross_entropy(t(x4), t(t4)).numpy(), _ce_ref(rows, t4.reshape(-1)))
    np.testing.assert_allclose(
        F.cross_entropy(t(X[0]), t(np.array(2))).numpy(), -_logsoftmax(X[:1])[0, 2]
    )
    probs = special.softmax(Y, axis=1)
    got = F.cross_entropy(t(X), t(probs), label_smoothing=0.1)
    tgt = probs * 0.9 + 0.1 / 4
    np.testing.assert_allclose(got.numpy(), -(_logsoftmax(X) * tgt).sum(1).mean())
    lp = _logsoftmax(X)
    got = F.nll_loss(t(lp), t(T), weight=t(CW), ignore_index=1)
    valid = T != 1
    wt = CW[np.where(valid, T, 0)] * valid
    np.testing.assert_allclose(got.numpy(), (-lp[np.arange(5), T] * wt).sum() / wt.sum())
    fn = lambda x: F.nll_loss(x, t(T), weight=t(CW))  # noqa: E731
    assert gradcheck(fn, (t(lp, True),)) and gradgradcheck(fn, (t(lp, True),))
    fn = lambda x, q: F.cross_entropy(x, q, weight=t(CW), label_smoothing=0.1)  # noqa: E731
    assert gradcheck(fn, (t(X, True), t(probs, True)))
    assert gradgradcheck(fn, (t(X, True), t(probs, True)))


def test_cross_entropy_edge_cases_and_errors():
    got = F.cross_entropy(t(X), t(np.full(5, -100)))
    assert np.isnan(got.item())  # every target ignored: 0 / 0, as torch
    assert F.cross_entropy(t(X), t(np.full(5, -100)), reduction="sum").item() == 0
    np.testing.assert_allclose(F.cross_entropy(t(X), t(T.astype(np.uint8))).numpy(), _ce_ref(X, T))
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(t(X), t(np.array([0, 1, 5, 1, 1])))
    with pytest.raises(ValueError, match="Expected input batch_size \\(5\\) to match target"):
        F.cross_entropy(t(X), t(np.array([0, 1])))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        F.cross_entropy(t(X), t(np.array([0, 1, 2, 1, 1], dtype=np.int32)))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4"):
        F.cross_entropy(t(X), t(T), weight=t(np.ones(3)))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 2"):
        F.cross_entropy(t(X), t(T), label_smoothing=2.0)


def test_cross_entropy_float32_large_logits_are_stable():
    x = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor([0, 2]))
    np.testing.assert_allclose(loss.item(), np.log(3) / 2, rtol=1e-6)
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_binary_losses(reduction):
    bce = -(Q * np.log(P) + (1 - Q) * np.log(1 - P))
    np.testing.assert_allclose(
        F.binary_cross_entropy(t(P), t(Q), reduction=reduction).numpy(), _red(bce, reduction)
    )
    np.testing.assert_allclose(
        F.binary_cross_entropy(t(P), t(Q), weight=t(W), reduction=reduction).numpy(),
        _red(bce * W, reduction),
    )
    pw = CW
    lw = 1 + (pw - 1) * Q
    bcel = (1 - Q) * X + lw * np.logaddexp(0, -X)
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(
            t(X), t(Q), t(W), pos_weight=t(pw), reduction=reduction
        ).numpy(),
        _red(bcel * W, reduction),
        rtol=1e-12,
    )


def test_binary_losses_edges_grads_and_errors():
    # log clamped at -100, as torch
    np.testing.assert_allclose(
        F.binary_cross_entropy(t(np.array([0.0])), t(np.array([1.0]))).item(), 100
    )
    big = F.binary_cross_entropy_with_logits(
        t(np.array([-800.0, 800.0])), t(np.array([1.0, 0.0])), reduction="none"
    )
    np.testing.assert_allclose(big.numpy(), [800, 800])
    for fn, args in [
        (lambda p, q: F.binary_cross_entropy(p, q, weight=t(W)), (t(P, True), t(Q, True))),
        (
            lambda x, q: F.binary_cross_entropy_with_logits(x, q, pos_weight=t(CW)),
            (t(X, True), t(Q, True)),
        ),
    ]:
        assert gradcheck(fn, args) and gradgradcheck(fn, args)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(t(P + 1), t(Q))
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(t(P), t(Q[0]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(t(X), t(Q[0]))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
def test_kl_div(reduction):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = F.kl_div(t(X), t(Q), reduction=reduction).numpy()
        got_log = F.kl_div(t(X), t(Y), reduction=reduction, log_target=True).numpy()
    ref = special.xlogy(Q, Q) - Q * X
    ref_log = np.exp(Y) * (Y - X)
    if reduction == "batchmean":
        np.testing.assert_allclose(got, ref.sum() / 5)
        np.testing.assert_allclose(got_log, ref_log.sum() / 5)
    else:
        np.testing.assert_allclose(got, _red(ref, reduction))
        np.testing.assert_allclose(got_log, _red(ref_log, reduction))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(t(X), t(Q))


def test_poisson_and_gaussian_nll():
    np.testing.assert_allclose(
        F.poisson_nll_loss(t(X), t(Q * 3)).numpy(), (np.exp(X) - 3 * Q * X).mean()
    )
    tq = Q * 3
    stir = np.where(tq > 1, tq * np.log(tq) - tq + 0.5 * np.log(2 * np.pi * tq), 0)
    got = F.poisson_nll_loss(t(P), t(tq), log_input=False, full=True, reduction="sum")
    np.testing.assert_allclose(got.numpy(), (P - tq * np.log(P + 1e-8) + stir).sum())
    got = F.gaussian_nll_loss(t(X), t(Y), t(W), full=True)
    np.testing.assert_allclose(
        got.numpy(), (0.5 * (np.log(W) + (X - Y) ** 2 / W) + 0.5 * np.log(2 * np.pi)).mean()
    )
    got = F.gaussian_nll_loss(t(X), t(Y), t(W[:, 0]), reduction="none")  # one variance per row
    np.testing.assert_allclose(got.numpy(), 0.5 * (np.log(W[:, :1]) + (X - Y) ** 2 / W[:, :1]))
    got = F.gaussian_nll_loss(t(X), t(Y), t(np.zeros((5, 1))), eps=1e-3, reduction="sum")
    np.testing.assert_allclose(got.numpy(), (0.5 * (np.log(1e-3) + (X - Y) ** 2 / 1e-3)).sum())
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(t(X), t(Y), t(W[:2]))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(t(X), t(Y), t(-W))
    for fn, args in [
        (lambda x, q: F.poisson_nll_loss(x, q), (t(X, True), t(Q, True))),
        (
            lambda x, y, v: F.gaussian_nll_loss(x, y, v, full=True),
            (t(X, True), t(Y, True), t(W, True)),
        ),
    ]:
        assert gradcheck(fn, args) and gradgradcheck(fn, args)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_margin_and_embedding_losses(reduction):
    sgn = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    a, b = X[:, 0], Y[:, 0]
    np.testing.assert_allclose(
        F.margin_ranking_loss(t(a), t(b), t(sgn), margin=0.3, reduction=reduction).numpy(),
        _red(np.maximum(0, -sgn * (a - b) + 0.3), reduction),
    )
    ys = np.sign(Y)
    np.testing.assert_allclose(
        F.hinge_embedding_loss(t(X), t(ys), margin=0.5, reduction=reduction).numpy(),
        _red(np.where(ys == 1, X, np.maximum(0, 0.5 - X)), reduction),
    )
    cos = (X * Y).sum(1) / np.sqrt(((X * X).sum(1) + 1e-12) * ((Y * Y).sum(1) + 1e-12))
    np.testing.assert_allclose(
        F.cosine_embedding_loss(t(X), t(Y), t(sgn), margin=0.1, reduction=reduction).numpy(),
        _red(np.where(sgn == 1, 1 - cos, np.maximum(0, cos - 0.1)), reduction),
    )
    dp = np.linalg.norm(X - Y + 1e-6, axis=1)
    dn = np.linalg.norm(X - W + 1e-6, axis=1)
    ds = np.linalg.norm(Y - W + 1e-6, axis=1)
    np.testing.assert_allclose(
        F.triplet_margin_loss(t(X), t(Y), t(W), margin=2.0, swap=True, reduction=reduction).numpy(),
        _red(np.maximum(dp - np.minimum(dn, ds) + 2.0, 0), reduction),
    )
    np.testing.assert_allclose(
        F.triplet_margin_with_distance_loss(t(X), t(Y), t(W), reduction=reduction).numpy(),
        _red(np.maximum(dp - dn + 1.0, 0), reduction),
    )


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multiclass_margin_losses(reduction):
    n, c = X.shape
    xy = X[np.arange(n), T][:, None]
    h = np.maximum(0, 0.5 - xy + X) ** 2 * CW[T][:, None]
    h[np.arange(n), T] = 0
    np.testing.assert_allclose(
        F.multi_margin_loss(t(X), t(T), p=2, margin=0.5, weight=t(CW), reduction=reduction).numpy(),
        _red(h.sum(1) / c, reduction),
    )
    lab = (Q > 0.5).astype(float)
    ref = -(lab * np.log(special.expit(X)) + (1 - lab) * np.log(special.expit(-X))).mean(1)
    np.testing.assert_allclose(
        F.multilabel_soft_margin_loss(t(X), t(lab), reduction=reduction).numpy(),
        _red(ref, reduction),
    )
    tg = np.array([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3], [-1, 0, 0, 0], [2, 2, -1, 0]])
    ref = []
    for i in range(n):
        listed = []
        for v in tg[i]:
            if v < 0:
                break
            listed.append(v)
        s = sum(
            max(0, 1 - (X[i, j] - X[i, k])) for j in listed for k in range(c) if k not in listed
        )
        ref.append(s / c)
    np.testing.assert_allclose(
        F.multilabel_margin_loss(t(X), t(tg), reduction=reduction).numpy(),
        _red(np.array(ref), reduction),
    )


LOSS_GRADS = [
    ("mse", lambda x, y: F.mse_loss(x, y)),
    ("mse_none", lambda x, y: F.mse_loss(x, y, reduction="none")),
    ("l1", lambda x, y: F.l1_loss(x, y)),
    ("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5)),
    ("huber", lambda x, y: F.huber_loss(x, y, delta=0.5)),
    ("kl", lambda x, y: F.kl_div(x, y, reduction="batchmean", log_target=True)),
    ("margin_ranking", lambda x, y: F.margin_ranking_loss(x, y, t(np.sign(W - 1)), margin=0.2)),
    (
        "cosine_embedding",
        lambda x, y: F.cosine_embedding_loss(x, y, t(np.sign(W[:, 0] - 1)), margin=-0.5),
    ),
    ("triplet", lambda x, y: F.triplet_margin_loss(x, y, t(W), margin=3.0)),
    ("multi_margin", lambda x, y: F.multi_margin_loss(x + y, t(T), weight=t(CW))),
    (
        "multilabel_margin",
        lambda x, y: F.multilabel_margin_loss(
            x * y, t(np.array([[0, -1, 0, 0], [1, 2, -1, 0]] * 2 + [[3, -1, 0, 0]]))
        ),
    ),
    ("multilabel_soft_margin", lambda x, y: F.multilabel_soft_margin_loss(x, y.sigmoid())),
    ("soft_margin", lambda x, y: F.soft_margin_loss(x * y, t(np.sign(W - 1)))),
    ("hinge_embedding", lambda x, y: F.hinge_embedding_loss(x * y, t(np.sign(W - 1)))),
    ("cosine_similarity", lambda x, y: F.cosine_similarity(x, y)),
    ("pairwise_distance", lambda x, y: F.pairwise_distance(x, y, p=3)),
    ("pdist", lambda x, y: F.pdist(x + y)),
]


@pytest.mark.parametrize("name,fn", LOSS_GRADS, ids=[n for n, _ in LOSS_GRADS])
def test_loss_gradcheck_and_gradgradcheck(name, fn):
    args = (t(X, True), t(Y * 0.7, True))
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


# --- CTC --------------------------------------------------------------------------------------
def _collapse(path, blank):
    out = []
    prev = None
    for s in path:
        if s != prev and s != blank:
            out.append(s)
        prev = s
    return out


def _ctc_brute(lp, target, blank=0):
    """-log of the summed probability of every length-T path that collapses to ``target``."""
    tlen, c = lp.shape
    total = 0.0
    for path in itertools.product(range(c), repeat=tlen):
        if _collapse(path, blank) == list(target):
            total += np.exp(sum(lp[i, s] for i, s in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def test_ctc_against_brute_force_enumeration():
    tm, n, c = 5, 4, 3
    lg = RNG.standard_normal((tm, n, c))
    lp = _logsoftmax(lg, axis=2)
    targets = np.array([[1, 2], [1, 1], [2, 0], [2, 2]])
    in_len = np.array([5, 4, 5, 3])
    tgt_len = np.array([2, 2, 1, 2])
    got = F.ctc_loss(t(lp), t(targets), t(in_len), t(tgt_len), reduction="none").numpy()
    ref = [_ctc_brute(lp[: in_len[i], i], targets[i, : tgt_len[i]]) for i in range(n)]
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    got = F.ctc_loss(t(lp), t(targets), t(in_len), t(tgt_len)).item()
    np.testing.assert_allclose(got, np.mean(np.array(ref) / tgt_len), rtol=1e-10)
    # blank other than 0, and concatenated targets
    got = F.ctc_loss(
        t(lp), t(np.array([0, 1, 0, 0, 1])), in_len, [2, 1, 1, 1], blank=2, reduction="none"
    )
    ref = [
        _ctc_brute(lp[: in_len[i], i], tg, blank=2) for i, tg in enumerate([[0, 1], [0], [0], [1]])
    ]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)


def test_ctc_gradients_infinity_and_unbatched():
    tm, n, c = 6, 2, 4
    lg = t(RNG.standard_normal((tm, n, c)), True)
    targets, in_len, tgt_len = t(np.array([[1, 2], [3, 3]])), [6, 5], [2, 2]
    fn = lambda x: F.ctc_loss(x.log_softmax(2), targets, in_len, tgt_len)  # noqa: E731
    assert gradcheck(fn, (lg,))
    # impossible alignment (3 frames cannot emit "3 3", which needs a blank between)
    lp = _logsoftmax(lg.detach().numpy(), 2)
    inf = F.ctc_loss(t(lp), targets, [6, 2], tgt_len, reduction="none").numpy()
    assert np.isinf(inf[1]) and np.isfinite(inf[0])
    x = t(lp, True)
    z = F.ctc_loss(x, targets, [6, 2], tgt_len, reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(z.item(), inf[0])
    z.backward()
    assert np.isfinite(x.grad.numpy()).all() and (x.grad.numpy()[:, 1] == 0).all()
    single = F.ctc_loss(t(lp[:, 0]), t(np.array([1, 2])), 6, 2)
    np.testing.assert_allclose(single.item(), inf[0] / 2)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 6"):
        F.ctc_loss(t(lp), targets, [7, 2], tgt_len)
    with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward"):
        g = torch.autograd.grad(fn(lg), lg, create_graph=True)[0]
        g.sum().backward()


def test_ctc_gradient_is_torchs_log_softmax_form():
    # torch returns exp(lp) - occupancy for log_probs; summed over classes it is 0 per frame
    lp = _logsoftmax(RNG.standard_normal((5, 1, 3)), 2)
    x = t(lp, True)
    F.ctc_loss(x, t(np.array([[1]])), [5], [1], reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy().sum(2), 0, atol=1e-12)


# --- modules ----------------------------------------------------------------------------------
def test_loss_modules_follow_functions_and_hold_weights():
    w = t(CW)
    ce = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1)
    assert list(ce.state_dict()) == ["weight"]
    np.testing.assert_allclose(
        ce(t(X), t(T)).numpy(),
        F.cross_entropy(t(X), t(T), t(CW), ignore_index=1, label_smoothing=0.1).numpy(),
    )
    bce = nn.BCEWithLogitsLoss(pos_weight=t(CW))
    assert list(bce.state_dict()) == ["pos_weight"]
    assert repr(nn.MSELoss()) == "MSELoss()"
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.L1Loss(size_average=False).reduction == "sum"
    modules = [
        (nn.MSELoss(reduction="sum"), (t(X), t(Y)), F.mse_loss(t(X), t(Y), reduction="sum")),
        (nn.L1Loss(), (t(X), t(Y)), F.l1_loss(t(X), t(Y))),
        (nn.SmoothL1Loss(beta=0.5), (t(X), t(Y)), F.smooth_l1_loss(t(X), t(Y), beta=0.5)),
        (nn.HuberLoss(delta=0.5), (t(X), t(Y)), F.huber_loss(t(X), t(Y), delta=0.5)),
        (nn.NLLLoss(), (t(X), t(T)), F.nll_loss(t(X), t(T))),
        (nn.BCELoss(), (t(P), t(Q)), F.binary_cross_entropy(t(P), t(Q))),
        (
            nn.KLDivLoss(reduction="batchmean"),
            (t(X), t(Q)),
            F.kl_div(t(X), t(Q), reduction="batchmean"),
        ),
        (nn.PoissonNLLLoss(), (t(X), t(Q)), F.poisson_nll_loss(t(X), t(Q))),
        (nn.GaussianNLLLoss(), (t(X), t(Y), t(W)), F.gaussian_nll_loss(t(X), t(Y), t(W))),
        (nn.SoftMarginLoss(), (t(X), t(np.sign(Y))), F.soft_margin_loss(t(X), t(np.sign(Y)))),
        (nn.MultiLabelSoftMarginLoss(), (t(X), t(Q)), F.multilabel_soft_margin_loss(t(X), t(Q))),
        (nn.MultiMarginLoss(), (t(X), t(T)), F.multi_margin_loss(t(X), t(T))),
        (nn.TripletMarginLoss(), (t(X), t(Y), t(W)), F.triplet_margin_loss(t(X), t(Y), t(W))),
        (
            nn.TripletMarginWithDistanceLoss(),
            (t(X), t(Y), t(W)),
            F.triplet_margin_with_distance_loss(t(X), t(Y), t(W)),
        ),
        (
            nn.HingeEmbeddingLoss(),
            (t(X), t(np.sign(Y))),
            F.hinge_embedding_loss(t(X), t(np.sign(Y))),
        ),
        (
            nn.CosineEmbeddingLoss(),
            (t(X), t(Y), t(np.sign(X[:, 0]))),
            F.cosine_embedding_loss(t(X), t(Y), t(np.sign(X[:, 0]))),
        ),
        (
            nn.MarginRankingLoss(0.2),
            (t(X[:, 0]), t(Y[:, 0]), t(np.sign(X[:, 1]))),
            F.margin_ranking_loss(t(X[:, 0]), t(Y[:, 0]), t(np.sign(X[:, 1])), 0.2),
        ),
    ]
    for module, args, ref in modules:
        np.testing.assert_allclose(module(*args).numpy(), ref.numpy(), err_msg=repr(module))
    lp = _logsoftmax(RNG.standard_normal((4, 1, 3)), 2)
    np.testing.assert_allclose(
        nn.CTCLoss(blank=0, reduction="sum")(t(lp), t(np.array([[1, 2]])), [4], [2]).numpy(),
        _ctc_brute(lp[:, 0], [1, 2]),
    )
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)


def test_distance_modules():
    np.testing.assert_allclose(
        nn.PairwiseDistance(p=1, eps=0)(t(X), t(Y)).numpy(), np.abs(X - Y).sum(1)
    )
    cos = (X * Y).sum(1) / np.linalg.norm(X, axis=1) / np.linalg.norm(Y, axis=1)
    np.testing.assert_allclose(nn.CosineSimilarity()(t(X), t(Y)).numpy(), cos)
    np.testing.assert_allclose(nn.CosineSimilarity(dim=0)(t(X), t(X[:1])).numpy().shape, (4,))
    got = F.pdist(t(X), p=3).numpy()
    i, j = np.triu_indices(5, 1)
    np.testing.assert_allclose(got, (np.abs(X[i] - X[j]) ** 3).sum(1) ** (1 / 3))
    np.testing.assert_allclose(
        F.pairwise_distance(t(X), t(Y), keepdim=True).numpy(),
        np.linalg.norm(X - Y + 1e-6, axis=1, keepdims=True),
    )
