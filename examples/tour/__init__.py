"""The sections of ``examples/tour.py``: one module per package, each a ``run(ctx)`` function.

A section returns summary rows ``(what, value)``; it raises :class:`Skip` when its package or
its data is not installed, so the tour prints "skipped: <why>" instead of crashing.
"""

from ._common import Context, Skip, data_dir, require

__all__ = ["Context", "Skip", "data_dir", "require"]
