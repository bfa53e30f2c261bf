"""Ready-made parametrizations (torch.nn.utils.parametrizations): weight_norm, spectral_norm,
orthogonal."""

from __future__ import annotations

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ..modules.module import Module
from . import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _norm_except_dim(v: Tensor, pow: float, dim: int) -> Tensor:
    """The ``pow``-norm of ``v`` over every dim but ``dim``, kept broadcastable to ``v``.

    ``dim == -1`` means the norm of the whole tensor (torch's convention here, not "last").
    """
    if dim == -1:
        return v.norm(pow)
    d = dim % v.dim()
    dims = tuple(i for i in range(v.dim()) if i != d)
    if not dims:
        return v.abs() if pow else v
    return v.norm(pow, dim=dims, keepdim=True)


def _weight_norm(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """``v * (g / ||v||)`` with the norm taken over every dim but ``dim``."""
    return v * (g / _norm_except_dim(v, 2, dim))


def _normalize(x: Tensor, eps: float) -> Tensor:
    """``x / max(||x||_2, eps)`` for a vector (F.normalize with dim=0)."""
    return x / x.norm().clamp_min(eps)


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        if dim is None:
            dim = -1
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        weight_g = _norm_except_dim(weight, 2, self.dim)
        return weight_g, weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (Salimans & Kingma, 2016).

    ``g`` (``parametrizations.<name>.original0``) holds the norm over every dim but ``dim``
    and ``v`` (``original1``) the direction; ``dim=None`` normalises the whole tensor.
    State dicts of the legacy `torch.nn.utils.weight_norm` (``weight_g``/``weight_v``) load.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Module(); m.weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))
        >>> m = torch.nn.utils.parametrizations.weight_norm(m)
        >>> m.parametrizations.weight.original0
        Parameter containing:
        tensor([[5.]], requires_grad=True)
        >>> list(m.state_dict())
        ['parametrizations.weight.original0', 'parametrizations.weight.original1']
    """
    _weight_norm_module = _WeightNorm(dim)
    parametrize.register_parametrization(module, name, _weight_norm_module, unsafe=True)

    def _weight_norm_compat_hook(
        state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        g_key = f"{prefix}{name}_g"
        v_key = f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(
        self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                "Dimension out of range (expected to be in range of "
                f"[-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", _normalize(u, self.eps))
            self.register_buffer("_v", _normalize(v, self.eps))
            # start from a good estimate of the top singular vectors
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # u and v are updated in place (they are buffers); no graph is recorded, the
        # gradient of sigma is taken with u and v held fixed, as in the paper and torch
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(_normalize(weight_mat.mv(self._v), self.eps))
                self._v.copy_(_normalize(weight_mat.mH.mv(self._u), self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return _normalize(weight, self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = u.vdot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Reparametrize ``module.<name>`` as ``W / sigma(W)`` (Miyato et al., 2018).

    ``sigma`` is the largest singular value of the weight reshaped to a matrix (rows along
    ``dim``), estimated by power iteration: 15 iterations at registration, then
    ``n_power_iterations`` per access in training mode. The vectors ``u``, ``v`` are buffers
    (``parametrizations.<name>.0._u`` / ``._v``).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Module(); m.weight = torch.nn.Parameter(torch.diag(torch.tensor([4.0, 2.0])))
        >>> m = torch.nn.utils.parametrizations.spectral_norm(m)
        >>> m.weight
        tensor([[1.0000, 0.0000],
                [0.0000, 0.5000]], grad_fn=<DivBackward0>)
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if type(module).__name__ in _TRANSPOSED_CONVS else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps)
    )
    return module


_TRANSPOSED_CONVS = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")


class _Orthogonal(Module):
    """Maps an unconstrained matrix X to one with orthonormal columns (rows if wide).

    ``matrix_exp``: Q = B exp(A), ``cayley``: Q = B (I - A/2)^{-1} (I + A/2), with A the
    skew-symmetric matrix built from the lower triangle of X; ``householder``: the product of
    the reflections stored below X's diagonal. B (``base``, used with trivialization) is set
    by `right_inverse`, so assigning an orthogonal matrix Q stores Q as the base and returns
    the X that maps to the identity.
    """

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True):
        super().__init__()
        if weight.is_complex() and orthogonal_map == "householder":
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        from ... import linalg
        from ..._ops.creation import eye
        from ..._ops.shape import cat

        n, k = x.size(-2), x.size(-1)
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:
                x = cat([x, x.new_zeros(*x.shape[:-1], n - k)], dim=-1)
            a = x - x.mH
            if self.orthogonal_map == "matrix_exp":
                q = linalg.matrix_exp(a)
            else:
                idn = eye(n, dtype=a.dtype, device=a.device)
                q = linalg.solve(idn - 0.5 * a, idn + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            q = _householder_product(x.tril(-1))
            # the diagonal of X holds the sign of each column (+-1, not trained)
            signs = x.diagonal(dim1=-2, dim2=-1).detach().to(dtype=x.dtype).trunc()
            q = q * signs.unsqueeze(-2)
        if self.__dict__["_buffers"].get("base") is not None:
            q = self.base @ q
        if transposed:
            q = q.mT
        return q

    def right_inverse(self, q: Tensor) -> Tensor:
        from ..._ops.shape import cat

        if q.shape != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. "
                f"Got a tensor of shape {q.shape}."
            )
        q_init = q
        n, k = q.size(-2), q.size(-1)
        if n < k:
            q = q.mT
            n, k = k, n
        if "base" not in self._buffers:
            raise NotImplementedError(
                "It is not possible to assign to the matrix exponential or the Cayley "
                "parametrizations when use_trivialization=False."
            )
        with no_grad():
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
            else:
                from ..._ops.random import randn

                extra = randn(*q.shape[:-2], n, n - k, dtype=q.dtype, device=q.device)
                q = _make_orthogonal(cat([q, extra], dim=-1))
            self.base = q
            # -I maps to the identity under every map (for householder, through the signs)
            neg_id = q_init.new_zeros(q_init.shape)
            neg_id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
            return neg_id


def _is_orthogonal(q: Tensor, eps: float = 1e-3) -> bool:
    from ..._ops.creation import eye

    k = q.size(-1)
    idn = eye(k, dtype=q.dtype, device=q.device)
    return bool(((q.mH @ q) - idn).abs().max() < eps)


def _make_orthogonal(a: Tensor) -> Tensor:
    """The Q of A's QR, with column signs fixed so that R has a non-negative diagonal."""
    from ... import linalg

    q, r = linalg.qr(a)
    d = r.diagonal(dim1=-2, dim2=-1)
    s = d.sgn() if d.is_complex() else d.sign()
    return q * s.unsqueeze(-2)


