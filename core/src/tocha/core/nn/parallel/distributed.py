"""DistributedDataParallel: data parallelism over the ranks of a process group (torch's DDP).

Every rank holds a full replica of the module and runs forward and backward on its own slice
of the data. Gradients are averaged across ranks during backward: the parameters are packed
into flat buckets (in reverse registration order, the order their gradients usually become
ready; each holds up to ``bucket_cap_mb``, the first only 1 MiB when the cap is the default),
and as soon as every gradient of a bucket has been accumulated the bucket is all-reduced once.
Buckets are launched strictly in order on every rank, so the collective sequence is the same
everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..._device import get_array_module, to_device
from ..._tensor import Tensor, wrap
from ...autograd.grad_mode import MODE, no_grad
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's dist._DEFAULT_FIRST_BUCKET_BYTES
_DEFAULT_BUCKET_CAP_MB = 25

_UNFINISHED_MSG = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss."
)


def _dist():
    # imported here: `import tocha.core.nn` must not load the distributed package (mpi4py)
    from ... import distributed

    return distributed


def _src_rank(group) -> int:
    """The global rank of rank 0 of ``group`` (collectives take global ranks as ``src``)."""
    if group is None:
        return 0
    return _dist().get_global_rank(group, 0)


def _tensors_in(obj) -> Iterator[Tensor]:
    """Every Tensor in a (nested) forward output."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _to(obj, dev):
    """Move the Tensors of a (nested) input to ``dev`` (DDP with ``device_ids``)."""
    if isinstance(obj, Tensor):
        return obj.to(dev)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_to(o, dev) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(o, dev) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to(v, dev)) for k, v in obj.items())
    return obj


def _broadcast_coalesced(tensors: list[Tensor], src: int, group) -> None:
    """Broadcast ``tensors`` from ``src`` in place: one flat broadcast per dtype and device."""
    dist = _dist()
    by_kind: dict = {}
    for t in tensors:
        by_kind.setdefault((t._data.dtype, t.device), []).append(t)
    for ts in by_kind.values():
        xp = get_array_module(ts[0]._data)
        flat = wrap(xp.concatenate([t._data.reshape(-1) for t in ts]))
        dist.broadcast(flat, src, group=group)
        off = 0
        for t in ts:
            n = t._data.size
            t._data[...] = flat._data[off : off + n].reshape(t._data.shape)
            t._bump_version()
            off += n


def _bucket_assignment(
    params: list[Tensor], cap_bytes: int, first_bytes: int | None = None
) -> list[list[int]]:
    """Group parameter indices into buckets, in reverse order, one stream per dtype/device.

    This is the layout torch's DDP settles on after its first iteration (gradients become
    ready roughly in reverse registration order). A bucket closes once it reaches its limit,
    so a parameter larger than the limit gets a bucket of its own. ``first_bytes`` (torch's
    1 MiB when ``bucket_cap_mb`` is not given) caps the first bucket of each stream so the
    first all-reduce starts early in backward; the others hold up to ``cap_bytes``.
    """
    open_buckets: dict = {}
    closed: list[tuple[int, list[int]]] = []  # (position of the first member, indices)
    for order, i in enumerate(reversed(range(len(params)))):
        p = params[i]
        key = (p._data.dtype, p.device)
        entry = open_buckets.get(key)
        if entry is None or not entry["idx"]:
            n_closed = 0 if entry is None else entry["n"]
            entry = open_buckets[key] = {"idx": [], "bytes": 0, "n": n_closed, "first": order}
        entry["idx"].append(i)
        entry["bytes"] += p._data.nbytes
        limit = first_bytes if entry["n"] == 0 and first_bytes is not None else cap_bytes
        if entry["bytes"] >= limit:
            closed.append((entry["first"], entry["idx"]))
            open_buckets[key] = {"idx": [], "bytes": 0, "n": entry["n"] + 1, "first": None}
    for entry in open_buckets.values():
        if entry["idx"]:
            closed.append((entry["first"], entry["idx"]))
    # buckets become ready in the order of their first gradient
    closed.sort(key=lambda c: c[0])
    return [idx for _, idx in closed]


