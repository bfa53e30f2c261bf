"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with torch's momentum-decay schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["NAdam"]


def _nadam_kernel(xp, p, g, states, tmps, beta1, beta2, lr, wd, eps, maximize, decoupled, c):
    m, v = states
    t0, t1 = tmps
    if wd != 0 and decoupled:
        p *= 1 - lr * wd
        wd = 0
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize, 1)
    bias_correction2, coef_g, coef_m = c
    _util.lerp_(xp, m, g, 1 - beta1, t0)
    v *= beta2
    xp.multiply(g, 1 - beta2, out=t0)
    t0 *= g
    v += t0
    # denom = sqrt(v / bias_correction2) + eps
    xp.divide(v, bias_correction2, out=t0)
    xp.sqrt(t0, out=t0)
    t0 += eps
    # theta += (coef_g * g) / denom, then theta += (coef_m * m) / denom (two roundings, as torch)
    xp.multiply(g, coef_g, out=t1)
    t1 /= t0
    p += t1
    xp.multiply(m, coef_m, out=t1)
    t1 /= t0
    p += t1


class NAdam(Optimizer):
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
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _validate(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _validate(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _validate(momentum_decay >= 0.0, f"Invalid momentum_decay value: {momentum_decay}")
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

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {
            "maximize": False,
            "foreach": None,
            "capturable": False,
            "differentiable": False,
            "decoupled_weight_decay": False,
        }

    def _tensor_step_keys(self) -> bool:
        return True

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for st in self.state.values():
            mp = st.get("mu_product") if isinstance(st, dict) else None
            if mp is not None and not isinstance(mp, Tensor):
                st["mu_product"] = _util.new_step(float(mp))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one NAdam step; returns the closure's loss when a closure is given."""
        loss = self._eval_closure(closure)
        batch = self._batch()
        add = batch.add
        state = self.state
        for group in self.param_groups:
            self._check_differentiable(group)
            beta1, beta2 = (_util.scalar(b) for b in group["betas"])
            lr = _util.scalar(group["lr"])
            wd = _util.scalar(group["weight_decay"])
            eps = group["eps"]
            psi = group["momentum_decay"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = state[p]
                if not st:
                    st["step"] = _util.new_step()
                    st["mu_product"] = _util.new_step(1.0)
                    st["exp_avg"] = _util.state_like(p)
                    st["exp_avg_sq"] = _util.state_like(p)
                step_t = st["step"]._data
                step_t += 1
                step = float(step_t)
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
                # the product is a float32 (or float64) tensor, rounded at each step like torch's
                mp_arr = st["mu_product"]._data
                mp_arr *= mu
                mu_product = float(mp_arr)
                mu_product_next = mu_product * mu_next
                c = (
                    1 - beta2**step,
                    -lr * (1.0 - mu) / (1.0 - mu_product),
                    -lr * mu_next / (1.0 - mu_product_next),
                )
                add(
                    _nadam_kernel,
                    p._data,
                    g._data,
                    (st["exp_avg"]._data, st["exp_avg_sq"]._data),
                    2,
                    beta1,
                    beta2,
                    lr,
                    wd,
                    eps,
                    maximize,
                    decoupled,
                    c,
                )
                p._bump_version()
        batch.run()
        return loss
