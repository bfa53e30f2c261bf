"""Adamax: Adam with the infinity norm of past gradients (Kingma & Ba, 2014, section 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["Adamax"]


def _adamax_kernel(xp, p, g, states, tmps, beta1, beta2, wd, eps, maximize, clr):
    m, u = states
    t0 = tmps[0]
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize, 1)
    _util.lerp_(xp, m, g, 1 - beta1, t0)
    u *= beta2
    xp.abs(g, out=t0)
    t0 += eps
    xp.maximum(u, t0, out=u)
    xp.multiply(m, -clr, out=t0)
    t0 /= u
    p += t0


class Adamax(Optimizer):
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
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _validate(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _validate(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
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

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def _tensor_step_keys(self) -> bool:
        return True

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one Adamax step; returns the closure's loss when a closure is given."""
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
            maximize = group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = state[p]
                if not st:
                    st["step"] = _util.new_step()
                    st["exp_avg"] = _util.state_like(p)
                    st["exp_inf"] = _util.state_like(p)
                step_t = st["step"]._data
                step_t += 1
                clr = lr / (1 - beta1 ** float(step_t))
                add(
                    _adamax_kernel,
                    p._data,
                    g._data,
                    (st["exp_avg"]._data, st["exp_inf"]._data),
                    2,
                    beta1,
                    beta2,
                    wd,
                    eps,
                    maximize,
                    clr,
                )
                p._bump_version()
        batch.run()
        return loss
