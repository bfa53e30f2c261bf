"""MTCNN face detector (Zhang et al., 2016) with facenet-pytorch's module and state_dict names.

Three cascaded networks: P-Net proposes face windows on an image pyramid, R-Net rejects and
refines them on 24x24 crops, O-Net scores and refines them on 48x48 crops and adds five
landmarks (left eye, right eye, nose, left and right mouth corner). The pretrained weights are
the original authors', as shipped by the PyPI package ``facenet-pytorch`` (``data/pnet.pt``,
``rnet.pt``, ``onet.pt``); the post-processing follows that package so its results carry over.

Images are RGB with pixel values in 0..255 (uint8 or float): a ``Tensor[3, H, W]``, a NumPy
``[H, W, 3]`` array or a PIL image.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import tocha.core as torch
from tocha.core import nn
from tocha.core.nn import functional as F

from ...ops.boxes import nms
from .._api import Weights, WeightsEnum, register_model

__all__ = ["MTCNN", "MTCNN_Weights", "PNet", "RNet", "ONet", "mtcnn"]


class PNet(nn.Module):
    """Proposal network: fully convolutional, one 12x12 window per output cell (stride 2).

    Returns ``(box_regression [N, 4, h, w], face_probability [N, 2, h, w])``.

    Example:
        >>> import tocha.core as torch
        >>> reg, prob = PNet()(torch.zeros(1, 3, 12, 12))
        >>> reg.shape, prob.shape
        (torch.Size([1, 4, 1, 1]), torch.Size([1, 2, 1, 1]))
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    """Refinement network on 24x24 crops.

    Returns ``(box_regression [N, 4], face_probability [N, 2])``.

    Example:
        >>> import tocha.core as torch
        >>> [t.shape for t in RNet()(torch.zeros(2, 3, 24, 24))]
        [torch.Size([2, 4]), torch.Size([2, 2])]
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # the weights come from Caffe, which flattens (W, H, C)-major: transpose before flatten
        x = x.permute(0, 3, 2, 1).contiguous().reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    """Output network on 48x48 crops.

    Returns ``(box_regression [N, 4], landmarks [N, 10], face_probability [N, 2])``; the
    landmarks are five x offsets then five y offsets, as fractions of the box size.

    Example:
        >>> import tocha.core as torch
        >>> [t.shape for t in ONet()(torch.zeros(1, 3, 48, 48))]
        [torch.Size([1, 4]), torch.Size([1, 10]), torch.Size([1, 2])]
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous().reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


# --- box arithmetic on small NumPy arrays (a few hundred boxes at most) ---------------------


def _normalize(x):
    # the Caffe models were trained on (pixel - 127.5) / 128
    return (x - 127.5) * 0.0078125


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply box regression; offsets are fractions of the inclusive pixel width/height."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, :4] = boxes[:, :4] + reg[:, :4] * np.stack([w, h, w, h], axis=1)
    return out


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the networks expect square crops)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS on intersection over the SMALLER area (the last MTCNN stage drops boxes
    nested in a better one, which IoU would keep); inclusive pixel areas as in the reference."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = iw * ih / np.minimum(area[i], area[rest])
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _nms_keep(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """tocha.vision.ops.nms (IoU) on columns 0..3 with the score in column 4."""
    b = torch.from_numpy(np.ascontiguousarray(boxes[:, :4]))
    s = torch.from_numpy(np.ascontiguousarray(boxes[:, 4]))
    return nms(b, s, threshold).numpy()


def _to_chw_float(img) -> Any:
    """An RGB image as a float32 ``Tensor[1, 3, H, W]`` with values 0..255."""
    if isinstance(img, torch.Tensor):
        if img.dim() != 3 or img.shape[0] != 3:
            raise ValueError(f"MTCNN: expected an RGB Tensor[3, H, W], got shape {list(img.shape)}")
        return img.to(torch.float32).unsqueeze(0)
    arr = np.asarray(img.convert("RGB") if hasattr(img, "convert") else img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"MTCNN: expected an RGB array [H, W, 3], got shape {list(arr.shape)}")
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).unsqueeze(0)


