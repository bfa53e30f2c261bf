"""ZeroRedundancyOptimizer: optimizer state sharded across the ranks (ZeRO stage 1, as torch).

Every rank keeps all parameters but builds its inner optimizer over its own shard only, so the
optimizer state (momentum, Adam's moments) is split across ranks. ``step`` updates the local
shard, then each rank broadcasts its updated parameters to the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._tensor import Tensor
from ...optim.optimizer import Optimizer

__all__ = ["ZeroRedundancyOptimizer"]

_NOT_CONSOLIDATED = (
    "Optimizer state has not been consolidated on this rank. Please call "
    "`consolidate_state_dict(to=0)` on all ranks beforehand if you meant to save the global "
    "state."
)


def _dist():
    from ... import distributed

    return distributed


def _sync_param_groups(src: list[dict], dst: list[dict]) -> None:
    """Copy every option but ``params`` from ``src``'s groups to ``dst``'s (same count)."""
    for s, d in zip(src, dst):
        for k, v in s.items():
            if k not in ("params", "param_names"):
                d[k] = v


class ZeroRedundancyOptimizer(Optimizer):
    """Wrap an optimizer so each rank holds the state of a shard of the parameters only.

    Parameters are partitioned greedily, as torch does: within each parameter group, largest
    first, each goes to the rank whose shard is smallest so far (by element count, the sizes
    carried across groups). The partition depends only on the shapes, so every rank computes
    the same one.

    Args:
        params: parameters or parameter groups, as for any optimizer.
        optimizer_class: the optimizer to run on each shard (e.g. ``optim.Adam``).
        process_group: the group to shard over (default: the whole world).
        parameters_as_bucket_view: accepted for torch compatibility; the parameters are always
            broadcast in one flat buffer per rank and dtype.
        overlap_with_ddp: not supported (raises if True).
        **defaults: the options of ``optimizer_class`` (``lr=...``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core.distributed.optim import ZeroRedundancyOptimizer
        >>> model = torch.nn.Linear(4, 2)
        >>> opt = ZeroRedundancyOptimizer(  # doctest: +SKIP
        ...     model.parameters(), optimizer_class=torch.optim.Adam, lr=1e-3
        ... )
        >>> model(torch.randn(8, 4)).sum().backward()  # doctest: +SKIP
        >>> opt.step()  # doctest: +SKIP
    """

    def __init__(
        self,
        params,
        optimizer_class: type[Optimizer],
        process_group: Any = None,
        parameters_as_bucket_view: bool = False,
        overlap_with_ddp: bool = False,
        **defaults: Any,
    ) -> None:
        if overlap_with_ddp:
            raise NotImplementedError(
                "ZeroRedundancyOptimizer: overlap_with_ddp=True is not supported by tocha "
                "(use it without; the step then runs after backward)"
            )
        dist = _dist()
        if not dist.is_initialized():
            raise RuntimeError(
                "ZeroRedundancyOptimizer: Default process group has not been initialized, "
                "please make sure to call init_process_group."
            )
        self._initialized = False
        self.process_group = process_group
        self.world_size = dist.get_world_size(process_group)
        self.rank = dist.get_rank(process_group)
        self.global_rank = dist.get_rank()
        self.parameters_as_bucket_view = parameters_as_bucket_view
        self._optim_constructor = optimizer_class
        self._optim_defaults = defaults
        self._all_state_dicts: list[dict] = []
        super().__init__(params, defaults)
        self._partition = self._partition_parameters()
        self.optim = optimizer_class(self._local_groups(), **defaults)
        # the local optimizer filled in its own defaults (momentum, betas, ...): show them
        _sync_param_groups(self.optim.param_groups, self.param_groups)
        self.state = self.optim.state
        self._initialized = True

    # --- partition ------------------------------------------------------------------------
    def _partition_parameters(self) -> list[list[list[Tensor]]]:
        """``partition[rank][group]``: the parameters of each group that each rank owns."""
        partition = [[[] for _ in self.param_groups] for _ in range(self.world_size)]
        sizes = [0] * self.world_size
        for g, group in enumerate(self.param_groups):
            # largest first (a stable sort keeps the group order among equal sizes)
            for p in sorted(group["params"], key=lambda t: t.numel(), reverse=True):
                r = sizes.index(min(sizes))
                partition[r][g].append(p)
                sizes[r] += p.numel()
        return partition

    def _local_groups(self) -> list[dict]:
        groups = []
        for g, group in enumerate(self.param_groups):
            local = {k: v for k, v in group.items() if k not in ("params", "param_names")}
            local["params"] = list(self._partition[self.rank][g])
            groups.append(local)
        return groups

    @property
    def _param_to_rank(self) -> dict[int, int]:
        return {id(p): r for r, shard in enumerate(self._partition) for ps in shard for p in ps}

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group; its parameters are partitioned across the ranks as well."""
        super().add_param_group(param_group)
        if getattr(self, "_initialized", False):
            self._partition = self._partition_parameters()
            self.optim.add_param_group(self._local_groups()[-1])
            _sync_param_groups(self.optim.param_groups, self.param_groups)

    # --- step -----------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any):
        """Update this rank's shard, then broadcast every shard from its owner.

        Options changed on ``param_groups`` (e.g. by an LR scheduler) are passed to the inner
        optimizer first.
        """
        _sync_param_groups(self.param_groups, self.optim.param_groups)
        if closure is not None:
            loss = self.optim.step(closure=closure, **kwargs)
        else:
            loss = self.optim.step(**kwargs)
        _sync_param_groups(self.optim.param_groups, self.param_groups)
        self._sync_params()
        return loss

    def _sync_params(self) -> None:
        from ...autograd.grad_mode import no_grad
        from ...nn.parallel.distributed import _broadcast_coalesced

        dist = _dist()
        with no_grad():
            for r, shard in enumerate(self._partition):
                owned = [p for ps in shard for p in ps]
                if owned:
                    src = r if self.process_group is None else dist.get_global_rank(
                        self.process_group, r
                    )  # fmt: skip
                    _broadcast_coalesced(owned, src, self.process_group)

    # --- state_dict -----------------------------------------------------------------------
    def consolidate_state_dict(self, to: int = 0) -> None:
        """Gather every rank's shard of the optimizer state on rank ``to`` (a collective).

        Call it on all ranks; afterwards ``state_dict()`` works on rank ``to``.
        """
        dist = _dist()
        local = self.optim.state_dict()
        gathered: list | None = [None] * self.world_size if self.rank == to else None
        dst = to if self.process_group is None else dist.get_global_rank(self.process_group, to)
        dist.gather_object(local, gathered, dst=dst, group=self.process_group)
        self._all_state_dicts = gathered if self.rank == to else []

    def state_dict(self) -> dict[str, Any]:
        """The full state, as the unsharded optimizer would give it (after consolidation).

        Raises RuntimeError on a rank where ``consolidate_state_dict`` did not gather it.
        """
        if not self._all_state_dicts:
            raise RuntimeError(_NOT_CONSOLIDATED)
        sd = super().state_dict()  # global ids and options; its state is only the local shard
        global_id = {}
        for group, packed in zip(self.param_groups, sd["param_groups"]):
            for p, i in zip(group["params"], packed["params"]):
                global_id[id(p)] = i
        state = {}
        for r, local_sd in enumerate(self._all_state_dicts):
            local_params = [p for ps in self._partition[r] for p in ps]
            for local_id, st in local_sd["state"].items():
                state[global_id[id(local_params[local_id])]] = st
        sd["state"] = dict(sorted(state.items()))
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a full state (from ``state_dict()``); each rank keeps the state of its shard."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"ZeroRedundancyOptimizer.load_state_dict: the state has {len(groups)} "
                f"parameter groups, the optimizer {len(self.param_groups)}"
            )
        by_param = {}
        for group, saved in zip(self.param_groups, groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group ({len(saved['params'])} != {len(group['params'])})"
                )
            for p, i in zip(group["params"], saved["params"]):
                by_param[id(p)] = i
        local_state = {}
        local_groups = []
        n = 0
        for g, saved in enumerate(groups):
            ids = []
            for p in self._partition[self.rank][g]:
                st = state_dict["state"].get(by_param[id(p)])
                if st is not None:
                    local_state[n] = st
                ids.append(n)
                n += 1
            local = {k: v for k, v in saved.items() if k not in ("params", "param_names")}
            local["params"] = ids
            local_groups.append(local)
        self.optim.load_state_dict({"state": local_state, "param_groups": local_groups})
        self.state = self.optim.state
        _sync_param_groups(self.optim.param_groups, self.param_groups)
