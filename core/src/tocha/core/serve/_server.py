"""The HTTP front end: ``POST /predict``, ``GET /health``, JSON in and out."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from ._batcher import Batcher

_DTYPES = {"float32", "float64", "float16", "int64", "int32", "bool"}


class _HTTPServer(ThreadingHTTPServer):
    # the default listen backlog (5) resets connections of a burst of concurrent clients
    request_queue_size = 128
    daemon_threads = True


class BadRequest(ValueError):
    """A request the server refuses with 400 (the message says why)."""


def _parse_array(data, dtype: str, sample_shape, what: str) -> np.ndarray:
    if not isinstance(data, list) or not data:
        raise BadRequest(f"{what} must be a non-empty list of samples")
    try:
        arr = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise BadRequest(f"{what} is not a rectangular array of numbers ({e})") from None
    if sample_shape is not None and tuple(arr.shape[1:]) != tuple(sample_shape):
        raise BadRequest(
            f"{what} has samples of shape {list(arr.shape[1:])}, the model expects "
            f"{list(sample_shape)}"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise BadRequest(f"{what} contains NaN or infinity")
    return arr


def parse_inputs(body: bytes, dtype, sample_shape):
    """The request's ``inputs``: an array whose first axis is the batch, or for named inputs
    (``{"inputs": {"input_ids": [...], "attention_mask": [...]}}``) a dict of them with the
    same number of samples. ``dtype`` and ``sample_shape`` may be dicts by input name."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"body is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or "inputs" not in doc:
        raise BadRequest('body must be a JSON object with an "inputs" field')
    data = doc["inputs"]
    if isinstance(data, dict):
        if not data:
            raise BadRequest('"inputs" names no input')
        out = {}
        for k, v in data.items():
            dt = dtype.get(k, "float32") if isinstance(dtype, dict) else dtype
            shp = sample_shape.get(k) if isinstance(sample_shape, dict) else None
            if dt not in _DTYPES:
                raise BadRequest(f'"inputs.{k}": unsupported dtype {dt!r}')
            out[k] = _parse_array(v, dt, shp, f'"inputs.{k}"')
        counts = {k: len(v) for k, v in out.items()}
        if len(set(counts.values())) != 1:
            raise BadRequest(f"named inputs have different numbers of samples: {counts}")
        return out
    if isinstance(dtype, dict):
        raise BadRequest('this model takes named inputs: send {"inputs": {"name": [...], ...}}')
    return _parse_array(data, dtype, sample_shape, '"inputs"')


def _to_json(y):
    if isinstance(y, (tuple, list)):
        return [_to_json(v) for v in y]
    if isinstance(y, dict):
        return {k: _to_json(v) for k, v in y.items()}
    return np.asarray(y).tolist()


