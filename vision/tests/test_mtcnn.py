"""MTCNN with the real facenet-pytorch weights on scikit-image's astronaut.png."""

import importlib.util
import os

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision.models import detection, get_model, get_model_weights, list_models
from tocha.vision.models.detection import MTCNN, MTCNN_Weights, mtcnn


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    return list(spec.submodule_search_locations)[0] if spec else None


def _astronaut():
    Image = pytest.importorskip("PIL.Image")
    root = _package_dir("skimage")
    if root is None:
        pytest.skip("scikit-image is not installed (it ships astronaut.png)")
    return Image.open(os.path.join(root, "data", "astronaut.png")).convert("RGB")


@pytest.fixture(scope="module")
def pretrained():
    if _package_dir("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch is not installed (it ships the MTCNN weights)")
    return mtcnn(weights=MTCNN_Weights.DEFAULT)


def test_state_dict_names_match_facenet_pytorch_files():
    root = _package_dir("facenet_pytorch")
    if root is None:
        pytest.skip("facenet-pytorch is not installed")
    model = MTCNN()
    for net in ("pnet", "rnet", "onet"):
        sd = torch.load(os.path.join(root, "data", f"{net}.pt"))
        ours = getattr(model, net).state_dict()
        assert list(sd) == list(ours)
        assert all(tuple(sd[k].shape) == tuple(ours[k].shape) for k in sd)
    n = sum(p.numel() for p in model.parameters())
    assert n == MTCNN_Weights.DEFAULT.meta["num_params"] == 495850


def test_weights_match_mtcnn_package_npy():
    # mtcnn 0.1.1 ships the same weights in HWIO: an independent check of the loaded tensors
    root = _package_dir("mtcnn")
    if root is None or _package_dir("facenet_pytorch") is None:
        pytest.skip("needs both facenet-pytorch and mtcnn installed")
    npy = np.load(os.path.join(root, "data", "mtcnn_weights.npy"), allow_pickle=True).item()
    model = mtcnn(weights="DEFAULT")
    for net in ("pnet", "rnet", "onet"):
        ours = getattr(model, net).state_dict()
        assert len(npy[net]) == len(ours)
        # both files list the tensors in the same order; kernels HWIO vs OIHW (the W/H swap
        # is the Caffe export's), dense (in, out) vs (out, in), PReLU (1, 1, C) vs (C,)
        for (k, v), a in zip(ours.items(), npy[net]):
            a = a.transpose(3, 2, 1, 0) if a.ndim == 4 else (a.T if a.ndim == 2 else a.ravel())
            np.testing.assert_array_equal(v.numpy(), a, err_msg=f"{net}.{k}")


def test_sha256_mismatch_is_refused(tmp_path):
    bad = tmp_path / "pnet.pt"
    bad.write_bytes(b"not the weights")
    part = MTCNN_Weights.DEFAULT.value.parts["pnet"]
    with pytest.raises(RuntimeError, match="pnet.pt"):
        part.resolve(bad)


def test_registry():
    assert "mtcnn" in list_models(module=detection)
    assert get_model_weights("mtcnn") is MTCNN_Weights
    assert get_model("mtcnn", min_face_size=30).min_face_size == 30


def test_astronaut_one_face(pretrained):
    boxes, scores, landmarks = pretrained.detect(_astronaut())
    assert boxes.shape == (1, 4) and scores.shape == (1,) and landmarks.shape == (1, 5, 2)
    assert float(scores[0]) > 0.9
    x1, y1, x2, y2 = boxes[0].tolist()
    # face region measured once on the 512x512 image: skin spans x 182..270, eyebrows to chin
    # y 85..185; the box centre must fall well inside it and the box be face-sized
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    assert 195 < cx < 255 and 95 < cy < 160
    assert 60 < x2 - x1 < 130 and 70 < y2 - y1 < 150
    pts = landmarks[0].numpy()
    # left eye left of right eye, nose between and below the eyes, mouth below the nose
    assert pts[0, 0] < pts[2, 0] < pts[1, 0]
    assert max(pts[0, 1], pts[1, 1]) < pts[2, 1] < min(pts[3, 1], pts[4, 1])
    assert np.all((pts[:, 0] > x1) & (pts[:, 0] < x2) & (pts[:, 1] > y1) & (pts[:, 1] < y2))
    # values produced by facenet-pytorch 2.6.0's own MTCNN on this image (checked once)
    np.testing.assert_allclose(boxes[0].numpy(), [181.0514, 62.1561, 267.7473, 172.0502], atol=0.05)
    np.testing.assert_allclose(pts[0], [205.0109, 101.7275], atol=0.05)


def test_tensor_and_list_inputs(pretrained):
    arr = np.asarray(_astronaut())
    chw = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    out = pretrained([chw, arr[:, ::-1]])
    assert out[0]["boxes"].shape == (1, 4)
    ref = pretrained.detect(arr)[0]
    np.testing.assert_allclose(out[0]["boxes"].numpy(), ref.numpy(), atol=1e-3)
    # mirrored image: the face box mirrors too (x -> 511 - x), within a few pixels
    mx1, _, mx2, _ = out[1]["boxes"][0].tolist()
    assert abs((mx1 + mx2) / 2 - (511 - (ref[0, 0] + ref[0, 2]).item() / 2)) < 8


def test_blank_image_finds_nothing(pretrained):
    boxes, scores, landmarks = pretrained.detect(np.full((120, 160, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and landmarks.shape == (0, 5, 2)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="MTCNN"):
        MTCNN().detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="thresholds"):
        MTCNN(thresholds=(0.5, 0.5))
