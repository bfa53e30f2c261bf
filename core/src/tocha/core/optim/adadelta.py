"""Adadelta (Zeiler, 2012): steps scaled by the ratio of running RMS of updates and gradients."""

from __future__ import annotations

from .._tensor import Tensor
from . import _util
from .optimizer import _check_hparams, _ElementwiseOptimizer

__all__ = ["Adadelta"]


def _adadelta_kernel(xp, p, g, states, tmps, lr, rho, eps, wd, maximize):
    sq, acc = states
    t0, t1, t2 = tmps
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize)
    _util.square_avg_(xp, sq, g, rho, t0)
    # std = sqrt(sq + eps); delta = sqrt(acc + eps) / std * g
    xp.add(sq, eps, out=t0)
    xp.sqrt(t0, out=t0)
    xp.add(acc, eps, out=t2)
    xp.sqrt(t2, out=t2)
    t2 /= t0
    t2 *= g
    _util.square_avg_(xp, acc, t2, rho, t0)
    _util.add_(xp, p, t2, -lr, t2)


class Adadelta(_ElementwiseOptimizer):
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

    _kernel = staticmethod(_adadelta_kernel)
    _ntmp = 3
    _group_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

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
        _check_hparams(lr, rho=rho, epsilon=eps, weight_decay=weight_decay)
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

    def _group_args(self, group):
        args = _util.options(group, "lr", "rho", "eps", "weight_decay", "maximize")
        return ("square_avg", "acc_delta"), args, None
