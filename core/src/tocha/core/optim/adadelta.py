"""Adadelta (Zeiler, 2012): steps scaled by the ratio of running RMS of updates and gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["Adadelta"]


def _adadelta_kernel(xp, p, g, states, tmps, lr, rho, eps, wd, maximize):
    sq, acc = states
    t0, t1, t2 = tmps
    g = _util.effective_grad(xp, p, g, (t0, t1), wd, maximize, 1)
    sq *= rho
    xp.multiply(g, 1 - rho, out=t0)
    t0 *= g
    sq += t0
    # std = sqrt(sq + eps); delta = sqrt(acc + eps) / std * g
    xp.add(sq, eps, out=t0)
    xp.sqrt(t0, out=t0)
    xp.add(acc, eps, out=t2)
    xp.sqrt(t2, out=t2)
    t2 /= t0
    t2 *= g
    acc *= rho
    xp.multiply(t2, 1 - rho, out=t0)
    t0 *= t2
    acc += t0
    xp.multiply(t2, -lr, out=t2)
    p += t2


class Adadelta(Optimizer):
    r"""Adadelta.

    .. code-block:: text

        g <- g + weight_decay * theta                         (if weight_decay != 0)
        v <- rho * v + (1 - rho) * g * g
        delta <- sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * delta * delta
        theta <- theta - lr * delta

    Args:
        params: parameters or parameter groups to optimize.
        lr: coefficient scaling delta before it is applied (default 1.0).
        rho: running-average coefficient (default 0.9).
        eps: added inside the square roots (default 1e-6).
        weight_decay: L2 penalty (default 0).
        foreach, capturable: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = optim.Adadelta([w], eps=0.01)
        >>> w.grad = torch.tensor([1.0])
        >>> opt.step()
        >>> w
        tensor([0.6985], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _validate(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def _tensor_step_keys(self) -> bool:
        return True

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one Adadelta step; returns the closure's loss when a closure is given."""
        loss = self._eval_closure(closure)
        batch = self._batch()
        add = batch.add
        state = self.state
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _util.scalar(group["lr"])
            rho = group["rho"]
            eps = group["eps"]
            wd = _util.scalar(group["weight_decay"])
            maximize = group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = state[p]
                if not st:
                    st["step"] = _util.new_step()
                    st["square_avg"] = _util.state_like(p)
                    st["acc_delta"] = _util.state_like(p)
                st["step"]._data += 1
                add(
                    _adadelta_kernel,
                    p._data,
                    g._data,
                    (st["square_avg"]._data, st["acc_delta"]._data),
                    3,
                    lr,
                    rho,
                    eps,
                    wd,
                    maximize,
                )
                p._bump_version()
        batch.run()
        return loss
