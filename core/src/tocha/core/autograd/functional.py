"""Higher-level differentiation: jacobian, hessian, vjp, jvp, hvp, vhp (torch.autograd.functional).

All are built on reverse mode (``autograd.grad``); ``jvp`` uses the double-vjp trick, so every
op that supports double backward works here too.
"""

from __future__ import annotations

from .._tensor import Tensor
from .grad_mode import enable_grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]


def _tuple(x, name: str) -> tuple[tuple, bool]:
    if isinstance(x, Tensor):
        return (x,), False
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return tuple(x), True
    raise TypeError(
        f"autograd.functional.{name}: expected a Tensor or a tuple of Tensors, got {type(x).__name__}"
    )


def _prepare(inputs, create_graph: bool) -> tuple:
    # Work on fresh leaves so the caller's graph is untouched unless create_graph asks for it.
    return tuple(t if create_graph and t._rg else t.detach().requires_grad_(True) for t in inputs)


def _grad(outputs, inputs, grad_outputs, create_graph, strict, name):
    from . import grad

    res = grad(
        outputs,
        inputs,
        grad_outputs,
        retain_graph=True,
        create_graph=create_graph,
        allow_unused=True,
    )
    out = []
    for i, (g, x) in enumerate(zip(res, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"autograd.functional.{name}: the output of the user-provided function is "
                    f"independent of input {i}. This is not allowed in strict mode."
                )
            from .._ops.creation import zeros_like

            g = zeros_like(x)
        out.append(g)
    return tuple(out)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product.

    Example:
        >>> import tocha.core as torch
        >>> out, g = torch.autograd.functional.vjp(lambda x: x ** 2, torch.tensor([1., 2.]),
        ...                                        torch.tensor([1., 1.]))
        >>> g
        tensor([2., 4.])
    """
    with enable_grad():
        xs, is_tuple = _tuple(inputs, "vjp")
        xs = _prepare(xs, create_graph)
        outs = func(*xs)
        outs_t, out_tuple = _tuple(outs, "vjp")
        if v is None:
            if any(o.numel() != 1 for o in outs_t):
                raise RuntimeError(
                    "autograd.functional.vjp: the vector v can only be None if the user-provided "
                    "function returns a single Tensor with a single element."
                )
            vs = None
        else:
            vs, _ = _tuple(v, "vjp")
        grads = _grad(outs_t, xs, vs, create_graph, strict, "vjp")
    outs_ret = outs if create_graph else _detach(outs)
    grads = grads if create_graph else tuple(g.detach() for g in grads)
    return outs_ret, (grads if is_tuple else grads[0])


def _detach(x):
    if isinstance(x, Tensor):
        return x.detach()
    return type(x)(t.detach() for t in x)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product, via two reverse passes."""
    from .._ops.creation import zeros_like

    with enable_grad():
        xs, is_tuple = _tuple(inputs, "jvp")
        xs = _prepare(xs, create_graph)
        outs = func(*xs)
        outs_t, out_tuple = _tuple(outs, "jvp")
        if v is None:
            if any(x.numel() != 1 for x in xs):
                raise RuntimeError(
                    "autograd.functional.jvp: the vector v can only be None if the input to the "
                    "user-provided function is a single Tensor with a single element."
                )
            from .._ops.creation import ones_like

            vs = tuple(ones_like(x) for x in xs)
        else:
            vs, _ = _tuple(v, "jvp")
        # u -> J^T u is linear; differentiating <J^T u, v> with respect to u gives J v.
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs_t)
        gx = _grad(outs_t, xs, us, True, strict, "jvp")
        res = _grad(gx, us, vs, create_graph, strict, "jvp")
    outs_ret = outs if create_graph else _detach(outs)
    res = res if create_graph else tuple(r.detach() for r in res)
    return outs_ret, (res if out_tuple else res[0])


def jacobian(
    func,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` per pair.

    Example:
        >>> import tocha.core as torch
        >>> torch.autograd.functional.jacobian(lambda x: x ** 2, torch.tensor([1., 2.]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    from .._ops.creation import zeros_like
    from .._ops.shape import stack

    with enable_grad():
        xs, is_tuple = _tuple(inputs, "jacobian")
        xs = _prepare(xs, create_graph)
        outs = func(*xs)
        outs_t, out_tuple = _tuple(outs, "jacobian")
        per_output = []
        for out in outs_t:
            flat = out.reshape(-1)
            rows = [[] for _ in xs]
            for k in range(flat.numel()):
                if out._rg:
                    gs = _grad((flat[k],), xs, None, create_graph, strict, "jacobian")
                else:
                    if strict:
                        raise RuntimeError(
                            "autograd.functional.jacobian: output is independent of the inputs "
                            "(strict mode)"
                        )
                    gs = tuple(zeros_like(x) for x in xs)
                for i, g in enumerate(gs):
                    rows[i].append(g)
            jacs = []
            for i, x in enumerate(xs):
                if rows[i]:
                    j = stack(rows[i]).reshape(tuple(out.shape) + tuple(x.shape))
                else:
                    j = zeros_like(x).reshape((0,) + tuple(x.shape))
                    j = j.reshape(tuple(out.shape) + tuple(x.shape))
                jacs.append(j if create_graph else j.detach())
            per_output.append(tuple(jacs) if is_tuple else jacs[0])
    return tuple(per_output) if out_tuple else per_output[0]


def hessian(
    func,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of a scalar function: shape ``input.shape + input.shape`` per input pair.

    Example:
        >>> import tocha.core as torch
        >>> torch.autograd.functional.hessian(lambda x: (x ** 3).sum(), torch.tensor([1., 2.]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    xs, is_tuple = _tuple(inputs, "hessian")

    def grad_fn(*args):
        out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError(
                "autograd.functional.hessian: the function given to hessian should return a "
                "single Tensor with a single element"
            )
        return _grad((out.reshape(()),), args, None, True, strict, "hessian")

    res = jacobian(grad_fn, xs, create_graph=create_graph, strict=strict)
    if not is_tuple:
        return res[0][0]
    return res


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar function (Hessian-vector product)."""
    with enable_grad():
        xs, is_tuple = _tuple(inputs, "hvp")
        xs = _prepare(xs, create_graph)
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError(
                "autograd.functional.hvp: the function given to hvp should return a single "
                "Tensor with a single element"
            )
        vs, _ = _tuple(v, "hvp")
        g = _grad((out,), xs, None, True, strict, "hvp")
        res = _grad(g, xs, vs, create_graph, strict, "hvp")
    res = res if create_graph else tuple(r.detach() for r in res)
    return (out if create_graph else out.detach()), (res if is_tuple else res[0])


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)``; equal to ``hvp`` since the Hessian is symmetric."""
    return hvp(func, inputs, v, create_graph=create_graph, strict=strict)