def _householder_product(a: Tensor) -> Tensor:
    """The first k columns of H_0 H_1 ... H_{k-1} for reflectors stored below a's diagonal.

    ``v_i = e_i + a[:, i]`` (a is strictly lower triangular) and ``H_i = I - tau_i v_i v_i^T``
    with ``tau_i = 2 / ||v_i||^2``: each H_i is an exact reflection, so Q is orthogonal.
    """
    from ..._ops.creation import eye

    n, k = a.size(-2), a.size(-1)
    v_all = a + eye(n, k, dtype=a.dtype, device=a.device)
    q = eye(n, k, dtype=a.dtype, device=a.device).expand(*a.shape[:-2], n, k)
    for i in range(k - 1, -1, -1):
        v = v_all[..., :, i : i + 1]
        tau = 2.0 / (v * v).sum(dim=(-2, -1), keepdim=True)
        q = q - (tau * v) @ (v.mT @ q)
    return q


def orthogonal(
    module: Module,
    name: str = "weight",
    orthogonal_map: str | None = None,
    *,
    use_trivialization: bool = True,
) -> Module:
    """Constrain ``module.<name>`` to be orthogonal (or to have orthonormal rows/columns).

    ``orthogonal_map`` is ``"matrix_exp"``, ``"cayley"`` or ``"householder"`` (default:
    ``matrix_exp`` for square or complex matrices, else ``householder``). The weight starts as
    the module's current weight, made orthogonal.

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.Module(); m.weight = torch.nn.Parameter(torch.randn(3, 3))
        >>> m = torch.nn.utils.parametrizations.orthogonal(m)
        >>> torch.allclose(m.weight.T @ m.weight, torch.eye(3), atol=1e-5)
        True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(
            f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions."
        )
    if orthogonal_map is None:
        orthogonal_map = (
            "matrix_exp"
            if weight.size(-2) == weight.size(-1) or weight.is_complex()
            else "householder"
        )
    if orthogonal_map not in ("matrix_exp", "cayley", "householder"):
        raise ValueError(
            'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
            f"Got: {orthogonal_map}"
        )
    if not use_trivialization and orthogonal_map == "householder":
        # torch starts from the weight's Householder QR (geqrf), which tocha does not have
        raise NotImplementedError(
            "orthogonal(): use_trivialization=False with the householder map is not supported "
            "in tocha; use the default use_trivialization=True"
        )
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
