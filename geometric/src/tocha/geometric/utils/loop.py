"""Self-loop utilities (torch_geometric.utils.loop)."""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor

from ._scatter import scatter

__all__ = [
    "contains_self_loops",
    "remove_self_loops",
    "segregate_self_loops",
    "add_self_loops",
    "add_remaining_self_loops",
]


def _num_nodes(edge_index: Tensor, num_nodes) -> int:
    if num_nodes is not None:
        if isinstance(num_nodes, (tuple, list)):
            return int(min(num_nodes))
        return int(num_nodes)
    return int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0


def contains_self_loops(edge_index: Tensor) -> bool:
    """Whether the graph has at least one edge ``(i, i)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import contains_self_loops
        >>> contains_self_loops(torch.tensor([[0, 1, 0], [1, 0, 0]]))
        True
    """
    return bool((edge_index[0] == edge_index[1]).any())


def remove_self_loops(edge_index: Tensor, edge_attr: Tensor | None = None):
    """Drop every edge ``(i, i)``; returns ``(edge_index, edge_attr)``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import remove_self_loops
        >>> remove_self_loops(torch.tensor([[0, 1, 0], [1, 0, 0]]))[0]
        tensor([[0, 1],
                [1, 0]])
    """
    mask = edge_index[0] != edge_index[1]
    edge_index = edge_index[:, mask]
    return edge_index, (edge_attr[mask] if edge_attr is not None else None)


def segregate_self_loops(edge_index: Tensor, edge_attr: Tensor | None = None):
    """Split into ``(edge_index, edge_attr, loop_edge_index, loop_edge_attr)``."""
    mask = edge_index[0] != edge_index[1]
    inv = ~mask
    loop_ei = edge_index[:, inv]
    loop_ea = edge_attr[inv] if edge_attr is not None else None
    ei = edge_index[:, mask]
    ea = edge_attr[mask] if edge_attr is not None else None
    return ei, ea, loop_ei, loop_ea


def _loop_attr(edge_index: Tensor, edge_attr: Tensor, n: int, fill_value) -> Tensor:
    fn = "add_self_loops"
    shape = (n,) + tuple(edge_attr.shape[1:])
    if fill_value is None:
        return edge_attr.new_ones(shape)
    if isinstance(fill_value, (int, float, bool)):
        return edge_attr.new_full(shape, fill_value)
    if isinstance(fill_value, Tensor):
        v = fill_value.to(device=edge_attr.device, dtype=edge_attr.dtype)
        if edge_attr.dim() != v.dim():
            v = v.unsqueeze(0)
        return v.expand(shape).clone()
    if isinstance(fill_value, str):
        # reduce the attributes of the edges entering each node ('add', 'mean', 'max', ...)
        return scatter(edge_attr, edge_index[1], 0, dim_size=n, reduce=fill_value)
    raise AttributeError(f"{fn}: no valid 'fill_value' provided, got {type(fill_value).__name__}")


def add_self_loops(
    edge_index: Tensor,
    edge_attr: Tensor | None = None,
    fill_value=None,
    num_nodes=None,
):
    """Append an edge ``(i, i)`` for every node (even where one exists already).

    Args:
        edge_index: ``(2, E)`` edges.
        edge_attr: optional edge weights or features; the loops get ``fill_value``: ``None``
            (1), a number, a Tensor, or a reduction name (``'add'``, ``'mean'``, ``'max'``,
            ``'min'``, ``'mul'``) of each node's incoming edge attributes.
        num_nodes: number of nodes, or a ``(src, dst)`` pair for a bipartite graph.

    Returns:
        ``(edge_index, edge_attr)`` with the loops appended at the end.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import add_self_loops
        >>> ei, w = add_self_loops(torch.tensor([[0, 1], [1, 0]]), torch.tensor([0.5, 0.5]))
        >>> ei
        tensor([[0, 1, 0, 1],
                [1, 0, 0, 1]])
        >>> w
        tensor([0.5000, 0.5000, 1.0000, 1.0000])
    """
    n = _num_nodes(edge_index, num_nodes)
    loop = torch.arange(n, dtype=edge_index.dtype, device=edge_index.device)
    loop_index = loop.unsqueeze(0).expand(2, n)
    if edge_attr is not None:
        loop_attr = _loop_attr(edge_index, edge_attr, n, fill_value)
        edge_attr = torch.cat([edge_attr, loop_attr], dim=0)
    return torch.cat([edge_index, loop_index], dim=1), edge_attr


def add_remaining_self_loops(
    edge_index: Tensor,
    edge_attr: Tensor | None = None,
    fill_value=None,
    num_nodes: int | None = None,
):
    """Add a loop ``(i, i)`` to every node that has none; existing loops keep their attribute.

    As torch_geometric, the existing loops are moved to the end together with the new ones, so
    node ``i``'s loop is edge ``E' + i`` where ``E'`` is the number of non-loop edges.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import add_remaining_self_loops
        >>> ei = torch.tensor([[0, 1, 1], [1, 0, 1]])
        >>> ei, w = add_remaining_self_loops(ei, torch.tensor([0.5, 0.5, 3.0]), 2.0)
        >>> ei
        tensor([[0, 1, 0, 1],
                [1, 0, 0, 1]])
        >>> w
        tensor([0.5000, 0.5000, 2.0000, 3.0000])
    """
    n = _num_nodes(edge_index, num_nodes)
    mask = edge_index[0] != edge_index[1]
    loop = torch.arange(n, dtype=edge_index.dtype, device=edge_index.device)
    loop_index = loop.unsqueeze(0).expand(2, n)
    if edge_attr is not None:
        loop_attr = _loop_attr(edge_index, edge_attr, n, fill_value)
        inv = ~mask
        loop_attr[edge_index[0][inv]] = edge_attr[inv]
        edge_attr = torch.cat([edge_attr[mask], loop_attr], dim=0)
    return torch.cat([edge_index[:, mask], loop_index], dim=1), edge_attr
