"""``LinkNeighborLoader``: mini-batches of (possibly negative-sampled) links with the sampled
neighbourhoods of their end points."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import tocha.core as torch

from ..data import Data, HeteroData
from ..utils._arrays import to_np, to_tensor
from ._hetero_sampler import HeteroSampler
from .neighbor_loader import _SamplingBase, _subgraph_type


class NegativeSampling:
    """How negatives are drawn: ``mode='binary'`` (random node pairs labelled 0) or
    ``'triplet'`` (random destinations for every source), ``amount`` per positive."""

    def __init__(self, mode: str, amount: float = 1, weight=None):
        if mode not in ("binary", "triplet"):
            raise ValueError(f"NegativeSampling: mode must be 'binary' or 'triplet', got {mode!r}")
        if amount <= 0:
            raise ValueError(f"NegativeSampling: amount must be positive, got {amount}")
        if mode == "triplet" and amount != math.ceil(amount):
            raise ValueError("NegativeSampling: 'triplet' needs an integer amount")
        self.mode = mode
        self.amount = amount
        self.weight = weight

    def is_binary(self) -> bool:
        return self.mode == "binary"

    def is_triplet(self) -> bool:
        return self.mode == "triplet"


class LinkNeighborLoader(_SamplingBase):
    """Mini-batches of links ``edge_label_index`` with the sampled neighbourhoods of their
    end points (a :class:`NeighborLoader` seeded by both ends of every link).

    The batch carries ``edge_label_index`` in local ids, ``edge_label`` and ``input_id`` (the
    links' positions in ``edge_label_index``). With ``neg_sampling='binary'`` (or
    ``neg_sampling_ratio``) random node pairs are appended with label 0; labels given in
    ``edge_label`` are then shifted by one, as in PyG. With ``'triplet'`` the batch has
    ``src_index``, ``dst_pos_index`` and ``dst_neg_index`` instead.

    On a ``HeteroData`` graph, ``edge_label_index`` is ``(edge_type, index)`` (or just the edge
    type: all its edges); the labels land in ``batch[edge_type]`` with source ids local to the
    source type's ``n_id`` and target ids local to the target type's.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.loader import LinkNeighborLoader
        >>> _ = torch.manual_seed(0)
        >>> data = Data(x=torch.randn(50, 4), edge_index=torch.randint(0, 50, (2, 300)))
        >>> loader = LinkNeighborLoader(data, [4, 2], batch_size=8, neg_sampling_ratio=1.0)
        >>> b = next(iter(loader))
        >>> b.edge_label.tolist() == [1.0] * 8 + [0.0] * 8
        True
        >>> bool((b.n_id[b.edge_label_index[:, :8]] == data.edge_index[:, :8]).all())
        True
    """

    def __init__(
        self,
        data: Data,
        num_neighbors: Sequence[int],
        edge_label_index=None,
        edge_label=None,
        edge_label_time=None,
        replace: bool = False,
        subgraph_type: str = "directional",
        disjoint: bool = False,
        temporal_strategy: str = "uniform",
        neg_sampling: NegativeSampling | str | dict | None = None,
        neg_sampling_ratio: float | None = None,
        time_attr: str | None = None,
        transform: Callable | None = None,
        transform_sampler_output: Callable | None = None,
        filter_per_worker: bool | None = None,
        neighbor_sampler=None,
        directed: bool = True,
        **kwargs,
    ):
        if edge_label_time is not None or time_attr is not None:
            raise NotImplementedError("LinkNeighborLoader: temporal sampling is not provided")
        if disjoint:
            raise NotImplementedError("LinkNeighborLoader: disjoint sampling is not provided")
        induced = _subgraph_type(subgraph_type, directed, "LinkNeighborLoader")
        self.hetero = None
        if isinstance(data, HeteroData):
            if induced:
                raise NotImplementedError("LinkNeighborLoader: induced subgraphs of HeteroData")
            self.data = data
            self.hetero = HeteroSampler(data, num_neighbors, replace, "LinkNeighborLoader")
            et, eli = _hetero_edge_input(data, edge_label_index)
            self.input_type = et
            self._sizes = (self.hetero.num_nodes[et[0]], self.hetero.num_nodes[et[2]])
        else:
            self._setup(data, num_neighbors, replace, induced, "LinkNeighborLoader")
            eli = data.edge_index if edge_label_index is None else edge_label_index
            self._sizes = (data.num_nodes, data.num_nodes)
        eli = to_np(eli).astype(np.int64)
        if eli.ndim != 2 or eli.shape[0] != 2:
            raise ValueError(
                f"LinkNeighborLoader: edge_label_index must have shape [2, E], got "
                f"{list(eli.shape)}"
            )
        if neg_sampling is None and neg_sampling_ratio is not None and neg_sampling_ratio > 0:
            neg_sampling = NegativeSampling("binary", neg_sampling_ratio)
        if isinstance(neg_sampling, str):
            neg_sampling = NegativeSampling(neg_sampling)
        elif isinstance(neg_sampling, dict):
            neg_sampling = NegativeSampling(**neg_sampling)
        self.neg_sampling = neg_sampling
        binary = neg_sampling is not None and neg_sampling.is_binary()
        int_label = edge_label is not None and not edge_label.is_floating_point()
        if binary and int_label and int(edge_label.min().item()) == 0:
            edge_label = edge_label + 1  # class 0 is reserved for the negatives
        if edge_label is not None and neg_sampling is not None and neg_sampling.is_triplet():
            raise ValueError("LinkNeighborLoader: 'triplet' negative sampling takes no edge_label")
        self.edge_label_index = eli
        self.edge_label = edge_label
        self.transform = transform
        kwargs.pop("collate_fn", None)
        super().__init__(range(eli.shape[1]), collate_fn=self.collate_fn, **kwargs)

    def collate_fn(self, index) -> Data:
        idx = np.asarray(index, dtype=np.int64)
        src, dst = self.edge_label_index[:, idx]
        n_src, n_dst = self._sizes
        ns = self.neg_sampling
        num_pos = idx.size
        label = None
        if self.edge_label is not None:
            label = self.edge_label.index_select(0, to_tensor(idx, self.edge_label.device))
        src_neg = dst_neg = None
        if ns is not None:
            num_neg = math.ceil(num_pos * ns.amount)
            if ns.is_binary():
                src_neg = to_np(torch.randint(0, n_src, (num_neg,)))
                dst_neg = to_np(torch.randint(0, n_dst, (num_neg,)))
                if label is None:
                    label = torch.ones(num_pos)
                label = torch.cat([label, label.new_zeros((num_neg, *label.shape[1:]))], 0)
            else:
                dst_neg = to_np(torch.randint(0, n_dst, (num_neg,)))
        elif label is None:
            label = torch.ones(num_pos)
        srcs = src if src_neg is None else np.concatenate([src, src_neg])
        dsts = dst if dst_neg is None else np.concatenate([dst, dst_neg])
        if self.hetero is not None:
            et = self.input_type
            if et[0] == et[2]:
                seeds, inv = np.unique(np.concatenate([srcs, dsts]), return_inverse=True)
                s_inv, d_inv = inv[: srcs.size], inv[srcs.size :]
                seed_dict = {et[0]: seeds}
            else:
                s_seeds, s_inv = np.unique(srcs, return_inverse=True)
                d_seeds, d_inv = np.unique(dsts, return_inverse=True)
                seed_dict = {et[0]: s_seeds, et[2]: d_seeds}
            out = self.hetero.build(seed_dict, self._rng())
            store = out[et]
        else:
            seeds, inv = np.unique(np.concatenate([srcs, dsts]), return_inverse=True)
            s_inv, d_inv = inv[: srcs.size], inv[srcs.size :]
            out = store = self._sample(seeds)
        dev = self.data.device if self.hetero is None else self.data[et].edge_index.device
        store.input_id = to_tensor(idx, dev)
        if ns is not None and ns.is_triplet():
            store.src_index = to_tensor(s_inv, dev)
            store.dst_pos_index = to_tensor(d_inv[:num_pos], dev)
            neg = d_inv[num_pos:].reshape(num_pos, -1)
            store.dst_neg_index = to_tensor(neg[:, 0] if neg.shape[1] == 1 else neg, dev)
        else:
            store.edge_label_index = to_tensor(np.stack([s_inv, d_inv]), dev)
            store.edge_label = label
        return out if self.transform is None else self.transform(out)


def _hetero_edge_input(data: HeteroData, edge_label_index):
    """``(edge_type, [2, E] index)`` from an edge type or ``(edge_type, index_or_None)``."""
    if (
        isinstance(edge_label_index, tuple)
        and len(edge_label_index) == 2
        and isinstance(edge_label_index[0], tuple)
    ):
        et, eli = edge_label_index
    elif isinstance(edge_label_index, tuple) and len(edge_label_index) == 3:
        et, eli = edge_label_index, None
    else:
        raise ValueError(
            "LinkNeighborLoader: for HeteroData, edge_label_index must be an edge type or "
            "(edge_type, edge_label_index)"
        )
    if et not in data.edge_types:
        raise ValueError(f"LinkNeighborLoader: unknown edge type {et} (have {data.edge_types})")
    return et, data[et].edge_index if eli is None else eli
