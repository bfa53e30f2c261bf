"""Issue 3 acceptance: LeNet-5 on Fashion-MNIST reaches >= 88% test accuracy in 2 epochs on the
CPU, and a checkpoint from epoch 1 resumed in a fresh process ends on identical weights.

The training code is the example's (examples/core/lenet_fashion_mnist.py), imported from its
file, so what is tested is what users run. The data is the Debian package
``dataset-fashion-mnist``; without it the training test skips and says so.
"""

from __future__ import annotations

import gzip
import importlib.util
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tocha.core as torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "core" / "lenet_fashion_mnist.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("lenet_fashion_mnist", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = _load_example()
DATA_DIR = Path(ex.DEFAULT_DATA_DIR)
HAVE_DATA = all((DATA_DIR / name).is_file() for pair in ex.FILES.values() for name in pair)


def assert_identical(a, b, where="checkpoint"):
    """Equal structure, and every tensor equal bit for bit with the same dtype and shape."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), f"{where}: tensor vs {type(b).__name__}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{list(a.shape)}"
        assert np.array_equal(a.numpy(), b.numpy()), f"{where}: values differ"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} {list(b)}"
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.skipif(
    not HAVE_DATA,
    reason=f"Fashion-MNIST not in {DATA_DIR}: install the Debian package {ex.DATA_PACKAGE}",
)
def test_lenet5_two_epochs_accuracy_and_exact_resume_in_fresh_process(tmp_path):
    # Uninterrupted run of 2 epochs, keeping the checkpoint of each epoch.
    log = []
    model, optimizer, history = ex.run(
        epochs=2, data_dir=DATA_DIR, checkpoint=tmp_path / "lenet-{epoch}.pt", log=log.append
    )
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["accuracy"] >= 0.88, log
    assert history[1]["loss"] < history[0]["loss"], log

    # Epoch 2 again, from epoch 1's checkpoint, in a fresh interpreter through the CLI.
    resumed_path = tmp_path / "resumed-{epoch}.pt"
    cmd = [sys.executable, str(EXAMPLE), "--epochs", "2", "--data-dir", str(DATA_DIR)]
    cmd += ["--resume", str(tmp_path / "lenet-1.pt"), "--checkpoint", str(resumed_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "resumed from" in proc.stdout and "epoch 2/2" in proc.stdout, proc.stdout
    assert not (tmp_path / "resumed-1.pt").exists()  # epoch 1 was not trained again

    first = torch.load(tmp_path / "lenet-1.pt")
    straight = torch.load(tmp_path / "lenet-2.pt")
    resumed = torch.load(tmp_path / "resumed-2.pt")
    # the checkpoint holds exactly the in-memory state of the uninterrupted run
    assert_identical(model.state_dict(), straight["model"], "model")
    assert_identical(optimizer.state_dict(), straight["optimizer"], "optimizer")
    # the resumed run ends where the uninterrupted one did: weights, Adam moments and step
    # counts, schedule position, shuffling generator, and epoch 2's loss and accuracy
    for key in ("model", "optimizer", "scheduler", "generator", "epoch"):
        assert_identical(straight[key], resumed[key], key)
    for key in ("loss", "accuracy"):
        assert straight["history"][1][key] == resumed["history"][1][key], key
    # ...and epoch 2 really ran there: the weights moved away from epoch 1's
    assert not np.array_equal(
        first["model"]["classifier.5.weight"].numpy(),
        resumed["model"]["classifier.5.weight"].numpy(),
    )


# ---------------------------------------------------------------- the IDX reader


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(images)))
    out = ex.read_idx(path, ndim=3)
    assert out.dtype == np.uint8 and np.array_equal(out, images)
    plain = tmp_path / "labels-idx1-ubyte"  # uncompressed files are read too
    plain.write_bytes(_idx_bytes(np.array([3, 1, 4], dtype=np.uint8)))
    assert ex.read_idx(plain, ndim=1).tolist() == [3, 1, 4]


def _damaged(data: bytes, pos: int) -> bytes:
    out = bytearray(data)
    out[pos] = 0xFF
    return bytes(out)


@pytest.mark.parametrize(
    "name, content, message",
    [
        # a gzip stream cut short (a partial download)
        ("cut.gz", gzip.compress(_idx_bytes(np.ones((5, 4, 4))))[:-12], "not a readable IDX"),
        ("notgzip.gz", b"this is not gzip data", "not a readable IDX"),
        # damaged deflate data (zlib.error) and a damaged CRC (BadGzipFile)
        ("deflate.gz", _damaged(gzip.compress(_idx_bytes(np.ones((2, 2, 2)))), 10), "readable"),
        ("crc.gz", _damaged(gzip.compress(_idx_bytes(np.ones((2, 2, 2)))), -7), "readable"),
        ("magic.gz", gzip.compress(b"\x00\x00\x0d\x03" + bytes(12)), "magic number 0x00000d03"),
        # a complete gzip stream whose IDX data stops before the header says it should
        ("short.gz", gzip.compress(_idx_bytes(np.ones((5, 4, 4)))[:-7]), "holds 73 data bytes"),
        ("long.gz", gzip.compress(_idx_bytes(np.ones((2, 2, 2))) + b"\x00"), "(8 bytes)"),
        ("header.gz", gzip.compress(b"\x00\x00\x08\x03\x00\x00"), "truncated inside its header"),
        ("tiny.gz", gzip.compress(b"\x00\x00"), "truncated: 2 bytes"),
        ("dims.gz", gzip.compress(_idx_bytes(np.ones(3))), "has 1 dimensions, expected 3"),
    ],
)
def test_read_idx_rejects_corrupt_files_naming_them(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match="read_idx") as info:
        ex.read_idx(path, ndim=3)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_read_idx_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ex.read_idx(tmp_path / "absent-idx3-ubyte.gz")