class MTCNN(nn.Module):
    """The three-stage MTCNN face detector (inference only).

    Args:
        min_face_size: smallest face side in pixels that the pyramid looks for.
        thresholds: face-probability thresholds of P-Net, R-Net and O-Net.
        factor: scale step of the image pyramid.

    ``forward`` takes a list of images and returns, torchvision-style, one dict per image with
    ``boxes`` (``Tensor[K, 4]``, ``(x1, y1, x2, y2)`` pixels), ``scores`` (``Tensor[K]``, face
    probability) and ``landmarks`` (``Tensor[K, 5, 2]``, ``(x, y)``), sorted by score.
    :meth:`detect` does the same for one image and returns the tuple
    ``(boxes, scores, landmarks)``.

    Example:
        >>> import tocha.core as torch
        >>> out = MTCNN()([torch.zeros(3, 40, 40)])  # random weights: nothing passes
        >>> sorted(out[0]), out[0]["boxes"].shape[1]
        (['boxes', 'landmarks', 'scores'], 4)
    """

    def __init__(
        self,
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
    ) -> None:
        super().__init__()
        if len(thresholds) != 3:
            raise ValueError(f"MTCNN: thresholds needs 3 values, got {thresholds!r}")
        if not 0 < factor < 1:
            raise ValueError(f"MTCNN: factor must lie in (0, 1), got {factor}")
        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = factor
        self.pnet = PNet()
        self.rnet = RNet()
        self.onet = ONet()
        self.eval()

    def forward(self, images) -> list[dict[str, Any]]:
        if isinstance(images, torch.Tensor) and images.dim() == 3:
            raise TypeError("MTCNN: pass a list of images (or use detect() for one image)")
        out = []
        for img in images:
            boxes, scores, landmarks = self.detect(img)
            out.append({"boxes": boxes, "scores": scores, "landmarks": landmarks})
        return out

    def _scales(self, h: int, w: int) -> list[float]:
        # a 12x12 P-Net window must cover min_face_size pixels at the first scale
        m = 12.0 / self.min_face_size
        side = min(h, w) * m
        scales = []
        while side >= 12:
            scales.append(m * self.factor ** len(scales))
            side *= self.factor
        return scales

    def _propose(self, x, h: int, w: int) -> np.ndarray:
        """Stage 1: P-Net windows on every pyramid level, as rows (x1, y1, x2, y2, score, reg)."""
        stride, cell = 2, 12
        found = []
        for scale in self._scales(h, w):
            size = (int(h * scale + 1), int(w * scale + 1))
            reg, prob = self.pnet(_normalize(F.interpolate(x, size=size, mode="area")))
            p = prob[0, 1].numpy()
            ys, xs = np.nonzero(p >= self.thresholds[0])
            if ys.size == 0:
                continue
            r = reg[0].numpy()[:, ys, xs].T
            pos = np.stack([xs, ys], axis=1).astype(np.float32)
            q1 = np.floor((stride * pos + 1) / scale)
            q2 = np.floor((stride * pos + cell) / scale)
            rows = np.concatenate([q1, q2, p[ys, xs][:, None], r], axis=1)
            found.append(rows[_nms_keep(rows, 0.5)])
        if not found:
            return np.zeros((0, 9), np.float32)
        rows = np.concatenate(found)
        rows = rows[_nms_keep(rows, 0.7)]
        # P-Net's regression is relative to the exclusive width (its reference does so too)
        wh = np.stack([rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]] * 2, axis=1)
        boxes = np.concatenate([rows[:, :4] + rows[:, 5:9] * wh, rows[:, 4:5]], axis=1)
        return _square(boxes)

    def _crops(self, x, boxes: np.ndarray, h: int, w: int, size: int):
        """Crop each box (clipped to the image, 1-based pixel corners) and resize to size²."""
        b = np.trunc(boxes[:, :4]).astype(np.int64)
        x1, y1 = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
        x2, y2 = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
        ok = (x2 > x1 - 1) & (y2 > y1 - 1)
        crops = [
            F.interpolate(
                x[:, :, y1[k] - 1 : y2[k], x1[k] - 1 : x2[k]], size=(size, size), mode="area"
            )
            for k in np.nonzero(ok)[0]
        ]
        return ok, (_normalize(torch.cat(crops, 0)) if crops else None)

    def detect(self, img):
        """Faces in one image: ``(boxes [K, 4], scores [K], landmarks [K, 5, 2])`` tensors.

        Example:
            >>> import numpy as np
            >>> boxes, scores, landmarks = MTCNN().detect(np.zeros((30, 30, 3), np.uint8))
            >>> boxes.shape, scores.shape, landmarks.shape
            (torch.Size([0, 4]), torch.Size([0]), torch.Size([0, 5, 2]))
        """
        x = _to_chw_float(img)
        h, w = x.shape[2], x.shape[3]
        empty = np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        with torch.no_grad():
            boxes = self._propose(x, h, w)
            # stage 2: R-Net rescoring and refinement
            if len(boxes):
                ok, crops = self._crops(x, boxes, h, w, 24)
                boxes = boxes[ok]
                if crops is not None:
                    reg, prob = self.rnet(crops)
                    score = prob[:, 1].numpy()
                    passed = score > self.thresholds[1]
                    boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
                    reg = reg.numpy()[passed]
                    keep = _nms_keep(boxes, 0.7)
                    boxes = _square(_regress(boxes[keep], reg[keep]))
            # stage 3: O-Net scores, refinement and landmarks
            result = empty
            if len(boxes):
                ok, crops = self._crops(x, boxes, h, w, 48)
                boxes = boxes[ok]
                if crops is not None:
                    reg, marks, prob = self.onet(crops)
                    score = prob[:, 1].numpy()
                    passed = score > self.thresholds[2]
                    boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
                    marks, reg = marks.numpy()[passed], reg.numpy()[passed]
                    # landmarks are placed in the box before its final regression
                    bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
                    bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
                    px = bw * marks[:, :5] + boxes[:, :1] - 1
                    py = bh * marks[:, 5:] + boxes[:, 1:2] - 1
                    points = np.stack([px, py], axis=2)
                    boxes = _regress(boxes, reg)
                    keep = _nms_min(boxes[:, :4], boxes[:, 4], 0.7)
                    result = boxes[keep], points[keep]
        boxes, points = result
        return (
            torch.from_numpy(np.ascontiguousarray(boxes[:, :4], dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(boxes[:, 4], dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)),
        )


@dataclasses.dataclass(eq=True)
class _CascadeWeights(Weights):
    """Weights split over several files, one per sub-network; each is sha256-checked and its
    keys are prefixed with the sub-network's attribute name (``pnet.``, ``rnet.``, ``onet.``)."""

    parts: dict = dataclasses.field(default_factory=dict)

    def get_state_dict(self, progress: bool = True, *, path=None, map_location=None, **_: Any):
        from tocha.core import load

        if path is not None:
            raise ValueError("MTCNN weights: path= is not supported (the weights are 3 files)")
        state = {}
        for prefix, part in self.parts.items():
            for k, v in load(part.resolve(None, progress), map_location=map_location).items():
                state[f"{prefix}.{k}"] = v
        return state


def _part(name: str, sha256: str) -> Weights:
    return Weights(
        # the files ship inside the PyPI package (found first); this page is no download, so a
        # missing package fails the sha256 check loudly instead of loading something else
        url="https://pypi.org/project/facenet-pytorch/",
        file_name=f"mtcnn-{name}-{sha256[:8]}.pt",
        sha256=sha256,
        package="facenet_pytorch",
        package_path=f"data/{name}.pt",
    )


_PARTS = {
    "pnet": _part("pnet", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
    "rnet": _part("rnet", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
    "onet": _part("onet", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
}


class MTCNN_Weights(WeightsEnum):
    """The original MTCNN weights (Zhang et al.) as shipped by PyPI ``facenet-pytorch``."""

    FACENET_PYTORCH = _CascadeWeights(
        url="https://pypi.org/project/facenet-pytorch/",
        file_name="mtcnn-pnet-a2a71925.pt",
        sha256=_PARTS["pnet"].sha256,
        package="facenet_pytorch",
        package_path="data/pnet.pt",
        meta={
            "num_params": 6632 + 100178 + 389040,
            "paper": "https://arxiv.org/abs/1604.02878",
            "recipe": "https://github.com/kpzhang93/MTCNN_face_detection_alignment",
        },
        parts=_PARTS,
    )
    DEFAULT = FACENET_PYTORCH


@register_model()
def mtcnn(*, weights: MTCNN_Weights | None = None, progress: bool = True, **kwargs: Any) -> MTCNN:
    """MTCNN face detector (not in torchvision); ``weights="DEFAULT"`` loads the three networks
    from the installed ``facenet-pytorch`` package after checking each file's SHA-256.

    Example:
        >>> m = mtcnn(min_face_size=40)
        >>> m.min_face_size, m.thresholds
        (40, (0.6, 0.7, 0.7))
    """
    weights = MTCNN_Weights.verify(weights)
    model = MTCNN(**kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress))
    return model
