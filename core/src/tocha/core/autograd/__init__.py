"""tocha.core.autograd: define-by-run reverse-mode differentiation with higher-order gradients."""

from __future__ import annotations

import numpy as np

from .._ops._util import xp_of as _xp
from .._tensor import Tensor, wrap
from . import engine, functional
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .function import Function, FunctionCtx, Node, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import gradcheck, gradgradcheck

__all__ = [
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "Node",
    "once_differentiable",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "gradcheck",
    "gradgradcheck",
    "functional",
]


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grads(outputs: list, grads: list, create_graph: bool, where: str) -> list:
    if grads and len(grads) != len(outputs):
        raise RuntimeError(f"{where}: got {len(grads)} grad_outputs for {len(outputs)} outputs")
    res = []
    for i, out in enumerate(outputs):
        g = grads[i] if grads else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind not in "fcV":
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {out.dtype}"
                )
            data = out._data
            xp = np if data.__class__ is np.ndarray else _xp(data)
            g = wrap(xp.ones(data.shape, data.dtype))
        elif not isinstance(g, Tensor):
            from .._ops.creation import tensor as _tensor

            g = _tensor(g, dtype=out.dtype)
        elif g._data.shape != out._data.shape:
            raise RuntimeError(
                f"{where}: Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                f"output[{i}] has a shape of {tuple(out.shape)}."
            )
        res.append(g)
    return res


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs=None,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of graph leaves.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([1., 2.], requires_grad=True)
        >>> torch.autograd.backward((x * x).sum()); x.grad
        tensor([2., 4.])
    """
    if grad_tensors is None and inputs is None and tensors.__class__ is Tensor:
        # the common `loss.backward()`: skip the general argument handling
        data = tensors._data
        if tensors._rg and data.size == 1 and data.dtype.kind in "fV":
            xp = np if data.__class__ is np.ndarray else _xp(data)
            engine.run_backward(
                (tensors,),
                (wrap(xp.ones(data.shape, data.dtype)),),
                retain_graph=create_graph if retain_graph is None else retain_graph,
                create_graph=create_graph,
            )
            return
    outputs = [tensors] if isinstance(tensors, Tensor) else _as_list(tensors)
    grads = _as_list(grad_tensors)
    for t in outputs:
        if not t._rg:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outputs, grads, create_graph, "backward")
    inp = _as_list(inputs) if inputs is not None else None
    if inp is not None and not inp:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    if inp is None:
        engine.run_backward(outputs, roots, retain_graph=retain_graph, create_graph=create_graph)
        return
    grads_out = engine.run_backward(
        outputs,
        roots,
        retain_graph=retain_graph,
        create_graph=create_graph,
        inputs=inp,
        accumulate=False,
        allow_unused=True,
    )
    for t, g in zip(inp, grads_out):
        if g is None:
            continue
        g = g if create_graph else g.detach()
        t.grad = g.clone() if t.grad is None else t.grad + g


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs`` (nothing is accumulated).

    With ``create_graph=True`` the result is itself differentiable (higher-order gradients).

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor(3.0, requires_grad=True)
        >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
        >>> g, torch.autograd.grad(g, x)[0]
        (tensor(27., grad_fn=<MulBackward0>), tensor(18.))
    """
    outs = _as_list(outputs)
    inps = _as_list(inputs)
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported")
    for i, t in enumerate(outs):
        if not t._rg:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    roots = _root_grads(outs, _as_list(grad_outputs), create_graph, "grad")
    res = engine.run_backward(
        outs,
        roots,
        retain_graph=retain_graph,
        create_graph=create_graph,
        inputs=inps,
        accumulate=False,
        allow_unused=allow_unused,
    )
    if materialize_grads:
        from .._ops.creation import zeros_like

        res = [zeros_like(t) if r is None else r for t, r in zip(inps, res)]
    if not create_graph:
        res = [r.detach() if r is not None and r.grad_fn is not None else r for r in res]
    return tuple(res)
