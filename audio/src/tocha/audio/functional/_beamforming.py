"""Multichannel beamforming: PSD matrices, MVDR weights (Souden, RTF), relative transfer
function estimates (EVD, power iteration) and applying the weights; torchaudio's maths on
complex tocha tensors (differentiable through solve/eigh/einsum)."""

from __future__ import annotations

import tocha.core as torch

Tensor = torch.Tensor


def psd(
    specgram: Tensor, mask: Tensor | None = None, normalize: bool = True, eps: float = 1e-10
) -> Tensor:
    """Power spectral density matrices ``(..., freq, channel, channel)`` of a multichannel
    STFT ``(..., channel, freq, time)``, optionally weighted over time by ``mask``
    ``(..., freq, time)`` (normalised to sum 1 per frequency when ``normalize``).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.psd(torch.randn(2, 5, 7, dtype=torch.complex64)).shape
        torch.Size([5, 2, 2])
    """
    x = specgram.transpose(-3, -2)  # (..., freq, channel, time)
    if mask is not None:
        if tuple(mask.shape[:-1]) != tuple(x.shape[:-2]) or mask.shape[-1] != x.shape[-1]:
            raise ValueError(
                f"psd: mask shape {tuple(mask.shape)} must be the spectrogram's without the "
                f"channel dim, {tuple(x.shape[:-2]) + (x.shape[-1],)}"
            )
        if normalize:
            mask = mask / (mask.sum(dim=-1, keepdim=True) + eps)
        xw = x * mask.unsqueeze(-2).to(x.dtype)
    else:
        xw = x
    # sum over time of x x^H: one batched matmul instead of an outer product per frame
    return torch.matmul(xw, x.conj().transpose(-1, -2))


def _trace(m: Tensor) -> Tensor:
    return m.diagonal(0, -1, -2).sum(-1)


def _tik_reg(mat: Tensor, reg: float = 1e-7, eps: float = 1e-8) -> Tensor:
    """Diagonal loading proportional to the trace (Tikhonov regularisation)."""
    C = mat.shape[-1]
    eye = torch.eye(C, dtype=mat.dtype, device=mat.device)
    epsilon = (_trace(mat).real[..., None, None] * reg + eps).to(mat.dtype)
    return mat + epsilon * eye


def _check_psd(*mats: Tensor) -> None:
    for m in mats:
        if m.dim() < 3 or m.shape[-1] != m.shape[-2]:
            raise ValueError(
                f"beamforming: PSD matrices must be (..., freq, channel, channel), got "
                f"{tuple(m.shape)}"
            )
    if len(mats) == 2 and tuple(mats[0].shape) != tuple(mats[1].shape):
        raise ValueError(
            f"beamforming: psd_s {tuple(mats[0].shape)} and psd_n {tuple(mats[1].shape)} must "
            "have the same shape"
        )


def _pick(m: Tensor, reference_channel, like: Tensor) -> Tensor:
    """Column ``reference_channel`` of ``m``, or its combination with a one-hot/soft vector."""
    if isinstance(reference_channel, int):
        return m[..., reference_channel]
    ref = reference_channel.to(like.dtype)
    return torch.einsum("...c,...c->...", m, ref[..., None, None, :])


def mvdr_weights_souden(
    psd_s: Tensor,
    psd_n: Tensor,
    reference_channel,
    diagonal_loading: bool = True,
    diag_eps: float = 1e-7,
    eps: float = 1e-8,
) -> Tensor:
    """MVDR weights by Souden's formula ``(Phi_n^-1 Phi_s) u / trace(Phi_n^-1 Phi_s)``:
    ``(..., freq, channel)``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> x = torch.randn(3, 4, 50, dtype=torch.complex128)
        >>> AF.mvdr_weights_souden(AF.psd(x), AF.psd(x) + 0, 0).shape
        torch.Size([4, 3])
    """
    _check_psd(psd_s, psd_n)
    if diagonal_loading:
        psd_n = _tik_reg(psd_n, reg=diag_eps)
    num = torch.linalg.solve(psd_n, psd_s)
    ws = num / (_trace(num)[..., None, None] + eps)
    return _pick(ws, reference_channel, psd_n)


def mvdr_weights_rtf(
    rtf: Tensor,
    psd_n: Tensor,
    reference_channel=None,
    diagonal_loading: bool = True,
    diag_eps: float = 1e-7,
    eps: float = 1e-8,
) -> Tensor:
    """MVDR weights from the relative transfer function: ``Phi_n^-1 d / (d^H Phi_n^-1 d)``,
    scaled to the reference channel when given."""
    _check_psd(psd_n)
    if diagonal_loading:
        psd_n = _tik_reg(psd_n, reg=diag_eps)
    num = torch.linalg.solve(psd_n, rtf.unsqueeze(-1)).squeeze(-1)
    den = torch.einsum("...d,...d->...", rtf.conj(), num)
    w = num / (den.real.unsqueeze(-1) + eps)
    if reference_channel is not None:
        if isinstance(reference_channel, int):
            scale = rtf[..., reference_channel].conj()
        else:
            ref = reference_channel.to(psd_n.dtype)
            scale = torch.einsum("...c,...c->...", rtf.conj(), ref[..., None, :])
        w = w * scale[..., None]
    return w


def rtf_evd(psd_s: Tensor) -> Tensor:
    """RTF as the principal eigenvector of the speech PSD: ``(..., freq, channel)``."""
    _check_psd(psd_s)
    _, v = torch.linalg.eigh(psd_s)
    return v[..., -1]


def rtf_power(
    psd_s: Tensor,
    psd_n: Tensor,
    reference_channel,
    n_iter: int = 3,
    diagonal_loading: bool = True,
    diag_eps: float = 1e-7,
) -> Tensor:
    """RTF by power iteration on ``Phi_n^-1 Phi_s`` (torchaudio's recipe)."""
    _check_psd(psd_s, psd_n)
    if n_iter <= 0:
        raise ValueError(f"rtf_power: n_iter must be > 0, got {n_iter}")
    if diagonal_loading:
        psd_n = _tik_reg(psd_n, reg=diag_eps)
    phi = torch.linalg.solve(psd_n, psd_s)
    rtf = _pick(phi, reference_channel, psd_n).unsqueeze(-1)
    if n_iter >= 2:
        for _ in range(n_iter - 2):
            rtf = torch.matmul(phi, rtf)
        rtf = torch.matmul(psd_s, rtf)
    else:
        rtf = torch.matmul(psd_n, rtf)
    return rtf.squeeze(-1)


def apply_beamforming(beamform_weights: Tensor, specgram: Tensor) -> Tensor:
    """Enhanced STFT ``sum_c conj(w[f, c]) X[c, f, t]``: ``(..., freq, time)``."""
    if beamform_weights.shape[-2:] != (specgram.shape[-2], specgram.shape[-3]):
        raise ValueError(
            f"apply_beamforming: weights {tuple(beamform_weights.shape)} do not match "
            f"(freq, channel) of the spectrogram {tuple(specgram.shape)}"
        )
    return torch.einsum("...fc,...cft->...ft", beamform_weights.conj(), specgram)
