"""``negative_sampling``: random node pairs that are not edges."""

from __future__ import annotations

import math

import numpy as np

import tocha.core as torch

from ._arrays import to_np, to_tensor


def negative_sampling(
    edge_index,
    num_nodes: int | tuple[int, int] | None = None,
    num_neg_samples: int | None = None,
    method: str = "sparse",
    force_undirected: bool = False,
):
    """Sample up to ``num_neg_samples`` (default: one per edge) distinct node pairs that are
    not in ``edge_index``; self-loops are excluded unless the graph is bipartite
    (``num_nodes=(n_src, n_dst)``).

    Sampling draws from tocha's global generator, so ``torch.manual_seed`` fixes it. Both
    ``method`` values use the same vectorised rejection sampler.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import negative_sampling
        >>> _ = torch.manual_seed(0)
        >>> ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
        >>> neg = negative_sampling(ei, num_nodes=3)
        >>> sorted(map(tuple, neg.t().tolist()))
        [(0, 2), (1, 0), (2, 1)]
    """
    if method not in ("sparse", "dense"):
        raise ValueError(f"negative_sampling: method must be 'sparse' or 'dense', got {method!r}")
    ei = to_np(edge_index)
    bipartite = isinstance(num_nodes, (tuple, list))
    if num_nodes is None:
        n = int(ei.max()) + 1 if ei.size else 0
        size = (n, n)
    elif bipartite:
        size = (int(num_nodes[0]), int(num_nodes[1]))
    else:
        size = (int(num_nodes), int(num_nodes))
    n_src, n_dst = size
    if num_neg_samples is None:
        num_neg_samples = ei.shape[1]
    if force_undirected:
        num_neg_samples = num_neg_samples // 2
        # only i < j pairs are drawn, then mirrored
        ei = np.sort(ei, axis=0)
    population = n_src * n_dst
    if not bipartite:
        population -= n_src  # no self-loops
    if force_undirected:
        population = n_src * (n_src - 1) // 2
    existing = np.unique(ei[0] * n_dst + ei[1])
    k = int(num_neg_samples)
    k = max(0, min(k, population - existing.size))
    found = np.zeros(0, dtype=np.int64)
    for _ in range(8):
        if found.size >= k or k == 0:
            break
        draw = max(
            16,
            int(
                math.ceil((k - found.size) * 1.3 * population / max(population - existing.size, 1))
            ),
        )
        r = (to_np(torch.rand(draw, dtype=torch.float64)) * (n_src * n_dst)).astype(np.int64)
        i, j = r // n_dst, r % n_dst
        ok = np.ones(draw, dtype=bool)
        if not bipartite:
            ok &= i != j
        if force_undirected:
            ok &= i < j
        r = r[ok]
        r = r[~np.isin(r, existing, assume_unique=False)]
        found = np.concatenate([found, r])
        _, first = np.unique(found, return_index=True)
        found = found[np.sort(first)]  # keep draw order, drop repeats
    found = found[:k]
    out = np.stack([found // n_dst, found % n_dst])
    if force_undirected:
        out = np.concatenate([out, out[::-1]], axis=1)
    return to_tensor(out, getattr(edge_index, "device", None))


def structured_negative_sampling(
    edge_index, num_nodes: int | None = None, contains_neg_self_loops: bool = True
):
    """For every edge ``(i, j)`` a random node ``k`` with ``(i, k)`` not an edge; returns
    ``(i, j, k)``. Vectorised rejection sampling from tocha's global generator.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.utils import structured_negative_sampling
        >>> _ = torch.manual_seed(0)
        >>> ei = torch.tensor([[0, 0, 1], [1, 2, 2]])
        >>> i, j, k = structured_negative_sampling(ei, 4)
        >>> all((a, c) not in {(0, 1), (0, 2), (1, 2)} for a, c in zip(i.tolist(), k.tolist()))
        True
    """
    ei = to_np(edge_index)
    n = int(ei.max()) + 1 if num_nodes is None else int(num_nodes)
    row, col = ei
    forbidden = row * n + col
    if not contains_neg_self_loops:
        loops = np.arange(n, dtype=np.int64) * (n + 1)
        forbidden = np.concatenate([forbidden, loops])
    forbidden = np.unique(forbidden)
    k = (to_np(torch.rand(row.size, dtype=torch.float64)) * n).astype(np.int64)
    bad = np.flatnonzero(np.isin(row * n + k, forbidden))
    for _ in range(100):
        if bad.size == 0:
            break
        k[bad] = (to_np(torch.rand(bad.size, dtype=torch.float64)) * n).astype(np.int64)
        bad = bad[np.isin(row[bad] * n + k[bad], forbidden)]
    if bad.size:
        raise RuntimeError(
            f"structured_negative_sampling: nodes {np.unique(row[bad])[:5].tolist()} are "
            f"connected to every node, so they have no negative"
        )
    dev = getattr(edge_index, "device", None)
    return to_tensor(row.copy(), dev), to_tensor(col.copy(), dev), to_tensor(k, dev)
