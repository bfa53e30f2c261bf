"""Stochastic gradient descent (optionally with momentum, Nesterov momentum, weight decay)."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _native_update, _util
from .optimizer import _check_hparams, _ElementwiseOptimizer

__all__ = ["SGD"]


def _sgd_kernel(xp, p, g, states, tmps, lr, momentum, dampening, wd, nesterov, maximize, init):
    if xp is np and _native_update.sgd(
        p, g, states[0], lr, momentum, dampening, wd, nesterov, maximize, init
    ):
        return  # one compiled pass, the same roundings as the calls below
    t0 = tmps[0]
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize)
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
    _util.add_(xp, p, g, -lr, t0)


# every parameter's update of a step in one compiled call (`_util.Batch.run` looks for it)
_sgd_kernel.every = _native_update.sgd_all


def _sgd_cuda(items) -> None:
    """The fused multi-tensor CUDA step of one group (``fused``/``foreach`` on CuPy)."""
    from ..cuda import _optim

    _optim.sgd_multi(items)


class SGD(_ElementwiseOptimizer):
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
        foreach: on CUDA, update the group in one fused multi-tensor kernel launch; on the
            CPU accepted for compatibility (one chunked, in-place implementation).
        differentiable: only ``False`` is supported.
        fused: like ``foreach``.

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

    _kernel = staticmethod(_sgd_kernel)
    _cuda_multi = staticmethod(_sgd_cuda)
    _step_is_tensor = False
    _group_defaults = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
    }

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
        _check_hparams(lr, momentum=momentum, weight_decay=weight_decay)
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

    def _group_args(self, group):
        opts = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
        names = ("momentum_buffer",) if group["momentum"] != 0 else ()
        return names, _util.options(group, *opts), None

    def _prepare(self, p, names, args, per_step):
        # no step counter, and no state at all without momentum (torch's layout); the buffer
        # starts as a copy of the first gradient, which the kernel makes when told ``init``
        if not names:
            return (None,), args + (False,)
        st = self.state[p]
        buf = st.get("momentum_buffer")
        if buf is None:
            buf = st["momentum_buffer"] = _util.state_like(p)
            return (buf._data,), args + (True,)
        return (buf._data,), args + (False,)
