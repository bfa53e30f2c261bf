"""Anomaly detection: name the op whose backward produced NaN, with its forward traceback."""

from __future__ import annotations

from .grad_mode import MODE, _DecoratorContext

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    return MODE.anomaly


class detect_anomaly(_DecoratorContext):
    """Inside this block, backward raises if any op's gradient contains NaN, naming the op.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor(-1.0, requires_grad=True)
        >>> with torch.autograd.detect_anomaly():
        ...     try:
        ...         x.sqrt().backward()
        ...     except RuntimeError as e:
        ...         print(str(e).splitlines()[0])
        Function 'SqrtBackward0' returned nan values in its 0th output.
    """

    def __init__(self, check_nan: bool = True):
        self._args = (check_nan,)
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = MODE.anomaly
        MODE.anomaly = self.check_nan

    def __exit__(self, *exc):
        MODE.anomaly = self._prev


class set_detect_anomaly(_DecoratorContext):
    """Turn anomaly detection on or off (function, context manager or decorator)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._args = (mode, check_nan)
        self._prev = MODE.anomaly
        MODE.anomaly = bool(mode) and check_nan

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        MODE.anomaly = self._prev
