"""TVTensor: the base of the tensor subclasses that tag what a tensor holds (image, boxes, ...).

torch implements TVTensors with ``__torch_function__``; tocha.core has no such protocol, and no
``Tensor.as_subclass``. What it does have: every op builds a fresh plain ``Tensor`` for its
result, so "ops on a TVTensor return a plain Tensor" (torchvision's default) holds already.
What is left is done here with public pieces only:

* ``_alias(t, cls)`` plays ``t.as_subclass(cls)``: a ``cls`` object on ``t``'s memory that
  stays in ``t``'s graph (through a ``view_as`` node when ``t`` requires grad, as torch's
  ``AliasBackward0``).
* Every public Tensor method and operator is wrapped on TVTensor so that (a) ``clone``, ``to``,
  ``detach``, ``requires_grad_`` and ``pin_memory`` keep the type and metadata, (b) methods that
  return the TVTensor itself (in-place ops, ``contiguous``) hand back a plain alias, and (c)
  ``set_return_type("TVTensor")`` re-wraps every tensor result.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

import tocha.core as torch
from tocha.core import Tensor

from . import _torch_function_helpers as _helpers

__all__ = ["TVTensor"]


def _alias(t: Tensor, cls: type) -> Tensor:
    """``t.as_subclass(cls)``: a ``cls`` instance sharing ``t``'s memory and autograd graph."""
    as_subclass = getattr(Tensor, "as_subclass", None)
    if as_subclass is not None:  # a later tocha.core provides it: use it
        return as_subclass(t, cls)
    # Tensor(t) shares t's array; a view_as node stands in for torch's AliasBackward0 so that
    # gradients reaching the alias flow on to t (under no_grad view_as records nothing).
    src = t.view_as(t) if t.requires_grad else t
    out = Tensor.__new__(cls, src)
    if src.grad_fn is not None:
        out.requires_grad_(True)  # set while still a leaf: requires_grad_ ignores non-leaves
        out.grad_fn = src.grad_fn  # view_as has one output, so output_nr 0 is already right
    return out


def _reindent(text: str, old_prefix: str, new_prefix: str) -> str:
    """Swap the leading ``tensor(`` of a repr for ``Name(`` and shift continuation lines."""
    lines = text[len(old_prefix) :].split("\n")
    pad_old, pad_new = " " * len(old_prefix), " " * len(new_prefix)
    for i in range(1, len(lines)):
        if lines[i].startswith(pad_old):
            lines[i] = pad_new + lines[i][len(pad_old) :]
    return new_prefix + "\n".join(lines)


class TVTensor(Tensor):
    """Base class of all TVTensors (``Image``, ``Video``, ``Mask``, ``BoundingBoxes``,
    ``KeyPoints``); subclass it to define your own.

    A TVTensor is a zero-copy Tensor subclass. Operations on it return plain Tensors, except
    ``clone``, ``to``, ``detach``, ``requires_grad_`` and ``pin_memory``, which keep the type
    and metadata (see :func:`set_return_type` to change that).

    Subclasses define ``__new__`` (building a tensor with :meth:`_to_tensor` and wrapping it)
    and, when they carry metadata, ``_wrap`` and ``_wrap_output``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> img = tv_tensors.Image(torch.zeros(3, 2, 2))
        >>> isinstance(img, torch.Tensor), type(img * 2).__name__, type(img.clone()).__name__
        (True, 'Tensor', 'Image')
    """

    @staticmethod
    def _to_tensor(
        data: Any,
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> Tensor:
        if requires_grad is None:
            requires_grad = data.requires_grad if isinstance(data, Tensor) else False
        return torch.as_tensor(data, dtype=dtype, device=device).requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, tensor: Tensor, **metadata: Any) -> TVTensor:
        """``tensor`` as a ``cls`` (no copy); subclasses with metadata take it as keywords."""
        return _alias(tensor, cls)

    def _metadata(self) -> dict[str, Any]:
        """The keyword arguments ``_wrap`` needs to rebuild this TVTensor around a new tensor."""
        return {}

    @classmethod
    def _wrap_output(
        cls, output: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        if isinstance(output, Tensor) and not isinstance(output, cls):
            return cls._wrap(output)
        if isinstance(output, (tuple, list)):
            parts = [cls._wrap_output(part, args, kwargs) for part in output]
            make = getattr(type(output), "_make", None)  # namedtuples (torch.return_types)
            return make(parts) if make is not None else type(output)(parts)
        return output

    def _make_repr(self, **kwargs: Any) -> str:
        body = _reindent(Tensor.__repr__(self), "tensor(", f"{type(self).__name__}(")
        extra = ", ".join(f"{key}={value}" for key, value in kwargs.items())
        return f"{body[:-1]}, {extra})"

    def __repr__(self) -> str:
        return self._make_repr(**self._metadata())

    def __deepcopy__(self, memo: dict) -> TVTensor:
        # detach first: deepcopy is not part of the graph; the forced methods keep the metadata
        out = self.detach().clone().requires_grad_(self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        plain = Tensor.detach(self)  # the unwrapped method: a plain Tensor pickles as usual
        return (_rebuild_tv_tensor, (type(self), plain, dict(self.__dict__), self.requires_grad))


def _rebuild_tv_tensor(cls, tensor, state, requires_grad):
    out = _alias(tensor, cls)
    out.__dict__.update(state)
    if requires_grad:
        out.requires_grad_(True)
    return out


# Methods left as Tensor defines them: construction, identity, conversions to Python values,
# repr and pickling (overridden above), and those that never return a tensor.
_NOT_WRAPPED = frozenset(
    {
        "__new__", "__init__", "__repr__", "__format__", "__reduce_ex__", "__deepcopy__",
        "__hash__", "__array__", "__dlpack__", "__dlpack_device__", "__len__", "__iter__",
        "__bool__", "__float__", "__int__", "__complex__", "__index__", "__setitem__",
        "size", "dim", "ndimension", "numel", "nelement", "item", "tolist", "numpy",
        "element_size", "is_contiguous", "is_floating_point", "is_complex", "data_ptr",
        "stride", "storage_offset", "get_device", "backward", "register_hook", "retain_grad",
    }
)  # fmt: skip


def _wrap_method(name: str, fn):
    force = name in _helpers._FORCE_TORCHFUNCTION_SUBCLASS

    def method(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        if force or _helpers._TORCHFUNCTION_SUBCLASS:
            return type(self)._wrap_output(out, (self, *args), kwargs)
        if isinstance(out, TVTensor):
            # an in-place op or a no-op (``contiguous``) returned the TVTensor itself: torch
            # hands back a plain alias of it
            return _alias(out, Tensor)
        return out

    method.__name__ = name
    method.__qualname__ = f"TVTensor.{name}"
    # a pointer rather than a copy of Tensor's docstring: doctest would run its examples again
    method.__doc__ = f"``Tensor.{name}`` on a TVTensor (see ``tocha.core.Tensor.{name}``)."
    return method


def _install_methods() -> None:
    for name, fn in vars(Tensor).items():
        if not isinstance(fn, types.FunctionType) or name in _NOT_WRAPPED:
            continue
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue  # tocha-internal helpers
        setattr(TVTensor, name, _wrap_method(name, fn))


_install_methods()
