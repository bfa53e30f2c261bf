"""Adam (and, with ``decoupled_weight_decay=True``, AdamW): adaptive moment estimation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["Adam"]


def _adam_kernel(xp, p, g, states, tmps, beta1, beta2, lr, wd, eps, maximize, decoupled, c):
    m, v, vmax = states
    t0, t1 = tmps
    if wd != 0 and decoupled:
        p *= 1 - lr * wd
        wd = 0
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize, 1)
    _util.lerp_(xp, m, g, 1 - beta1, t0)
    v *= beta2
    xp.multiply(g, 1 - beta2, out=t0)
    t0 *= g
    v += t0
    step_size, bc2_sqrt = c
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        xp.sqrt(vmax, out=t0)
    else:
        xp.sqrt(v, out=t0)
    # denom = sqrt(v) / sqrt(1 - beta2^t) + eps, then param += (-step_size * m) / denom
    t0 /= bc2_sqrt
    t0 += eps
    xp.multiply(m, -step_size, out=t1)
    t1 /= t0
    p += t1


def adam_bias(step: float, beta1: float, beta2: float, lr: float) -> tuple[float, float]:
    """(step_size, sqrt(bias_correction2)) of torch's Adam for a step count ``step``."""
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    return lr / bias_correction1, math.sqrt(bias_correction2)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014) with torch's bias correction, AMSGrad and weight decay.

    With :math:`g` the gradient (negated when ``maximize``), at step :math:`t`:

    .. code-block:: text

        theta <- theta * (1 - lr * weight_decay)       (decoupled_weight_decay, i.e. AdamW)
        g <- g + weight_decay * theta                  (otherwise, L2 penalty)
        m <- m + (1 - beta1) * (g - m)
        v <- beta2 * v + (1 - beta2) * g * g
        v_hat <- max(v_hat, v)                         (amsgrad; v_hat replaces v below)
        denom <- sqrt(v) / sqrt(1 - beta2 ** t) + eps
        theta <- theta - (lr / (1 - beta1 ** t)) * m / denom

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay, as an L2 penalty unless ``decoupled_weight_decay``
            (default 0).
        amsgrad: use the AMSGrad variant (default False).
        foreach, fused, capturable: accepted for compatibility; tocha has one (chunked,
            in-place) implementation.
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adam([w], lr=0.1)
        >>> (w ** 2).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError(
                    "lr as a Tensor is not supported for capturable=False and foreach=True"
                )
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _validate(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _validate(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        both_float = isinstance(betas[0], float) and isinstance(betas[1], float)
        both_tensor = isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor)
        if not (both_float or both_tensor):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], Tensor):
                if not capturable and foreach:
                    raise ValueError(
                        f"betas[{i}] as a Tensor is not supported for capturable=False and "
                        "foreach=True"
                    )
                if betas[i].numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(b.reshape(()) if isinstance(b, Tensor) and b.dim() else b for b in betas)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {
            "amsgrad": False,
            "maximize": False,
            "foreach": None,
            "capturable": False,
            "differentiable": False,
            "decoupled_weight_decay": False,
            "fused": None,
        }

    def _tensor_step_keys(self) -> bool:
        return True

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one Adam step; returns the closure's loss when a closure is given."""
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
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = state[p]
                if not st:
                    st["step"] = _util.new_step()
                    st["exp_avg"] = _util.state_like(p)
                    st["exp_avg_sq"] = _util.state_like(p)
                    if amsgrad:
                        st["max_exp_avg_sq"] = _util.state_like(p)
                step_t = st["step"]._data
                step_t += 1
                c = adam_bias(float(step_t), beta1, beta2, lr)
                vmax = st["max_exp_avg_sq"]._data if amsgrad else None
                add(
                    _adam_kernel,
                    p._data,
                    g._data,
                    (st["exp_avg"]._data, st["exp_avg_sq"]._data, vmax),
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
