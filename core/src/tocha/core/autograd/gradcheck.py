"""gradcheck / gradgradcheck: analytical gradients against central finite differences."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor, wrap

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,) if not isinstance(x, list) else tuple(x)


def _diff_outputs(outputs):
    return [o for o in _as_tuple(outputs) if isinstance(o, Tensor) and o._data.dtype.kind in "fc"]


def _numerical_jacobian(fn, inputs, diff_idx, eps):
    """Per (input, output) pair a matrix J[k, j] = d out_k / d in_j by central differences."""
    from .grad_mode import no_grad

    with no_grad():
        base = [o._data.copy() for o in _diff_outputs(fn(*inputs))]
    jac = {}
    for i in diff_idx:
        x = inputs[i]
        flat = x._data.reshape(-1)  # a view: perturbing it perturbs the input
        if flat.size and not np.shares_memory(flat, x._data):
            raise GradcheckError("gradcheck: inputs must be contiguous tensors")
        cols = [np.zeros((o.size, flat.size), dtype=o.dtype) for o in base]
        for j in range(flat.size):
            orig = flat[j].item()
            flat[j] = orig + eps
            with no_grad():
                plus = [o._data.copy() for o in _diff_outputs(fn(*inputs))]
            flat[j] = orig - eps
            with no_grad():
                minus = [o._data.copy() for o in _diff_outputs(fn(*inputs))]
            flat[j] = orig
            for k, (p, m) in enumerate(zip(plus, minus)):
                cols[k][:, j] = ((p - m) / (2 * eps)).reshape(-1)
        for k, c in enumerate(cols):
            jac[(i, k)] = c
    return jac, base


def _analytical_jacobian(fn, inputs, diff_idx, base):
    from . import grad as autograd_grad

    outs = _diff_outputs(fn(*inputs))
    jac = {}
    diff_inputs = [inputs[i] for i in diff_idx]
    for k, out in enumerate(outs):
        rows = {
            i: np.zeros((out._data.size, inputs[i]._data.size), dtype=out._data.dtype)
            for i in diff_idx
        }
        if not out._rg:
            for i in diff_idx:
                jac[(i, k)] = rows[i]
            continue
        for r in range(out._data.size):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[r] = 1
            grads = autograd_grad(
                out,
                diff_inputs,
                grad_outputs=wrap(seed.reshape(out._data.shape)),
                retain_graph=True,
                allow_unused=True,
            )
            for i, g in zip(diff_idx, grads):
                if g is not None:
                    rows[i][r, :] = g._data.reshape(-1)
        for i in diff_idx:
            jac[(i, k)] = rows[i]
    return jac


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    fast_mode: bool = False,
    **kwargs,
) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against finite differences.

    Inputs that require grad should be float64. Returns True, or raises GradcheckError
    naming the input, the output and the worst entry.

    Example:
        >>> import tocha.core as torch
        >>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
        >>> torch.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x._rg]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64 and inputs[i]._data.dtype != np.complex128:
            import warnings

            warnings.warn(
                f"gradcheck: input {i} is {inputs[i].dtype}, not double precision; the check "
                "will likely fail",
                stacklevel=2,
            )
    num, base = _numerical_jacobian(func, inputs, diff_idx, eps)
    ana = _analytical_jacobian(func, inputs, diff_idx, base)
    for key, n in num.items():
        a = ana[key]
        if not np.allclose(a, n, rtol=rtol, atol=atol):
            i, k = key
            bad = np.abs(a - n) - (atol + rtol * np.abs(n))
            r, c = np.unravel_index(int(np.argmax(bad)), bad.shape)
            msg = (
                f"Jacobian mismatch for output {k} with respect to input {i},\n"
                f"numerical:{n}\nanalytical:{a}\n"
                f"worst entry [{r}, {c}]: numerical {n[r, c]} vs analytical {a[r, c]}"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    **kwargs,
) -> bool:
    """Check second derivatives: gradcheck of ``inputs -> grad(func(inputs), inputs, v)``.

    ``v`` (``grad_outputs``) is random when not given and is also differentiated, as torch does.
    """
    from . import grad as autograd_grad

    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x._rg]
    outs = _diff_outputs(func(*inputs))
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = tuple(
            wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_()
            for o in outs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_grad(*args):
        xs, vs = args[:n_in], args[n_in:]
        out = [o for o in _diff_outputs(func(*xs)) if o._rg]
        used_vs = [v for o, v in zip(_diff_outputs(func(*xs)), vs) if o._rg]
        grads = autograd_grad(
            out,
            [xs[i] for i in diff_idx],
            grad_outputs=used_vs,
            create_graph=True,
            allow_unused=True,
        )
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_grad,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
    )
