"""tocha.vision.datasets.utils: checksummed downloads, offline messages, safe extraction."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pathlib
import tarfile
import zipfile

import pytest

from tocha.vision.datasets import utils


def _src(tmp_path, data=b"dataset bytes"):
    path = tmp_path / "src" / "file.bin"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path, hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def test_download_url_checks_md5_and_sha256(tmp_path):
    src, md5, sha = _src(tmp_path)
    out = tmp_path / "out"
    utils.download_url(src.as_uri(), out, "a.bin", md5=md5, sha256=sha, progress=False)
    assert (out / "a.bin").read_bytes() == b"dataset bytes"
    assert utils.check_integrity(out / "a.bin", md5, sha256=sha)
    assert not utils.check_integrity(out / "a.bin", "0" * 32)
    assert not utils.check_integrity(out / "missing.bin")
    # A verified copy is used as it is: the source may be gone.
    src.unlink()
    utils.download_url(src.as_uri(), out, "a.bin", md5=md5, progress=False)


def test_download_url_rejects_wrong_hashes_and_leaves_nothing(tmp_path):
    src, md5, sha = _src(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="invalid hash value"):
        utils.download_url(src.as_uri(), out, "a.bin", sha256="0" * 64, progress=False)
    assert not (out / "a.bin").exists()
    with pytest.raises(RuntimeError, match=f"md5 {md5}, expected {'1' * 32}"):
        utils.download_url(src.as_uri(), out, "b.bin", md5="1" * 32, progress=False)
    assert not (out / "b.bin").exists()


def test_offline_error_says_which_file_to_place_where(tmp_path):
    missing = (tmp_path / "nowhere" / "train.tar").as_uri()
    with pytest.raises(RuntimeError) as e:
        utils.download_url(missing, tmp_path / "root", md5="a" * 32, progress=False)
    msg = str(e.value)
    assert str(tmp_path / "root" / "train.tar") in msg and "place it at" in msg
    assert "md5 " + "a" * 32 in msg


def _tar(path, members, mode="w:gz"):
    """members: (name, bytes) for files, (name, ('sym'|'hard', target)) for links."""
    with tarfile.open(path, mode) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "sym" else tarfile.LNKTYPE
                info.linkname = content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def test_extract_tar_and_download_and_extract(tmp_path):
    arc = _tar(tmp_path / "a.tar.gz", [("d/x.txt", b"x"), ("d/sub/y.txt", b"yy")])
    md5 = hashlib.md5(arc.read_bytes()).hexdigest()
    root = tmp_path / "root"
    utils.download_and_extract_archive(arc.as_uri(), root, md5=md5, progress=False)
    assert (root / "d" / "x.txt").read_bytes() == b"x"
    assert (root / "d" / "sub" / "y.txt").read_bytes() == b"yy"
    assert (root / "a.tar.gz").is_file()
    assert sorted(utils.list_dir(root)) == ["d"]
    assert utils.list_files(root / "d", ".txt") == ["x.txt"]


@pytest.mark.parametrize(
    "members",
    [
        [("ok.txt", b"fine"), ("../evil.txt", b"pwned")],
        [("ok.txt", b"fine"), ("d/../../evil.txt", b"pwned")],
        [("ok.txt", b"fine"), ("/tmp/tocha_abs_evil.txt", b"pwned")],
        [("ok.txt", b"fine"), ("link", ("sym", "../")), ("link/evil.txt", b"pwned")],
        [("ok.txt", b"fine"), ("link", ("sym", "/etc/passwd"))],
        [("ok.txt", b"fine"), ("hard", ("hard", "../../etc/passwd"))],
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-dir-escape", "symlink-abs", "hardlink"],
)
def test_extract_tar_refuses_members_escaping_the_target(tmp_path, members):
    arc = _tar(tmp_path / "evil.tar", members, mode="w")
    target = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError, match="refusing to extract"):
        utils.extract_archive(arc, target)
    # Nothing at all was written: the check runs before any member is extracted.
    assert not (target / "ok.txt").exists()
    assert not (tmp_path / "a" / "evil.txt").exists()
    assert not pathlib.Path("/tmp/tocha_abs_evil.txt").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "sub/../../evil.txt", "/abs_evil.txt"])
def test_extract_zip_refuses_members_escaping_the_target(tmp_path, name):
    arc = tmp_path / "evil.zip"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr("ok.txt", "fine")
        z.writestr(name, "pwned")
    target = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError, match="refusing to extract"):
        utils.extract_archive(arc, target)
    assert not (target / "ok.txt").exists()
    assert not (tmp_path / "a" / "evil.txt").exists()


def test_extract_single_gz_and_unknown_suffix(tmp_path):
    gz = tmp_path / "labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01"))
    out = utils.extract_archive(gz, remove_finished=True)
    assert out == str(tmp_path / "labels-idx1-ubyte")
    assert pathlib.Path(out).read_bytes() == b"\x00\x00\x08\x01" and not gz.exists()
    (tmp_path / "x.rar").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot tell the archive type of .*x.rar"):
        utils.extract_archive(tmp_path / "x.rar")


def test_verify_str_arg():
    assert utils.verify_str_arg("val", "split", ("train", "val")) == "val"
    with pytest.raises(ValueError, match="Unknown value 'tst' for argument split. Valid values"):
        utils.verify_str_arg("tst", "split", ("train", "val"))
    with pytest.raises(ValueError, match="Expected type str for argument split"):
        utils.verify_str_arg(1, "split", ("train",))
    assert os.path.basename(utils.__file__) == "utils.py"
