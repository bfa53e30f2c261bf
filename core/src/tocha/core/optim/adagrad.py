"""Adagrad (Duchi et al., 2011): per-coordinate steps scaled by accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["Adagrad"]


def _adagrad_kernel(xp, p, g, states, tmps, wd, eps, maximize, clr):
    (acc,) = states
    t0, t1 = tmps
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize, 1)
    xp.multiply(g, g, out=t0)
    acc += t0
    xp.sqrt(acc, out=t0)
    t0 += eps
    xp.multiply(g, -clr, out=t1)
    t1 /= t0
    p += t1


class Adagrad(Optimizer):
    r"""Adagrad.

    .. code-block:: text

        g <- g + weight_decay * theta                  (if weight_decay != 0)
        clr <- lr / (1 + (t - 1) * lr_decay)
        s <- s + g * g                                 (s starts at initial_accumulator_value)
        theta <- theta - clr * g / (sqrt(s) + eps)

    Unlike the other optimizers, Adagrad creates its state (``step`` and ``sum``) for every
    parameter when it is constructed, as torch does.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the sums of squares (default 0).
        eps: added to the denominator (default 1e-10).
        foreach, fused: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adagrad([w], lr=0.5)
        >>> w.grad = torch.tensor([2.0, -4.0])
        >>> opt.step()
        >>> w
        tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _validate(
            initial_accumulator_value >= 0.0,
            f"Invalid initial_accumulator_value value: {initial_accumulator_value}",
        )
        _validate(eps >= 0.0, f"Invalid epsilon value: {eps}")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        init = self.defaults["initial_accumulator_value"]
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, init)

    def _init_state(self, p: Tensor, init: float) -> None:
        st = self.state[p]
        st["step"] = _util.new_step()
        value = complex(init, init) if p.is_complex() else init
        st["sum"] = _util.full_state_like(p, value)

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

    def _tensor_step_keys(self) -> bool:
        return True

    def share_memory(self) -> None:
        """Kept for torch compatibility: a no-op (tocha tensors are not shared across
        processes through torch.multiprocessing)."""

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one Adagrad step; returns the closure's loss when a closure is given."""
        loss = self._eval_closure(closure)
        batch = self._batch()
        add = batch.add
        state = self.state
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _util.scalar(group["lr"])
            lr_decay = group["lr_decay"]
            wd = _util.scalar(group["weight_decay"])
            eps = group["eps"]
            maximize = group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = state[p]
                if not st:
                    self._init_state(p, self.defaults["initial_accumulator_value"])
                step_t = st["step"]._data
                step_t += 1
                clr = lr / (1 + (float(step_t) - 1) * lr_decay)
                add(
                    _adagrad_kernel,
                    p._data,
                    g._data,
                    (st["sum"]._data,),
                    2,
                    wd,
                    eps,
                    maximize,
                    clr,
                )
                p._bump_version()
        batch.run()
        return loss
