"""Split transforms: ``RandomNodeSplit`` and ``RandomLinkSplit``.

Both draw from tocha's global generator, so ``torch.manual_seed`` makes them reproducible
(the draws differ from PyG's, which uses torch's generator).
"""

from __future__ import annotations

import copy

import numpy as np

import tocha.core as torch

from ..utils import negative_sampling
from ..utils._arrays import to_np, to_tensor
from .base_transform import BaseTransform


def _count(v: int | float, total: int) -> int:
    return int(round(v * total)) if isinstance(v, float) else int(v)


class RandomNodeSplit(BaseTransform):
    """Add ``train_mask`` / ``val_mask`` / ``test_mask`` node masks.

    Args:
        split: ``'train_rest'`` (``num_val`` + ``num_test`` random nodes, the rest train),
            ``'test_rest'`` (``num_train_per_class`` per class, ``num_val``, the rest test) or
            ``'random'`` (``num_train_per_class`` per class, ``num_val``, ``num_test``).
        num_splits: several splits stacked as columns of the masks.
        num_train_per_class, num_val, num_test: sizes (floats are fractions of the nodes).
        key: the label attribute (for the per-class splits).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import RandomNodeSplit
        >>> _ = torch.manual_seed(0)
        >>> d = RandomNodeSplit(num_val=2, num_test=3)(Data(x=torch.ones(10, 1)))
        >>> int(d.train_mask.sum()), int(d.val_mask.sum()), int(d.test_mask.sum())
        (5, 2, 3)
    """

    def __init__(
        self,
        split: str = "train_rest",
        num_splits: int = 1,
        num_train_per_class: int = 20,
        num_val: int | float = 500,
        num_test: int | float = 1000,
        key: str | None = "y",
    ):
        if split not in ("train_rest", "test_rest", "random"):
            raise ValueError(
                f"RandomNodeSplit: split must be 'train_rest', 'test_rest' or 'random', "
                f"got {split!r}"
            )
        self.split, self.num_splits = split, num_splits
        self.num_train_per_class, self.num_val, self.num_test = (
            num_train_per_class,
            num_val,
            num_test,
        )
        self.key = key

    def _one(self, data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = data.num_nodes
        train, val, test = (np.zeros(n, dtype=bool) for _ in range(3))
        num_val, num_test = _count(self.num_val, n), _count(self.num_test, n)
        if self.split == "train_rest":
            perm = to_np(torch.randperm(n))
            val[perm[:num_val]] = True
            test[perm[num_val : num_val + num_test]] = True
            train[perm[num_val + num_test :]] = True
            return train, val, test
        y = to_np(data[self.key]).reshape(-1)
        for c in range(int(y.max()) + 1):
            idx = np.flatnonzero(y == c)
            idx = idx[to_np(torch.randperm(idx.size))[: self.num_train_per_class]]
            train[idx] = True
        rest = np.flatnonzero(~train)
        rest = rest[to_np(torch.randperm(rest.size))]
        val[rest[:num_val]] = True
        if self.split == "test_rest":
            test[rest[num_val:]] = True
        else:
            test[rest[num_val : num_val + num_test]] = True
        return train, val, test

    def forward(self, data):
        splits = [self._one(data) for _ in range(self.num_splits)]
        for i, name in enumerate(("train_mask", "val_mask", "test_mask")):
            m = np.stack([s[i] for s in splits], 1) if self.num_splits > 1 else splits[0][i]
            data[name] = to_tensor(m, data.device)
        return data


class RandomLinkSplit(BaseTransform):
    """Split the edges into train / val / test link-prediction sets.

    Returns ``(train_data, val_data, test_data)``. Message passing edges grow with the split:
    train and val use the training edges, test uses training + validation edges. Supervision
    edges are stored as ``edge_label_index`` / ``edge_label`` (1 for real links, 0 for
    sampled negatives), or as ``pos_`` / ``neg_`` variants with ``split_labels=True``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.data import Data
        >>> from tocha.geometric.transforms import RandomLinkSplit
        >>> from tocha.geometric.utils import to_undirected
        >>> _ = torch.manual_seed(0)
        >>> ei = to_undirected(torch.randint(0, 30, (2, 60)))
        >>> train, val, test = RandomLinkSplit(num_val=0.1, num_test=0.2, is_undirected=True)(
        ...     Data(x=torch.ones(30, 1), edge_index=ei))
        >>> half = train.edge_index.shape[1] // 2
        >>> train.edge_label_index.shape[1] == 2 * half
        True
    """

    def __init__(
        self,
        num_val: int | float = 0.1,
        num_test: int | float = 0.2,
        is_undirected: bool = False,
        key: str = "edge_label",
        split_labels: bool = False,
        add_negative_train_samples: bool = True,
        neg_sampling_ratio: float = 1.0,
        disjoint_train_ratio: int | float = 0.0,
        edge_types=None,
        rev_edge_types=None,
    ):
        if edge_types is not None:
            raise NotImplementedError("RandomLinkSplit: HeteroData edge_types are not provided")
        self.num_val, self.num_test = num_val, num_test
        self.is_undirected = is_undirected
        self.key = key
        self.split_labels = split_labels
        self.add_negative_train_samples = add_negative_train_samples
        self.neg_sampling_ratio = neg_sampling_ratio
        self.disjoint_train_ratio = disjoint_train_ratio

    def forward(self, data):
        ei = to_np(data.edge_index)
        n = data.num_nodes
        dev = data.device
        edge_keys = [k for k in data.keys() if k != "edge_index" and data.is_edge_attr(k)]  # noqa: SIM118
        cand = np.flatnonzero(ei[0] <= ei[1]) if self.is_undirected else np.arange(ei.shape[1])
        cand = cand[to_np(torch.randperm(cand.size))]
        e = cand.size
        num_val, num_test = _count(self.num_val, e), _count(self.num_test, e)
        num_train = e - num_val - num_test
        if num_train <= 0:
            raise ValueError(
                f"RandomLinkSplit: {e} edges leave no training edges after {num_val} "
                f"validation and {num_test} test edges"
            )
        train_e = cand[:num_train]
        val_e = cand[num_train : num_train + num_val]
        test_e = cand[num_train + num_val :]
        num_disjoint = _count(self.disjoint_train_ratio, num_train)
        sup_train = train_e[:num_disjoint] if num_disjoint > 0 else train_e
        mp_train = train_e[num_disjoint:] if num_disjoint > 0 else train_e

        n_neg_train = (
            int(np.ceil(self.neg_sampling_ratio * sup_train.size))
            if self.add_negative_train_samples
            else 0
        )
        n_neg_val = int(np.ceil(self.neg_sampling_ratio * val_e.size))
        n_neg_test = int(np.ceil(self.neg_sampling_ratio * test_e.size))
        neg = to_np(negative_sampling(data.edge_index, n, n_neg_train + n_neg_val + n_neg_test))
        negs = (
            neg[:, :n_neg_train],
            neg[:, n_neg_train : n_neg_train + n_neg_val],
            neg[:, n_neg_train + n_neg_val :],
        )
        out = []
        mp_sets = (mp_train, mp_train, np.concatenate([train_e, val_e]))
        for mp, sup, ng in zip(mp_sets, (sup_train, val_e, test_e), negs, strict=True):
            d = copy.copy(data)
            self._set_message_edges(d, data, ei, mp, edge_keys, dev)
            self._set_labels(d, ei[:, sup], ng, dev)
            out.append(d)
        return tuple(out)

    def _set_message_edges(self, d, data, ei, idx, edge_keys, dev):
        if self.is_undirected:
            e = ei[:, idx]
            d.edge_index = to_tensor(np.concatenate([e, e[::-1]], axis=1), dev)
            t = to_tensor(np.concatenate([idx, idx]), dev)
        else:
            d.edge_index = to_tensor(ei[:, idx], dev)
            t = to_tensor(idx, dev)
        for k in edge_keys:
            d[k] = data[k].index_select(0, t)

    def _set_labels(self, d, pos: np.ndarray, neg: np.ndarray, dev):
        pos_t, neg_t = to_tensor(pos, dev), to_tensor(neg, dev)
        ones, zeros = torch.ones(pos.shape[1]), torch.zeros(neg.shape[1])
        if self.split_labels:
            d[f"pos_{self.key}_index"], d[f"pos_{self.key}"] = pos_t, ones
            d[f"neg_{self.key}_index"], d[f"neg_{self.key}"] = neg_t, zeros
        else:
            d[f"{self.key}_index"] = torch.cat([pos_t, neg_t], 1)
            d[self.key] = torch.cat([ones, zeros], 0)
