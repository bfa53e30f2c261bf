"""Logits processing for generation, with Hugging Face's definitions: repetition penalty,
temperature, top-k and top-p (nucleus) filtering. Each takes and returns (batch, vocab) scores.
"""

from __future__ import annotations

import tocha.core as torch
from tocha.core import Tensor

__all__ = ["repetition_penalty", "temperature", "top_k_filter", "top_p_filter"]


def repetition_penalty(scores: Tensor, input_ids: Tensor, penalty: float) -> Tensor:
    """Penalise every token already in ``input_ids`` (batch, seq): its score is divided by
    ``penalty`` when positive and multiplied by it when negative (CTRL's rule, as in Hugging
    Face's RepetitionPenaltyLogitsProcessor).

    Example:
        >>> import tocha.core as torch
        >>> repetition_penalty(torch.tensor([[2.0, -2.0, 1.0]]), torch.tensor([[0, 1]]), 2.0)
        tensor([[ 1., -4.,  1.]])
    """
    if not penalty > 0:
        raise ValueError(f"repetition_penalty: penalty must be > 0, got {penalty}")
    seen = torch.gather(scores, 1, input_ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, input_ids, seen)


def temperature(scores: Tensor, t: float) -> Tensor:
    """``scores / t`` (t > 0)."""
    if not t > 0:
        raise ValueError(f"temperature: must be a strictly positive float, got {t}")
    return scores if t == 1.0 else scores / t


def top_k_filter(
    scores: Tensor, top_k: int, filter_value: float = -float("inf"), min_tokens_to_keep: int = 1
) -> Tensor:
    """Scores below the ``top_k``-th largest set to ``filter_value`` (ties with it are kept).

    Example:
        >>> import tocha.core as torch
        >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 3.0]]), 2)
        tensor([[-inf, 3., -inf, 3.]])
    """
    if not isinstance(top_k, int) or top_k <= 0:
        raise ValueError(f"top_k_filter: top_k must be a positive integer, got {top_k}")
    k = min(max(top_k, min_tokens_to_keep), scores.shape[-1])
    kth = torch.topk(scores, k, dim=-1).values[..., -1:]
    return scores.masked_fill(scores < kth, filter_value)


def top_p_filter(
    scores: Tensor, top_p: float, filter_value: float = -float("inf"), min_tokens_to_keep: int = 1
) -> Tensor:
    """Keep the smallest set of most likely tokens whose probabilities sum to at least
    ``top_p``; the others get ``filter_value``.

    Example:
        >>> import tocha.core as torch
        >>> top_p_filter(torch.log(torch.tensor([[0.5, 0.3, 0.2]])), 0.7).exp()
        tensor([[0.5000, 0.3000, 0.0000]])
    """
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p_filter: top_p must be in [0, 1], got {top_p}")
    sorted_scores, order = torch.sort(scores, dim=-1, descending=False)
    cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    drop = cum <= (1.0 - top_p)
    if min_tokens_to_keep > 0:
        drop[..., -min_tokens_to_keep:] = False
    drop = drop.scatter(1, order, drop)
    return scores.masked_fill(drop, filter_value)
