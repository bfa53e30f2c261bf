"""The static graph a trace records: placeholders, parameters, constants, op calls, outputs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GraphNode:
    """One line of the graph (torch.fx's Node, reduced to what replay needs)."""

    opcode: str  # 'placeholder', 'get_attr', 'constant', 'call_op', 'output'
    name: str
    target: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"array{tuple(v.shape)}"
    if isinstance(v, slice):
        return f"slice({v.start}, {v.stop}, {v.step})"
    return str(v)


class Graph:
    """The recorded nodes, in execution order."""

    def __init__(self, nodes: list[GraphNode]):
        self.nodes = nodes

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def tabular(self) -> str:
        """The graph as a table (opcode, name, target, args, kwargs)."""
        rows = [("opcode", "name", "target", "args", "kwargs")]
        for n in self.nodes:
            rows.append((n.opcode, n.name, n.target, _fmt(tuple(n.args)), _fmt(n.kwargs)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for j, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def print_tabular(self) -> None:
        """Print ``tabular()`` (torch.fx's ``Graph.print_tabular``)."""
        print(self.tabular())

    def __str__(self) -> str:
        return self.tabular()
