"""DataLoader: batching, shuffling, and worker processes (shared memory, failures, shutdown).

The multi-process tests use small datasets and 2 workers, and only ever wait on events that
happen (results, exits); the one deliberate delay is the slow sample of the timeout test.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import time

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    TensorDataset,
    get_worker_info,
)

LINUX = sys.platform.startswith("linux")
HAS_SHM_DIR = os.path.isdir("/dev/shm")


# --- datasets (module level so 'spawn' workers can import them) -----------------------------
class Samples(Dataset):
    """Mixed samples: a 16x16 float image (shared memory), an int, a float, a string, numpy."""

    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = torch.full((16, 16), float(i))
        return {
            "img": img,
            "label": i % 3,
            "weight": i / 2,
            "name": f"s{i}",
            "vec": np.arange(4, dtype=np.float32) + i,
        }


class Failing(Dataset):
    """Raises, exits or hangs at one index."""

    def __init__(self, mode, bad=37, n=48):
        self.mode, self.bad, self.n = mode, bad, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            if self.mode == "raise":
                raise ValueError(f"sample {i} is broken")
            if self.mode == "keyerror":
                raise KeyError("missing")
            if self.mode == "sigkill":
                os.kill(os.getpid(), 9)
            if self.mode == "exit":
                os._exit(1)
            if self.mode == "slow":
                time.sleep(1.0)
        return torch.tensor([i])


class Sharded(IterableDataset):
    """0 .. n-1, split between workers with get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class WhoAmI(Dataset):
    """Each sample says which worker made it, with its seed and random draws."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "index": i,
            "worker": info.id,
            "pid": os.getpid(),
            "seed": info.seed,
            "num_workers": info.num_workers,
            "random": random.random(),
            "numpy": float(np.random.rand()),
            "tocha": float(torch.rand(1)),
            "init": getattr(info.dataset, "initialised_by", -1),
        }


def _init_fn(worker_id):
    info = get_worker_info()
    assert info.id == worker_id
    info.dataset.initialised_by = worker_id


def _flatten(batches, key):
    return [v for b in batches for v in b[key].tolist()]


def _same(a, b):
    """Deep equality of collated batches (tensors by dtype, shape and values)."""
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a.numpy(), b.numpy())
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _our_segments(prefix):
    return [n for n in os.listdir("/dev/shm") if n.startswith(prefix.lstrip("/") + "_")]


def _exited(pid):
    """True when ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    return _reaped(pid) or _proc_state(pid) == "Z"


