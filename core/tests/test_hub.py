"""tocha.core.hub: cache directory rules, atomic verified downloads, offline errors, and the
Weights / WeightsEnum resolution order (explicit path, cache, installed package, download).

Downloads use file:// URLs and a local HTTP server on 127.0.0.1; an "offline" URL is a
closed local port, so nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import pathlib
import socket
import threading

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import hub
from tocha.core.serialization import save


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own TOCHA_HOME and TORCH_HOME; set_dir is undone afterwards."""
    monkeypatch.setenv("TOCHA_HOME", str(tmp_path / "tocha_home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(hub, "_hub_dir", None)


def _sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _checkpoint(folder: pathlib.Path, stem: str = "tiny", with_prefix: bool = True):
    """A saved state_dict named like torch hub files (``stem-<sha256 prefix>.pt``)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.pt"
    save({"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}, tmp)
    sha = _sha(tmp)
    path = folder / (f"{stem}-{sha[:8]}.pt" if with_prefix else f"{stem}.pt")
    tmp.rename(path)
    return path, sha


def _offline_url(name: str) -> str:
    with socket.socket() as s:  # a port nobody listens on: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/weights/{name}"


def _leftovers(folder) -> list:
    return [n for n in os.listdir(folder) if n.endswith((".partial", ".tmp"))]


# --- directories -----------------------------------------------------------------------------


def test_get_dir_conventions(tmp_path, monkeypatch):
    assert hub.get_dir() == str(tmp_path / "tocha_home" / "hub")
    monkeypatch.delenv("TOCHA_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "xdg" / "tocha" / "hub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub.get_dir() == str(tmp_path / "home" / ".cache" / "tocha" / "hub")
    hub.set_dir(tmp_path / "mine")
    assert hub.get_dir() == str(tmp_path / "mine")
    hub.set_dir("~/elsewhere")
    assert hub.get_dir() == str(tmp_path / "home" / "elsewhere")


# --- download_url_to_file --------------------------------------------------------------------


def test_download_file_url_verifies_hash(tmp_path):
    src, sha = _checkpoint(tmp_path / "src")
    dst = tmp_path / "out" / "w.pt"
    hub.download_url_to_file(src.as_uri(), dst, hash_prefix=sha[:8], progress=False)
    assert dst.read_bytes() == src.read_bytes()
    hub.download_url_to_file(src.as_uri(), tmp_path / "out" / "w2.pt", progress=False, sha256=sha)
    assert _leftovers(tmp_path / "out") == []
    # a wrong hash: refused, nothing left at the destination, old file untouched
    dst.write_bytes(b"old")
    for kw in ({"hash_prefix": "deadbeef"}, {"sha256": "0" * 64}):
        with pytest.raises(RuntimeError, match="invalid hash value"):
            hub.download_url_to_file(src.as_uri(), dst, progress=False, **kw)
        assert dst.read_bytes() == b"old"
        assert _leftovers(tmp_path / "out") == []


def test_download_offline_names_url_and_destination(tmp_path):
    url = _offline_url("net-0123abcd.pth")
    dst = tmp_path / "cache" / "net-0123abcd.pth"
    with pytest.raises(RuntimeError) as e:
        hub.download_url_to_file(url, dst, progress=False)
    assert url in str(e.value) and str(dst) in str(e.value)
    assert not dst.exists() and _leftovers(tmp_path / "cache") == []


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 (real HTTP: Content-Length, chunked reads)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    except OSError as e:  # pragma: no cover - sandboxes without loopback sockets
        pytest.skip(f"cannot listen on 127.0.0.1: {e}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_download_with_progress(http_server, tmp_path, capsys):
    root, base = http_server
    src, sha = _checkpoint(root, "served")
    sd = hub.load_state_dict_from_url(f"{base}/{src.name}", check_hash=True, progress=True)
    assert sd["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    cached = pathlib.Path(hub.get_dir()) / "checkpoints" / src.name
    assert cached.read_bytes() == src.read_bytes()
    err = capsys.readouterr().err
    assert src.name in err or "100%" in err  # the progress display went to stderr
    with pytest.raises(RuntimeError, match="HTTP Error 404"):
        hub.download_url_to_file(f"{base}/missing.pt", tmp_path / "m.pt", progress=False)


# --- load_state_dict_from_url ----------------------------------------------------------------


def test_load_state_dict_from_url_caches(tmp_path):
    src, sha = _checkpoint(tmp_path / "src")
    url = src.as_uri()
    sd = hub.load_state_dict_from_url(url, check_hash=True, progress=False)
    np.testing.assert_array_equal(sd["w"].numpy(), np.arange(6.0).reshape(2, 3))
    cached = pathlib.Path(hub.get_dir()) / "checkpoints" / src.name
    assert cached.is_file()
    src.unlink()  # the source is gone: the cache answers
    assert hub.load_state_dict_from_url(url, check_hash=True, progress=False)["b"].tolist() == [
        0.0,
        0.0,
    ]
    # explicit model_dir and file_name
    src2, sha2 = _checkpoint(tmp_path / "src2", with_prefix=False)
    out = hub.load_state_dict_from_url(
        src2.as_uri(),
        model_dir=tmp_path / "md",
        file_name="renamed.pt",
        progress=False,
        sha256=sha2,
    )
    assert (tmp_path / "md" / "renamed.pt").is_file() and out["w"].shape == (2, 3)


def test_corrupt_cache_is_downloaded_again(tmp_path):
    src, sha = _checkpoint(tmp_path / "src")
    cached = pathlib.Path(hub.get_dir()) / "checkpoints" / src.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="invalid hash value"):
        sd = hub.load_state_dict_from_url(src.as_uri(), progress=False, sha256=sha)
    assert sd["w"].shape == (2, 3) and _sha(cached) == sha


def test_offline_and_not_cached(tmp_path):
    url = _offline_url("resnet-0123abcd.pth")
    with pytest.raises(RuntimeError) as e:
        hub.load_state_dict_from_url(url, progress=False)
    expected = os.path.join(hub.get_dir(), "checkpoints", "resnet-0123abcd.pth")
    assert url in str(e.value) and expected in str(e.value)
    assert "place it at" in str(e.value)


def test_torch_cache_is_reused_when_the_hash_vouches(tmp_path):
    torch_ckpts = tmp_path / "torch_home" / "hub" / "checkpoints"
    src, sha = _checkpoint(torch_ckpts)
    url = _offline_url(src.name)
    sd = hub.load_state_dict_from_url(url, check_hash=True, progress=False)
    assert sd["w"].shape == (2, 3)
    # without a hash to check it, a foreign cache is not trusted
    with pytest.raises(RuntimeError, match="could not download"):
        hub.load_state_dict_from_url(url, progress=False)


# --- Weights / WeightsEnum -------------------------------------------------------------------


def _fake_package(tmp_path, monkeypatch, name="tocha_fake_weights_pkg"):
    pkg = tmp_path / "site" / name
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('resolving must not import me')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return pkg


def test_weights_enum_basics():
    def tf():
        return "transform"

    class Net_Weights(hub.WeightsEnum):
        IMAGENET1K_V1 = hub.Weights(
            url="https://example.com/net-0123abcd.pth",
            transforms=tf,
            meta={"num_params": 10},
            sha256="AB" * 32,
        )
        IMAGENET1K_V2 = hub.Weights(url="https://example.com/net-v2-4567cdef.pth")
        DEFAULT = IMAGENET1K_V2

    assert Net_Weights.DEFAULT is Net_Weights.IMAGENET1K_V2
    assert repr(Net_Weights.DEFAULT) == "Net_Weights.IMAGENET1K_V2"
    assert Net_Weights.verify("DEFAULT") is Net_Weights.IMAGENET1K_V2
    assert Net_Weights.verify("Net_Weights.IMAGENET1K_V1") is Net_Weights.IMAGENET1K_V1
    assert Net_Weights.verify(None) is None
    assert Net_Weights.verify(Net_Weights.IMAGENET1K_V1) is Net_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="Failed to find Weights"):
        Net_Weights.verify("NOPE")
    with pytest.raises(TypeError, match="expected Net_Weights"):
        Net_Weights.verify(3)
    w = Net_Weights.IMAGENET1K_V1
    assert w.url.endswith("net-0123abcd.pth") and w.file_name == "net-0123abcd.pth"
    assert w.meta == {"num_params": 10} and w.transforms() == "transform"
    assert w.sha256 == "ab" * 32
    assert list(Net_Weights.__members__) == ["IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT"]


def test_weights_resolution_order(tmp_path, monkeypatch):
    src, sha = _checkpoint(tmp_path / "src", with_prefix=False)
    pkg = _fake_package(tmp_path, monkeypatch)
    shipped = pkg / "data" / "w.pt"
    shipped.write_bytes(src.read_bytes())
    w = hub.Weights(
        url=_offline_url("tiny.pt"),
        sha256=sha,
        package="tocha_fake_weights_pkg",
        package_path="data/w.pt",
    )
    # 1. an explicit path wins (and is verified)
    assert w.resolve(path=src) == str(src)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not it")
    with pytest.raises(RuntimeError, match="invalid hash value"):
        w.resolve(path=bad)
    with pytest.raises(FileNotFoundError):
        w.resolve(path=tmp_path / "absent.pt")
    # 2. nothing cached: the installed package's file (found without importing the package)
    assert w.resolve(progress=False) == str(shipped)
    assert w.get_state_dict(progress=False)["w"].shape == (2, 3)
    # 3. the cache comes before the package
    cached = pathlib.Path(hub.get_dir()) / "checkpoints" / "tiny.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(src.read_bytes())
    assert w.resolve(progress=False) == str(cached)
    # a corrupt cache entry is skipped with a warning
    cached.write_bytes(b"corrupt")
    with pytest.warns(UserWarning, match="looking elsewhere"):
        assert w.resolve(progress=False) == str(shipped)
    # 4. a package file with the wrong hash is not used; offline, the error says where to
    #    put the file and how else to get it
    shipped.write_bytes(b"tampered")
    cached.unlink()
    with pytest.warns(UserWarning, match="downloading instead"), pytest.raises(RuntimeError) as e:
        w.resolve(progress=False)
    msg = str(e.value)
    assert w.url in msg and str(cached) in msg and sha in msg
    assert "tocha_fake_weights_pkg" in msg and "path=" in msg


def test_weights_download(tmp_path):
    src, sha = _checkpoint(tmp_path / "src")

    class W(hub.WeightsEnum):
        V1 = hub.Weights(url=src.as_uri(), sha256=sha)
        DEFAULT = V1

    sd = W.DEFAULT.get_state_dict(progress=False)
    assert sd["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    cached = pathlib.Path(hub.get_dir()) / "checkpoints" / src.name
    assert _sha(cached) == sha
    # a download whose content does not match is refused and not cached
    cached.unlink()
    wrong = hub.Weights(url=src.as_uri(), sha256="1" * 64)
    with pytest.raises(RuntimeError, match="invalid hash value"):
        wrong.resolve(progress=False)
    assert not cached.exists()
    # without sha256 the file name's hash prefix is checked, as torch does
    assert hub.Weights(url=src.as_uri()).resolve(progress=False) == str(cached)
