"""Thread-local autograd state (grad mode, inference mode, anomaly mode): the bottom layer."""

from __future__ import annotations

import threading


class _Mode(threading.local):
    grad = True
    inference = False
    anomaly = False


MODE = _Mode()
