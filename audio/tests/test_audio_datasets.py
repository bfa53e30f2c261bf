"""Datasets on tiny folders written here in each corpus's published layout."""

import os

import numpy as np
import pytest

import tocha.audio as ta
import tocha.core as torch
from tocha.audio import datasets
from tocha.audio.datasets._utils import download_and_extract


def _wav(path, n=160, sr=16000, value=0.25, fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ta.save(path, torch.full((1, n), value), sr, format=fmt)


def test_yesno(tmp_path):
    for name in ["1_1_0_0_1_0_1_0", "0_0_1_0_1_0_1_1"]:
        _wav(str(tmp_path / "waves_yesno" / f"{name}.wav"), sr=8000)
    ds = datasets.YESNO(tmp_path)
    assert len(ds) == 2
    w, sr, labels = ds[0]
    assert sr == 8000 and labels == [0, 0, 1, 0, 1, 0, 1, 1] and w.shape == (1, 160)
    with pytest.raises(RuntimeError, match="waves_yesno"):
        datasets.YESNO(tmp_path / "nowhere")


def test_speechcommands_subsets(tmp_path):
    base = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    files = [
        "yes/aaa_nohash_0.wav",
        "yes/bbb_nohash_1.wav",
        "no/aaa_nohash_2.wav",
        "no/ccc_nohash_0.wav",
        "_background_noise_/noise.wav",
    ]
    for i, f in enumerate(files):
        _wav(str(base / f), value=0.1 * (i + 1))
    (base / "validation_list.txt").write_text("yes/bbb_nohash_1.wav\n")
    (base / "testing_list.txt").write_text("no/ccc_nohash_0.wav\n")
    full = datasets.SPEECHCOMMANDS(tmp_path)
    assert len(full) == 4  # background noise is not an utterance
    train = datasets.SPEECHCOMMANDS(tmp_path, subset="training")
    assert [train.get_metadata(i)[2:] for i in range(len(train))] == [
        ("no", "aaa", 2),
        ("yes", "aaa", 0),
    ]
    w, sr, label, spk, utt = datasets.SPEECHCOMMANDS(tmp_path, subset="validation")[0]
    assert (sr, label, spk, utt) == (16000, "yes", "bbb", 1)
    np.testing.assert_allclose(w.numpy(), 0.2, atol=1e-4)
    assert len(datasets.SPEECHCOMMANDS(tmp_path, subset="testing")) == 1
    with pytest.raises(ValueError, match="subset"):
        datasets.SPEECHCOMMANDS(tmp_path, subset="train")


def test_librispeech(tmp_path):
    folder = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    for utt in (0, 1):
        _wav(str(folder / f"84-121123-{utt:04d}.flac"), value=0.5)
    (folder / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n"
    )
    ds = datasets.LIBRISPEECH(tmp_path, url="dev-clean")
    w, sr, text, spk, ch, utt = ds[1]
    assert (sr, text, spk, ch, utt) == (16000, "BUT IN LESS THAN FIVE MINUTES", 84, 121123, 1)
    assert w.shape == (1, 160)
    with pytest.raises(RuntimeError, match="download=True"):
        datasets.LIBRISPEECH(tmp_path, url="test-clean")


def test_ljspeech(tmp_path):
    base = tmp_path / "LJSpeech-1.1"
    _wav(str(base / "wavs" / "LJ001-0001.wav"), sr=22050)
    (base / "metadata.csv").write_text('LJ001-0001|Printing, "in" 1|Printing, in one\n')
    w, sr, text, norm = datasets.LJSPEECH(tmp_path)[0]
    assert (sr, text, norm) == (22050, 'Printing, "in" 1', "Printing, in one")


def test_vctk(tmp_path):
    base = tmp_path / "VCTK-Corpus-0.92"
    for spk, utt in [("p225", "001"), ("p225", "002"), ("p280", "001")]:
        (base / "txt" / spk).mkdir(parents=True, exist_ok=True)
        (base / "txt" / spk / f"{spk}_{utt}.txt").write_text(f"Please call Stella {utt}.\n")
        _wav(str(base / "wav48_silence_trimmed" / spk / f"{spk}_{utt}_mic2.flac"), sr=48000)
    ds = datasets.VCTK_092(tmp_path)
    assert len(ds) == 2  # p280 has no mic2 recordings in the corpus
    w, sr, text, spk, utt = ds[1]
    assert (sr, text, spk, utt) == (48000, "Please call Stella 002.", "p225", "002")


def test_audio_folder(tmp_path):
    _wav(str(tmp_path / "dog" / "a.wav"), value=0.1)
    _wav(str(tmp_path / "cat" / "b.flac"), value=0.2)
    _wav(str(tmp_path / "cat" / "sub" / "c.wav"), value=0.3)
    (tmp_path / "cat" / "notes.txt").write_text("not audio")
    ds = datasets.AudioFolder(tmp_path, transform=lambda w: w * 2)
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 1]
    w, t = ds[2]
    assert t == 1
    np.testing.assert_allclose(w.numpy(), 0.2, atol=1e-4)
    with pytest.raises(RuntimeError, match="no class folders"):
        datasets.AudioFolder(tmp_path / "dog")


def test_download_checks_sha256(tmp_path):
    import tarfile

    src = tmp_path / "src"
    _wav(str(src / "waves_yesno" / "0_0_0_0_0_0_0_0.wav"), sr=8000)
    archive = tmp_path / "srv" / "waves_yesno.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as t:
        t.add(src / "waves_yesno", arcname="waves_yesno")
    url = archive.as_uri()
    root = tmp_path / "root"
    with pytest.raises(RuntimeError, match="sha256"):
        download_and_extract(url, "0" * 64, str(root), "YESNO")
    ds = datasets.YESNO(tmp_path / "root2", url=url, download=True)
    assert len(ds) == 1 and ds[0][2] == [0] * 8
