"""Stochastic gradient descent (optionally with momentum, Nesterov momentum, weight decay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _util
from .optimizer import Optimizer, _validate

__all__ = ["SGD"]


def _sgd_kernel(xp, p, g, states, tmps, lr, momentum, dampening, wd, nesterov, maximize, init):
    t0 = tmps[0]
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize, 1)
    if momentum != 0:
        buf = states[0]
        if init:
            xp.copyto(buf, g)
        else:
            buf *= momentum
            if dampening != 0:
                xp.multiply(g, 1 - dampening, out=t0)
                buf += t0
            else:
                buf += g
        if nesterov:
            xp.multiply(buf, momentum, out=t0)
            xp.add(g, t0, out=t0)
            g = t0
        else:
            g = buf
    xp.multiply(g, -lr, out=t0)
    p += t0


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum (torch's formulation).

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``):

    .. code-block:: text

        g <- g + weight_decay * theta                      (if weight_decay != 0)
        b <- g  (first step),  b <- momentum * b + (1 - dampening) * g   (if momentum != 0)
        g <- g + momentum * b  (nesterov)  or  g <- b
        theta <- theta - lr * g

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (default False).
        maximize: maximize the objective instead of minimizing it (default False).
        foreach: accepted for compatibility; tocha has one (chunked, in-place) implementation.
        differentiable: only ``False`` is supported.
        fused: accepted for compatibility, like ``foreach``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w ** 2).sum().backward()
        ...     opt.step()
        >>> w
        tensor([ 0.4600, -0.9200], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
        _validate(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _validate(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _setstate_group_defaults(self) -> dict[str, Any]:
        return {
            "nesterov": False,
            "maximize": False,
            "foreach": None,
            "differentiable": False,
            "fused": False,
        }

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one SGD step; returns the closure's loss when a closure is given."""
        loss = self._eval_closure(closure)
        batch = self._batch()
        add = batch.add
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _util.scalar(group["lr"])
            momentum = group["momentum"]
            dampening = group["dampening"]
            wd = _util.scalar(group["weight_decay"])
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                init = False
                buf = None
                if momentum != 0:
                    st = self.state[p]
                    bt = st.get("momentum_buffer")
                    if bt is None:
                        bt = st["momentum_buffer"] = _util.state_like(p)
                        init = True
                    buf = bt._data
                add(
                    _sgd_kernel,
                    p._data,
                    g._data,
                    (buf,),
                    2,
                    lr,
                    momentum,
                    dampening,
                    wd,
                    nesterov,
                    maximize,
                    init,
                )
                p._bump_version()
        batch.run()
        return loss
