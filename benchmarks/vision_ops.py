"""tocha.vision.ops.nms on 10k random boxes against a straightforward NumPy NMS.

torchvision (the natural anchor) has no CPU build installable here, so the anchor is the
classic vectorised-per-step NumPy NMS (py-faster-rcnn style: take the best remaining box, IoU
against all the rest, drop the overlapping ones, repeat).

    python benchmarks/vision_ops.py              # markdown table on stdout
    python benchmarks/vision_ops.py --rounds 9
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Workload, measure, table  # noqa: E402


def numpy_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou > thr)]
    return np.array(keep, dtype=np.int64)


def _boxes(kind: str, n: int = 10_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        # small boxes over a 1000 x 1000 image: most survive
        xy = rng.uniform(0, 1000, (n, 2))
        wh = rng.uniform(1, 100, (n, 2))
    else:
        # torchvision's own test recipe: rand * 512 corners, heavy overlap
        xy = rng.uniform(0, 512, (n, 2))
        wh = rng.uniform(0, 512, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    return boxes, rng.uniform(size=n).astype(np.float32)


def _workload(kind: str) -> Workload:
    boxes, scores = _boxes(kind)

    def tocha_side():
        import tocha.core as torch
        from tocha.vision.ops import nms

        b, s = torch.from_numpy(boxes), torch.from_numpy(scores)
        keep = nms(b, s, 0.5).numpy()
        ref = numpy_nms(boxes, scores, 0.5)
        if not np.array_equal(keep, ref):
            raise AssertionError(f"nms {kind}: tocha keeps {keep.size}, NumPy keeps {ref.size}")
        return lambda: nms(b, s, 0.5)

    def anchor_side():
        return lambda: numpy_nms(boxes, scores, 0.5)

    return Workload(f"nms 10k boxes ({kind})", "vision.ops", tocha_side, anchor_side, 1.0)


def workloads() -> list[Workload]:
    return [_workload("sparse"), _workload("crowded")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, NumPy {np.__version__}\n"
    )
    results = []
    for w in workloads():
        boxes, scores = _boxes("sparse" if "sparse" in w.name else "crowded")
        print(f"  {w.name}: keeps {numpy_nms(boxes, scores, 0.5).size}", file=sys.stderr)
        results.append(measure(w, rounds=args.rounds, budget_s=0.5))
    print(table(results, "NumPy NMS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
