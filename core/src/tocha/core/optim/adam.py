"""Adam (and, with ``decoupled_weight_decay=True``, AdamW): adaptive moment estimation."""

from __future__ import annotations

import math

from .._tensor import Tensor
from . import _native_update, _util
from .optimizer import _check_fused, _check_hparams, _ElementwiseOptimizer

__all__ = ["Adam"]


def _adam_kernel(xp, p, g, states, tmps, beta1, beta2, lr, wd, eps, maximize, decoupled, c):
    m, v, vmax = states
    t0, t1 = tmps
    g = _util.decayed_grad(xp, p, g, tmps, lr, wd, maximize, decoupled)
    _util.moments_(xp, m, v, g, beta1, beta2, t0)
    step_size, bc2_sqrt = c
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    # denom = sqrt(v) / sqrt(1 - beta2^t) + eps, then param += (-step_size * m) / denom
    xp.sqrt(v, out=t0)
    t0 /= bc2_sqrt
    t0 += eps
    _util.addcdiv_(xp, p, m, t0, -step_size, t1)


def adam_bias(step: float, beta1: float, beta2: float, lr: float) -> tuple[float, float]:
    """(step_size, sqrt(bias_correction2)) of torch's Adam for a step count ``step``."""
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    return lr / bias_correction1, math.sqrt(bias_correction2)


# every parameter's update of a step in one compiled call (`_util.Batch.run` looks for it)
_adam_kernel.every = _native_update.adam_all


def _adam_cuda(items) -> None:
    """The fused multi-tensor CUDA step of one group (``fused``/``foreach`` on CuPy)."""
    from ..cuda import _optim

    _optim.adam_multi(items)


class Adam(_ElementwiseOptimizer):
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
        foreach, fused: on CUDA, update each group in one fused multi-tensor kernel launch;
            on the CPU accepted for compatibility (one chunked, in-place implementation).
        capturable: accepted for compatibility.
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

    _kernel = staticmethod(_adam_kernel)
    _cuda_multi = staticmethod(_adam_cuda)
    _group_defaults = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "fused": None,
    }

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
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError(
                "lr as a Tensor is not supported for capturable=False and foreach=True"
            )
        _check_hparams(lr, epsilon=eps, betas=betas, weight_decay=weight_decay)
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
        _check_fused(defaults)

    def _group_args(self, group):
        opts = ("betas", "lr", "weight_decay", "eps", "maximize", "decoupled_weight_decay")
        args = _util.options(group, *opts)
        beta1, beta2, lr = args[:3]
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if group["amsgrad"] else None)
        return names, args, lambda step, st: (adam_bias(step, beta1, beta2, lr),)
