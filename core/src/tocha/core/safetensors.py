"""safetensors files (the ``safetensors.torch`` API): ``load_file``, ``save_file``, ``load``,
``save`` and ``safe_open``, bfloat16 included, with no dependency.

Example:
    >>> import os, tempfile
    >>> import tocha.core as torch
    >>> from tocha.core.safetensors import load_file, save_file
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, path)
    >>> load_file(path)["w"]
    tensor([1., 1.], dtype=torch.bfloat16)
"""

from __future__ import annotations

from ._safetensors import load, load_file, safe_open, save, save_file

__all__ = ["load", "load_file", "safe_open", "save", "save_file"]
