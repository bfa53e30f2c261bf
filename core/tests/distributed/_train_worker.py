"""Multi-rank programs for test_ddp.py / test_zero.py: `mpiexec -n N python _train_worker.py
SCENARIO OUTDIR`. Each rank trains with DDP / ZeRO and, in the same process, a single-process
reference on the full batch; it saves both to OUTDIR/rank{r}.npz for the test to compare.
"""

from __future__ import annotations

import sys

import numpy as np

import tocha.core as torch
import tocha.core.distributed as dist
from tocha.core import nn
from tocha.core.distributed.optim import ZeroRedundancyOptimizer
from tocha.core.nn.parallel import DistributedDataParallel as DDP

PER_RANK = 6  # samples per rank and step


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
    )


def data(step: int, ws: int):
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(PER_RANK * ws, 8, generator=g), torch.randn(PER_RANK * ws, 3, generator=g)


def params_of(model) -> dict:
    return {f"p_{n}": p.detach().numpy().copy() for n, p in model.named_parameters()}


def make_opt(kind: str, params):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
    return torch.optim.Adam(params, lr=0.01)


def train_ddp(kind: str, rank: int, ws: int, bucket_cap_mb):
    # every rank initialises differently: DDP must broadcast rank 0's parameters
    model = DDP(mlp(seed=rank), bucket_cap_mb=bucket_cap_mb)
    ref = mlp(seed=0)
    opt, ref_opt = make_opt(kind, model.parameters()), make_opt(kind, ref.parameters())
    lo, hi = rank * PER_RANK, (rank + 1) * PER_RANK
    for step in range(5):
        x, y = data(step, ws)
        opt.zero_grad()
        nn.functional.mse_loss(model(x[lo:hi]), y[lo:hi]).backward()
        opt.step()
        ref_opt.zero_grad()
        nn.functional.mse_loss(ref(x), y).backward()
        ref_opt.step()
    return {
        **params_of(model.module),
        **{"ref_" + k: v for k, v in params_of(ref).items()},
        "n_buckets": np.array(len(model.reducer.buckets)),
    }


def no_sync(rank: int, ws: int):
    micro = 3
    model = DDP(mlp(seed=rank), bucket_cap_mb=0.001)
    ref = mlp(seed=0)
    opt, ref_opt = make_opt("sgd", model.parameters()), make_opt("sgd", ref.parameters())
    lo, hi = rank * PER_RANK, (rank + 1) * PER_RANK
    for step in range(3):
        opt.zero_grad()
        ref_opt.zero_grad()
        for m in range(micro):
            x, y = data(10 * step + m, ws)
            if m < micro - 1:
                with model.no_sync():  # local accumulation only
                    nn.functional.mse_loss(model(x[lo:hi]), y[lo:hi]).backward()
            else:  # this backward all-reduces everything accumulated
                nn.functional.mse_loss(model(x[lo:hi]), y[lo:hi]).backward()
            nn.functional.mse_loss(ref(x), y).backward()
        opt.step()
        ref_opt.step()
    return {**params_of(model.module), **{"ref_" + k: v for k, v in params_of(ref).items()}}


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(4, 2)  # used on rank 0 only
        self.c = nn.Linear(4, 2)  # never used

    def forward(self, x, use_b: bool):
        h = self.body(x).tanh()
        out = self.a(h)
        return out + self.b(h) if use_b else out


def unused(rank: int, ws: int):
    torch.manual_seed(0)
    plain = TwoHeads()
    torch.manual_seed(rank)
    model = DDP(TwoHeads(), find_unused_parameters=True, bucket_cap_mb=0.0001)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(PER_RANK * ws, 4, generator=g)
    out = {}
    for _ in range(2):  # the second iteration proves the first one finished cleanly
        model.zero_grad()
        model(x[rank * PER_RANK : (rank + 1) * PER_RANK], use_b=(rank == 0)).sum().backward()
    for n, p in model.module.named_parameters():
        out["grad_" + n] = np.array(np.nan) if p.grad is None else p.grad.numpy().copy()
    # the expected average: each rank's local gradients (zero where unused), averaged
    acc = {n: np.zeros(p.shape, np.float32) for n, p in plain.named_parameters()}
    for r in range(ws):
        plain.zero_grad()
        plain(x[r * PER_RANK : (r + 1) * PER_RANK], use_b=(r == 0)).sum().backward()
        for n, p in plain.named_parameters():
            if p.grad is not None:
                acc[n] += p.grad.numpy() / ws
    for n, v in acc.items():
        out["expect_" + n] = v if not n.startswith("c.") else np.array(np.nan)
    return out


