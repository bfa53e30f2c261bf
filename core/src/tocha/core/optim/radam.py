"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2019)."""

from __future__ import annotations

from .._tensor import Tensor
from . import _util
from .optimizer import _check_hparams, _ElementwiseOptimizer

__all__ = ["RAdam"]


def _radam_kernel(xp, p, g, states, tmps, beta1, beta2, lr, wd, eps, maximize, decoupled, c):
    m, v = states
    t0, t1 = tmps
    g = _util.decayed_grad(xp, p, g, tmps, lr, wd, maximize, decoupled)
    _util.moments_(xp, m, v, g, beta1, beta2, t0)
    bias_correction1, bc2_sqrt, rect = c
    # update = (m / bias_correction1) * lr [* adaptive_lr * rect]; theta -= update
    xp.divide(m, bias_correction1, out=t1)
    t1 *= lr
    if rect is not None:
        # adaptive_lr = sqrt(1 - beta2^t) / (sqrt(v) + eps), as reciprocal * scalar like torch
        xp.sqrt(v, out=t0)
        t0 += eps
        xp.reciprocal(t0, out=t0)
        t0 *= bc2_sqrt
        t1 *= t0
        t1 *= rect
    p -= t1


class RAdam(_ElementwiseOptimizer):
    r"""RAdam: Adam whose adaptive step is switched on only once the variance of the adaptive
    learning rate is tractable, and rectified until then.

    With :math:`\rho_\infty = 2 / (1 - \beta_2) - 1` and
    :math:`\rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t)`:

    .. code-block:: text

        theta <- theta * (1 - lr * weight_decay)   (decoupled_weight_decay)
        g <- g + weight_decay * theta              (otherwise, if weight_decay != 0)
        m <- m + (1 - beta1) * (g - m)
        v <- beta2 * v + (1 - beta2) * g * g
        m_hat <- m / (1 - beta1 ** t)
        if rho_t > 5:
            r <- sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            theta <- theta - m_hat * lr * sqrt(1 - beta2 ** t) / (sqrt(v) + eps) * r
        else:
            theta <- theta - m_hat * lr

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: running-average coefficients (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).
        foreach, capturable: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.RAdam([w], lr=0.1)
        >>> w.grad = torch.tensor([2.0, -4.0])
        >>> opt.step()
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    _kernel = staticmethod(_radam_kernel)
    _group_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "capturable": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_hparams(lr, epsilon=eps, betas=betas, weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _group_args(self, group):
        opts = ("betas", "lr", "weight_decay", "eps", "maximize", "decoupled_weight_decay")
        args = _util.options(group, *opts)
        beta1, beta2, lr = args[:3]
        rho_inf = 2 / (1 - beta2) - 1

        def per_step(step: float, st) -> tuple:
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
            rect = None
            if rho_t > 5.0:
                rect = (
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                ) ** 0.5
            return ((bias_correction1, bias_correction2**0.5, rect),)

        return ("exp_avg", "exp_avg_sq"), args, per_step
