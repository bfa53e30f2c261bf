"""``tocha.core.serve``: a small HTTP inference server with dynamic batching.

Run ``python -m tocha.core.serve MODEL_DIR [--port 8000]`` on a directory written by
``save_model_dir`` (``config.json`` naming an installed builder, ``model.safetensors``), then
``POST /predict`` with ``{"inputs": [sample, ...]}`` and read ``{"outputs": [...]}``;
``GET /health`` reports the model and the batch counters.
"""

from ._batcher import Batcher
from ._modeldir import ModelDirError, load_model_dir, save_model_dir
from ._server import BadRequest, InferenceServer, parse_inputs

__all__ = [
    "BadRequest",
    "Batcher",
    "InferenceServer",
    "ModelDirError",
    "load_model_dir",
    "parse_inputs",
    "save_model_dir",
]
