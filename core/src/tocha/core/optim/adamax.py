"""Adamax: Adam with the infinity norm of past gradients (Kingma & Ba, 2014, section 7)."""

from __future__ import annotations

from .._tensor import Tensor
from . import _util
from .optimizer import _check_hparams, _ElementwiseOptimizer

__all__ = ["Adamax"]


def _adamax_kernel(xp, p, g, states, tmps, beta1, beta2, wd, eps, maximize, clr):
    m, u = states
    t0 = tmps[0]
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize)
    _util.lerp_(xp, m, g, 1 - beta1, t0)
    u *= beta2
    xp.abs(g, out=t0)
    t0 += eps
    xp.maximum(u, t0, out=u)
    _util.addcdiv_(xp, p, m, u, -clr, t0)


class Adamax(_ElementwiseOptimizer):
    r"""Adamax, the infinity-norm variant of Adam.

    .. code-block:: text

        g <- g + weight_decay * theta                   (if weight_decay != 0)
        m <- m + (1 - beta1) * (g - m)
        u <- max(beta2 * u, |g| + eps)
        theta <- theta - (lr / (1 - beta1 ** t)) * m / u

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: running-average coefficients (default (0.9, 0.999)).
        eps: added to the infinity norm for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        foreach, capturable: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adamax([w], lr=0.1)
        >>> (w ** 2).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _kernel = staticmethod(_adamax_kernel)
    _group_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_hparams(lr, epsilon=eps, betas=betas, weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _group_args(self, group):
        args = _util.options(group, "betas", "weight_decay", "eps", "maximize")
        beta1, lr = args[0], _util.scalar(group["lr"])
        return ("exp_avg", "exp_inf"), args, lambda step, st: (lr / (1 - beta1**step),)
