"""CTC forced alignment (Viterbi over the blank-interleaved target), token spans, and the
Frechet distance between Gaussians."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tocha.core as torch

Tensor = torch.Tensor


def forced_align(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | None = None,
    target_lengths: Tensor | None = None,
    blank: int = 0,
) -> tuple[Tensor, Tensor]:
    """Most likely CTC alignment of ``targets`` to the frames of ``log_probs``.

    Args:
        log_probs: ``(1, T, C)`` log-probabilities.
        targets: ``(1, L)`` target token ids (no blanks).
        input_lengths: ``(1,)`` valid frames (default T).
        target_lengths: ``(1,)`` valid targets (default L).
        blank: blank token id.

    Returns:
        ``(labels (1, T), scores (1, T))``: the token (or blank) emitted at each frame and its
        log-probability.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> lp = torch.log(torch.tensor([[[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]]]))
        >>> AF.forced_align(lp, torch.tensor([[1, 2]], dtype=torch.int32))[0]
        tensor([[1, 0, 2]])
    """
    if log_probs.dim() != 3 or log_probs.shape[0] != 1:
        raise ValueError(f"forced_align: log_probs must be (1, T, C), got {tuple(log_probs.shape)}")
    if targets.dim() != 2 or targets.shape[0] != 1:
        raise ValueError(f"forced_align: targets must be (1, L), got {tuple(targets.shape)}")
    lp = log_probs.detach().cpu().numpy()[0].astype(np.float64)
    tg = targets.cpu().numpy()[0].astype(np.int64)
    T = lp.shape[0] if input_lengths is None else int(input_lengths[0])
    L = tg.shape[0] if target_lengths is None else int(target_lengths[0])
    tg = tg[:L]
    if (tg == blank).any():
        raise ValueError(f"forced_align: targets must not contain the blank id {blank}")
    if (tg < 0).any() or (tg >= lp.shape[1]).any():
        raise ValueError(f"forced_align: target ids must be in [0, {lp.shape[1]})")
    S = 2 * L + 1
    ext = np.full(S, blank)
    ext[1::2] = tg
    repeats = int((tg[1:] == tg[:-1]).sum()) if L > 1 else 0
    if L + repeats > T:
        raise RuntimeError(
            f"forced_align: {T} frames cannot hold {L} targets with {repeats} repeats"
        )
    # skip transitions s-2 -> s allowed onto a non-blank different from the one two back
    skip = np.zeros(S, bool)
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    neg = -np.inf
    alpha = np.full(S, neg)
    alpha[0] = lp[0, ext[0]]
    if S > 1:
        alpha[1] = lp[0, ext[1]]
    back = np.zeros((T, S), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, T):
        stay = alpha
        one = np.concatenate(([neg], alpha[:-1]))
        two = np.where(skip, np.concatenate(([neg, neg], alpha[:-2])), neg)
        cand = np.stack([stay, one, two])
        choice = np.argmax(cand, axis=0)
        back[t] = choice
        alpha = cand[choice, np.arange(S)] + lp[t, ext]
    ends = [S - 1] + ([S - 2] if S > 1 else [])
    s = max(ends, key=lambda e: alpha[e])
    if alpha[s] == neg:
        raise RuntimeError("forced_align: no valid alignment")
    path = np.empty(T, np.int64)
    for t in range(T - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    labels = ext[path]
    scores = lp[np.arange(T), labels]
    full = np.full(log_probs.shape[1], blank, np.int64)
    full[:T] = labels
    sc = np.zeros(log_probs.shape[1])
    sc[:T] = scores
    return (
        torch.from_numpy(full[None]),
        torch.from_numpy(
            sc[None].astype(np.float32 if log_probs.dtype == torch.float32 else np.float64)
        ),
    )


@dataclass
class TokenSpan:
    """A token and the frames ``[start, end)`` it spans, with its mean score."""

    token: int
    start: int
    end: int
    score: float

    def __len__(self) -> int:
        return self.end - self.start


def merge_tokens(tokens: Tensor, scores: Tensor, blank: int = 0) -> list[TokenSpan]:
    """Group repeated frame labels of a ``forced_align`` result into spans, dropping blanks.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> AF.merge_tokens(torch.tensor([0, 3, 3, 0, 5]), torch.tensor([0., -1., -3., 0., -2.]))
        [TokenSpan(token=3, start=1, end=3, score=-2.0), TokenSpan(token=5, start=4, end=5, score=-2.0)]
    """
    if tokens.dim() != 1 or scores.dim() != 1:
        raise ValueError("merge_tokens: tokens and scores must be 1-D")
    t = tokens.cpu().numpy()
    s = scores.detach().cpu().numpy()
    change = np.flatnonzero(np.diff(t, prepend=-1, append=-1) != 0)
    return [
        TokenSpan(int(t[a]), int(a), int(b), float(s[a:b].mean()))
        for a, b in zip(change[:-1], change[1:])
        if t[a] != blank
    ]


def frechet_distance(mu_x: Tensor, sigma_x: Tensor, mu_y: Tensor, sigma_y: Tensor) -> Tensor:
    """Frechet distance between N(mu_x, sigma_x) and N(mu_y, sigma_y):
    ``|mu_x - mu_y|^2 + tr(sigma_x + sigma_y - 2 (sigma_x sigma_y)^(1/2))``.

    Example:
        >>> import tocha.core as torch, tocha.audio.functional as AF
        >>> float(AF.frechet_distance(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2)))
        2.0
    """
    if mu_x.dim() != 1 or sigma_x.dim() != 2 or tuple(mu_x.shape) != tuple(mu_y.shape):
        raise ValueError("frechet_distance: expected 1-D means and 2-D covariances of one size")
    a = (mu_x - mu_y).pow(2).sum()
    b = sigma_x.diagonal().sum() + sigma_y.diagonal().sum()
    ev = np.linalg.eigvals(torch.matmul(sigma_x, sigma_y).detach().cpu().numpy())
    c = float(np.sqrt(ev.astype(np.complex128)).real.sum())
    return a + b - 2 * c
