"""tocha reads what torch.save writes (zip and legacy formats), with the same values, dtypes,
strides and storage sharing; and torch reads tocha's files through safetensors. Needs torch
(the anchor): `nox -s compat`; skipped where torch is absent."""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the anchor (torch) runs in `nox -s compat` only")

import tocha.core as tocha  # noqa: E402
from tocha.core import _safetensors as st  # noqa: E402
from tocha.core.serialization import load, save  # noqa: E402

FORMATS = {
    "zip": {},
    "zip_protocol4": {"pickle_protocol": 4},
    "legacy": {"_use_new_zipfile_serialization": False},
}


def _np(t):
    """A torch tensor's values as NumPy (bfloat16 through float32, exactly)."""
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy()
    return t.numpy()


def _tocha_np(t):
    t = t.detach()
    if t.dtype == tocha.bfloat16:
        return t.float().numpy()
    return t.numpy()


def assert_matches(ours, theirs, path="obj"):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tocha.Tensor), path
        assert str(ours.dtype) == str(theirs.dtype), (path, ours.dtype, theirs.dtype)
        assert tuple(ours.shape) == tuple(theirs.shape), path
        assert ours.requires_grad == theirs.requires_grad, path
        np.testing.assert_array_equal(_tocha_np(ours), _np(theirs), err_msg=path)
    elif isinstance(theirs, torch.Size):
        assert isinstance(ours, tocha.Size) and tuple(ours) == tuple(theirs), path
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs), path
        assert list(ours) == list(theirs), path
        for k in theirs:
            assert_matches(ours[k], theirs[k], f"{path}[{k!r}]")
        if hasattr(theirs, "_metadata"):
            assert ours._metadata == theirs._metadata, path
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_matches(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, path


def _state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    img = torch.randn(2, 3, 4, 5, generator=g)
    return OrderedDict(
        f32=torch.randn(3, 4, generator=g),
        f64=torch.randn(5, dtype=torch.float64, generator=g),
        f16=torch.randn(7, generator=g).half(),
        bf16=torch.randn(7, generator=g).bfloat16(),
        i64=torch.tensor([-(2**62), 0, 2**62]),
        i32=torch.tensor([-(2**31), 2**31 - 1], dtype=torch.int32),
        i16=torch.tensor([-(2**15), 2**15 - 1], dtype=torch.int16),
        i8=torch.tensor([-128, 127], dtype=torch.int8),
        u8=torch.tensor([0, 255], dtype=torch.uint8),
        bool=torch.tensor([True, False, True]),
        c64=torch.randn(3, dtype=torch.complex64, generator=g),
        scalar=torch.tensor(1.25),
        empty=torch.zeros(0, 3),
        # views sharing one storage: transposed, sliced with an offset, stepped, expanded
        base=base,
        transposed=base.t(),
        sliced=base[1:3, 2:],
        stepped=base[::2, ::3],
        expanded=base[0].expand(3, 6),
        channels_last=img.contiguous(memory_format=torch.channels_last),
    )


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_state_dict_of_every_dtype_and_view(tmp_path, fmt):
    sd = _state_dict()
    path = tmp_path / "sd.pt"
    torch.save(sd, path, **FORMATS[fmt])
    out = load(path)
    assert_matches(out, sd)
    # torch's layouts and storage sharing survive
    for k in ("transposed", "sliced", "stepped", "channels_last"):
        assert out[k].stride() == sd[k].stride(), k
    for k in ("transposed", "sliced", "stepped"):
        assert np.shares_memory(out[k].numpy(), out["base"].numpy()), k
    out["base"][1, 2] = 100.0
    assert out["sliced"][0, 0].item() == 100.0 and out["transposed"][2, 1].item() == 100.0


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_module_and_optimizer_checkpoint(tmp_path, fmt):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 2),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "shape": torch.Size([2, 3]),
        "history": [0.5, 0.25],
        "params": list(model.parameters())[:2],  # Parameters keep requires_grad
    }
    path = tmp_path / "ckpt.pt"
    torch.save(ckpt, path, **FORMATS[fmt])
    out = load(path)
    assert_matches(out, ckpt)
    assert out["model"]._metadata["1"] == {"version": 2}  # BatchNorm's version travels
    try:
        from tocha.core.nn import Parameter
    except ImportError:
        Parameter = None
    if Parameter is not None:
        assert all(isinstance(p, Parameter) for p in out["params"])


def test_uint16_and_file_objects(tmp_path):
    sd = {"u16": torch.tensor([0, 65535], dtype=torch.uint16), "w": torch.ones(2)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    out = load(buf)
    assert out["u16"].dtype == tocha.int32 and out["u16"].tolist() == [0, 65535]  # widened
    path = tmp_path / "m.pt"
    torch.save(_state_dict(), path)
    mapped = load(path, mmap=True)
    assert_matches(mapped, _state_dict())


def test_tocha_checkpoints_open_in_torch_via_safetensors(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    sd = OrderedDict(
        w=tocha.randn(3, 4),
        h=tocha.randn(3).half(),
        bf=tocha.randn(3).to(tocha.bfloat16),
        i=tocha.arange(5),
        b=tocha.tensor([True, False]),
    )
    path = tmp_path / "tocha.pt"
    save(sd, path)
    theirs = safetensors_torch.load_file(str(path))
    assert set(theirs) == set(sd)
    for k, t in sd.items():
        assert str(theirs[k].dtype) == str(t.dtype)
        np.testing.assert_array_equal(_np(theirs[k]), _tocha_np(t))
    # and tocha reads what safetensors.torch writes
    ref = {"x": torch.randn(2, 3).bfloat16(), "y": torch.arange(4, dtype=torch.int16)}
    safetensors_torch.save_file(ref, str(tmp_path / "ref.safetensors"), metadata={"a": "b"})
    ours = st.load_file(tmp_path / "ref.safetensors")
    for k in ref:
        np.testing.assert_array_equal(_tocha_np(ours[k]), _np(ref[k]))
    with st.safe_open(tmp_path / "ref.safetensors") as f:
        assert f.metadata() == {"a": "b"}


def test_refuses_what_torch_refuses(tmp_path):
    """A pickle with an arbitrary global: torch's weights_only and tocha both refuse it."""
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("side effect",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        load(path)
