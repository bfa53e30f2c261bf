"""HeteroConv: one convolution per edge type, grouped per target node type."""

from __future__ import annotations

from collections import defaultdict

import tocha.core as torch
from tocha.core.nn import Module, ModuleDict

__all__ = ["HeteroConv"]


def _key(edge_type) -> str:
    return f"<{'___'.join(edge_type)}>" if isinstance(edge_type, tuple) else edge_type


def _unkey(key: str):
    if key.startswith("<") and key.endswith(">") and "___" in key:
        return tuple(key[1:-1].split("___"))
    return key


def group(xs: list, aggr: str | None):
    if len(xs) == 0:
        return None
    if aggr is None:
        return torch.stack(xs, dim=1)
    if len(xs) == 1:
        return xs[0]
    if aggr == "cat":
        return torch.cat(xs, dim=-1)
    out = torch.stack(xs, dim=0)
    out = getattr(torch, aggr)(out, dim=0)
    return out[0] if isinstance(out, tuple) else out


class HeteroConv(Module):
    """Runs ``convs[(src, rel, dst)]`` on each edge type and reduces the results arriving at the
    same node type with ``aggr`` (``'sum'``, ``'mean'``, ``'min'``, ``'max'``, ``'cat'`` or
    ``None`` to stack).

    ``forward(x_dict, edge_index_dict, *args_dict, **kwargs_dict)``: every extra dict is looked
    up by edge type first, then by node type (``(src, dst)`` pairs for bipartite edges); keyword
    dicts must be named ``<arg>_dict``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import HeteroConv, SAGEConv
        >>> conv = HeteroConv({("a", "to", "b"): SAGEConv((2, 3), 4),
        ...                    ("b", "to", "b"): SAGEConv(3, 4),
        ...                    ("b", "back", "a"): SAGEConv((3, 2), 4)})
        >>> x = {"a": torch.ones(2, 2), "b": torch.ones(3, 3)}
        >>> ei = {("a", "to", "b"): torch.tensor([[0, 1], [1, 2]]),
        ...       ("b", "to", "b"): torch.tensor([[0], [1]]),
        ...       ("b", "back", "a"): torch.tensor([[2], [0]])}
        >>> out = conv(x, ei)
        >>> out["a"].shape, out["b"].shape
        (torch.Size([2, 4]), torch.Size([3, 4]))
    """

    def __init__(self, convs: dict, aggr: str | None = "sum") -> None:
        super().__init__()
        for edge_type in convs:
            if len(edge_type) != 3:
                raise ValueError(f"HeteroConv: edge type {edge_type} is not (src, rel, dst)")
        src_types = {k[0] for k in convs}
        dst_types = {k[-1] for k in convs}
        if len(src_types - dst_types) > 0:
            import warnings

            warnings.warn(
                f"There exist node types ({src_types - dst_types}) whose representations do not "
                f"get updated during message passing as they do not occur as destination type in "
                f"any edge type. This may lead to unexpected behavior.",
                stacklevel=2,
            )
        self.convs = ModuleDict({_key(k): v for k, v in convs.items()})
        self.aggr = aggr

    def reset_parameters(self) -> None:
        for conv in self.convs.values():
            conv.reset_parameters()

    def forward(self, *args_dict, **kwargs_dict) -> dict:
        out_dict = defaultdict(list)
        for key, conv in self.convs.items():
            edge_type = _unkey(key)
            src, _, dst = edge_type
            has_edge_arg = False
            args = []
            for value_dict in args_dict:
                if edge_type in value_dict:
                    has_edge_arg = True
                    args.append(value_dict[edge_type])
                elif src == dst and src in value_dict:
                    args.append(value_dict[src])
                elif src in value_dict or dst in value_dict:
                    args.append((value_dict.get(src), value_dict.get(dst)))
            kwargs = {}
            for arg, value_dict in kwargs_dict.items():
                if not arg.endswith("_dict"):
                    raise ValueError(
                        f"HeteroConv: keyword arguments must end with '_dict' (got '{arg}')"
                    )
                name = arg[:-5]
                if edge_type in value_dict:
                    has_edge_arg = True
                    kwargs[name] = value_dict[edge_type]
                elif src == dst and src in value_dict:
                    kwargs[name] = value_dict[src]
                elif src in value_dict or dst in value_dict:
                    kwargs[name] = (value_dict.get(src), value_dict.get(dst))
            if not has_edge_arg:
                continue
            out_dict[dst].append(conv(*args, **kwargs))
        return {k: group(v, self.aggr) for k, v in out_dict.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_relations={len(self.convs)})"
