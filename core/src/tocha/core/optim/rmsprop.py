"""RMSprop (Hinton's lecture 6e), optionally centered (Graves, 2013) and with momentum."""

from __future__ import annotations

from .._tensor import Tensor
from . import _util
from .optimizer import _check_hparams, _ElementwiseOptimizer

__all__ = ["RMSprop"]


def _rmsprop_kernel(xp, p, g, states, tmps, lr, alpha, eps, wd, momentum, maximize):
    sq, buf, gavg = states
    t0, t1 = tmps
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize)
    _util.square_avg_(xp, sq, g, alpha, t0)
    if gavg is not None:
        _util.lerp_(xp, gavg, g, 1 - alpha, t0)
        # avg = sqrt(sq - gavg^2)
        xp.multiply(gavg, -1, out=t0)
        t0 *= gavg
        t0 += sq
        xp.sqrt(t0, out=t0)
    else:
        xp.sqrt(sq, out=t0)
    t0 += eps
    if buf is not None:
        buf *= momentum
        xp.divide(g, t0, out=t0)
        buf += t0
        _util.add_(xp, p, buf, -lr, t0)
    else:
        _util.addcdiv_(xp, p, g, t0, -lr, t1)


class RMSprop(_ElementwiseOptimizer):
    r"""RMSprop: divide the gradient by a running root mean square of recent gradients.

    .. code-block:: text

        g <- g + weight_decay * theta                 (if weight_decay != 0)
        v <- alpha * v + (1 - alpha) * g * g
        centered:  g_avg <- g_avg + (1 - alpha) * (g - g_avg);  avg <- sqrt(v - g_avg^2) + eps
        otherwise: avg <- sqrt(v) + eps
        momentum > 0:  b <- momentum * b + g / avg;  theta <- theta - lr * b
        otherwise:     theta <- theta - lr * g / avg

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance (default False).
        capturable, foreach: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = optim.RMSprop([w], lr=0.01, alpha=0.75)
        >>> w.grad = torch.tensor([2.0])
        >>> opt.step()
        >>> w
        tensor([0.9800], requires_grad=True)
    """

    _kernel = staticmethod(_rmsprop_kernel)
    _group_defaults = {
        "momentum": 0,
        "centered": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_hparams(lr, epsilon=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _group_args(self, group):
        buf = "momentum_buffer" if group["momentum"] > 0 else None
        names = ("square_avg", buf, "grad_avg" if group["centered"] else None)
        opts = ("lr", "alpha", "eps", "weight_decay", "momentum", "maximize")
        return names, _util.options(group, *opts), None
