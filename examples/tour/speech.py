"""audio: Silero VAD speech segments on real speech, and a spectrogram with them marked."""

from __future__ import annotations

import os

import numpy as np

from ._common import Context, Skip, require
from ._progress import progress

SPEECH = "/usr/share/codec2/raw/speech_orig_16k.wav"  # Debian codec2-examples
# Debian alsa-utils: short 48 kHz voice clips, used where codec2-examples is not installed
ALSA = ("/usr/share/sounds/alsa/Front_Left.wav", "/usr/share/sounds/alsa/Front_Right.wav")


def run(ctx: Context) -> list[tuple[str, str]]:
    import tocha.core as torch

    ta = require("tocha.audio", "tocha-audio is not installed")
    transforms = require("tocha.audio.transforms")
    wave, sr, name = _speech(torch, ta, transforms)
    print(f"  {name}: {wave.shape[1] / sr:.1f} s at {sr} Hz")
    segments, why = _vad(ta, wave, sr)
    rows: list[tuple[str, str]] = []
    if segments is None:
        print(f"  VAD skipped: {why}")
        rows.append(("Silero VAD", f"skipped: {why}"))
    else:
        for k, (a, b) in enumerate(segments):
            print(f"  speech {k + 1}: {a:6.2f} s - {b:6.2f} s")
        total = sum(b - a for a, b in segments)
        rows.append(("Silero VAD speech segments", f"{len(segments)} ({total:.1f} s of speech)"))

    hop = 160
    spec = transforms.Spectrogram(n_fft=512, hop_length=hop).to(ctx.device)
    to_db = transforms.AmplitudeToDB(stype="power", top_db=80.0)
    with torch.no_grad():
        db = to_db(spec(wave.to(ctx.device)))[0].cpu().numpy()
    picture = ctx.path("speech.png")
    _plot(db, sr, hop, segments or [], picture, name)
    print(f"  wrote {picture} ({db.shape[0]} x {db.shape[1]} spectrogram, speech marked)")
    rows.append(("spectrogram", f"{db.shape[0]} bins x {db.shape[1]} frames"))
    return rows


def _speech(torch, ta, transforms):
    """(mono waveform (1, n) at 16 kHz, 16000, a name): codec2's speech, else alsa's clips."""
    if os.path.exists(SPEECH):
        wave, sr = ta.load(SPEECH)
        return wave, sr, os.path.basename(SPEECH)
    clips = [p for p in ALSA if os.path.exists(p)]
    if not clips:
        raise Skip(f"no speech recording: install Debian's codec2-examples ({SPEECH}) "
                   "or alsa-utils (/usr/share/sounds/alsa)")  # fmt: skip
    parts = []
    for path in clips:
        wave, sr = ta.load(path)
        wave = transforms.Resample(sr, 16000)(wave.mean(0, keepdim=True))
        parts += [wave, torch.zeros(1, 8000)]  # half a second of silence between clips
    return torch.cat(parts, dim=1), 16000, " + ".join(os.path.basename(p) for p in clips)


def _vad(ta, wave, sr) -> tuple[list[tuple[float, float]] | None, str]:
    try:
        pipelines = ta.pipelines
        bundle = pipelines.SILERO_VAD
    except (ImportError, AttributeError):
        return None, "tocha.audio.pipelines.SILERO_VAD is not available in this tocha-audio"
    if not hasattr(bundle, "get_speech_timestamps"):
        return None, "SILERO_VAD has no get_speech_timestamps"
    # the bundle walks 512-sample frames itself; the bar shows the one call
    for _ in progress([0], "Silero VAD"):
        stamps = bundle.get_speech_timestamps(wave[0], sr)
    return [(s["start"] / sr, s["end"] / sr) for s in stamps], ""


def _plot(db: np.ndarray, sr: int, hop: int, segments, path: str, name: str) -> None:
    seconds = db.shape[1] * hop / sr
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # no matplotlib: a plain grey-scale picture with Pillow
        from PIL import Image, ImageDraw

        img = np.clip((db - db.max() + 80) / 80 * 255, 0, 255).astype(np.uint8)[::-1]
        pic = Image.fromarray(img).convert("RGB")
        draw = ImageDraw.Draw(pic)
        for a, b in segments:
            x0, x1 = (int(t * sr / hop) for t in (a, b))
            draw.rectangle((x0, 0, x1, 6), fill=(255, 140, 0))
        pic.save(path)
        return
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma",
              extent=(0, seconds, 0, sr / 2000))  # fmt: skip
    for a, b in segments:
        ax.axvspan(a, b, ymin=0.95, ymax=1.0, color="lime")  # a bar along the top
        ax.axvline(a, color="white", lw=0.8, ls="--")
        ax.axvline(b, color="white", lw=0.8, ls="--")
    ax.set(xlabel="time (s)", ylabel="frequency (kHz)",
           title=f"{name}: power spectrogram (dB), Silero VAD speech in green")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
