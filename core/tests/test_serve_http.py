"""tocha.core.serve: real HTTP requests against a server on an ephemeral localhost port."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.serve import InferenceServer, ModelDirError, load_model_dir, save_model_dir

nn = torch.nn


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _expected(model, x):
    with torch.no_grad():
        return model(torch.tensor(np.asarray(x, dtype=np.float32))).numpy()


def _post(port, body, path="/predict", headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers or {}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.fixture
def server():
    model = _model()
    srv = InferenceServer(
        model,
        port=0,
        max_batch_size=64,
        max_latency_ms=100,
        max_request_bytes=2000,
        input_shape=[4],
    ).start()
    yield srv, model
    srv.stop()


def test_serve_predict_and_health(server):
    srv, model = server
    x = [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    code, doc = _post(srv.port, {"inputs": x})
    assert code == 200
    np.testing.assert_allclose(np.asarray(doc["outputs"]), _expected(model, x), rtol=1e-6)
    code, doc = _get(srv.port, "/health")
    assert code == 200 and doc["status"] == "ok" and doc["requests"] == 1


def test_serve_batches_concurrent_requests(server):
    srv, model = server
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(1 + i % 3, 4)).round(3).tolist() for i in range(16)]
    results = [None] * len(xs)
    barrier = threading.Barrier(len(xs))

    def client(i):
        barrier.wait()
        results[i] = _post(srv.port, {"inputs": xs[i]})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for x, (code, doc) in zip(xs, results):
        assert code == 200
        np.testing.assert_allclose(np.asarray(doc["outputs"]), _expected(model, x), rtol=1e-5)
    assert srv.batcher.requests == 16
    assert srv.batcher.batches < 16  # concurrent requests shared batches


@pytest.mark.parametrize(
    "body,needle",
    [
        (b"{not json", "not valid JSON"),
        ({"x": [[1, 2, 3, 4]]}, '"inputs" field'),
        ({"inputs": []}, "non-empty list"),
        ({"inputs": [[1, 2, 3, 4], [1, 2]]}, "rectangular"),
        ({"inputs": [["a", 2, 3, 4]]}, "rectangular"),
        ({"inputs": [[1, 2, 3]]}, "shape [3], the model expects [4]"),
    ],
)
def test_serve_bad_input_is_400_naming_the_problem(server, body, needle):
    srv, _ = server
    code, doc = _post(srv.port, body)
    assert code == 400 and needle in doc["error"]


def test_serve_size_limit_and_routes(server):
    srv, _ = server
    big = {"inputs": [[0.123456789] * 4] * 100}
    code, doc = _post(srv.port, big)
    assert code == 413 and "exceeds the limit of 2000 bytes" in doc["error"]
    assert _get(srv.port, "/nope")[0] == 404
    assert _get(srv.port, "/predict")[0] == 405
    assert _post(srv.port, {"inputs": [[1, 2, 3, 4]]}, path="/other")[0] == 404
    code, doc = _post(srv.port, {"inputs": [[1, 2, 3, 4]]})  # still serving after errors
    assert code == 200


def test_serve_model_dir_round_trip_and_refusals(tmp_path, monkeypatch):
    model = _model()
    d = tmp_path / "m"
    save_model_dir(model, d, "tocha.core.nn:Linear", {"in_features": 4, "out_features": 3})
    with pytest.raises(ModelDirError, match="missing"):  # weights of another architecture
        load_model_dir(d)
    lin = nn.Linear(4, 3)
    save_model_dir(lin, d, "tocha.core.nn:Linear", {"in_features": 4, "out_features": 3})
    got, cfg = load_model_dir(d)
    np.testing.assert_array_equal(got.weight.detach().numpy(), lin.weight.detach().numpy())
    # code in the model directory itself is never imported
    (d / "evil.py").write_text("raise SystemExit('executed')\n")
    cfg["builder"] = "evil:build"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelDirError, match="not importable"):
        load_model_dir(d)
    # ... not even when the directory is on sys.path (python -m run from inside it)
    monkeypatch.syspath_prepend(str(d))
    with pytest.raises(ModelDirError, match="inside the model directory"):
        load_model_dir(d)
    cfg["builder"] = "tocha.core.nn:_private"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelDirError, match="no public attribute"):
        load_model_dir(d)
    (d / "config.json").write_text("{")
    with pytest.raises(ModelDirError, match=r"config.json: not valid JSON"):
        load_model_dir(d)


def test_serve_cli_python_m(tmp_path):
    lin = nn.Linear(3, 2)
    save_model_dir(
        lin,
        tmp_path,
        "tocha.core.nn:Linear",
        {"in_features": 3, "out_features": 2},
        input_shape=[3],
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tocha.core.serve", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert "serving tocha.core.nn:Linear on http://127.0.0.1:" in line, proc.stderr.read()
        port = int(line.split("127.0.0.1:")[1].split()[0])
        code, doc = _post(port, {"inputs": [[1.0, 2.0, 3.0]]})
        assert code == 200
        np.testing.assert_allclose(doc["outputs"], _expected(lin, [[1.0, 2.0, 3.0]]), rtol=1e-6)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("kind", ["dynamic_int8", "weight_only_int8", "dynamic_float16"])
def test_serve_model_dir_quantized(tmp_path, kind):
    from tocha.core.ao import quantization as q

    torch.manual_seed(8)
    model = nn.Linear(16, 4)
    qmodel = {
        "dynamic_int8": lambda m: q.quantize_dynamic(nn.Sequential(m))[0],
        "weight_only_int8": lambda m: q.quantize_weight_only(nn.Sequential(m))[0],
        "dynamic_float16": lambda m: q.quantize_dynamic(nn.Sequential(m), dtype=torch.float16)[0],
    }[kind](model)
    kw = {"in_features": 16, "out_features": 4}
    save_model_dir(qmodel, tmp_path, "tocha.core.nn:Linear", kw, quantization=kind)
    loaded, cfg = load_model_dir(tmp_path)
    assert cfg["quantization"] == kind and type(loaded) is type(qmodel)
    x = torch.randn(5, 16)
    np.testing.assert_array_equal(loaded(x).numpy(), qmodel(x).numpy())
    with pytest.raises(ValueError, match="quantization must be one of"):
        save_model_dir(qmodel, tmp_path, "tocha.core.nn:Linear", kw, quantization="int4")


class _MaskedMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 4)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        return (self.emb(input_ids) * m).sum(1) / m.sum(1)


def test_serve_named_inputs_batched_by_shape():
    torch.manual_seed(9)
    model = _MaskedMean().eval()
    srv = InferenceServer(
        model,
        port=0,
        max_latency_ms=100,
        input_dtype={"input_ids": "int64", "attention_mask": "int64"},
    ).start()
    try:
        reqs = [
            {"input_ids": [[1, 2, 3]], "attention_mask": [[1, 1, 0]]},
            {"input_ids": [[4, 5, 6], [7, 8, 9]], "attention_mask": [[1, 1, 1], [1, 0, 0]]},
            {"input_ids": [[1, 2, 3, 4, 5]], "attention_mask": [[1, 1, 1, 1, 1]]},
        ] * 3
        results = [None] * len(reqs)
        barrier = threading.Barrier(len(reqs))

        def client(i):
            barrier.wait()
            results[i] = _post(srv.port, {"inputs": reqs[i]})

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(reqs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for r, (code, doc) in zip(reqs, results):
            assert code == 200, doc
            with torch.no_grad():
                ref = model(torch.tensor(r["input_ids"]), torch.tensor(r["attention_mask"]))
            np.testing.assert_allclose(np.asarray(doc["outputs"]), ref.numpy(), rtol=1e-6)
        # lengths 3 and 5 cannot share a batch; the rest did
        assert 2 <= srv.batcher.batches < len(reqs)
        code, doc = _post(
            srv.port, {"inputs": {"input_ids": [[1, 2]], "attention_mask": [[1, 1], [1, 1]]}}
        )
        assert code == 400 and "different numbers of samples" in doc["error"]
        code, doc = _post(srv.port, {"inputs": [[1, 2]]})
        assert code == 400 and "named inputs" in doc["error"]
    finally:
        srv.stop()
