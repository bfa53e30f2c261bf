import io
import os
import pathlib
import tarfile
import zipfile

import pytest

from tocha.text import datasets
from tocha.text.datasets import AG_NEWS, IMDB, SST2, WikiText2, WikiText103
from tocha.text.datasets import sst2 as sst2_module


def test_ag_news_splits_from_csv(tmp_path):
    d = tmp_path / "AG_NEWS"
    d.mkdir()
    (d / "train.csv").write_text(
        '"3","Wall St. Bears Claw Back","Reuters - Short-sellers, Wall Street\'s dwindling"\n'
        '"4","Space probe","NASA said, on Monday."\n'
    )
    (d / "test.csv").write_text('"1","Fears for T N pension","Unions said..."\n')
    train, test = AG_NEWS(tmp_path)
    assert list(train) == [
        (3, "Wall St. Bears Claw Back Reuters - Short-sellers, Wall Street's dwindling"),
        (4, "Space probe NASA said, on Monday."),
    ]
    assert len(test) == 1 and test[0][0] == 1
    assert AG_NEWS(tmp_path, split="test")[0] == (1, "Fears for T N pension Unions said...")
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        AG_NEWS(tmp_path, split="valid")


def test_ag_news_bad_label_names_file_and_line(tmp_path):
    d = tmp_path / "AG_NEWS"
    d.mkdir()
    (d / "test.csv").write_text('"1","a","b"\n"x","c","d"\n')
    with pytest.raises(RuntimeError, match=r"test.csv: line 2: label 'x' is not an integer"):
        AG_NEWS(tmp_path, split="test")


def _imdb_reviews():
    return {
        ("train", "neg", "0_2.txt"): "Terrible.<br /><br />Avoid.",
        ("train", "pos", "1_9.txt"): "A masterpiece.",
        ("train", "pos", "0_10.txt"): "Loved it!",
        ("test", "neg", "5_1.txt"): "Bad.",
        ("test", "pos", "7_8.txt"): "Good.",
    }


def test_imdb_from_the_extracted_folders(tmp_path):
    for (split, lab, name), text in _imdb_reviews().items():
        d = tmp_path / "IMDB" / "aclImdb" / split / lab
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    train = IMDB(tmp_path, split="train")
    assert list(train) == [
        (1, "Terrible.<br /><br />Avoid."),
        (2, "Loved it!"),
        (2, "A masterpiece."),
    ]


def test_imdb_extracts_a_local_archive(tmp_path):
    d = tmp_path / "IMDB"
    d.mkdir()
    with tarfile.open(d / "aclImdb_v1.tar.gz", "w:gz") as tar:
        for (split, lab, name), text in _imdb_reviews().items():
            data = text.encode()
            info = tarfile.TarInfo(f"aclImdb/{split}/{lab}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    train, test = IMDB(tmp_path)
    assert len(train) == 3 and list(test) == [(1, "Bad."), (2, "Good.")]


def test_sst2_splits_and_zip(tmp_path):
    d = tmp_path / "SST2"
    d.mkdir()
    files = {
        "SST-2/train.tsv": "sentence\tlabel\nhide new secretions from the parental units \t0\n"
        "the greatest musicians \t1\n",
        "SST-2/dev.tsv": "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n",
        "SST-2/test.tsv": "index\tsentence\n0\tuneasy mishmash of styles and genres .\n",
    }
    with zipfile.ZipFile(d / "SST-2.zip", "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    train, dev, test = SST2(tmp_path)
    assert list(train) == [
        ("hide new secretions from the parental units", 0),
        ("the greatest musicians", 1),
    ]
    assert dev[0] == ("it 's a charming and often affecting journey .", 1)
    assert list(test) == [("uneasy mishmash of styles and genres .",)]


def test_wikitext_lines_keep_newlines(tmp_path):
    d = tmp_path / "WikiText2" / "wikitext-2"
    d.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        (d / f"wiki.{split}.tokens").write_text(f" \n = {split} = \n \n Text @-@ here . \n")
    train, valid, test = WikiText2(tmp_path)
    assert list(valid) == [" \n", " = valid = \n", " \n", " Text @-@ here . \n"]
    assert len(train) == len(test) == 4

    z = tmp_path / "WikiText103"
    z.mkdir()
    with zipfile.ZipFile(z / "wikitext-103-v1.zip", "w") as zf:
        zf.writestr("wikitext-103/wiki.test.tokens", " = A = \n")
    assert list(WikiText103(tmp_path, split="test")) == [" = A = \n"]


def test_offline_error_says_what_to_place_where(tmp_path, monkeypatch):
    missing = pathlib.Path(tmp_path / "nowhere" / "SST-2.zip").as_uri()
    monkeypatch.setattr(sst2_module, "URL", missing)
    with pytest.raises(RuntimeError) as info:
        SST2(tmp_path, split="dev")
    msg = str(info.value)
    assert os.path.join(str(tmp_path), "SST2", "SST-2", "dev.tsv") in msg
    assert os.path.join(str(tmp_path), "SST2", "SST-2.zip") in msg
    assert "md5 9f81648d4199384278b86e315dac217c" in msg


def test_download_is_md5_checked(tmp_path, monkeypatch):
    src = tmp_path / "served.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("SST-2/dev.tsv", "sentence\tlabel\nfine .\t1\n")
    monkeypatch.setattr(sst2_module, "URL", src.as_uri())
    root = tmp_path / "root"
    with pytest.raises(RuntimeError, match="expected 9f81648d4199384278b86e315dac217c"):
        SST2(root, split="dev")
    assert not (root / "SST2" / "SST-2.zip").exists()  # the bad download was deleted
    import hashlib

    monkeypatch.setattr(sst2_module, "MD5", hashlib.md5(src.read_bytes()).hexdigest())
    assert list(SST2(root, split="dev")) == [("fine .", 1)]


def test_archive_members_outside_the_root_are_refused(tmp_path):
    d = tmp_path / "SST2"
    d.mkdir()
    with zipfile.ZipFile(d / "SST-2.zip", "w") as z:
        z.writestr("../../evil.txt", "x")
    with pytest.raises(RuntimeError, match="outside"):
        SST2(tmp_path, split="dev")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_datasets_namespace():
    assert set(datasets.__all__) == {"AG_NEWS", "IMDB", "SST2", "WikiText2", "WikiText103"}
