"""Attach each op family's functions to Tensor as methods (``x.exp()``, ``x.add_(y)``, ``x + y``).

Every family module in `_ops` exports three things:
    FUNCTIONS       names exported at ``tocha.core.<name>``
    TENSOR_METHODS  {method name: function taking the tensor first}
    INPLACE         {``name_``: out-of-place function}; the in-place method is generated
"""

from __future__ import annotations

from ._ops.inplace import make_inplace
from ._tensor import Tensor


def bind(modules) -> None:
    for mod in modules:
        for name, fn in getattr(mod, "TENSOR_METHODS", {}).items():
            setattr(Tensor, name, fn)
        for name, fn in getattr(mod, "INPLACE", {}).items():
            setattr(Tensor, name, make_inplace(fn, name))
