"""Rank-0 checkpointing: one rank writes, every rank reads the same file after a barrier."""

from __future__ import annotations

import os

from .distributed_c10d import _group, barrier, broadcast_object_list


def save_on_rank0(obj, f, group=None) -> None:
    """Save ``obj`` with ``tocha.core.save`` on rank 0 of ``group`` only, then barrier.

    Every rank of the group must call it (it ends with a barrier), so when it returns on any
    rank the file is complete (the write is atomic) and :func:`load_on_all_ranks` may read it.
    An error while saving on rank 0 is raised on every rank (naming the file), so no rank
    goes on to wait for a file that will never come.

    Example (every rank)::

        dist.save_on_rank0({"model": model.state_dict(), "epoch": epoch}, "ckpt.pt")
        state = dist.load_on_all_ranks("ckpt.pt")
    """
    from ..serialization import save

    pg = _group(group, "save_on_rank0")
    if pg is None:
        return
    error = None
    if pg.rank() == 0:
        try:
            save(obj, f)
        except Exception as e:  # sent to the other ranks, then raised everywhere
            error = f"{type(e).__name__}: {e}"
    status = [error]
    broadcast_object_list(status, src=pg.ranks[0], group=group)
    if status[0] is not None:
        name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else repr(f)
        raise RuntimeError(f"save_on_rank0: rank 0 failed to save {name}: {status[0]}")
    barrier(group)


def load_on_all_ranks(f, map_location=None, group=None, **kwargs):
    """Barrier, then ``tocha.core.load(f, map_location)`` on every rank of ``group``.

    The barrier makes a file written by :func:`save_on_rank0` (or by rank 0 in any other way
    before it reaches this call) visible to every rank before any rank reads it.
    """
    from ..serialization import load

    if _group(group, "load_on_all_ranks") is not None:
        barrier(group)
    return load(f, map_location=map_location, **kwargs)
