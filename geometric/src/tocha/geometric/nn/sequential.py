"""Sequential with named data flow (torch_geometric.nn.Sequential)."""

from __future__ import annotations

from typing import Any

from tocha.core.nn import Module

__all__ = ["Sequential"]


def _names(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


class Sequential(Module):
    """Chains modules whose inputs and outputs are named, so graph layers (which need
    ``edge_index``) and plain modules mix: each entry is ``module`` (reads and writes the
    previous entry's outputs) or ``(module, 'in1, in2 -> out1, out2')``; the first entry needs
    a signature. Modules are registered as ``module_<i>`` (torch_geometric's key names); plain
    callables run but hold no parameters.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import GCNConv, Sequential
        >>> model = Sequential("x, edge_index", [
        ...     (GCNConv(3, 8), "x, edge_index -> x"),
        ...     torch.nn.ReLU(),
        ...     (GCNConv(8, 2), "x, edge_index -> x"),
        ... ])
        >>> model(torch.ones(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 2])
        >>> sorted(model.state_dict())[:2]
        ['module_0.bias', 'module_0.lin.weight']
    """

    def __init__(self, input_args: str, modules: list) -> None:
        super().__init__()
        self.signature = _names(input_args)
        if not modules:
            raise ValueError("Sequential: needs at least one module")
        if not isinstance(modules[0], tuple):
            raise ValueError("Signature for first module required")
        steps = []
        prev_out = self.signature
        for i, entry in enumerate(modules):
            if isinstance(entry, tuple):
                if len(entry) != 2 or "->" not in entry[1]:
                    raise ValueError(
                        f"Sequential: entry {i} must be (module, 'inputs -> outputs'), got {entry}"
                    )
                fn, desc = entry
                ins, outs = (_names(p) for p in desc.split("->"))
            else:
                fn, ins, outs = entry, prev_out, prev_out
            if isinstance(fn, Module):
                self.add_module(f"module_{i}", fn)
                steps.append((f"module_{i}", None, ins, outs))
            else:
                steps.append((None, fn, ins, outs))
            prev_out = outs
        self._steps = steps

    def reset_parameters(self) -> None:
        for child in self.children():
            if hasattr(child, "reset_parameters"):
                child.reset_parameters()

    def forward(self, *args: Any, **kwargs: Any):
        env = dict(zip(self.signature, args))
        for k, v in kwargs.items():
            if k not in self.signature:
                raise TypeError(f"Sequential.forward() got an unexpected keyword argument '{k}'")
            env[k] = v
        missing = [a for a in self.signature if a not in env]
        if missing:
            raise TypeError(f"Sequential.forward() missing inputs {missing}")
        out = None
        for name, fn, ins, outs in self._steps:
            call = getattr(self, name) if name is not None else fn
            out = call(*(env[a] for a in ins))
            if len(outs) == 1:
                env[outs[0]] = out
            else:
                for o, v in zip(outs, out):
                    env[o] = v
        return out

    def __len__(self) -> int:
        return len(self._steps)