def _proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def _reaped(pid):
    """True when ``pid`` is gone (not a zombie): its /proc entry no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state not in ("Z", "R", "S", "D")  # pid reused by an unrelated, living process


# --- single process ---------------------------------------------------------------------------
def test_batches_and_len():
    ds = TensorDataset(torch.arange(20.0).reshape(10, 2), torch.arange(10))
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [y.tolist() for _, y in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2)
    assert isinstance(batches[0][0], torch.Tensor)


def test_drop_last_single_process():
    ds = TensorDataset(torch.arange(10))
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batch_size_none_converts_single_samples():
    class Np(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.array([i, i])

    out = list(DataLoader(Np(), batch_size=None))
    assert len(out) == 3 and all(isinstance(o, torch.Tensor) for o in out)
    assert out[2].tolist() == [2, 2]


def test_batch_sampler_and_sampler_arguments():
    ds = TensorDataset(torch.arange(6))
    bs = BatchSampler(SequentialSampler(range(6)), 4, False)
    assert [b[0].tolist() for b in DataLoader(ds, batch_sampler=bs)] == [[0, 1, 2, 3], [4, 5]]
    rev = list(range(5, -1, -1))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=3, sampler=rev)] == [
        [5, 4, 3],
        [2, 1, 0],
    ]


def test_shuffle_uses_generator():
    ds = TensorDataset(torch.arange(30))
    a = [
        b[0].tolist()
        for b in DataLoader(ds, 7, shuffle=True, generator=torch.Generator().manual_seed(1))
    ]
    b = [
        b[0].tolist()
        for b in DataLoader(ds, 7, shuffle=True, generator=torch.Generator().manual_seed(1))
    ]
    c = [
        b[0].tolist()
        for b in DataLoader(ds, 7, shuffle=True, generator=torch.Generator().manual_seed(2))
    ]
    assert a == b != c
    assert sorted(sum(a, [])) == list(range(30))


def test_getitems_is_used_for_batches():
    class Batched(Dataset):
        calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 10 for i in idx]

    out = [b.tolist() for b in DataLoader(Batched(), batch_size=2)]
    assert out == [[0, 10], [20, 30], [40]]
    assert Batched.calls == [[0, 1], [2, 3], [4]]


def test_iterable_dataset_single_process_and_len_warning():
    loader = DataLoader(Sharded(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(loader) == 3

    class Liar(Sharded):
        def __len__(self):
            return 2

    loader = DataLoader(Liar(4), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)


def test_argument_errors():
    ds = TensorDataset(torch.arange(4))
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(
        ValueError, match="expected unspecified shuffle option, but got shuffle=True"
    ):
        DataLoader(Sharded(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Sharded(3), sampler=[0])
    with pytest.raises(ValueError, match="multiprocessing_context can only be used with"):
        DataLoader(ds, multiprocessing_context="fork")
    with pytest.raises(ValueError, match="should specify a valid start method"):
        DataLoader(ds, num_workers=1, multiprocessing_context="nope")
    with pytest.raises(TypeError, match="should be a valid context object"):
        DataLoader(ds, num_workers=1, multiprocessing_context=3)
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader"):
        loader.batch_size = 3


def test_pin_memory_is_accepted():
    ds = TensorDataset(torch.arange(4))
    ctx = pytest.warns(UserWarning, match="no accelerator is found")
    if torch._device.cuda_available():
        ctx = pytest.MonkeyPatch.context()  # with a GPU there is nothing to warn about
    with ctx:
        out = [b[0].tolist() for b in DataLoader(ds, batch_size=2, pin_memory=True)]
    assert out == [[0, 1], [2, 3]]


class _Progress:
    """What tqdm does with an iterable: read len() once for the total, then count."""

    def __init__(self, iterable):
        self.iterable = iterable
        self.total = len(iterable)
        self.n = 0

    def __iter__(self):
        for item in self.iterable:
            self.n += 1
            yield item


@pytest.mark.parametrize("num_workers", [0, 2])
def test_len_matches_iteration_for_progress_bars(num_workers):
    ds = TensorDataset(torch.arange(11))
    kw = {"num_workers": num_workers}
    loaders = [
        DataLoader(ds, batch_size=4, **kw),
        DataLoader(ds, batch_size=4, drop_last=True, **kw),
        DataLoader(ds, batch_size=None, **kw),
        DataLoader(ds, batch_sampler=BatchSampler(range(11), 5, False), **kw),
        DataLoader(Sharded(16), batch_size=4, **kw),  # 8 per worker: no partial batches
    ]
    for loader in loaders:
        bar = _Progress(loader)
        for _ in bar:
            pass
        assert bar.n == bar.total, loader


def test_len_with_real_tqdm():
    tqdm = pytest.importorskip("tqdm").tqdm
    loader = DataLoader(TensorDataset(torch.arange(10)), batch_size=3, num_workers=2)
    bar = tqdm(loader, disable=True)
    assert bar.total == 4 == sum(1 for _ in bar)


# --- worker processes -------------------------------------------------------------------------
def test_workers_match_single_process_values_and_order():
    ds = Samples(23)
    ref = list(DataLoader(ds, batch_size=5))
    got = list(DataLoader(ds, batch_size=5, num_workers=2))
    assert len(got) == len(ref) == 5
    for a, b in zip(ref, got):
        assert _same(a, b)
    assert got[0]["img"].dtype == torch.float32 and got[0]["weight"].dtype == torch.float64
    assert got[-1]["name"] == ["s20", "s21", "s22"]


def test_workers_shuffle_each_sample_once_and_reproducible():
    ds = TensorDataset(torch.arange(50), torch.arange(50) * 2)

    def run(seed, workers):
        loader = DataLoader(
            ds,
            batch_size=6,
            shuffle=True,
            num_workers=workers,
            generator=torch.Generator().manual_seed(seed),
        )
        return [b[0].tolist() for b in loader]

    a, b, c = run(3, 2), run(3, 2), run(4, 2)
    flat = sum(a, [])
    assert sorted(flat) == list(range(50)) and flat != list(range(50))
    assert a == b and a != c
    # the order is decided in the main process: the same as without workers
    assert a == run(3, 0)


def test_workers_batches_arrive_through_shared_memory():
    if not (LINUX and HAS_SHM_DIR):
        pytest.skip("needs Linux /proc and /dev/shm")
    ds = Samples(12)
    it = iter(DataLoader(ds, batch_size=4, num_workers=2))
    batch = next(it)
    img = batch["img"]
    addr = img.data_ptr()
    # the image's memory is a mapping of one of this iterator's (already unlinked) segments
    with open("/proc/self/maps") as f:
        lines = [line for line in f if it._shm_prefix.lstrip("/") in line]
    spans = [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in lines]
    assert any(lo <= addr < hi for lo, hi in spans)
    # small arrays (the labels) are pickled inline; either way the values are right
    assert batch["label"].tolist() == [0, 1, 2, 0]
    np.testing.assert_array_equal(img.numpy()[:, 0, 0], [0, 1, 2, 3])
    # the names are unlinked as soon as the main process maps them
    rest = list(it)
    assert len(rest) == 2
    del it, batch, img, rest
    gc.collect()


def test_no_leaked_segments_or_zombies():
    if not (LINUX and HAS_SHM_DIR):
        pytest.skip("needs Linux /proc and /dev/shm")
    ds = Samples(40)
    fds = len(os.listdir("/proc/self/fd"))
    # a full epoch
    it = iter(DataLoader(ds, batch_size=4, num_workers=2))
    prefix, pids = it._shm_prefix, it._worker_pids
    kept = [b["img"] for b in it]  # batches outlive the iterator and stay valid
    assert _our_segments(prefix) == []
    assert all(_reaped(p) for p in pids)
    # ten live shared-memory batches hold no file descriptors (only mappings)
    assert len(os.listdir("/proc/self/fd")) <= fds
    np.testing.assert_array_equal([k.numpy()[0, 0, 0] for k in kept], np.arange(0, 40, 4))
    # an epoch abandoned after one batch, with batches still in flight
    it = iter(DataLoader(ds, batch_size=4, num_workers=2, prefetch_factor=4))
    prefix, pids = it._shm_prefix, it._worker_pids
    next(it)
    del it
    gc.collect()
    assert _our_segments(prefix) == []
    assert all(_reaped(p) for p in pids)


def test_segments_are_reused_with_persistent_workers():
    # released batches go back to their worker: a long epoch needs only a few segments
    from tocha.core.utils.data._utils import shm

    ds = Samples(64)
    loader = DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True)
    for _ in range(2):
        for _b in loader:
            pass
    arena = loader._iterator._pool.arena
    mapped = sum(len(m) for m in arena._maps)
    assert 0 < mapped <= 12, mapped  # 32 batches of images, far fewer segments
    assert shm.SHM_MIN_BYTES <= 4 * 16 * 16 * 4  # the images do go through shared memory
    del loader, _b
    gc.collect()


def test_worker_exception_names_worker_and_sample():
    loader = DataLoader(Failing("raise", bad=37), batch_size=4, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    msg = str(info.value)
    # sample 37 is in batch 9 (36..39): odd batches go to worker 1
    assert msg.startswith("Caught ValueError in DataLoader worker process 1 (sample index 37).")
    assert "Original Traceback (most recent call last):" in msg
    assert "ValueError: sample 37 is broken" in msg


def test_worker_keyerror_message_is_readable():
    loader = DataLoader(Failing("keyerror", bad=2), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as info:
        list(loader)
    assert "Caught KeyError in DataLoader worker process 1 (sample index 2)." in str(info.value)


def test_batches_before_a_worker_error_are_delivered():
    it = iter(DataLoader(Failing("raise", bad=9, n=12), batch_size=2, num_workers=2))
    got = [next(it)[:, 0].tolist() for _ in range(4)]
    assert got == [[0, 1], [2, 3], [4, 5], [6, 7]]
    with pytest.raises(ValueError, match="sample index 9"):
        next(it)
    # torch's behaviour: the iterator goes on after a worker's exception
    assert next(it)[:, 0].tolist() == [10, 11]


@pytest.mark.parametrize(("mode", "code"), [("sigkill", -9), ("exit", 1)])
def test_dead_worker_is_reported_not_hung(mode, code):
    loader = DataLoader(Failing(mode, bad=5, n=16), batch_size=2, num_workers=2)
    it = iter(loader)
    pids = it._worker_pids
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        list(it)
    assert time.monotonic() - start < 30
    msg = str(info.value)
    assert f"exited unexpectedly with exit code {code}" in msg
    dead = [p for p in pids if f"DataLoader worker (pid {p}) exited unexpectedly" in msg]
    assert len(dead) == 1
    # the other worker was shut down and reaped too
    if LINUX:
        assert all(_reaped(p) for p in pids)
        assert _our_segments(it._shm_prefix) == []


def test_timeout():
    # the very first sample takes 1 s: the 0.3 s limit fires however slowly the workers start
    loader = DataLoader(Failing("slow", bad=0, n=4), batch_size=1, num_workers=2, timeout=0.3)
    it = iter(loader)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.3 seconds$"):
        next(it)
    assert 0.3 <= time.monotonic() - start < 30


def test_iterable_dataset_sharded_across_workers():
    loader = DataLoader(Sharded(23), batch_size=4, num_workers=2)
    batches = [b.tolist() for b in loader]
    # worker 0 has the even numbers, worker 1 the odd ones; batches alternate
    assert batches[0] == [0, 2, 4, 6] and batches[1] == [1, 3, 5, 7]
    assert sorted(sum(batches, [])) == list(range(23))
    assert len(loader) == 6 == len(batches)
    dropped = [
        b.tolist() for b in DataLoader(Sharded(23), batch_size=4, num_workers=2, drop_last=True)
    ]
    # each worker drops its own incomplete last batch
    assert all(len(b) == 4 for b in dropped) and len(dropped) == 5


def test_drop_last_with_workers():
    loader = DataLoader(
        TensorDataset(torch.arange(10)), batch_size=3, num_workers=2, drop_last=True
    )
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(loader) == 3


def test_worker_info_seeds_and_init_fn():
    def run(seed):
        loader = DataLoader(
            WhoAmI(),
            batch_size=None,
            num_workers=2,
            worker_init_fn=_init_fn,
            generator=torch.Generator().manual_seed(seed),
        )
        return list(loader)

    rows = run(0)
    assert [r["index"] for r in rows] == list(range(8))
    assert [r["worker"] for r in rows] == [0, 1] * 4
    assert all(r["num_workers"] == 2 for r in rows)
    assert all(r["init"] == r["worker"] for r in rows)
    w0 = [r for r in rows if r["worker"] == 0]
    w1 = [r for r in rows if r["worker"] == 1]
    assert w1[0]["seed"] == w0[0]["seed"] + 1
    # every generator is seeded differently per worker: augmentations differ
    for key in ("random", "numpy", "tocha"):
        assert w0[0][key] != w1[0][key]
    # and reproducibly from the loader's generator
    again = run(0)
    for key in ("seed", "random", "numpy", "tocha"):
        assert [r[key] for r in rows] == [r[key] for r in again]
    assert run(1)[0]["seed"] != rows[0]["seed"]
    assert get_worker_info() is None  # the main process is no worker


def test_worker_info_is_read_only():
    from tocha.core.utils.data._utils.worker import WorkerInfo

    info = WorkerInfo(id=0, num_workers=1, seed=5, dataset=None)
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 3
    assert repr(info) == "WorkerInfo(id=0, num_workers=1, seed=5, dataset=None)"


def test_persistent_workers_across_epochs():
    loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2, persistent_workers=True)
    first = list(loader)
    pids = {p for b in first for p in b["pid"].tolist()}
    assert len(pids) == 2
    # an epoch abandoned half-way: its in-flight batches must not leak into the next one
    it = iter(loader)
    next(it)
    second = list(loader)
    third = list(loader)
    for epoch in (second, third):
        assert _flatten(epoch, "index") == list(range(8))
        assert {p for b in epoch for p in b["pid"].tolist()} == pids
    assert iter(loader) is it
    assert all(w.is_alive() for w in it._workers)
    pids = it._worker_pids
    del it, loader
    gc.collect()
    if LINUX:  # shut down and reaped once the loader is gone
        assert all(_reaped(p) for p in pids)


def test_persistent_workers_reset_iterable_dataset():
    loader = DataLoader(Sharded(10), batch_size=3, num_workers=2, persistent_workers=True)
    a = sorted(sum((b.tolist() for b in loader), []))
    b = sorted(sum((b.tolist() for b in loader), []))
    assert a == b == list(range(10))


def test_spawn_context():
    ds = TensorDataset(torch.arange(60.0).reshape(20, 3), torch.arange(20))
    loader = DataLoader(ds, batch_size=6, num_workers=2, multiprocessing_context="spawn")
    got = list(loader)
    assert [y.tolist() for _, y in got] == [list(range(i, min(i + 6, 20))) for i in range(0, 20, 6)]
    np.testing.assert_array_equal(torch.cat([x for x, _ in got]).numpy(), ds.tensors[0].numpy())


def test_out_of_order_delivery_returns_everything():
    loader = DataLoader(
        TensorDataset(torch.arange(20)), batch_size=2, num_workers=2, in_order=False
    )
    assert sorted(v for b in loader for v in b[0].tolist()) == list(range(20))


def test_custom_collate_and_python_objects_with_workers():
    def collate(batch):
        return {"ids": [int(b[0]) for b in batch], "sum": torch.stack([b[0] for b in batch]).sum()}

    loader = DataLoader(
        TensorDataset(torch.arange(6)), batch_size=3, num_workers=2, collate_fn=collate
    )
    out = list(loader)
    assert [o["ids"] for o in out] == [[0, 1, 2], [3, 4, 5]]
    assert [o["sum"].item() for o in out] == [3, 12]


def test_large_and_odd_arrays_with_workers():
    class Odd(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            f = np.asfortranarray(np.arange(2048, dtype=np.float64).reshape(32, 64) + i)
            return {
                "fortran": f,  # non-contiguous in C order: copied correctly
                "bf16": torch.full((4096,), float(i), dtype=torch.bfloat16),
                "bool": np.ones(8192, dtype=bool),
                "grad": torch.ones(1024, requires_grad=True),
            }

    ref = list(DataLoader(Odd(), batch_size=2))
    got = list(DataLoader(Odd(), batch_size=2, num_workers=2))
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a["fortran"].numpy(), b["fortran"].numpy())
        assert b["bf16"].dtype == torch.bfloat16
        np.testing.assert_array_equal(a["bf16"].float().numpy(), b["bf16"].float().numpy())
        assert b["bool"].dtype == torch.bool and bool(b["bool"].all())
        assert b["grad"].requires_grad


def _raising_init(worker_id):
    if worker_id == 1:
        raise OSError("cannot open the data file")


def test_worker_init_fn_exception_is_reraised():
    loader = DataLoader(
        TensorDataset(torch.arange(8)), batch_size=2, num_workers=2, worker_init_fn=_raising_init
    )
    with pytest.raises(OSError) as info:
        list(loader)
    assert str(info.value).startswith("Caught OSError in DataLoader worker process 1.")
    assert "cannot open the data file" in str(info.value)


_EXIT_SCRIPT = """
import os, sys
import tocha.core as torch
from tocha.core.utils.data import DataLoader, TensorDataset
ds = TensorDataset(torch.zeros(64, 32, 32), torch.arange(64))
it = iter(DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True))
next(it)
print(" ".join(map(str, it._worker_pids)), it._shm_prefix, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), 9)
if sys.argv[1] == "sigterm-group":  # as `timeout` or a batch scheduler stops a job
    import signal
    os.killpg(0, signal.SIGTERM)
