"""RNN-Transducer loss (Graves 2012) with torchaudio's signature, differentiable through tocha
ops: the forward variables of each time step are a log-cumulative-sum-exp along the label
axis, so the lattice is filled one time step at a time for all labels and items at once."""

from __future__ import annotations

import tocha.core as torch

Tensor = torch.Tensor


def rnnt_loss(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = -1,
    clamp: float = -1,
    reduction: str = "mean",
    fused_log_softmax: bool = True,
) -> Tensor:
    """Negative log-likelihood of ``targets`` under an RNN-T joint network's outputs.

    Args:
        logits: ``(batch, max_T, max_U + 1, classes)`` joint network outputs.
        targets: ``(batch, max_U)`` label ids (int32 in torchaudio).
        logit_lengths: ``(batch,)`` valid frames.
        target_lengths: ``(batch,)`` valid labels.
        blank: blank id (-1: the last class).
        clamp: gradient clamp in torchaudio's kernel; not applied here (values unaffected).
        reduction: ``'none'``, ``'mean'`` or ``'sum'`` over the batch.
        fused_log_softmax: apply log_softmax to ``logits`` (False: they are log-probabilities).

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> logits = torch.zeros(1, 2, 2, 3)  # uniform over 3 classes
        >>> loss = AF.rnnt_loss(logits, torch.tensor([[0]], dtype=torch.int32),
        ...                     torch.tensor([2], dtype=torch.int32),
        ...                     torch.tensor([1], dtype=torch.int32))
        >>> round(float(loss), 4)  # 2 paths of 3 steps, each (1/3)^3
        2.6027
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"rnnt_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if logits.dim() != 4:
        raise ValueError(
            f"rnnt_loss: logits must be (batch, T, U + 1, classes), got {tuple(logits.shape)}"
        )
    B, T, U1, V = logits.shape
    if targets.dim() != 2 or targets.shape[0] != B or targets.shape[1] != U1 - 1:
        raise ValueError(
            f"rnnt_loss: targets {tuple(targets.shape)} must be (batch, "
            f"{U1 - 1}) to match logits {tuple(logits.shape)}"
        )
    blank = blank % V
    lp = logits.to(torch.float64)
    if fused_log_softmax:
        lp = torch.log_softmax(lp, dim=-1)
    lp_blank = lp[..., blank]  # (B, T, U+1)
    tgt = targets.to(torch.int64)
    # log-prob of emitting label u+1 from lattice row u: (B, T, U)
    lp_label = torch.gather(
        lp[:, :, : U1 - 1, :], 3, tgt[:, None, :, None].expand(B, T, U1 - 1, 1)
    )[..., 0]
    neg_inf = torch.full((B, U1), float("-inf"), dtype=torch.float64, device=lp.device)
    zero = torch.zeros(B, 1, dtype=torch.float64, device=lp.device)
    a = torch.cat([zero, neg_inf[:, 1:]], dim=1)  # entry into row t = 0
    alphas = []
    for t in range(T):
        # C[u] = sum of label log-probs to climb from row 0 to row u at this frame
        C = torch.cat([zero, torch.cumsum(lp_label[:, t], dim=1)], dim=1)
        alpha = C + torch.logcumsumexp(a - C, dim=1)
        alphas.append(alpha)
        a = alpha + lp_blank[:, t]
    alpha = torch.stack(alphas, 1)  # (B, T, U+1)
    tl = logit_lengths.to(torch.int64) - 1
    ul = target_lengths.to(torch.int64)
    rows = torch.arange(B, device=lp.device)
    ll = alpha[rows, tl, ul] + lp_blank[rows, tl, ul]
    loss = (-ll).to(logits.dtype)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
