"""``python -m tocha.core.serve MODEL_DIR``: serve a model directory over HTTP."""

from __future__ import annotations

import argparse
import contextlib
import sys


def main(argv: list[str] | None = None) -> int:
    from . import InferenceServer, ModelDirError, load_model_dir

    p = argparse.ArgumentParser(prog="python -m tocha.core.serve", description=__doc__)
    p.add_argument("model_dir", help="directory with config.json and model.safetensors")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch-size", type=int, default=None)
    p.add_argument("--max-latency-ms", type=float, default=None)
    p.add_argument("--max-request-bytes", type=int, default=1 << 20)
    a = p.parse_args(argv)
    try:
        model, cfg = load_model_dir(a.model_dir)
    except ModelDirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    srv = InferenceServer(
        model,
        host=a.host,
        port=a.port,
        max_batch_size=a.max_batch_size or cfg.get("max_batch_size", 32),
        max_latency_ms=a.max_latency_ms
        if a.max_latency_ms is not None
        else cfg.get("max_latency_ms", 5.0),
        max_request_bytes=a.max_request_bytes,
        input_dtype=cfg.get("input_dtype", "float32"),
        input_shape=cfg.get("input_shape"),
        name=cfg["builder"],
    )
    print(
        f"serving {cfg['builder']} on http://{a.host}:{srv.port} (POST /predict, GET /health)",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
