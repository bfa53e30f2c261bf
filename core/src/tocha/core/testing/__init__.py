"""tocha.core.testing: assert_close and make_tensor, for tocha's and the domain packages' tests."""

from __future__ import annotations

from ._asserts import assert_close, make_tensor

__all__ = ["assert_close", "make_tensor"]
