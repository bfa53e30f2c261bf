"""``LinkNeighborLoader``: mini-batches of (possibly negative-sampled) links with the sampled
neighbourhoods of their end points."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import tocha.core as torch

from ..data import Data
from ..utils._arrays import to_np, to_tensor
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
        self._setup(data, num_neighbors, replace, induced, "LinkNeighborLoader")
        eli = data.edge_index if edge_label_index is None else edge_label_index
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
        n = self.data.num_nodes
        ns = self.neg_sampling
        num_pos = idx.size
        dev = self.data.device
        label = None
        if self.edge_label is not None:
            label = self.edge_label.index_select(0, to_tensor(idx, self.edge_label.device))
        src_neg = dst_neg = None
        if ns is not None:
            num_neg = math.ceil(num_pos * ns.amount)
            draws = to_np(torch.randint(0, n, (2 * num_neg,)))
            if ns.is_binary():
                src_neg, dst_neg = draws[:num_neg], draws[num_neg:]
                if label is None:
                    label = torch.ones(num_pos)
                label = torch.cat([label, label.new_zeros((num_neg, *label.shape[1:]))], 0)
            else:
                dst_neg = draws[:num_neg]
        elif label is None:
            label = torch.ones(num_pos)
        parts = [src, dst] + [p for p in (src_neg, dst_neg) if p is not None]
        seeds, inv = np.unique(np.concatenate(parts), return_inverse=True)
        out = self._sample(seeds)
        out.input_id = to_tensor(idx, dev)
        if ns is not None and ns.is_triplet():
            out.src_index = to_tensor(inv[:num_pos], dev)
            out.dst_pos_index = to_tensor(inv[num_pos : 2 * num_pos], dev)
            neg = inv[2 * num_pos :].reshape(num_pos, -1)
            out.dst_neg_index = to_tensor(neg[:, 0] if neg.shape[1] == 1 else neg, dev)
        else:
            k = num_pos + (0 if src_neg is None else src_neg.size)
            s_loc = np.concatenate([inv[:num_pos], inv[2 * num_pos : 2 * num_pos + k - num_pos]])
            d_loc = np.concatenate([inv[num_pos : 2 * num_pos], inv[2 * num_pos + k - num_pos :]])
            out.edge_label_index = to_tensor(np.stack([s_loc, d_loc]), dev)
            out.edge_label = label
        return out if self.transform is None else self.transform(out)
