"""RMSprop (Hinton's lecture 6e), optionally centered (Graves, 2013) and with momentum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["RMSprop"]


def _rmsprop_kernel(xp, p, g, states, tmps, lr, alpha, eps, wd, momentum, maximize):
    sq, buf, gavg = states
    t0, t1 = tmps
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize, 1)
    sq *= alpha
    xp.multiply(g, 1 - alpha, out=t0)
    t0 *= g
    sq += t0
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
        xp.multiply(buf, -lr, out=t0)
        p += t0
    else:
        xp.multiply(g, -lr, out=t1)
        t1 /= t0
        p += t1


class RMSprop(Optimizer):
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
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _validate(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _validate(alpha >= 0.0, f"Invalid alpha value: {alpha}")
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

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {
            "momentum": 0,
            "centered": False,
            "foreach": None,
            "maximize": False,
            "differentiable": False,
            "capturable": False,
        }

    def _tensor_step_keys(self) -> bool:
        return True

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one RMSprop step; returns the closure's loss when a closure is given."""
        loss = self._eval_closure(closure)
        batch = self._batch()
        add = batch.add
        state = self.state
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _util.scalar(group["lr"])
            alpha = group["alpha"]
            eps = group["eps"]
            wd = _util.scalar(group["weight_decay"])
            momentum = group["momentum"]
            centered = group["centered"]
            maximize = group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = state[p]
                if not st:
                    st["step"] = _util.new_step()
                    st["square_avg"] = _util.state_like(p)
                    if momentum > 0:
                        st["momentum_buffer"] = _util.state_like(p)
                    if centered:
                        st["grad_avg"] = _util.state_like(p)
                st["step"]._data += 1
                buf = st["momentum_buffer"]._data if momentum > 0 else None
                gavg = st["grad_avg"]._data if centered else None
                add(
                    _rmsprop_kernel,
                    p._data,
                    g._data,
                    (st["square_avg"]._data, buf, gavg),
                    2,
                    lr,
                    alpha,
                    eps,
                    wd,
                    momentum,
                    maximize,
                )
                p._bump_version()
        batch.run()
        return loss
