"""The classic ImageNet training transform, images/s: tocha.vision vs Pillow + NumPy directly.

    python benchmarks/vision_transforms.py [--rounds 9] [--images 64]

Pipeline: RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize on
scikit-image's photos (PIL images, decoded once beforehand). torchvision is not installable
here, so the anchor is the same work written straight on Pillow and NumPy: the same
random-crop algorithm drawing from the same generator (both are re-seeded alike each round, so
they crop the same boxes and flip the same images), ``crop().resize(BILINEAR)``, ``transpose``
for the flip, then scaling to float32 and normalising in NumPy. Rounds alternate between the
two; each round times ``--images`` images. Ratio = tocha time / anchor time (lower is better).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import time
from pathlib import Path

import numpy as np
import PIL.Image

import tocha.core as torch
from tocha.vision import transforms

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def photos():
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        raise SystemExit("scikit-image (the source of the photos) is not installed")
    root = Path(spec.submodule_search_locations[0]) / "data"
    out = []
    for name in PHOTOS:
        img = PIL.Image.open(root / name).convert("RGB")
        img.load()
        out.append(img)
    return out


def tocha_pipeline():
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )


class PillowNumpyPipeline:
    """The same pipeline hand-written on Pillow + NumPy (the anchor)."""

    def __init__(self):
        # (x / 255 - mean) / std folded into one scale and one offset per channel.
        mean, std = np.array(MEAN, np.float32), np.array(STD, np.float32)
        self.scale = (1 / (255 * std)).astype(np.float32)[:, None, None]
        self.offset = (mean / std).astype(np.float32)[:, None, None]
        self.log_ratio = (math.log(3 / 4), math.log(4 / 3))

    def crop_box(self, width, height):
        # The same draws, in the same order, from the same generator as RandomResizedCrop.
        area = width * height
        for _ in range(10):
            target = area * torch.empty(1).uniform_(0.08, 1.0).item()
            aspect = math.exp(torch.empty(1).uniform_(*self.log_ratio).item())
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                i = int(torch.randint(0, height - h + 1, size=(1,)).item())
                j = int(torch.randint(0, width - w + 1, size=(1,)).item())
                return j, i, j + w, i + h
        return 0, 0, width, height

    def __call__(self, img):
        box = self.crop_box(*img.size)
        img = img.crop(box).resize((224, 224), PIL.Image.Resampling.BILINEAR)
        if torch.rand(1).item() < 0.5:
            img = img.transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT)
        # CHW bytes, one float copy, then in place (the fastest of the NumPy variants tried).
        a = np.ascontiguousarray(np.asarray(img).transpose(2, 0, 1)).astype(np.float32)
        a *= self.scale
        a -= self.offset
        return a


def time_round(fn, images, n):
    t0 = time.perf_counter()
    for k in range(n):
        fn(images[k % len(images)])
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--images", type=int, default=64)
    args = p.parse_args(argv)
    images = photos()
    torch.manual_seed(0)
    ours, anchor = tocha_pipeline(), PillowNumpyPipeline()
    # Warm-up (first-call imports, caches).
    time_round(ours, images, 8)
    time_round(anchor, images, 8)
    t_ours, t_anchor = [], []
    for r in range(args.rounds):
        torch.manual_seed(r)
        t_ours.append(time_round(ours, images, args.images))
        torch.manual_seed(r)
        t_anchor.append(time_round(anchor, images, args.images))
    mo, ma = statistics.median(t_ours), statistics.median(t_anchor)
    sizes = ", ".join(f"{im.width}x{im.height}" for im in images)
    print(f"photos: {sizes}; {args.images} images per round, {args.rounds} rounds (medians)")
    print("| pipeline | tocha images/s | Pillow+NumPy images/s | ratio (time) |")
    print("|---|---|---|---|")
    print(
        f"| RandomResizedCrop(224)+RandomHorizontalFlip+ToTensor+Normalize | "
        f"{args.images / mo:.0f} | {args.images / ma:.0f} | {mo / ma:.2f} |"
    )


if __name__ == "__main__":
    main()