def unused_error(rank: int, ws: int):
    model = DDP(TwoHeads(), bucket_cap_mb=0.0001)
    x = torch.ones(2, 4)
    model(x, use_b=False).sum().backward()  # b and c never get a gradient
    try:
        model(x, use_b=False)
    except RuntimeError as e:
        msg = str(e)
    else:
        msg = ""
    # after the error the module is usable again with every parameter in the loss
    model(x, use_b=True).sum().backward()
    return {"msg": np.array(msg)}


class WithBuffer(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("scale", torch.full((3,), value))

    def forward(self, x):
        return self.lin(x) * self.scale


def buffers(rank: int, ws: int):
    model = DDP(WithBuffer(float(rank + 1)))
    after_init = model.module.scale.numpy().copy()
    model.module.scale.fill_(10.0 * (rank + 1))  # drifts apart locally
    model(torch.ones(1, 3))
    after_fwd = model.module.scale.numpy().copy()
    nb = DDP(WithBuffer(float(rank + 1)), broadcast_buffers=False)
    nb_init = nb.module.scale.numpy().copy()  # not broadcast at construction either
    nb.module.scale.fill_(10.0 * (rank + 1))
    nb(torch.ones(1, 3))
    return {
        "after_init": after_init,
        "after_fwd": after_fwd,
        "no_broadcast_init": nb_init,
        "no_broadcast": nb.module.scale.numpy().copy(),
        "keys": np.array(sorted(model.state_dict())),
    }


def zero(kind: str, rank: int, ws: int):
    # DDP for the gradients, ZeRO for the update: equals one process with the plain optimizer
    model = DDP(mlp(seed=rank))
    ref = mlp(seed=0)
    cls = torch.optim.SGD if kind == "sgd" else torch.optim.Adam
    kw = {"lr": 0.1, "momentum": 0.9} if kind == "sgd" else {"lr": 0.01}
    opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=cls, **kw)
    ref_opt = cls(ref.parameters(), **kw)
    lo, hi = rank * PER_RANK, (rank + 1) * PER_RANK

    def run(steps):
        for step in steps:
            x, y = data(step, ws)
            opt.zero_grad()
            nn.functional.mse_loss(model(x[lo:hi]), y[lo:hi]).backward()
            opt.step()
            ref_opt.zero_grad()
            nn.functional.mse_loss(ref(x), y).backward()
            ref_opt.step()

    run(range(4))
    n_local_state = len(opt.optim.state)
    owned = [sum(p.numel() for ps in shard for p in ps) for shard in opt._partition]
    opt.consolidate_state_dict(to=0)
    out = {"n_local_state": np.array(n_local_state), "owned": np.array(owned)}
    sd = None
    if rank == 0:
        sd = opt.state_dict()
        ref_sd = ref_opt.state_dict()
        out["same_ids"] = np.array(sorted(sd["state"]) == sorted(ref_sd["state"]))
        out["same_groups"] = np.array(sd["param_groups"] == ref_sd["param_groups"])
        for i, st in ref_sd["state"].items():
            for k, v in st.items():
                out[f"state_{i}_{k}"] = np.asarray(sd["state"][i][k].numpy(), np.float64)
                out[f"ref_state_{i}_{k}"] = np.asarray(v.numpy(), np.float64)
    else:
        try:
            opt.state_dict()
            out["not_consolidated"] = np.array("")
        except RuntimeError as e:
            out["not_consolidated"] = np.array(str(e))
    # resume: a fresh ZeRO optimizer loading the full state continues like the reference
    box = [sd]
    dist.broadcast_object_list(box, src=0)
    opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=cls, **kw)
    opt.load_state_dict(box[0])
    run(range(4, 7))
    out.update(params_of(model.module))
    out.update({"ref_" + k: v for k, v in params_of(ref).items()})
    return out


def main() -> None:
    scenario, outdir = sys.argv[1], sys.argv[2]
    dist.init_process_group("mpi")
    rank, ws = dist.get_rank(), dist.get_world_size()
    if scenario.startswith("ddp_"):
        _, kind, cap = scenario.split("_")
        res = train_ddp(kind, rank, ws, None if cap == "default" else float(cap))
    elif scenario.startswith("zero_"):
        res = zero(scenario.split("_")[1], rank, ws)
    else:
        res = {
            "no_sync": no_sync,
            "unused": unused,
            "unused_error": unused_error,
            "buffers": buffers,
        }[scenario](rank, ws)
    np.savez(f"{outdir}/rank{rank}.npz", **res)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
