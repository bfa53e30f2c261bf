"""Flattening parameters into one vector and back (torch.nn.utils.convert_parameters)."""

from __future__ import annotations

from collections.abc import Iterable

from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param: Tensor, old: int | None) -> int:
    dev = param.get_device() if param.is_cuda else -1
    if old is not None and dev != old:
        raise TypeError(
            "Found two parameters on different devices, this is currently not supported."
        )
    return dev


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the flattened ``parameters`` into one vector (differentiable).

    Example:
        >>> import tocha.core as torch
        >>> ps = [torch.ones(2, 2), torch.zeros(3)]
        >>> torch.nn.utils.parameters_to_vector(ps)
        tensor([1., 1., 1., 1., 0., 0., 0.])
    """
    from ..._ops.shape import cat

    dev = None
    vec = []
    for param in parameters:
        dev = _check_param_device(param, dev)
        vec.append(param.view(-1))
    return cat(vec)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into ``parameters`` (their ``.data`` becomes views
    of ``vec``, as in torch).

    Example:
        >>> import tocha.core as torch
        >>> ps = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))]
        >>> torch.nn.utils.vector_to_parameters(torch.tensor([1.0, 2.0, 3.0]), ps)
        >>> ps[0].data, ps[1].data
        (tensor([1., 2.]), tensor([3.]))
    """
    if not isinstance(vec, Tensor):
        from ..modules.module import _typename

        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    dev = None
    pointer = 0
    for param in parameters:
        dev = _check_param_device(param, dev)
        n = param.numel()
        param.data = vec[pointer : pointer + n].view_as(param).data
        pointer += n
