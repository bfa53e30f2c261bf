"""ShardedEmbeddingBagCollection: table-wise and row-wise sharding over MPI ranks.

Every shard is ``(table, rank, row_offset, num_rows)``. In forward each rank cuts its batch's
ids by shard, sends each shard's ids (shifted to the shard's rows), bag numbers and pooling
coefficients to the owning rank (``all_to_all``), the owner pools all ranks' bags with one
row-sparse lookup per shard, and the partial pooled rows go back (``all_to_all``), where the
partials of a table's shards are summed. Backward sends the pooled gradients to the owners
through the same exchange in reverse, so fused row optimizers update each shard on its rank.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

import tocha.core as torch
import tocha.core.distributed as dist
from tocha.core import nn

from ..modules._lookup import lookup
from ..modules.embedding_modules import EmbeddingBagCollection, _table_ids
from ..optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from ..sparse.jagged_tensor import KeyedJaggedTensor, KeyedTensor

__all__ = ["ShardedEmbeddingBagCollection", "ShardingType", "shard_plan"]


class ShardingType(Enum):
    """How a table is split across ranks."""

    TABLE_WISE = "table_wise"
    ROW_WISE = "row_wise"


def shard_plan(tables: list, world_size: int, plan: dict | None = None) -> list[tuple]:
    """The shards ``(table_index, rank, row_offset, num_rows)`` of every table.

    ``plan`` maps table names to a ShardingType (or ``(ShardingType.TABLE_WISE, rank)``);
    tables not in it are placed table-wise round-robin.

    Example:
        >>> from tocha.rec.modules import EmbeddingBagConfig
        >>> t = [EmbeddingBagConfig(num_embeddings=5, embedding_dim=2, name="a"),
        ...      EmbeddingBagConfig(num_embeddings=5, embedding_dim=2, name="b")]
        >>> shard_plan(t, 2, {"b": ShardingType.ROW_WISE})
        [(0, 0, 0, 5), (1, 0, 0, 3), (1, 1, 3, 2)]
    """
    plan = dict(plan or {})
    shards = []
    tw = 0
    for i, cfg in enumerate(tables):
        spec = plan.get(cfg.name, ShardingType.TABLE_WISE)
        kind, rank = spec if isinstance(spec, tuple) else (spec, None)
        kind = ShardingType(getattr(kind, "value", kind))
        n = cfg.num_embeddings
        if kind == ShardingType.TABLE_WISE:
            if rank is None:
                rank = tw % world_size
                tw += 1
            if not 0 <= rank < world_size:
                raise ValueError(
                    f"shard_plan: table {cfg.name!r} placed on rank {rank} of {world_size}"
                )
            shards.append((i, rank, 0, n))
        else:
            blk = -(-n // world_size)
            for r in range(world_size):
                lo = min(n, r * blk)
                rows = min(blk, n - lo)
                if rows > 0:
                    shards.append((i, r, lo, rows))
    return shards


def _cat(xs: list, dt) -> np.ndarray:
    return np.concatenate(xs).astype(dt) if xs else np.empty(0, dt)


class _Exchange(torch.autograd.Function):
    """all_to_all of 1-D float tensors whose backward is the reverse all_to_all."""

    @staticmethod
    def forward(ctx, anchor, *tensors, recv_sizes, group, on_backward):
        ctx.send_sizes = [int(t.numel()) for t in tensors]
        ctx.group, ctx.on_backward = group, on_backward
        outs = [torch.empty(n) for n in recv_sizes]
        dist.all_to_all(outs, [t.contiguous() for t in tensors], group=group)
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        back = [torch.empty(n) for n in ctx.send_sizes]
        dist.all_to_all(back, [g.contiguous() for g in grads], group=ctx.group)
        if ctx.on_backward is not None:
            ctx.on_backward()
        return (None, *back)


class ShardedEmbeddingBagCollection(nn.Module):
    """An EmbeddingBagCollection whose tables are spread over the ranks of ``group``.

    Args:
        ebc: the unsharded collection (the same on every rank; rank 0's values are used).
        plan: ``{table_name: ShardingType}``; others are placed table-wise round-robin.
        group: the process group (default: the world).

    Every rank must call forward with the same batch size. Per-sample weights are used as
    constants (no gradient flows to them through a sharded table). SUM and MEAN pooling.
    """

    def __init__(self, ebc: EmbeddingBagCollection, plan: dict | None = None, group=None):
        super().__init__()
        self._group = group
        self._world = dist.get_world_size(group) if dist.is_initialized() else 1
        self._rank = dist.get_rank(group) if dist.is_initialized() else 0
        self._configs = ebc.embedding_bag_configs()
        self._is_weighted = ebc.is_weighted()
        for cfg in self._configs:
            if getattr(cfg.pooling, "value", cfg.pooling) not in ("SUM", "MEAN"):
                raise NotImplementedError(
                    f"ShardedEmbeddingBagCollection: table {cfg.name!r} pooling {cfg.pooling} "
                    "is not supported (SUM or MEAN)"
                )
        self._shards = shard_plan(self._configs, self._world, plan)
        self._on_rank = [
            [h for h, s in enumerate(self._shards) if s[1] == r] for r in range(self._world)
        ]
        # every rank takes rank 0's tables (one broadcast per table, in table order), so
        # the shards are exactly the slices of the unsharded collection
        full = {}
        for cfg in self._configs:
            w = ebc.embedding_bags[cfg.name].weight
            data = w.detach()
            if self._world > 1:
                data = data.clone()
                dist.broadcast(data, 0, group=group)
            full[cfg.name] = (w, data)
        self.embedding_bags = nn.ModuleDict()
        self._local: dict[int, nn.Parameter] = {}
        for h in self._on_rank[self._rank]:
            t, _, off, rows = self._shards[h]
            cfg = self._configs[t]
            src, data = full[cfg.name]
            w = nn.Parameter(data[off : off + rows].clone())
            w._shard_offset = off
            mod = nn.Module()
            mod.weight = w
            self.embedding_bags[cfg.name] = mod
            self._local[h] = w
            opts = getattr(src, "_optimizer_classes", None)
            if opts:
                apply_optimizer_in_backward(opts[0], [w], src._optimizer_kwargs[0])
        self._embedding_names = [f for cfg in self._configs for f in cfg.feature_names]
        self._lengths = [cfg.embedding_dim for cfg in self._configs for _ in cfg.feature_names]
        self._backward_hooks: list = []

    def sharding_plan(self) -> list[tuple]:
        """The shards ``(table_index, rank, row_offset, num_rows)``."""
        return list(self._shards)

    def _a2a(self, send: list[np.ndarray], sizes_out: list[int], dtype) -> list[np.ndarray]:
        outs = [torch.empty(n, dtype=dtype) for n in sizes_out]
        dist.all_to_all(
            outs, [torch.from_numpy(np.ascontiguousarray(a)) for a in send], group=self._group
        )
        return [o.numpy() for o in outs]

    def forward(self, features: KeyedJaggedTensor) -> KeyedTensor:
        b = features.stride()
        world, me = self._world, self._rank
        per_table = []
        send_ids = [[] for _ in range(world)]
        send_bags = [[] for _ in range(world)]
        send_coef = [[] for _ in range(world)]
        counts = [[] for _ in range(world)]
        for t, cfg in enumerate(self._configs):
            ids, offsets, psw, ln = _table_ids(
                features, cfg.feature_names, "ShardedEmbeddingBagCollection", cfg.name
            )
            n = cfg.num_embeddings
            if ids.size and (ids.min() < 0 or ids.max() >= n):
                raise IndexError(
                    f"ShardedEmbeddingBagCollection: id out of range for table "
                    f"{cfg.name!r} with {n} rows"
                )
            nb = ln.shape[0]
            seg = np.repeat(np.arange(nb), ln)
            coef = (
                psw.detach().numpy().astype(np.float32)
                if psw is not None and self._is_weighted
                else np.ones(ids.shape[0], np.float32)
            )
            if getattr(cfg.pooling, "value", cfg.pooling) == "MEAN":
                coef = coef / np.maximum(ln, 1)[seg]
            per_table.append(nb)
            for tt, r, off, rows in self._shards:
                if tt != t:
                    continue
                m = (ids >= off) & (ids < off + rows)
                send_ids[r].append(ids[m] - off)
                send_bags[r].append(seg[m])
                send_coef[r].append(coef[m])
                counts[r].append(int(m.sum()))
        mine = self._on_rank[me]
        if world > 1:
            recv_counts = self._a2a(
                [np.asarray(c, np.int64) for c in counts], [len(mine)] * world, torch.int64
            )
        else:
            recv_counts = [np.asarray(counts[0], np.int64)]
        sizes = [int(c.sum()) for c in recv_counts]
        ids_in = [_cat(x, np.int64) for x in send_ids]
        bags_in = [_cat(x, np.int64) for x in send_bags]
        coef_in = [_cat(x, np.float32) for x in send_coef]
        if world > 1:
            ids_r = self._a2a(ids_in, sizes, torch.int64)
            bags_r = self._a2a(bags_in, sizes, torch.int64)
            coef_r = self._a2a(coef_in, sizes, torch.float32)
        else:
            ids_r, bags_r, coef_r = ids_in, bags_in, coef_in
        # pool every source rank's bags of each local shard with one lookup
        back = [[] for _ in range(world)]
        for j, h in enumerate(mine):
            t = self._shards[h][0]
            nb = per_table[t]
            ids_h, bags_h, coef_h = [], [], []
            for s in range(world):
                start = int(recv_counts[s][:j].sum())
                stop = start + int(recv_counts[s][j])
                ids_h.append(ids_r[s][start:stop])
                bags_h.append(bags_r[s][start:stop] + s * nb)
                coef_h.append(coef_r[s][start:stop])
            bags = np.concatenate(bags_h)
            offsets = np.zeros(world * nb + 1, dtype=np.int64)
            np.cumsum(np.bincount(bags, minlength=world * nb), out=offsets[1:])
            pooled = lookup(
                self._local[h],
                np.concatenate(ids_h),
                offsets,
                "sum",
                torch.from_numpy(np.concatenate(coef_h)),
                "ShardedEmbeddingBagCollection",
                self._configs[t].name,
            )
            for s in range(world):
                back[s].append(pooled[s * nb : (s + 1) * nb].reshape(-1))
        send_back = [torch.cat(x) if x else torch.empty(0) for x in back]
        recv_sizes = [
            sum(
                per_table[self._shards[h][0]] * self._configs[self._shards[h][0]].embedding_dim
                for h in self._on_rank[r]
            )
            for r in range(world)
        ]
        anchor = torch.zeros(1, requires_grad=torch.is_grad_enabled())
        on_back = self._notify if self._backward_hooks else None
        if world > 1:
            recv = _Exchange.apply(
                anchor, *send_back, recv_sizes=recv_sizes, group=self._group, on_backward=on_back
            )
        else:
            recv = tuple(send_back)
        if not isinstance(recv, tuple):
            recv = (recv,)
        sums: list = [None] * len(self._configs)
        for r in range(world):
            start = 0
            for h in self._on_rank[r]:
                t = self._shards[h][0]
                d = self._configs[t].embedding_dim
                n = per_table[t] * d
                part = recv[r][start : start + n].reshape(per_table[t], d)
                start += n
                sums[t] = part if sums[t] is None else sums[t] + part
        outs = []
        for t, cfg in enumerate(self._configs):
            for k in range(len(cfg.feature_names)):
                outs.append(sums[t][k * b : (k + 1) * b])
        values = torch.cat(outs, dim=1) if outs else torch.empty(b, 0)
        # only a forward that records a graph will see the backward exchange
        if self._backward_hooks and world > 1 and torch.is_grad_enabled():
            for hook in self._backward_hooks:
                hook("forward")
        return KeyedTensor(self._embedding_names, self._lengths, values)

    def _notify(self) -> None:
        for hook in self._backward_hooks:
            hook("backward")
