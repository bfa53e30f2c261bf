"""Thread-local autograd state (grad mode, inference mode, anomaly mode, autocast) and the
process-wide deterministic-algorithms switch: the bottom layer."""

from __future__ import annotations

import threading


class _Mode(threading.local):
    grad = True
    inference = False
    anomaly = False
    # {device type: NumPy dtype} of the device types autocast is on for, None when it is off
    # everywhere: the one attribute an autocast-listed op reads before running as it would
    # without autocast (tocha.core.amp sets it)
    autocast = None
    # tocha.core.amp's per-thread bookkeeping (dtypes, cache flag, nesting depth, cast cache)
    autocast_info = None


MODE = _Mode()


class _Deterministic:
    """``torch.use_deterministic_algorithms``: process-wide, as in torch (not per thread).

    GPU kernels that have an atomics-based and a deterministic variant (scatter/index_add,
    embedding-bag backward, segment reductions) read ``enabled`` to pick the sorted-segment
    variant; with ``warn_only`` an op that has no deterministic variant warns instead of
    raising. NumPy CPU kernels are deterministic already, so the CPU paths ignore it.
    """

    enabled = False
    warn_only = False


DETERMINISTIC = _Deterministic()
