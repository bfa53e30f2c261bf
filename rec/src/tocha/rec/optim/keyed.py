"""Keyed optimizers over named parameters (torchrec.optim.keyed) and the filter that leaves
out parameters whose optimizer runs in backward (torchrec.optim.optimizers).

Example:
    >>> import tocha.core as torch
    >>> from tocha.rec.optim import apply_optimizer_in_backward
    >>> lin = torch.nn.Linear(2, 1)
    >>> table = torch.nn.Parameter(torch.zeros(5, 2))
    >>> apply_optimizer_in_backward(torch.optim.SGD, [table], {"lr": 0.1})
    >>> named = {"lin.weight": lin.weight, "lin.bias": lin.bias, "table": table}
    >>> dense = dict(in_backward_optimizer_filter(named.items()))
    >>> sorted(dense)
    ['lin.bias', 'lin.weight']
    >>> opt = KeyedOptimizerWrapper(dense, lambda ps: torch.optim.SGD(ps, lr=0.1))
    >>> sorted(opt.params)
    ['lin.bias', 'lin.weight']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tocha.core import Tensor

__all__ = ["CombinedOptimizer", "KeyedOptimizerWrapper", "in_backward_optimizer_filter"]


def in_backward_optimizer_filter(
    named_parameters: Iterable[tuple[str, Tensor]], include: bool = False
):
    """Yields ``(name, param)`` without an optimizer applied in backward (or only those, with
    ``include=True``)."""
    for name, p in named_parameters:
        if bool(getattr(p, "_in_backward_optimizers", None)) == include:
            yield name, p


class KeyedOptimizerWrapper:
    """A tocha.core optimizer built by ``optim_factory`` over ``params.values()``, keeping the
    parameter names (``state_dict`` keys are the names, as in torchrec's KeyedOptimizer).

    Args:
        params: ``{name: parameter}``.
        optim_factory: builds the optimizer from a list of parameters.
    """

    def __init__(self, params: dict, optim_factory: Callable) -> None:
        self.params = dict(params)
        self._optimizer = optim_factory(list(self.params.values()))

    @property
    def param_groups(self):
        return self._optimizer.param_groups

    @property
    def state(self) -> dict:
        by_id = {id(p): n for n, p in self.params.items()}
        return {by_id[id(p)]: s for p, s in self._optimizer.state.items() if id(p) in by_id}

    def step(self, closure=None):
        return self._optimizer.step(closure) if closure is not None else self._optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"state": self.state, "param_groups": self._optimizer.state_dict()["param_groups"]}

    def load_state_dict(self, state_dict: dict) -> None:
        names = list(self.params)
        inner = self._optimizer.state_dict()
        inner["state"] = {
            i: state_dict["state"][n] for i, n in enumerate(names) if n in state_dict["state"]
        }
        self._optimizer.load_state_dict(inner)


class CombinedOptimizer:
    """Steps several keyed optimizers as one (``(prefix, optimizer)`` pairs or optimizers)."""

    def __init__(self, optims: list) -> None:
        self._optims = [o if isinstance(o, tuple) else ("", o) for o in optims]

    @property
    def optimizers(self) -> list:
        return list(self._optims)

    @property
    def params(self) -> dict:
        out = {}
        for prefix, o in self._optims:
            for n, p in o.params.items():
                out[f"{prefix}.{n}" if prefix else n] = p
        return out

    def step(self, closure=None) -> None:
        for _, o in self._optims:
            o.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for _, o in self._optims:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {prefix or str(i): o.state_dict() for i, (prefix, o) in enumerate(self._optims)}