class _Reducer:
    """Marks gradients ready, all-reduces full buckets in order, writes the averages back."""

    def __init__(self, ddp: DistributedDataParallel, params: list[Tensor], names: list[str]):
        self.ddp = ddp
        self.params = params
        self.names = names
        self.buckets = _bucket_assignment(params, ddp.bucket_bytes_cap, ddp._first_bucket_bytes)
        self.bucket_of = {}
        for b, idx in enumerate(self.buckets):
            for i in idx:
                self.bucket_of[i] = b
        self.expect = False  # a synchronised backward is expected (set after forward)
        self.started = False  # a gradient of that backward has arrived
        self.unused: list[int] = []
        self.handles = [
            p.register_post_accumulate_grad_hook(self._hook_for(i)) for i, p in enumerate(params)
        ]
        self._reset()

    def _reset(self) -> None:
        self.ready = [False] * len(self.params)
        self.pending = [len(idx) for idx in self.buckets]
        self.next_bucket = 0
        self.inflight: list = []
        self.used = [True] * len(self.params)

    def _hook_for(self, i: int):
        def hook(param: Tensor) -> None:
            if self.expect:
                self.mark_ready(i)

        return hook

    # --- per-iteration protocol -----------------------------------------------------------
    def prepare_for_forward(self) -> None:
        if self.started:
            waiting = [self.names[i] for i, r in enumerate(self.ready) if not r]
            for _, _, work in self.inflight:  # leave no request of the broken step pending
                if work is not None:
                    work.wait()
            self.expect = self.started = False
            self._reset()
            raise RuntimeError(
                f"{_UNFINISHED_MSG} Parameters which did not receive grad for rank "
                f"{_dist().get_rank(self.ddp.process_group)}: {', '.join(waiting)}"
            )
        self._reset()

    def prepare_for_backward(self, outputs) -> None:
        self.expect = True
        self.started = False
        self.unused = []
        if self.ddp.find_unused_parameters:
            self.unused = self._find_unused(outputs)

    def _find_unused(self, outputs) -> list[int]:
        """Indices of the parameters the autograd graph of ``outputs`` does not reach."""
        index = {id(p): i for i, p in enumerate(self.params)}
        reached: set[int] = set()
        seen: set[int] = set()
        stack = []
        for t in _tensors_in(outputs):
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            elif id(t) in index:
                reached.add(index[id(t)])
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for e in node.next_edges:
                if e is None:
                    continue
                target = e[0]
                if isinstance(target, Tensor):
                    i = index.get(id(target))
                    if i is not None:
                        reached.add(i)
                else:
                    stack.append(target)
        return [i for i in range(len(self.params)) if i not in reached]

    def mark_ready(self, i: int) -> None:
        if not self.started:
            self.started = True
            # unused parameters count as ready once backward has begun (as torch does), so
            # their buckets can complete; their slots are all-reduced as zeros
            for j in self.unused:
                self.used[j] = False
                self._mark(j)
        if self.ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. Parameter {self.names[i]} "
                f"(index {i}) has been marked as ready twice. This happens when a parameter "
                "takes part in two backward passes of one iteration (e.g. reentrant "
                "checkpointing or retain_graph=True with several backward calls)."
            )
        self._mark(i)

    def _mark(self, i: int) -> None:
        self.ready[i] = True
        b = self.bucket_of[i]
        self.pending[b] -= 1
        # launch in bucket order only: every rank issues the same sequence of all-reduces
        while self.next_bucket < len(self.buckets) and self.pending[self.next_bucket] == 0:
            self._launch(self.next_bucket)
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finalize()

    def _launch(self, b: int) -> None:
        dist = _dist()
        ps = [self.params[i] for i in self.buckets[b]]
        xp = get_array_module(ps[0]._data)
        parts = []
        for p in ps:
            g = p.grad
            if g is None:  # unused on this rank: contributes zeros
                parts.append(xp.zeros(p._data.size, dtype=p._data.dtype))
            else:
                parts.append(g._data.reshape(-1))
        flat = wrap(xp.concatenate(parts))
        # average as torch's default hook does: divide by the world size, then sum
        flat._data /= self.ddp._world_size
        work = dist.all_reduce(flat, group=self.ddp.process_group, async_op=True)
        self.inflight.append((b, flat, work))

    def _finalize(self) -> None:
        dist = _dist()
        for _, _, work in self.inflight:
            if work is not None:
                work.wait()
        globally_used = None
        if self.ddp.find_unused_parameters:
            # a parameter unused on every rank keeps its gradient (None stays None), as torch
            xp = get_array_module(self.params[0]._data)
            flags = wrap(xp.asarray(self.used, dtype=xp.int32))
            dist.all_reduce(flags, group=self.ddp.process_group)
            globally_used = [bool(v) for v in flags.tolist()]
        for b, flat, _ in self.inflight:
            off = 0
            for i in self.buckets[b]:
                p = self.params[i]
                n = p._data.size
                avg = flat._data[off : off + n].reshape(p._data.shape)
                off += n
                if globally_used is not None and not globally_used[i]:
                    continue
                if p.grad is None:
                    p.grad = wrap(avg.copy())
                else:
                    p.grad._data[...] = avg
                    p.grad._bump_version()
        self.expect = self.started = False
        self._reset()

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class DistributedDataParallel(Module):
    """Data parallelism across the ranks of a process group, at the module level.

    Construct it after ``tocha.core.distributed.init_process_group`` on every rank, with the
    same module architecture everywhere. Parameters and buffers are broadcast from rank 0 at
    construction; during backward the gradients are averaged over the ranks in flat buckets;
    with ``broadcast_buffers`` the buffers (e.g. BatchNorm running statistics) are broadcast
    from rank 0 before each forward. ``state_dict`` keys carry a ``module.`` prefix, as torch.

    Args:
        module: the module to replicate.
        device_ids: for a CUDA module, the one device of this rank (``[local_rank]``); inputs
            are moved there. ``None`` for CPU modules.
        output_device: accepted for torch compatibility (outputs stay on the module's device).
        dim: accepted for torch compatibility (the batch is split by the user, per rank).
        broadcast_buffers: broadcast the buffers from rank 0 at the start of each forward
            (default on); ``False`` also leaves them out of the construction-time broadcast.
        init_sync: broadcast parameters and buffers from rank 0 at construction.
        process_group: the group to average over (default: the whole world).
        bucket_cap_mb: bucket size in MiB (default 25).
        find_unused_parameters: walk the autograd graph of the forward's outputs and count
            parameters it does not reach as ready, so backward still completes; a parameter
            unused on every rank keeps its gradient, one used on some rank gets the average.
        check_reduction, gradient_as_bucket_view, static_graph: accepted for compatibility;
            they do not change the gradients computed.
        forward_sync_buffers: torch 2.13's replacement of ``broadcast_buffers`` for the
            per-forward broadcast only (it does not affect the construction-time one).

    Example:
        >>> import tocha.core as torch
        >>> import tocha.core.distributed as dist
        >>> from tocha.core.nn.parallel import DistributedDataParallel as DDP
        >>> dist.init_process_group("mpi")  # doctest: +SKIP
        >>> model = DDP(torch.nn.Linear(4, 2))  # doctest: +SKIP
        >>> model(torch.randn(8, 4)).sum().backward()  # grads averaged over ranks  # doctest: +SKIP
    """

    def __init__(
        self,
        module: Module,
        device_ids: list | None = None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool | None = None,
        init_sync: bool = True,
        process_group=None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        *,
        forward_sync_buffers: bool | None = None,
    ) -> None:
        super().__init__()
        dist = _dist()
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: Default process group has not been initialized, "
                "please make sure to call init_process_group."
            )
        params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not params:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter "
                "that requires a gradient."
            )
        devices = {p.device for _, p in params}
        if len(devices) > 1:
            raise ValueError(
                "DistributedDataParallel's input module must be on the same type of devices, "
                f"but input module parameters locate in {sorted(str(d) for d in devices)}."
            )
        self.is_multi_device_module = False
        dev = next(iter(devices))
        if device_ids is not None:
            if dev.type == "cpu":
                raise ValueError(
                    "DistributedDataParallel device_ids and output_device arguments only work "
                    f"with single-device/multiple-device GPU modules or CPU modules, but got "
                    f"device_ids {device_ids}, output_device {output_device}, and module "
                    f"parameters {{{dev}}}."
                )
            if len(device_ids) != 1:
                raise ValueError(
                    f"DistributedDataParallel: device_ids must hold exactly one device for a "
                    f"single-device module, got {device_ids}"
                )
            self.device_ids = [to_device(d if not isinstance(d, int) else f"cuda:{d}").index
                               for d in device_ids]  # fmt: skip
            self.output_device = self.device_ids[0] if output_device is None else output_device
        else:
            self.device_ids = None
            self.output_device = None
        self.device = dev
        self.module = module
        self.dim = dim
        # torch 2.13: forward_sync_buffers replaces broadcast_buffers (both default to on);
        # broadcast_buffers=False also keeps the buffers out of the construction-time sync
        if forward_sync_buffers is None:
            forward_sync_buffers = broadcast_buffers is not False
        self.broadcast_buffers = forward_sync_buffers
        self.process_group = process_group
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        cap = _DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap * 1024 * 1024)
        # as torch: a small first bucket only when the user left the cap at its default
        self._first_bucket_bytes = _FIRST_BUCKET_BYTES if bucket_cap_mb is None else None
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._world_size = dist.get_world_size(process_group)
        self._verify_same_model([p for _, p in params])
        self.modules_buffers = list(module.buffers())
        if init_sync:
            init_buffers = self.modules_buffers if broadcast_buffers is not False else []
            with no_grad():
                _broadcast_coalesced(
                    [p for _, p in module.named_parameters()] + init_buffers,
                    _src_rank(process_group),
                    process_group,
                )
        self.reducer = _Reducer(self, [p for _, p in params], [n for n, _ in params])

    def _verify_same_model(self, params: list[Tensor]) -> None:
        """Every rank must hold the same parameter shapes and dtypes, in the same order."""
        dist = _dist()
        mine = [(tuple(p.shape), str(p.dtype)) for p in params]
        everyone: list = [None] * self._world_size
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for r, theirs in enumerate(everyone):
            if theirs != mine:
                raise RuntimeError(
                    f"DDP expects same model across all ranks, but rank "
                    f"{dist.get_rank(self.process_group)} has {len(mine)} params "
                    f"{mine[:4]}{'...' if len(mine) > 4 else ''}, while rank {r} has "
                    f"{len(theirs)} params {theirs[:4]}{'...' if len(theirs) > 4 else ''}."
                )

    # --- forward ------------------------------------------------------------------------------
    def will_sync_module_buffers(self) -> bool:
        """Whether the next forward broadcasts the buffers from rank 0."""
        return (
            self.require_forward_param_sync
            and self.broadcast_buffers
            and len(self.modules_buffers) > 0
        )

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        grad_sync = MODE.grad and self.require_backward_grad_sync
        if grad_sync:
            self.reducer.prepare_for_forward()
        if self.will_sync_module_buffers():
            # read the buffers afresh: a module may have replaced a buffer tensor
            self.modules_buffers = list(self.module.buffers())
            with no_grad():
                _broadcast_coalesced(
                    self.modules_buffers, _src_rank(self.process_group), self.process_group
                )
        if self.device_ids is not None:
            dev = f"cuda:{self.device_ids[0]}"
            inputs, kwargs = _to(inputs, dev), _to(kwargs, dev)
        output = self.module(*inputs, **kwargs)
        if grad_sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward(output)
        else:
            self.require_forward_param_sync = False
            self.reducer.expect = False
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context gradients accumulate locally without being all-reduced.

        The first forward-backward after the context all-reduces the accumulated gradients.

        Example:
            >>> with ddp.no_sync():  # doctest: +SKIP
            ...     for x in micro_batches[:-1]:
            ...         ddp(x).sum().backward()  # local accumulation only
            >>> ddp(micro_batches[-1]).sum().backward()  # all-reduce here  # doctest: +SKIP
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old
