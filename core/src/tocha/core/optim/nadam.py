"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with torch's momentum-decay schedule."""

from __future__ import annotations

from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import _check_hparams, _ElementwiseOptimizer

__all__ = ["NAdam"]


def _nadam_kernel(xp, p, g, states, tmps, beta1, beta2, lr, wd, eps, maximize, decoupled, c):
    m, v = states
    t0, t1 = tmps
    g = _util.decayed_grad(xp, p, g, tmps, lr, wd, maximize, decoupled)
    bias_correction2, coef_g, coef_m = c
    _util.moments_(xp, m, v, g, beta1, beta2, t0)
    # denom = sqrt(v / bias_correction2) + eps
    xp.divide(v, bias_correction2, out=t0)
    xp.sqrt(t0, out=t0)
    t0 += eps
    # theta += (coef_g * g) / denom, then theta += (coef_m * m) / denom (two roundings, as torch)
    _util.addcdiv_(xp, p, g, t0, coef_g, t1)
    _util.addcdiv_(xp, p, m, t0, coef_m, t1)


class NAdam(_ElementwiseOptimizer):
    r"""NAdam: Adam with Nesterov momentum and a decaying momentum schedule.

    With :math:`\mu_t = \beta_1 (1 - 0.5 \cdot 0.96^{t \psi})` (:math:`\psi` = ``momentum_decay``)
    and :math:`\Pi_t = \prod_{i \le t} \mu_i`:

    .. code-block:: text

        theta <- theta * (1 - lr * weight_decay)   (decoupled_weight_decay)
        g <- g + weight_decay * theta              (otherwise, if weight_decay != 0)
        m <- m + (1 - beta1) * (g - m)
        v <- beta2 * v + (1 - beta2) * g * g
        denom <- sqrt(v / (1 - beta2 ** t)) + eps
        theta <- theta - lr * (1 - mu_t) / (1 - Pi_t) * g / denom
                       - lr * mu_{t+1} / (1 - Pi_t * mu_{t+1}) * m / denom

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: running-average coefficients (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        momentum_decay: :math:`\psi` (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).
        foreach, capturable: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = optim.NAdam([w], lr=0.1)
        >>> w.grad = torch.tensor([2.0])
        >>> opt.step()
        >>> opt.state[w]["mu_product"]
        tensor(0.4501)
    """

    _kernel = staticmethod(_nadam_kernel)
    _group_defaults = {
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_hparams(
            lr, epsilon=eps, betas=betas, weight_decay=weight_decay, momentum_decay=momentum_decay
        )
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for st in self.state.values():
            mp = st.get("mu_product") if isinstance(st, dict) else None
            if mp is not None and not isinstance(mp, Tensor):
                st["mu_product"] = _util.new_step(float(mp))

    def _init_state(self, st, p, names) -> None:
        # torch's layout: the running momentum product sits between the step and the buffers
        st["step"] = _util.new_step()
        st["mu_product"] = _util.new_step(1.0)
        st["exp_avg"] = _util.state_like(p)
        st["exp_avg_sq"] = _util.state_like(p)

    def _group_args(self, group):
        opts = ("betas", "lr", "weight_decay", "eps", "maximize", "decoupled_weight_decay")
        args = _util.options(group, *opts)
        beta1, beta2, lr = args[:3]
        psi = group["momentum_decay"]

        def per_step(step: float, st) -> tuple:
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
            # the product is a float32 (or float64) tensor, rounded at each step like torch's
            mp_arr = st["mu_product"]._data
            mp_arr *= mu
            mu_product = float(mp_arr)
            coef_g = -lr * (1.0 - mu) / (1.0 - mu_product)
            coef_m = -lr * mu_next / (1.0 - mu_product * mu_next)
            return ((1 - beta2**step, coef_g, coef_m),)

        return ("exp_avg", "exp_avg_sq"), args, per_step
