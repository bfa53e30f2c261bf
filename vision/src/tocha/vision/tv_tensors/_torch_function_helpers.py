"""The return type of tensor methods called on TVTensors (``set_return_type``)."""

from __future__ import annotations

# False: methods on a TVTensor return plain Tensors (torchvision's default); True: TVTensors.
_TORCHFUNCTION_SUBCLASS = False

_CHOICES = {"tensor": False, "tvtensor": True}


class _ReturnTypeCM:
    """Restores the previous return type when used as a context manager."""

    def __init__(self, to_restore: bool):
        self.to_restore = to_restore

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _TORCHFUNCTION_SUBCLASS
        _TORCHFUNCTION_SUBCLASS = self.to_restore


def set_return_type(return_type: str) -> _ReturnTypeCM:
    """Set the return type of tensor operations on TVTensors: ``"Tensor"`` or ``"TVTensor"``.

    By default (``"Tensor"``) an operation on an ``Image``, ``BoundingBoxes``, ... returns a
    plain Tensor; with ``"TVTensor"`` it returns the TVTensor type of the input, with its
    metadata. Works as a global switch or, used in a ``with`` statement, for that block only.
    Transforms are not affected: they always return the type they were given.

    In tocha this applies to tensor *methods and operators* (``img + 2``, ``img.flip(-1)``);
    functions called on the module (``torch.add(img, 2)``) always return plain Tensors, since
    tocha.core has no ``__torch_function__`` protocol.

    Args:
        return_type: ``"Tensor"`` or ``"TVTensor"`` (case-insensitive).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision import tv_tensors
        >>> img = tv_tensors.Image(torch.zeros(3, 2, 2))
        >>> type(img + 2).__name__
        'Tensor'
        >>> with tv_tensors.set_return_type("TVTensor"):
        ...     type(img + 2).__name__
        'Image'
        >>> type(img + 2).__name__
        'Tensor'
    """
    global _TORCHFUNCTION_SUBCLASS
    key = return_type.lower() if isinstance(return_type, str) else return_type
    if key not in _CHOICES:
        raise ValueError(
            f"set_return_type: return_type must be 'Tensor' or 'TVTensor', got {return_type!r}"
        )
    to_restore = _TORCHFUNCTION_SUBCLASS
    _TORCHFUNCTION_SUBCLASS = _CHOICES[key]
    return _ReturnTypeCM(to_restore)


def _must_return_subclass() -> bool:
    return _TORCHFUNCTION_SUBCLASS


# Methods that keep the TVTensor type (and metadata) whatever the return type, as in torchvision.
_FORCE_TORCHFUNCTION_SUBCLASS = frozenset({"clone", "to", "detach", "requires_grad_", "pin_memory"})
