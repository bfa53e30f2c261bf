"""CTC decoding without a language model: greedy (best path) and prefix beam search.

``ctc_decoder`` mirrors torchaudio's factory (``tokens``, ``nbest``, ``beam_size``,
``blank_token``, ``sil_token``) for the lexicon-free, LM-free case and returns
``CTCHypothesis`` lists like torchaudio's decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import tocha.core as torch

Tensor = torch.Tensor


@dataclass
class CTCHypothesis:
    """One decoded hypothesis: token ids (blanks and repeats removed), words (split on the
    silence token), total log-probability and the frame of each token."""

    tokens: Tensor
    words: list[str]
    score: float
    timesteps: Tensor = field(default=None)


def ctc_greedy_decode(emission: Tensor, blank: int = 0) -> list[list[int]]:
    """Best path: argmax per frame, merge repeats, drop blanks.

    Args:
        emission: ``(time, classes)`` or ``(batch, time, classes)`` scores.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models.decoder import ctc_greedy_decode
        >>> e = torch.eye(4)[[1, 1, 0, 1, 2, 2, 0, 0, 3]]
        >>> ctc_greedy_decode(e)
        [[1, 1, 2, 3]]
    """
    idx = emission.argmax(dim=-1).cpu().numpy()
    if idx.ndim == 1:
        idx = idx[None]
    out = []
    for row in idx:
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        keep &= row != blank
        out.append(row[keep].tolist())
    return out


class GreedyCTCDecoder(torch.nn.Module):
    """Best-path decoding to a string (torchaudio tutorial's decoder).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models.decoder import GreedyCTCDecoder
        >>> d = GreedyCTCDecoder(["-", "|", "a", "b"])
        >>> d(torch.eye(4)[[2, 2, 0, 2, 1, 3]])
        'aa|b'
    """

    def __init__(self, labels, blank: int = 0) -> None:
        super().__init__()
        self.labels = list(labels)
        self.blank = blank

    def forward(self, emission: Tensor) -> str:
        return "".join(self.labels[i] for i in ctc_greedy_decode(emission, self.blank)[0])


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def ctc_prefix_beam_search(
    log_probs: np.ndarray,
    beam_size: int = 10,
    blank: int = 0,
    nbest: int = 1,
    beam_size_token: int | None = None,
) -> list[tuple[tuple[int, ...], float, list[int]]]:
    """Prefix beam search over ``(time, classes)`` log-probabilities.

    Each prefix keeps the log-probability of ending in blank and in non-blank, so alignments
    that collapse to the same labelling are summed. Per frame, only the ``beam_size_token``
    most likely tokens extend prefixes (all by default).

    Returns:
        up to ``nbest`` ``(tokens, log_prob, timesteps)`` best first.
    """
    T, V = log_probs.shape
    beams: dict[tuple[int, ...], list] = {(): [0.0, -math.inf, []]}  # p_blank, p_nonblank, ts
    cand_tokens = np.arange(V)
    for t in range(T):
        lp = log_probs[t]
        if beam_size_token is not None and beam_size_token < V:
            cand_tokens = np.argpartition(-lp, beam_size_token - 1)[:beam_size_token]
        nxt: dict[tuple[int, ...], list] = {}

        def get(prefix, ts, nxt=nxt):
            if prefix not in nxt:
                nxt[prefix] = [-math.inf, -math.inf, ts]
            return nxt[prefix]

        for prefix, (pb, pnb, ts) in beams.items():
            total = _logsumexp(pb, pnb)
            e = get(prefix, ts)
            e[0] = _logsumexp(e[0], total + lp[blank])
            last = prefix[-1] if prefix else None
            for c in cand_tokens:
                c = int(c)
                if c == blank:
                    continue
                p = lp[c]
                if c == last:
                    # repeat without a blank in between stays the same prefix
                    e[1] = _logsumexp(e[1], pnb + p)
                    ext = get(prefix + (c,), ts + [t])
                    ext[1] = _logsumexp(ext[1], pb + p)
                else:
                    ext = get(prefix + (c,), ts + [t])
                    ext[1] = _logsumexp(ext[1], total + p)
        beams = dict(
            sorted(nxt.items(), key=lambda kv: -_logsumexp(kv[1][0], kv[1][1]))[:beam_size]
        )
    ranked = sorted(beams.items(), key=lambda kv: -_logsumexp(kv[1][0], kv[1][1]))
    return [(k, _logsumexp(v[0], v[1]), v[2]) for k, v in ranked[:nbest]]


class CTCDecoder:
    """Lexicon-free, LM-free CTC beam-search decoder (see ``ctc_decoder``)."""

    def __init__(
        self,
        tokens: list[str],
        nbest: int,
        beam_size: int,
        beam_size_token,
        blank_token: str,
        sil_token: str,
    ) -> None:
        self.tokens = list(tokens)
        if blank_token not in self.tokens:
            raise ValueError(f"ctc_decoder: blank token {blank_token!r} is not in tokens")
        self.blank = self.tokens.index(blank_token)
        self.sil = self.tokens.index(sil_token) if sil_token in self.tokens else None
        self.nbest, self.beam_size, self.beam_size_token = nbest, beam_size, beam_size_token

    def idxs_to_tokens(self, idxs: Tensor) -> list[str]:
        return [self.tokens[i] for i in idxs.tolist()]

    def _words(self, toks: tuple[int, ...]) -> list[str]:
        words, cur = [], []
        for t in toks:
            if t == self.sil:
                if cur:
                    words.append("".join(cur))
                cur = []
            else:
                cur.append(self.tokens[t])
        if cur:
            words.append("".join(cur))
        return words

    def __call__(
        self, emissions: Tensor, lengths: Tensor | None = None
    ) -> list[list[CTCHypothesis]]:
        """``emissions (batch, frames, tokens)`` (log-softmaxed here) -> per item, ``nbest``
        hypotheses best first."""
        if emissions.dim() != 3:
            raise ValueError(
                f"CTCDecoder: emissions must be (batch, frames, tokens), got "
                f"{tuple(emissions.shape)}"
            )
        lp = torch.log_softmax(emissions.detach().to(torch.float64), dim=-1).cpu().numpy()
        out = []
        for b in range(lp.shape[0]):
            n = lp.shape[1] if lengths is None else int(lengths[b])
            hyps = ctc_prefix_beam_search(
                lp[b, :n], self.beam_size, self.blank, self.nbest, self.beam_size_token
            )
            out.append(
                [
                    CTCHypothesis(
                        tokens=torch.tensor(list(toks), dtype=torch.int64),
                        words=self._words(toks),
                        score=float(score),
                        timesteps=torch.tensor(ts, dtype=torch.int64),
                    )
                    for toks, score, ts in hyps
                ]
            )
        return out


def ctc_decoder(
    lexicon: str | None,
    tokens: list[str],
    lm: str | None = None,
    nbest: int = 1,
    beam_size: int = 50,
    beam_size_token: int | None = None,
    beam_threshold: float = 50,
    lm_weight: float = 2,
    word_score: float = 0,
    unk_score: float = float("-inf"),
    sil_score: float = 0,
    log_add: bool = False,
    blank_token: str = "-",
    sil_token: str = "|",
    unk_word: str = "<unk>",
) -> CTCDecoder:
    """A CTC beam-search decoder with torchaudio's factory signature; only the lexicon-free,
    LM-free configuration is available (``lexicon=None``, ``lm=None``).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.audio.models.decoder import ctc_decoder
        >>> dec = ctc_decoder(None, ["-", "|", "a", "b"], beam_size=5)
        >>> e = torch.log(torch.tensor([[[0.1, 0.1, 0.7, 0.1], [0.1, 0.6, 0.2, 0.1],
        ...                              [0.1, 0.1, 0.1, 0.7]]]))
        >>> dec(e)[0][0].words
        ['a', 'b']
    """
    if lexicon is not None or lm is not None:
        raise NotImplementedError(
            "ctc_decoder: lexicon and language-model decoding are not available in tocha.audio "
            "(pass lexicon=None, lm=None for lexicon-free beam search)"
        )
    if isinstance(tokens, str):
        with open(tokens) as fh:
            tokens = [line.strip() for line in fh if line.strip()]
    return CTCDecoder(tokens, nbest, beam_size, beam_size_token, blank_token, sil_token)
