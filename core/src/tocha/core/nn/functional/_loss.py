"""Loss functions of ``torch.nn.functional``.

cross_entropy over class indices, nll_loss and ctc_loss are fused nodes
(``tocha.core._ops.loss``); mse_loss and binary_cross_entropy are small nodes with a one-pass
backward; the other losses are short compositions of tocha ops, so all of them are twice
differentiable wherever torch's are.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._ops import loss as _L
from ..._ops import pointwise as _P
from ..._ops._util import xp_of
from ..._tensor import Size, Tensor, wrap
from ...autograd.function import Node
from ...autograd.grad_mode import MODE

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "ctc_loss",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "multilabel_margin_loss",
    "soft_margin_loss",
]


# --- shared helpers ---------------------------------------------------------------------------
def legacy_reduction(size_average, reduce, emit_warning: bool = True) -> str:
    """The ``reduction`` string of the deprecated ``size_average`` / ``reduce`` pair."""
    warning = "size_average and reduce args will be deprecated, please use reduction='{}' instead."
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(warning.format(ret), stacklevel=3)
    return ret


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    return reduction


def _checked_reduction(size_average, reduce, reduction: str) -> str:
    """`_reduction`, refusing an unknown ``reduction`` string (the legacy pair always gives a
    valid one)."""
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    _check_reduction(reduction)
    return reduction


def _num(v) -> str:
    """A number as torch prints a double in messages (``2.0`` as ``2``)."""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_margin(name: str, margin: float) -> None:
    if margin <= 0:
        raise ValueError(f"{name}: expected margin to be greater than 0, got {margin} instead")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _size_warning(input: Tensor, target: Tensor) -> None:
    if tuple(target._data.shape) != tuple(input._data.shape):
        warnings.warn(
            f"Using a target size ({Size(target._data.shape)}) that is different to the "
            f"input size ({Size(input._data.shape)}). This will likely lead to incorrect "
            "results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def _broadcast(input: Tensor, target: Tensor):
    if tuple(target._data.shape) == tuple(input._data.shape):
        return input, target
    from ..._ops.shape import broadcast_tensors

    return broadcast_tensors(input, target)


def _weighted(loss: Tensor, weight, input: Tensor, reduction: str, by_weight=True) -> Tensor:
    """torch 2.x's ``weight=`` of the regression losses: elementwise weights; the mean divides
    by their sum (mse, l1) or by the element count (huber)."""
    if tuple(weight._data.shape) != tuple(input._data.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if by_weight else loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _as_tensor(x, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x
    from ..._ops.creation import tensor

    return tensor(x, dtype=like.dtype, device=like.device)


# --- regression losses ------------------------------------------------------------------------
class MseLoss(Node):
    """``mean/sum((x - y)^2)`` over same-shape operands: two passes forward, one backward."""

    save_inputs = (0, 1)

    def forward(self, x, y, reduction="mean"):
        xp = xp_of(x)
        self.reduction = reduction
        d = xp.subtract(x, y)
        if reduction == "none":
            d *= d
            return d
        flat = d.reshape(-1)
        dt = np.float32 if d.dtype.kind == "V" or d.dtype.itemsize == 2 else d.dtype
        f = flat.astype(dt, copy=False)
        total = f @ f
        if reduction == "mean":
            total = total / f.size if f.size else xp.asarray(np.nan, dtype=dt)
        return xp.asarray(total, dtype=x.dtype)

    def backward(self, g):
        x, y = self.saved_inputs
        nx, ny = self.needs_input_grad
        if MODE.grad:
            gd = 2 * (x - y) * g
            if self.reduction == "mean":
                gd = gd / max(x._data.size, 1)
            return (gd if nx else None), (-gd if ny else None)
        xa, ya, ga = x._data, y._data, g._data
        xp = xp_of(xa)
        gd = xp.subtract(xa, ya)
        scale = 2.0 / max(xa.size, 1) if self.reduction == "mean" else 2.0
        if self.reduction == "none":
            gd *= ga
            gd *= 2
        else:
            gd *= ga * scale
        gd = gd.astype(xa.dtype, copy=False)
        return (wrap(gd) if nx else None), (wrap(-gd) if ny else None)


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error ``(input - target)^2``, reduced.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        tensor(2.)
    """
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _broadcast(input, target)
    if weight is not None:
        return _weighted((x - y) ** 2, weight, input, reduction)
    _check_reduction(reduction)
    if x._data.dtype != y._data.dtype or x._data.dtype.kind not in "fV":
        return _reduce((x - y) ** 2, reduction)
    return MseLoss.apply(x, y, reduction=reduction)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.l1_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        tensor(1.)
    """
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _broadcast(input, target)
    loss = (x - y).abs()
    if weight is not None:
        return _weighted(loss, weight, input, reduction)
    return _reduce(loss, reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """``0.5 z^2 / beta`` for ``|z| < beta``, else ``|z| - 0.5 beta`` (``z = input - target``).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction='none')
        tensor([0.1250, 2.5000])
    """
    _size_warning(input, target)
    reduction = _checked_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, y = _broadcast(input, target)
    z = (x - y).abs()
    if beta == 0:
        return _reduce(z, reduction)
    loss = _P.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """``0.5 z^2`` for ``|z| < delta``, else ``delta (|z| - 0.5 delta)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.huber_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction='none')
        tensor([0.1250, 2.5000])
    """
    _size_warning(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    x, y = _broadcast(input, target)
    z = (x - y).abs()
    loss = _P.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
    if weight is not None:
        return _weighted(loss, weight, input, reduction, by_weight=False)
    _check_reduction(reduction)
    return _reduce(loss, reduction)


# --- classification losses --------------------------------------------------------------------
def _class_layout(input: Tensor, target: Tensor, weight, name: str):
    """(M, C) rows of ``input`` (class dim 1 moved last), the (M,) raw target indices, the
    checked class weights (raw array or None) and the shape a ``reduction='none'`` result
    takes."""
    rows, t, out_shape = _class_rows(input, target, name)
    _check_weight(weight, rows._data.shape[1])
    return rows, t, (weight._data if weight is not None else None), out_shape


def _unflatten_none(loss: Tensor, reduction: str, out_shape: tuple) -> Tensor:
    """The per-row loss of ``reduction='none'`` back in the shape of the target."""
    if reduction == "none" and tuple(loss._data.shape) != out_shape:
        return loss.reshape(out_shape)
    return loss


def _class_rows(input: Tensor, target: Tensor, name: str):
    # checks target's dtype and shape against input's, then flattens the spatial dims
    nd = input._data.ndim
    tdt = target._data.dtype
    if tdt.kind not in "iu" or tdt not in (np.int64, np.uint8):
        names = {
            "float32": "Float",
            "float64": "Double",
            "int32": "Int",
            "int16": "Short",
            "int8": "Char",
            "bool": "Bool",
            "float16": "Half",
        }
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {names.get(str(tdt), str(tdt))}"
        )
    t = target._data.astype(np.int64, copy=False)
    if nd == 1:
        if target._data.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if target._data.ndim == 1 and target._data.shape[0] != 1:
            raise ValueError(
                "For 1D input, 1D target must have size 1, but got target size: "
                f"{target._data.shape[0]}"
            )
        return input.reshape(1, -1), t.reshape(1), tuple(target._data.shape)
    if nd == 0:
        raise RuntimeError(f"{name}: input tensor should be 1D or 2D")
    n = input._data.shape[0]
    if target._data.ndim == 0 or target._data.shape[0] != n:
        tn = target._data.shape[0] if target._data.ndim else 0
        raise ValueError(f"Expected input batch_size ({n}) to match target batch_size ({tn}).")
    if nd == 2:
        if target._data.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return input, t, (n,)
    spatial = tuple(input._data.shape[2:])
    if tuple(target._data.shape[1:]) != spatial:
        raise RuntimeError(f"Expected target size {[n, *spatial]}, got {list(target._data.shape)}")
    c = input._data.shape[1]
    rows = input.movedim(1, -1).reshape(-1, c)
    return rows, t.reshape(-1), (n, *spatial)


def _check_weight(weight, c: int) -> None:
    if weight is not None and (weight._data.ndim != 1 or weight._data.shape[0] != c):
        raise RuntimeError(
            f"weight tensor should be defined either for all {c} classes or no classes but got "
            f"weight tensor of shape: {list(weight._data.shape)}"
        )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities ``input``
    ((N, C) or (N, C, d1, ...)); ``weight`` rescales classes and the mean divides by the
    summed weights of the kept targets.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.nll_loss(torch.tensor([[-1.0, -2.0], [-3.0, -0.5]]), torch.tensor([0, 1]))
        tensor(0.7500)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    rows, t, w, out_shape = _class_layout(input, target, weight, "nll_loss")
    loss = _L.nll_indices(rows, t, w, ignore_index, reduction)
    return _unflatten_none(loss, reduction, out_shape)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits ``input`` ((C), (N, C) or (N, C, d1, ...)) and class
    indices or class probabilities ``target``, with class ``weight``, ``ignore_index`` and
    ``label_smoothing`` as torch.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.cross_entropy(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
        tensor(0.4100)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(
            f"label_smoothing must be between 0.0 and 1.0. Got: {_num(label_smoothing)}"
        )
    if target._data.dtype.kind in "fV" and tuple(target._data.shape) == tuple(input._data.shape):
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    rows, t, w, out_shape = _class_layout(input, target, weight, "cross_entropy")
    loss = _L.cross_entropy_indices(rows, t, w, ignore_index, label_smoothing, reduction)
    return _unflatten_none(loss, reduction, out_shape)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing) -> Tensor:
    cdim = 0 if input._data.ndim == 1 else 1
    c = input._data.shape[cdim]
    _check_weight(weight, c)
    logp = _P.log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        wshape = [1] * input._data.ndim
        wshape[cdim] = c
        prod = prod * weight.reshape(wshape)
    loss = -prod.sum(cdim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    n = input._data.size // c if c else 0
    return loss.sum() / n if n else loss.sum() * math.nan


class BinaryCrossEntropy(Node):
    """``-w (t log x + (1 - t) log(1 - x))`` with the logs clamped at -100, as torch; the
    input gradient is ``w (x - t) / max(x (1 - x), 1e-12)``."""

    save_inputs = (0, 1)

    def forward(self, x, t, *w, reduction="mean"):
        xp = xp_of(x)
        self.reduction = reduction
        self.save_inputs = (0, 1, 2) if w else (0, 1)
        lx = np.maximum(_quiet_log(xp, x), -100)
        l1x = np.maximum(_quiet_log(xp, 1 - x), -100)
        loss = -(t * lx + (1 - t) * l1x)
        if w:
            loss = loss * w[0]
        loss = loss.astype(x.dtype, copy=False)
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "mean":
            total = total / loss.size if loss.size else np.nan
        return xp.asarray(total, dtype=x.dtype)

    def backward(self, g):
        saved = self.saved_inputs
        x, t = saved[0], saved[1]
        w = saved[2] if len(saved) > 2 else None
        needs = self.needs_input_grad
        n = max(x._data.size, 1)
        scale = g / n if self.reduction == "mean" else g
        if MODE.grad:
            gx = gt = None
            if needs[0]:
                gx = (x - t) / (x * (1 - x)).clamp_min(1e-12) * scale
                if w is not None:
                    gx = gx * w
            if needs[1]:
                gt = ((1 - x).log().clamp_min(-100) - x.log().clamp_min(-100)) * scale
                if w is not None:
                    gt = gt * w
            res = [gx, gt]
            if w is not None:
                lx, l1x = x.log().clamp_min(-100), (1 - x).log().clamp_min(-100)
                res.append(-(t * lx + (1 - t) * l1x) * scale if needs[2] else None)
            return tuple(res)
        xa, ta, sa = x._data, t._data, scale._data
        xp = xp_of(xa)
        res = [None, None]
        if needs[0]:
            gx = (xa - ta) / xp.maximum(xa * (1 - xa), 1e-12) * sa
            if w is not None:
                gx = gx * w._data
            res[0] = wrap(gx.astype(xa.dtype, copy=False))
        if needs[1]:
            lx = np.maximum(_quiet_log(xp, xa), -100)
            l1x = np.maximum(_quiet_log(xp, 1 - xa), -100)
            gt = (l1x - lx) * sa
            if w is not None:
                gt = gt * w._data
            res[1] = wrap(gt.astype(xa.dtype, copy=False))
        if w is not None:
            gw = None
            if needs[2]:
                lx = np.maximum(_quiet_log(xp, xa), -100)
                l1x = np.maximum(_quiet_log(xp, 1 - xa), -100)
                gw = wrap((-(ta * lx + (1 - ta) * l1x) * sa).astype(xa.dtype, copy=False))
            res.append(gw)
        return tuple(res)


def _quiet_log(xp, a):
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.log(a)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy between probabilities ``input`` and ``target``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.binary_cross_entropy(torch.tensor([0.5, 0.9]), torch.tensor([1.0, 1.0]))
        tensor(0.3993)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    if tuple(target._data.shape) != tuple(input._data.shape):
        raise ValueError(
            f"Using a target size ({Size(target._data.shape)}) that is different to the "
            f"input size ({Size(input._data.shape)}) is deprecated. Please ensure they "
            "have the same size."
        )
    xa = input._data
    if xa.size and bool(((xa < 0) | (xa > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    ts = [input, target]
    if weight is not None:
        w = weight
        if tuple(w._data.shape) != tuple(xa.shape):
            from ..._ops.shape import broadcast_to

            w = broadcast_to(w, tuple(xa.shape))
        ts.append(w)
    return BinaryCrossEntropy.apply(*ts, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` against ``target``, computed stably from the
    logits; ``pos_weight`` weighs the positive term per class.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.binary_cross_entropy_with_logits(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
        tensor(1.4100)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    if tuple(target._data.shape) != tuple(input._data.shape):
        raise ValueError(
            f"Target size ({Size(target._data.shape)}) must be the same as input size "
            f"({Size(input._data.shape)})"
        )
    from ..._ops import activation as _A

    # (1 - t) x + lw * softplus(-x), softplus(-x) = -logsigmoid(x); lw = 1 + (pw - 1) t
    sp = -_A.logsigmoid(input)
    if pos_weight is not None:
        lw = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + lw * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence ``target * (log target - input)`` (``input`` holds
    log-probabilities; ``log_target=True`` says ``target`` does too); ``'batchmean'`` divides
    the sum by the batch size.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> p = torch.tensor([[0.5, 0.5]])
        >>> F.kl_div(p.log(), p, reduction='batchmean')
        tensor(0.)
    """
    if size_average is not None or reduce is not None:
        reduction_enum = legacy_reduction(size_average, reduce)
    else:
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the "
                "support size.'batchmean' divides only by the batch size, and aligns with the "
                "KL div math definition.'mean' will be changed to behave the same as "
                "'batchmean' in the next major release.",
                stacklevel=2,
            )
        reduction_enum = "sum" if reduction == "batchmean" else reduction
        _check_reduction(reduction_enum)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _P.xlogy(target, target) - target * input
    out = _reduce(loss, reduction_enum)
    if reduction == "batchmean" and input._data.ndim != 0:
        out = out / input._data.shape[0]
    return out


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood: ``exp(input) - target * input`` (``log_input``) or
    ``input - target * log(input + eps)``; ``full`` adds the Stirling term.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.poisson_nll_loss(torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(1.)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + _P.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood ``0.5 (log var + (input - target)^2 / var)`` with
    ``var`` clamped below at ``eps`` (the clamp passes gradients through, as torch).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.gaussian_nll_loss(torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([1.0]))
        tensor(0.)
    """
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        from ..._ops.creation import full_like

        var = full_like(input, float(var))
    ishape, vshape = tuple(input._data.shape), tuple(var._data.shape)
    if vshape != ishape:
        if ishape[:-1] == vshape:
            var = var.unsqueeze(-1)
        elif ishape[:-1] == vshape[:-1] and vshape[-1:] == (1,):
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if bool((var._data < 0).any()):
        raise ValueError("var has negative entry/entries")
    var = _ClampKeepGrad.apply(var, eps=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


class _ClampKeepGrad(Node):
    """``max(v, eps)`` whose gradient is the identity (torch clamps var in place under
    no_grad, so its gradient flows as if unclamped)."""

    def forward(self, v, eps=0.0):
        return xp_of(v).maximum(v, v.dtype.type(eps)) if v.dtype.kind == "f" else v

    def backward(self, g):
        return g


def _host_int64(arr) -> np.ndarray:
    """An index array (NumPy or CuPy) as an int64 NumPy array, for loops on the host."""
    return np.asarray(arr if arr.__class__ is np.ndarray else arr.get()).astype(np.int64)


# --- CTC --------------------------------------------------------------------------------------
def _lengths(x, n: int, name: str):
    if isinstance(x, Tensor):
        arr = _host_int64(x._data).reshape(-1)
    else:
        arr = np.asarray(x, dtype=np.int64).reshape(-1)
    if arr.shape[0] != n:
        raise RuntimeError(f"{name} must be of size batch_size")
    return arr


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """Connectionist Temporal Classification loss of ``log_probs`` ((T, N, C) or (T, C),
    log-softmax outputs) against ``targets`` (padded (N, S) or concatenated 1-D).

    ``'mean'`` divides each loss by its target length, then averages over the batch. The
    gradient with respect to ``log_probs`` is torch's (``exp(log_probs) - occupancy``), which
    is the exact gradient with respect to the logits of the log_softmax that produced them.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> lp = torch.full((2, 1, 2), 0.5).log()
        >>> F.ctc_loss(lp, torch.tensor([[1]]), [2], [1], reduction='sum')
        tensor(0.2877)
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs._data.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if targets._data.ndim == 1:
            targets = targets.unsqueeze(0)
    t_max, n, c = log_probs._data.shape
    in_len = _lengths(input_lengths, n, "input_lengths")
    tgt_len = _lengths(target_lengths, n, "target_lengths")
    for v in in_len:
        if v > t_max:
            raise RuntimeError(
                f"Expected input_lengths to have value at most {t_max}, but got value {v} "
                "(while checking arguments for ctc_loss_allocate_outputs)"
            )
    tg = _host_int64(targets._data)
    s_max = int(tgt_len.max()) if n else 0
    padded = np.full((n, s_max), blank, dtype=np.int64)
    if tg.ndim == 2:
        for i, ln in enumerate(tgt_len):
            if ln > tg.shape[1]:
                raise RuntimeError(
                    f"Expected tensor to have size at least {ln} at dimension 1, but got size "
                    f"{tg.shape[1]} for argument #2 'targets' (while checking arguments for "
                    "ctc_loss_allocate_outputs)"
                )
            padded[i, :ln] = tg[i, :ln]
    else:
        off = 0
        for i, ln in enumerate(tgt_len):
            padded[i, :ln] = tg[off : off + ln]
            off += ln
    big_l = 2 * s_max + 1
    ext = np.full((n, big_l), blank, dtype=np.int64)
    ext[:, 1::2] = padded
    # a label may be reached from two states back when it differs from the previous label
    skip = np.zeros((n, big_l), dtype=bool)
    if big_l > 3:
        skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    xp = xp_of(log_probs._data)
    if xp is not np:
        ext, skip = xp.asarray(ext), xp.asarray(skip)
        in_len_x, tgt_len_x = xp.asarray(in_len), xp.asarray(tgt_len)
    else:
        in_len_x, tgt_len_x = in_len, tgt_len
    nll = _L.ctc_nll(log_probs, ext, skip, in_len_x, tgt_len_x, zero_infinity)
    if reduction == "none":
        return nll.squeeze(0) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    div = np.maximum(tgt_len, 1).astype(np.float64)
    scale = wrap(xp.asarray((1.0 / div).astype(log_probs._data.dtype)))
    return (nll * scale).mean()


# --- margin / embedding losses ----------------------------------------------------------------
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.margin_ranking_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]),
        ...                       torch.tensor([1.0, 1.0]), margin=0.5)
        tensor(0.7500)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    d1, d2, dt = input1._data.ndim, input2._data.ndim, target._data.ndim
    if d1 != d2 or d1 != dt:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {Size(input1._data.shape)}, input2: {Size(input2._data.shape)}, "
            f"target: {Size(target._data.shape)} "
        )
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``input`` where ``target == 1`` and ``max(0, margin - input)`` where ``target == -1``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.hinge_embedding_loss(torch.tensor([0.3, 0.4]), torch.tensor([1.0, -1.0]))
        tensor(0.4500)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    margin_clamp = (margin - input).clamp_min(0)
    out_margin = _P.where(target != 1, margin_clamp, 0.0)
    out_self = _P.where(target != -1, input, 0.0)
    return _reduce(out_margin + out_self, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where
    ``target == -1``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> a = torch.tensor([[1.0, 0.0]])
        >>> F.cosine_embedding_loss(a, torch.tensor([[0.0, 1.0]]), torch.tensor([1.0]))
        tensor(1.)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    nd = input1._data.ndim
    if input2._data.ndim != nd:
        raise RuntimeError(
            "cosine_embedding_loss : input1 and input2 should have the same number of "
            f"dimensions, but got {nd} and {input2._data.ndim}"
        )
    if nd not in (1, 2):
        raise RuntimeError(
            f"1D target tensor expects 2D input tensors, but found inputs with "
            f"sizes {list(input1._data.shape)} and {list(input2._data.shape)}."
        )
    d = nd - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = prod / (m1 * m2).sqrt()
    pos = _P.where(target == 1, 1 - cos, 0.0)
    neg = _P.where(target == -1, (cos - margin).clamp_min(0), 0.0)
    return _reduce(pos + neg, reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the p-norm pairwise distance.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> a = torch.tensor([[0.0, 0.0]])
        >>> F.triplet_margin_loss(a, torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]]))
        tensor(0.)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    da, dp, dn = anchor._data.ndim, positive._data.ndim, negative._data.ndim
    if not (da == dp == dn):
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {da}D, positive {dp}D, and negative {dn}D inputs"
        )
    from ._distance import pairwise_distance

    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _P.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = (margin + d_pos - d_neg).clamp_min(0)
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function=None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with any distance function (default: the
    Euclidean pairwise distance).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> a = torch.tensor([[0.0, 0.0]])
        >>> F.triplet_margin_with_distance_loss(a, a + 1, a + 3)
        tensor(0.)
    """
    _check_reduction(reduction)
    _check_margin("TripletMarginWithDistanceLoss", margin)
    from ._distance import pairwise_distance

    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = _P.minimum(d_neg, dist(positive, negative))
    loss = (margin + d_pos - d_neg).clamp_min(0)
    return _reduce(loss, reduction)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: per sample, ``sum_{j != y} max(0, margin - x[y] + x[j])^p / C``
    (times ``weight[y]``).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.multi_margin_loss(torch.tensor([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([3]))
        tensor(0.3250)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight._data.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    x = input if input._data.ndim == 2 else input.reshape(1, -1)
    n, c = x._data.shape
    t = target._data.reshape(-1).astype(np.int64)
    if t.shape[0] != n:
        raise RuntimeError(
            f"inconsistent target size, expected {n} but got {list(target._data.shape)}"
        )
    xp = xp_of(x._data)
    tt = t if xp is np else xp.asarray(t)
    _L.check_targets(xp, tt, tt == tt, c)
    from ..._ops.index import gather

    idx = wrap(tt.reshape(n, 1))
    xy = gather(x, 1, idx)
    h = (margin - xy + x).clamp_min(0)
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * gather(weight, 0, wrap(tt)).reshape(n, 1)
    onehot = xp.zeros((n, c), dtype=bool)
    onehot[xp.arange(n), tt] = True
    h = _P.where(wrap(onehot), 0.0, h)
    loss = h.sum(1) / c
    if input._data.ndim != 2 and reduction == "none":
        loss = loss.reshape(target._data.shape)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Per sample, the mean over classes of the logistic loss of each label.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.multilabel_soft_margin_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
        tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    from ..._ops import activation as _A

    loss = -(target * _A.logsigmoid(input) + (1 - target) * _A.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cdim = input._data.ndim - 1
    loss = loss.sum(cdim) / input._data.shape[cdim]
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(reduction + " is not valid")


def multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Multi-label hinge loss: ``target`` lists each sample's classes, ended by the first -1;
    per sample ``sum_{j in y, k not in y} max(0, 1 - (x[j] - x[k])) / C``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
        >>> F.multilabel_margin_loss(x, torch.tensor([[3, 0, -1, 1]]))
        tensor(0.8500)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    x = input if input._data.ndim == 2 else input.reshape(1, -1)
    n, c = x._data.shape
    tg = _host_int64(target._data.reshape(n, c))
    count = np.zeros((n, c), dtype=np.float64)  # how often each class is listed (torch
    for i in range(n):  # sums over the listed positions, so a repeated class counts twice)
        for v in tg[i]:
            if v < 0:
                break
            if v >= c:
                raise RuntimeError(f"multilabel_margin_loss: target {int(v)} out of range")
            count[i, v] += 1
    is_t = count > 0
    xp = xp_of(x._data)
    pair = count[:, :, None] * ~is_t[:, None, :]  # (n, j listed, k not listed)
    diff = x.unsqueeze(2) - x.unsqueeze(1)  # x[j] - x[k]
    h = (1 - diff).clamp_min(0) * wrap(xp.asarray(pair.astype(x._data.dtype)))
    loss = h.sum((1, 2)) / c
    if input._data.ndim != 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def soft_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target * input))``.

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.nn.functional as F
        >>> F.soft_margin_loss(torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(0.6931)
    """
    reduction = _checked_reduction(size_average, reduce, reduction)
    from ..._ops import activation as _A

    loss = _A.softplus(-target * input)
    return _reduce(loss, reduction)
