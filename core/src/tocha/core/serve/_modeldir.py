"""The model directory format: ``config.json`` naming an installed builder plus
``model.safetensors`` holding the state dict. Nothing in the directory is executed."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import tempfile

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


class ModelDirError(RuntimeError):
    """A model directory that cannot be loaded (the message names the file and the problem)."""


def _resolve_builder(spec: str, directory: str):
    if not isinstance(spec, str) or ":" not in spec:
        raise ModelDirError(
            f"{os.path.join(directory, CONFIG)}: 'builder' must be 'package.module:callable', "
            f"got {spec!r}"
        )
    mod_name, _, attr = spec.partition(":")
    root = os.path.realpath(directory) + os.sep
    top = mod_name.split(".")[0]
    try:
        found = importlib.util.find_spec(top)  # locates without running the module
    except (ImportError, ValueError):
        found = None
    places = []
    if found is not None:
        places = [found.origin or ""] + list(found.submodule_search_locations or [])
    if any(p and os.path.realpath(p).startswith(root) for p in places):
        # refuse code that lives in the served directory itself: loading must not run it
        raise ModelDirError(
            f"{os.path.join(directory, CONFIG)}: builder {spec!r} resolves to a file inside "
            "the model directory; builders must come from an installed package"
        )
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ModelDirError(
            f"{os.path.join(directory, CONFIG)}: builder module {mod_name!r} is not importable "
            f"({e}); it must come from an installed package"
        ) from None
    obj = mod
    for part in attr.split("."):
        if part.startswith("_") or not hasattr(obj, part):
            raise ModelDirError(
                f"{os.path.join(directory, CONFIG)}: builder {spec!r}: {mod_name} has no public "
                f"attribute {attr!r}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelDirError(f"{os.path.join(directory, CONFIG)}: builder {spec!r} is not callable")
    return obj


_QUANTIZATIONS = ("dynamic_int8", "weight_only_int8", "dynamic_float16")


def _quantize(model, kind, where: str):
    """The built float model turned into the quantized one the weights were saved from."""
    if kind is None:
        return model
    from .. import float16, nn
    from ..ao import quantization as q

    funcs = {
        "dynamic_int8": q.quantize_dynamic,
        "weight_only_int8": q.quantize_weight_only,
        "dynamic_float16": lambda m, inplace: q.quantize_dynamic(m, dtype=float16, inplace=inplace),
    }
    if kind not in funcs:
        raise ModelDirError(
            f"{where}: 'quantization' must be one of {list(_QUANTIZATIONS)} or absent, got {kind!r}"
        )
    # quantization swaps submodules (as torch's does); a bare layer is swapped through a holder
    holder = nn.Sequential(model)
    return funcs[kind](holder, inplace=True)[0]


def load_model_dir(directory: str | os.PathLike):
    """``(model, config)`` from a model directory; the model is in eval mode.

    ``config.json`` keys: ``builder`` ("package.module:callable", required), ``kwargs`` (JSON
    arguments for the builder), ``quantization`` ("dynamic_int8", "weight_only_int8" or
    "dynamic_float16": the built model is quantized before its weights are loaded),
    ``input_dtype`` (default "float32"), ``input_shape`` (the shape of one sample, optional:
    requests are checked against it), and the serving defaults ``max_batch_size`` and
    ``max_latency_ms``.

    Example:
        >>> import tempfile
        >>> import tocha.core as torch
        >>> from tocha.core.serve import save_model_dir, load_model_dir
        >>> d = tempfile.mkdtemp()
        >>> save_model_dir(torch.nn.Linear(3, 2), d, "tocha.core.nn:Linear", {"in_features": 3,
        ...                "out_features": 2}, input_shape=[3])
        >>> model, cfg = load_model_dir(d)
        >>> type(model).__name__, cfg["input_shape"]
        ('Linear', [3])
    """
    from ..safetensors import load_file

    directory = os.fspath(directory)
    cpath = os.path.join(directory, CONFIG)
    try:
        with open(cpath, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except FileNotFoundError:
        raise ModelDirError(f"{cpath}: missing (a model directory needs {CONFIG})") from None
    except json.JSONDecodeError as e:
        raise ModelDirError(f"{cpath}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise ModelDirError(f"{cpath}: expected a JSON object, got {type(cfg).__name__}")
    builder = _resolve_builder(cfg.get("builder"), directory)
    kwargs = cfg.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ModelDirError(f"{cpath}: 'kwargs' must be an object, got {type(kwargs).__name__}")
    model = builder(**kwargs)
    model = _quantize(model, cfg.get("quantization"), cpath)
    wpath = os.path.join(directory, cfg.get("weights", WEIGHTS))
    if os.path.exists(wpath):
        try:
            state = load_file(wpath)
        except Exception as e:
            raise ModelDirError(f"{wpath}: cannot read the weights ({e})") from None
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ModelDirError(
                f"{wpath}: weights do not match the model built by {cfg['builder']}: "
                f"missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]}"
            )
    elif "weights" in cfg:
        raise ModelDirError(f"{wpath}: missing (named by 'weights' in {CONFIG})")
    model.eval()
    return model, cfg


def save_model_dir(
    model,
    directory: str | os.PathLike,
    builder: str,
    kwargs: dict | None = None,
    input_shape: list | None = None,
    input_dtype: str = "float32",
    quantization: str | None = None,
    **serving,
) -> None:
    """Write ``model`` as a model directory (weights as safetensors, config as JSON), each
    file atomically. With ``quantization`` (see ``load_model_dir``), ``model`` is the quantized
    model and ``builder`` builds its float original."""
    if quantization is not None and quantization not in _QUANTIZATIONS:
        raise ValueError(
            f"save_model_dir: quantization must be one of {list(_QUANTIZATIONS)}, "
            f"got {quantization!r}"
        )
    from ..safetensors import save_file

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=".weights-", dir=directory)
    os.close(fd)
    try:
        save_file(state, tmp)
        os.replace(tmp, os.path.join(directory, WEIGHTS))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    cfg = {"builder": builder, "kwargs": kwargs or {}, "input_dtype": input_dtype}
    if input_shape is not None:
        cfg["input_shape"] = list(input_shape)
    if quantization is not None:
        cfg["quantization"] = quantization
    cfg.update(serving)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, os.path.join(directory, CONFIG))
