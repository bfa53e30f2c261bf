"""Speech datasets by their published folder layouts (torchaudio's classes, items and
argument names). Audio is decoded on access with ``tocha.audio.load``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import tocha.core as torch
from tocha.core.utils.data import Dataset

from ..io import load
from ._utils import download_and_extract, missing

Tensor = torch.Tensor


class YESNO(Dataset):
    """The YesNo dataset (60 recordings of 8 Hebrew yes/no words, 8 kHz).

    Layout: ``root/waves_yesno/0_0_1_0_1_0_1_1.wav`` (the file name is the labels).
    Item: ``(waveform, sample_rate, labels)``.
    """

    _URL = "http://www.openslr.org/resources/1/waves_yesno.tar.gz"
    _SHA256 = "c3f49e0cca421f96b75b41640749167b52118f232498667ca7a5f9416aef8e73"

    def __init__(
        self,
        root: str | Path,
        url: str = _URL,
        folder_in_archive: str = "waves_yesno",
        download: bool = False,
    ) -> None:
        self._path = os.path.join(os.fspath(root), folder_in_archive)
        if download and not os.path.isdir(self._path):
            sha = self._SHA256 if url == self._URL else None
            download_and_extract(url, sha, os.fspath(root), "YESNO")
        if not os.path.isdir(self._path):
            raise missing("YESNO", self._path, url, "the extracted waves_yesno/*.wav files")
        self._walker = sorted(p.stem for p in Path(self._path).glob("*.wav"))

    def get_metadata(self, n: int) -> tuple[str, int, list[int]]:
        fileid = self._walker[n]
        return os.path.join(self._path, fileid + ".wav"), 8000, [int(c) for c in fileid.split("_")]

    def __getitem__(self, n: int) -> tuple[Tensor, int, list[int]]:
        path, _, labels = self.get_metadata(n)
        waveform, sr = load(path)
        return waveform, sr, labels

    def __len__(self) -> int:
        return len(self._walker)


class SPEECHCOMMANDS(Dataset):
    """Google Speech Commands (v0.01 / v0.02), 1 s keyword clips at 16 kHz.

    Layout: ``root/SpeechCommands/speech_commands_v0.02/<label>/<speaker>_nohash_<n>.wav``
    with ``validation_list.txt`` and ``testing_list.txt``. ``subset`` is None (everything),
    ``'training'``, ``'validation'`` or ``'testing'``.
    Item: ``(waveform, sample_rate, label, speaker_id, utterance_number)``.
    """

    _CHECKSUMS = {
        "speech_commands_v0.01": "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d",
        "speech_commands_v0.02": "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    }

    def __init__(
        self,
        root: str | Path,
        url: str = "speech_commands_v0.02",
        folder_in_archive: str = "SpeechCommands",
        download: bool = False,
        subset: str | None = None,
    ) -> None:
        if subset not in (None, "training", "validation", "testing"):
            raise ValueError(
                f"SPEECHCOMMANDS: subset must be None, 'training', 'validation' or 'testing', "
                f"got {subset!r}"
            )
        base = os.path.basename(url).replace(".tar.gz", "")
        self._path = os.path.join(os.fspath(root), folder_in_archive, base)
        full_url = url if "://" in url else f"http://download.tensorflow.org/data/{url}.tar.gz"
        if download and not os.path.isdir(self._path):
            download_and_extract(full_url, self._CHECKSUMS.get(base), self._path, "SPEECHCOMMANDS")
        if not os.path.isdir(self._path):
            raise missing(
                "SPEECHCOMMANDS",
                self._path,
                full_url,
                "the extracted <label>/<file>.wav folders and the two list files",
            )

        def read_list(name):
            p = os.path.join(self._path, name)
            if not os.path.exists(p):
                return []
            with open(p) as fh:
                return [
                    os.path.normpath(os.path.join(self._path, line.strip()))
                    for line in fh
                    if line.strip()
                ]

        all_files = sorted(
            os.path.normpath(str(p))
            for p in Path(self._path).glob("*/*.wav")
            if p.parent.name != "_background_noise_"
        )
        if subset == "validation":
            self._walker = read_list("validation_list.txt")
        elif subset == "testing":
            self._walker = read_list("testing_list.txt")
        elif subset == "training":
            excluded = set(read_list("validation_list.txt")) | set(read_list("testing_list.txt"))
            self._walker = [w for w in all_files if w not in excluded]
        else:
            self._walker = all_files

    def get_metadata(self, n: int) -> tuple[str, int, str, str, int]:
        path = self._walker[n]
        label = os.path.basename(os.path.dirname(path))
        speaker, _, utt = os.path.splitext(os.path.basename(path))[0].partition("_nohash_")
        return path, 16000, label, speaker, int(utt)

    def __getitem__(self, n: int):
        path, _, label, speaker, utt = self.get_metadata(n)
        waveform, sr = load(path)
        return waveform, sr, label, speaker, utt

    def __len__(self) -> int:
        return len(self._walker)


class LIBRISPEECH(Dataset):
    """LibriSpeech read English speech (16 kHz FLAC).

    Layout: ``root/LibriSpeech/<url>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with
    ``<speaker>-<chapter>.trans.txt`` beside them.
    Item: ``(waveform, sample_rate, transcript, speaker_id, chapter_id, utterance_id)``.
    """

    _CHECKSUMS = {
        "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
        "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
        "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
        "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
        "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
        "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
        "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
    }

    def __init__(
        self,
        root: str | Path,
        url: str = "train-clean-100",
        folder_in_archive: str = "LibriSpeech",
        download: bool = False,
    ) -> None:
        self._url = url
        self._archive = os.path.join(os.fspath(root), folder_in_archive)
        self._path = os.path.join(self._archive, url)
        full = f"http://www.openslr.org/resources/12/{url}.tar.gz"
        if download and not os.path.isdir(self._path):
            download_and_extract(full, self._CHECKSUMS.get(url), os.fspath(root), "LIBRISPEECH")
        if not os.path.isdir(self._path):
            raise missing(
                "LIBRISPEECH",
                self._path,
                full,
                "the extracted <speaker>/<chapter>/*.flac and *.trans.txt files",
            )
        self._walker = sorted(p.stem for p in Path(self._path).glob("*/*/*.flac"))

    def get_metadata(self, n: int):
        fileid = self._walker[n]
        speaker, chapter, utt = fileid.split("-")
        folder = os.path.join(self._path, speaker, chapter)
        trans = os.path.join(folder, f"{speaker}-{chapter}.trans.txt")
        transcript = None
        with open(trans) as fh:
            for line in fh:
                key, _, text = line.strip().partition(" ")
                if key == fileid:
                    transcript = text
                    break
        if transcript is None:
            raise RuntimeError(f"LIBRISPEECH: no transcript for {fileid} in '{trans}'")
        rel = os.path.join(self._url, speaker, chapter, fileid + ".flac")
        return rel, 16000, transcript, int(speaker), int(chapter), int(utt)

    def __getitem__(self, n: int):
        rel, _, transcript, speaker, chapter, utt = self.get_metadata(n)
        waveform, sr = load(os.path.join(self._archive, rel))
        return waveform, sr, transcript, speaker, chapter, utt

    def __len__(self) -> int:
        return len(self._walker)


class LJSPEECH(Dataset):
    """LJ Speech (one speaker, 22.05 kHz).

    Layout: ``root/LJSpeech-1.1/metadata.csv`` (``id|transcript|normalized``) and
    ``root/LJSpeech-1.1/wavs/<id>.wav``.
    Item: ``(waveform, sample_rate, transcript, normalized_transcript)``.
    """

    _URL = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
    _SHA256 = "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5"

    def __init__(
        self,
        root: str | Path,
        url: str = _URL,
        folder_in_archive: str = "wavs",
        download: bool = False,
    ) -> None:
        base = os.path.join(os.fspath(root), "LJSpeech-1.1")
        self._path = os.path.join(base, folder_in_archive)
        meta = os.path.join(base, "metadata.csv")
        if download and not os.path.exists(meta):
            sha = self._SHA256 if url == self._URL else None
            download_and_extract(url, sha, os.fspath(root), "LJSPEECH")
        if not os.path.exists(meta):
            raise missing("LJSPEECH", base, url, "metadata.csv and the wavs/ folder")
        with open(meta, newline="", encoding="utf-8") as fh:
            self._flist = [row for row in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE)]

    def __getitem__(self, n: int):
        fileid, transcript, normalized = (self._flist[n] + ["", ""])[:3]
        waveform, sr = load(os.path.join(self._path, fileid + ".wav"))
        return waveform, sr, transcript, normalized

    def __len__(self) -> int:
        return len(self._flist)


class VCTK_092(Dataset):
    """VCTK 0.92 (110 English speakers, 48 kHz FLAC).

    Layout: ``root/VCTK-Corpus-0.92/wav48_silence_trimmed/<spk>/<spk>_<utt>_<mic>.flac`` and
    ``root/VCTK-Corpus-0.92/txt/<spk>/<spk>_<utt>.txt``. Utterances without a transcript are
    skipped (p315 has none; p280 has no mic2 recordings).
    Item: ``(waveform, sample_rate, transcript, speaker_id, utterance_id)``.
    """

    _URL = "https://datashare.is.ed.ac.uk/bitstream/handle/10283/3443/VCTK-Corpus-0.92.zip"

    def __init__(
        self,
        root: str | Path,
        mic_id: str = "mic2",
        download: bool = False,
        url: str = _URL,
        audio_ext: str = ".flac",
    ) -> None:
        if mic_id not in ("mic1", "mic2"):
            raise RuntimeError(f"VCTK_092: mic_id must be 'mic1' or 'mic2', got {mic_id!r}")
        self._path = os.path.join(os.fspath(root), "VCTK-Corpus-0.92")
        self._txt = os.path.join(self._path, "txt")
        self._audio = os.path.join(self._path, "wav48_silence_trimmed")
        self._mic, self._ext = mic_id, audio_ext
        if download and not os.path.isdir(self._txt):
            download_and_extract(url, None, self._path, "VCTK_092")
        if not os.path.isdir(self._txt):
            raise missing(
                "VCTK_092", self._path, url, "the txt/ and wav48_silence_trimmed/ folders"
            )
        self._sample_ids = []
        for spk in sorted(os.listdir(self._txt)):
            if spk == "p280" and mic_id == "mic2":
                continue
            for t in sorted(Path(self._txt, spk).glob("*.txt")):
                spk_id, utt = t.stem.split("_")
                audio = os.path.join(self._audio, spk_id, f"{spk_id}_{utt}_{mic_id}{audio_ext}")
                if os.path.exists(audio):
                    self._sample_ids.append((spk_id, utt))

    def __getitem__(self, n: int):
        spk, utt = self._sample_ids[n]
        with open(os.path.join(self._txt, spk, f"{spk}_{utt}.txt")) as fh:
            transcript = fh.readlines()[0].strip()
        waveform, sr = load(os.path.join(self._audio, spk, f"{spk}_{utt}_{self._mic}{self._ext}"))
        return waveform, sr, transcript, spk, utt

    def __len__(self) -> int:
        return len(self._sample_ids)


class AudioFolder(Dataset):
    """A labelled folder of audio files: ``root/<class>/<file>.<ext>`` (like torchvision's
    ImageFolder). Item: ``(waveform, class_index)`` after ``transform`` / ``target_transform``.

    Attributes:
        classes: sorted class folder names; ``class_to_idx`` maps them to indices;
        samples: ``(path, class_index)`` pairs.
    """

    EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au")

    def __init__(
        self,
        root: str | Path,
        transform=None,
        target_transform=None,
        extensions: tuple[str, ...] | None = None,
    ) -> None:
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise RuntimeError(f"AudioFolder: no such folder '{self.root}'")
        exts = tuple(e.lower() for e in (extensions or self.EXTENSIONS))
        self.classes = sorted(d.name for d in os.scandir(self.root) if d.is_dir())
        if not self.classes:
            raise RuntimeError(f"AudioFolder: no class folders in '{self.root}'")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = [
            (str(p), self.class_to_idx[c])
            for c in self.classes
            for p in sorted(Path(self.root, c).rglob("*"))
            if p.is_file() and p.suffix.lower() in exts
        ]
        if not self.samples:
            raise RuntimeError(f"AudioFolder: no audio files with {exts} under '{self.root}'")
        self.targets = [t for _, t in self.samples]
        self.transform, self.target_transform = transform, target_transform

    def __getitem__(self, n: int):
        path, target = self.samples[n]
        waveform, _ = load(path)
        if self.transform is not None:
            waveform = self.transform(waveform)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return waveform, target

    def __len__(self) -> int:
        return len(self.samples)