"""


@pytest.mark.skipif(not (LINUX and HAS_SHM_DIR), reason="needs Linux /proc and /dev/shm")
@pytest.mark.parametrize("how", ["exit", "kill", "sigterm-group"])
def test_workers_end_with_the_main_process(how):
    # the interpreter exits (or is killed) mid-epoch with persistent workers running
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, how],
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # its own process group, for killpg
    )
    *pids, prefix = proc.stdout.split()
    assert len(pids) == 2, proc.stderr
    if how == "exit":
        # shut down and reaped by the exiting interpreter itself: no zombies left behind
        assert all(_reaped(int(p)) for p in pids)
    else:
        # orphaned workers notice within about a second and exit (reaping them is then up
        # to init, so a zombie counts as exited here)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(_exited(int(p)) for p in pids):
            time.sleep(0.05)
        assert all(_exited(int(p)) for p in pids)
    assert _our_segments(prefix) == []


@pytest.mark.skipif(sys.platform == "win32", reason="no fork, no POSIX shared memory")
def test_full_shared_memory_falls_back_to_the_pipe(monkeypatch):
    # a full /dev/shm (a small Docker default): batches still arrive, pickled instead
    from tocha.core.utils.data._utils import shm

    real = shm._posixshmem

    class Full:
        @staticmethod
        def shm_open(name, flags, mode=0o777):
            raise OSError(28, "No space left on device")

        shm_unlink = staticmethod(real.shm_unlink)

    monkeypatch.setattr(shm, "_posixshmem", Full)  # inherited by the forked workers
    ds = Samples(12)
    ref = list(DataLoader(ds, batch_size=4))
    got = list(DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="fork"))
    assert len(got) == 3
    for a, b in zip(ref, got):
        assert _same(a, b)