class InferenceServer:
    """A threaded HTTP server in front of a model, batching concurrent requests.

    Args:
        model: a Module (or callable of one Tensor) run in eval mode without gradients.
        host, port: where to listen (port 0: an ephemeral port, see ``.port``).
        max_batch_size: most samples run together.
        max_latency_ms: how long the first request of a batch waits for others.
        max_request_bytes: larger bodies are refused with 413 before being read.
        input_dtype: dtype the JSON inputs are converted to (a dict by name for a model
            called with named inputs, e.g. ``{"input_ids": "int64"}``).
        input_shape: shape of one sample (a dict by name); requests of another shape get 400.

    Example:
        >>> import json, urllib.request
        >>> import tocha.core as torch
        >>> from tocha.core.serve import InferenceServer
        >>> srv = InferenceServer(torch.nn.Linear(2, 1), port=0).start()
        >>> url = f"http://127.0.0.1:{srv.port}/health"
        >>> json.load(urllib.request.urlopen(url))["status"]
        'ok'
        >>> srv.stop()
    """

    def __init__(
        self,
        model,
        host: str = "127.0.0.1",
        port: int = 8000,
        max_batch_size: int = 32,
        max_latency_ms: float = 5.0,
        max_request_bytes: int = 1 << 20,
        input_dtype: str | dict = "float32",
        input_shape=None,
        name: str = "model",
        timeout_s: float = 60.0,
    ):
        for dt in input_dtype.values() if isinstance(input_dtype, dict) else [input_dtype]:
            if dt not in _DTYPES:
                raise ValueError(
                    f"InferenceServer: input_dtype must be one of {sorted(_DTYPES)}, got {dt!r}"
                )
        self.model = model
        self.name = name
        self.input_dtype = input_dtype
        if input_shape is not None and not isinstance(input_shape, dict):
            input_shape = tuple(input_shape)
        self.input_shape = input_shape
        self.max_request_bytes = int(max_request_bytes)
        self.timeout_s = timeout_s
        if hasattr(model, "eval"):
            model.eval()
        self.batcher = Batcher(self._predict, max_batch_size, max_latency_ms)
        self.httpd = _HTTPServer((host, port), _make_handler(self))
        self._thread = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def _predict(self, x: np.ndarray):
        from .. import from_numpy, no_grad

        with no_grad():
            if isinstance(x, dict):
                y = self.model(**{k: from_numpy(np.ascontiguousarray(v)) for k, v in x.items()})
            else:
                y = self.model(from_numpy(np.ascontiguousarray(x)))
        return _numpy(y)

    def start(self) -> InferenceServer:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        try:
            self.httpd.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, so only if it runs
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()
        self.batcher.close()


def _numpy(y):
    if isinstance(y, (tuple, list)):
        return type(y)(_numpy(v) for v in y)
    if isinstance(y, dict):
        return {k: _numpy(v) for k, v in y.items()}
    if hasattr(y, "detach"):
        return y.detach().cpu().numpy()
    return np.asarray(y)


def _make_handler(server: InferenceServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tocha-serve/0.1"

        def log_message(self, format, *args):  # noqa: A002 - quiet: one line per request is noise
            pass

        def _send(self, code: int, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if code >= 400:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def _error(self, code: int, msg: str) -> None:
            self._send(code, {"error": msg, "status": code})

        def do_GET(self):  # noqa: N802
            if self.path == "/health":
                b = server.batcher
                self._send(
                    200,
                    {
                        "status": "ok",
                        "model": server.name,
                        "batches": b.batches,
                        "requests": b.requests,
                        "max_batch_size": b.max_batch_size,
                    },
                )
            elif self.path == "/predict":
                self._error(405, "use POST for /predict")
            else:
                self._error(404, f"no endpoint {self.path}; use POST /predict or GET /health")

        def do_POST(self):  # noqa: N802
            if self.path != "/predict":
                self._error(404, f"no endpoint {self.path}; use POST /predict or GET /health")
                return
            length = self.headers.get("Content-Length")
            if length is None:
                self._error(411, "Content-Length is required")
                return
            try:
                n = int(length)
                if n < 0:
                    raise ValueError
            except ValueError:
                self._error(400, f"bad Content-Length {length!r}")
                return
            if n > server.max_request_bytes:
                self._error(
                    413,
                    f"request body of {n} bytes exceeds the limit of "
                    f"{server.max_request_bytes} bytes",
                )
                return
            body = self.rfile.read(n)
            try:
                x = parse_inputs(body, server.input_dtype, server.input_shape)
            except BadRequest as e:
                self._error(400, str(e))
                return
            try:
                y = server.batcher.submit(x, timeout=server.timeout_s)
            except TimeoutError as e:
                self._error(503, str(e))
                return
            except Exception as e:  # the model refused the input (shape, dtype ...)
                self._error(
                    400
                    if isinstance(e, (ValueError, RuntimeError, TypeError, IndexError))
                    else 500,
                    f"model error: {type(e).__name__}: {e}",
                )
                return
            self._send(200, {"outputs": _to_json(y)})

        def do_PUT(self):  # noqa: N802
            self._error(405, f"method PUT not allowed on {self.path}")

        do_DELETE = do_PUT  # noqa: N815

    return Handler
