"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode (thread-local, like torch)."""

from __future__ import annotations

import functools

from .._mode import MODE

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
]


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for autograd."""
    return MODE.grad


def is_inference_mode_enabled() -> bool:
    return MODE.inference


class _DecoratorContext:
    """Base for grad-mode context managers that also work as decorators (like torch)."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)

        return wrapper

    _args: tuple = ()


class no_grad(_DecoratorContext):
    """Disable gradient recording inside the block or decorated function.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self):
        self._prev = MODE.grad
        MODE.grad = False

    def __exit__(self, *exc):
        MODE.grad = self._prev


class enable_grad(_DecoratorContext):
    """Enable gradient recording inside a ``no_grad`` block."""

    def __enter__(self):
        self._prev = MODE.grad
        MODE.grad = True

    def __exit__(self, *exc):
        MODE.grad = self._prev


class set_grad_enabled(_DecoratorContext):
    """Set grad mode to ``mode``; usable as a function, context manager or decorator."""

    def __init__(self, mode: bool):
        self._args = (mode,)
        self._prev = MODE.grad
        MODE.grad = bool(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        MODE.grad = self._prev


class inference_mode(_DecoratorContext):
    """Like ``no_grad``; tensors made inside are inference tensors (``is_inference()``)."""

    def __init__(self, mode: bool = True):
        self._args = (mode,)
        self.mode = mode

    def __enter__(self):
        self._prev = (MODE.grad, MODE.inference)
        if self.mode:
            MODE.grad, MODE.inference = False, True

    def __exit__(self, *exc):
        MODE.grad, MODE.inference = self._prev
