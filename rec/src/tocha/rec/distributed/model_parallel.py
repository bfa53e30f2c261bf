"""DistributedModelParallel: sharded embeddings plus data-parallel dense parameters."""

from __future__ import annotations

import numpy as np

import tocha.core as torch
import tocha.core.distributed as dist
from tocha.core import nn

from ..modules.embedding_modules import EmbeddingBagCollection
from .embeddingbag import ShardedEmbeddingBagCollection

__all__ = ["DistributedModelParallel"]


class DistributedModelParallel(nn.Module):
    """Shards the EmbeddingBagCollection of ``module`` and keeps the rest data-parallel.

    Dense parameters are broadcast from rank 0 at construction; after each backward their
    gradients are averaged over the ranks in one flat ``all_reduce``, issued once both the
    dense gradients and the sharded tables' backward exchange are done (so every rank makes
    the collectives in the same order). Sharded tables get the sum of all ranks' gradients
    (as in torchrec); use fused optimizers on them (``apply_optimizer_in_backward``).

    Args:
        module: a model holding exactly one EmbeddingBagCollection.
        plan: ``{table_name: ShardingType}`` (default: table-wise round-robin).
        group: the process group (default: the world).
    """

    def __init__(self, module: nn.Module, plan: dict | None = None, group=None) -> None:
        super().__init__()
        found = [(n, m) for n, m in module.named_modules() if isinstance(m, EmbeddingBagCollection)]
        if len(found) != 1:
            raise NotImplementedError(
                f"DistributedModelParallel: expected one EmbeddingBagCollection, found {len(found)}"
            )
        name, ebc = found[0]
        sharded = ShardedEmbeddingBagCollection(ebc, plan, group)
        parent = module
        *path, last = name.split(".") if name else [""]
        for p in path:
            parent = getattr(parent, p)
        if name:
            setattr(parent, last, sharded)
        else:
            module = sharded
        self.module = module
        self._group = group
        self._world = dist.get_world_size(group) if dist.is_initialized() else 1
        sharded_ids = {id(p) for p in sharded.parameters()}
        self._dense = [
            p for p in module.parameters() if p.requires_grad and id(p) not in sharded_ids
        ]
        if self._world > 1:
            for p in self._dense:
                with torch.no_grad():
                    dist.broadcast(p.data, 0, group=group)
            sharded._backward_hooks.append(self._event)
            for p in self._dense:
                p.register_post_accumulate_grad_hook(lambda _p: self._event("grad"))
        self._pending = 0
        self._ready = 0

    def _event(self, kind: str) -> None:
        if kind == "forward":
            self._pending += 1
            return
        if kind == "backward":
            self._pending -= 1
        else:
            self._ready += 1
        if self._pending == 0 and self._ready >= len(self._dense):
            self._ready = 0
            self._sync()

    def _sync(self) -> None:
        grads = [p.grad for p in self._dense]
        flat = np.concatenate([g.detach().numpy().reshape(-1) for g in grads])
        buf = torch.from_numpy(flat)
        dist.all_reduce(buf, group=self._group)
        buf = buf.numpy() / self._world
        start = 0
        for g in grads:
            n = g.numel()
            g.detach().numpy().reshape(-1)[:] = buf[start : start + n]
            start += n

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
