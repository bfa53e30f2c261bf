"""Split transforms: ``RandomNodeSplit`` and ``RandomLinkSplit``.

Both draw from tocha's global generator, so ``torch.manual_seed`` makes them reproducible
(the draws differ from PyG's, which uses torch's generator).
"""

from __future__ import annotations

import copy

import numpy as np

import tocha.core as torch

from ..data import HeteroData
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
        self.edge_types, self.rev_edge_types = edge_types, rev_edge_types
        self.num_val, self.num_test = num_val, num_test
        self.is_undirected = is_undirected
        self.key = key
        self.split_labels = split_labels
        self.add_negative_train_samples = add_negative_train_samples
        self.neg_sampling_ratio = neg_sampling_ratio
        self.disjoint_train_ratio = disjoint_train_ratio

    def forward(self, data):
        train, val, test = copy.copy(data), copy.copy(data), copy.copy(data)
        if isinstance(data, HeteroData):
            if self.edge_types is None:
                raise ValueError(
                    "RandomLinkSplit: HeteroData needs 'edge_types' (the edge types to split)"
                )
            ets = self.edge_types if isinstance(self.edge_types, list) else [self.edge_types]
            revs = self.rev_edge_types
            revs = revs if isinstance(revs, list) else [revs] * len(ets)
            items = [
                (data[et], train[et], val[et], test[et], rev, et, (train, val, test))
                for et, rev in zip(ets, revs, strict=True)
            ]
        else:
            items = [(data, train, val, test, None, None, None)]
        for store, tr, va, te, rev, et, parents in items:
            self._split_store(data, store, (tr, va, te), rev, et, parents)
        return train, val, test

    def _split_store(self, data, store, outs, rev, et, parents):
        ei = to_np(store.edge_index)
        dev = store.edge_index.device
        bipartite = et is not None and et[0] != et[2]
        undirected = self.is_undirected and not bipartite and (rev is None or rev == et)
        cand = np.flatnonzero(ei[0] <= ei[1]) if undirected else np.arange(ei.shape[1])
        cand = cand[to_np(torch.randperm(cand.size))]
        e = cand.size
        num_val, num_test = _floor(self.num_val, e), _floor(self.num_test, e)
        num_train = e - num_val - num_test
        num_disjoint = _floor(self.disjoint_train_ratio, num_train)
        if num_train - num_disjoint <= 0:
            raise ValueError(
                f"RandomLinkSplit: {e} edges leave no training edges after {num_val} "
                f"validation, {num_test} test and {num_disjoint} supervision-only edges"
            )
        train_e = cand[:num_train]
        val_e = cand[num_train : num_train + num_val]
        test_e = cand[num_train + num_val :]
        keys = _edge_attr_keys(store)
        mp_sets = (train_e[num_disjoint:], train_e, cand[: num_train + num_val])
        for i, (out, mp) in enumerate(zip(outs, mp_sets, strict=True)):
            parent = parents[i] if parents is not None else None
            self._set_message_edges(out, store, ei, mp, keys, undirected, dev, rev, parent)

        ratio = self.neg_sampling_ratio
        n_neg_train = 0
        if self.add_negative_train_samples:
            n_neg_train = int((num_disjoint if num_disjoint > 0 else num_train) * ratio)
        n_neg_val, n_neg_test = int(num_val * ratio), int(num_test * ratio)
        num_neg = n_neg_train + n_neg_val + n_neg_test
        if bipartite:
            size = (data[et[0]].num_nodes, data[et[2]].num_nodes)
        else:
            size = data[et[0]].num_nodes if et is not None else data.num_nodes
        neg = to_np(negative_sampling(store.edge_index, size, num_neg))
        if neg.shape[1] < num_neg:  # not enough non-edges: shrink every split alike
            found = neg.shape[1]
            n_neg_train = int(n_neg_train / num_neg * found)
            n_neg_val = int(n_neg_val / num_neg * found)
            n_neg_test = found - n_neg_train - n_neg_val
        sup_train = train_e[:num_disjoint] if num_disjoint > 0 else train_e
        negs = (
            neg[:, n_neg_val + n_neg_test :],
            neg[:, :n_neg_val],
            neg[:, n_neg_val : n_neg_val + n_neg_test],
        )
        for out, sup, ng in zip(outs, (sup_train, val_e, test_e), negs, strict=True):
            self._set_labels(out, store, ei, sup, ng, dev)

    def _set_message_edges(self, out, store, ei, idx, keys, undirected, dev, rev, parent):
        both = np.concatenate([idx, idx]) if undirected else idx
        t = to_tensor(both, dev)
        e = ei[:, idx]
        out.edge_index = to_tensor(np.concatenate([e, e[::-1]], 1) if undirected else e, dev)
        for k in keys:
            out[k] = store[k].index_select(0, t)
        if rev is not None and rev != (out._key if hasattr(out, "_key") else None):
            rev_store = parent[rev]
            for k in list(rev_store.keys()):
                if k not in out:
                    rev_store._mapping.pop(k, None)
                elif k == "edge_index":
                    rev_store.edge_index = out.edge_index.flip(0)
                else:
                    rev_store[k] = out[k]

    def _set_labels(self, out, store, ei, sup, neg, dev):
        pos_t, neg_t = to_tensor(ei[:, sup], dev), to_tensor(neg, dev)
        if self.key in store:
            label = store[self.key].index_select(0, to_tensor(sup, dev))
            if neg.shape[1] > 0:
                label = label + 1  # class 0 is the negatives'
            _delete(out, self.key)
        else:
            label = torch.ones(sup.size)
        zeros = label.new_zeros((neg.shape[1], *label.shape[1:]))
        if self.split_labels:
            out[f"pos_{self.key}_index"], out[f"pos_{self.key}"] = pos_t, label
            if neg.shape[1] > 0:
                out[f"neg_{self.key}_index"], out[f"neg_{self.key}"] = neg_t, zeros
        else:
            out[f"{self.key}_index"] = torch.cat([pos_t, neg_t], 1)
            out[self.key] = torch.cat([label, zeros], 0)


def _floor(v: int | float, total: int) -> int:
    return int(v * total) if isinstance(v, float) else int(v)


def _edge_attr_keys(store) -> list[str]:
    if hasattr(store, "is_edge_attr"):
        return [k for k in store.keys() if k != "edge_index" and store.is_edge_attr(k)]  # noqa: SIM118
    e = store.num_edges
    return [
        k
        for k, v in store.items()
        if k != "edge_index" and getattr(v, "shape", None) and v.shape[0] == e
    ]


def _delete(store, key: str) -> None:
    if hasattr(store, "_mapping"):
        store._mapping.pop(key, None)
    else:
        del store[key]
