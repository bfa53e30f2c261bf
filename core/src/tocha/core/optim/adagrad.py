"""Adagrad (Duchi et al., 2011): per-coordinate steps scaled by accumulated squared gradients."""

from __future__ import annotations

from .._tensor import Tensor
from . import _util
from .optimizer import _check_fused, _check_hparams, _ElementwiseOptimizer

__all__ = ["Adagrad"]


def _adagrad_kernel(xp, p, g, states, tmps, wd, eps, maximize, clr):
    (acc,) = states
    t0, t1 = tmps
    g = _util.effective_grad(xp, p, g, tmps, wd, maximize)
    xp.multiply(g, g, out=t0)
    acc += t0
    xp.sqrt(acc, out=t0)
    t0 += eps
    _util.addcdiv_(xp, p, g, t0, -clr, t1)


class Adagrad(_ElementwiseOptimizer):
    r"""Adagrad.

    .. code-block:: text

        g <- g + weight_decay * theta                  (if weight_decay != 0)
        clr <- lr / (1 + (t - 1) * lr_decay)
        s <- s + g * g                                 (s starts at initial_accumulator_value)
        theta <- theta - clr * g / (sqrt(s) + eps)

    Unlike the other optimizers, Adagrad creates its state (``step`` and ``sum``) for every
    parameter when it is constructed, as torch does.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the sums of squares (default 0).
        eps: added to the denominator (default 1e-10).
        foreach, fused: accepted for compatibility (one implementation in tocha).
        maximize: maximize the objective instead of minimizing it (default False).
        differentiable: only ``False`` is supported.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adagrad([w], lr=0.5)
        >>> w.grad = torch.tensor([2.0, -4.0])
        >>> opt.step()
        >>> w
        tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    _kernel = staticmethod(_adagrad_kernel)
    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_hparams(
            lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            epsilon=eps,
        )
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        _check_fused(defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p, ("sum",))

    def _init_state(self, st, p, names) -> None:
        # the sums start at initial_accumulator_value (the constructor's, in every group)
        init = self.defaults["initial_accumulator_value"]
        st["step"] = _util.new_step()
        st["sum"] = _util.full_state_like(p, complex(init, init) if p.is_complex() else init)

    def share_memory(self) -> None:
        """Kept for torch compatibility: a no-op (tocha tensors are not shared across
        processes through torch.multiprocessing)."""

    def _group_args(self, group):
        args = _util.options(group, "weight_decay", "eps", "maximize")
        lr, lr_decay = _util.options(group, "lr", "lr_decay")
        return ("sum",), args, lambda step, st: (lr / (1 + (step - 1) * lr_decay),)
