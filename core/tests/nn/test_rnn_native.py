"""The LSTM's and GRU's compiled time loops (`_ops/_rnn_native.py`, `_native/lstm.c`) against its NumPy
loops (the reference, checked against the published equations in test_rnn.py): outputs, final
states and every gradient, for plain, bidirectional, stacked and packed batches, with the
batch in one part and split over two threads."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.core import _native, nn
from tocha.core._ops import _rnn_native
from tocha.core.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

pytestmark = pytest.mark.skipif(_native._compiler() is None, reason="no C compiler on this machine")


def _run(monkeypatch, native: str, build, x, lengths, use_states, use_y):
    monkeypatch.setenv("TOCHA_NATIVE", native)
    m = build()
    xt = torch.tensor(x, requires_grad=True)
    inp = pack_padded_sequence(xt, lengths, enforce_sorted=False) if lengths else xt
    states = None
    lstm = isinstance(m, nn.LSTM)
    if use_states:
        k = m.num_layers * (2 if m.bidirectional else 1)
        rng = np.random.default_rng(1)
        states = tuple(
            torch.tensor(rng.standard_normal((k, x.shape[1], m.hidden_size)).astype(np.float32),
                         requires_grad=True)
            for _ in range(2 if lstm else 1)
        )  # fmt: skip
    before = None if states is None else [s.detach().numpy().copy() for s in states]
    if lstm:
        out, (h, c) = m(inp, states)
    else:
        out, h = m(inp, None if states is None else states[0])
        c = h * 0.5
    if states is not None:  # the kernel's state buffers are copies, never the caller's
        for s, b in zip(states, before):
            np.testing.assert_array_equal(s.detach().numpy(), b)
    if lengths:
        out = pad_packed_sequence(out)[0]
    loss = (h * 1.5).sum() + (c * c).sum()
    if use_y:
        loss = loss + (out * out).sum()
    loss.backward()
    res = [out, h, c, xt.grad] + [p.grad for p in m.parameters()]
    if use_states:
        res += [s.grad for s in states]
    return [r.detach().numpy() for r in res]


@pytest.mark.parametrize(
    "kw,lengths,use_states,use_y",
    [
        ({}, None, False, True),
        (dict(num_layers=2, bidirectional=True), None, True, True),
        (dict(num_layers=2), [7, 3, 7, 1, 5, 2, 6, 4, 7, 7, 2, 3, 1, 5, 6, 7, 4, 3], True, True),
        (
            dict(bidirectional=True),
            [4, 7, 1, 2, 7, 3, 3, 5, 6, 7, 2, 1, 7, 4, 5, 6, 2, 3],
            False,
            True,
        ),
        (dict(num_layers=2, bias=False), None, False, False),  # only h_n, c_n: no y gradient
    ],
)
@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_native_loops_match_numpy_loops(monkeypatch, threads, cls, kw, lengths, use_states, use_y):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 18, 5)).astype(np.float32)

    def build():
        torch.manual_seed(3)
        return getattr(nn, cls)(5, 16, **kw)

    assert _native.load("lstm") is not None  # a compiler is here: the kernel must build
    calls = []
    name = f"{cls.lower()}_backward"
    real = getattr(_rnn_native, name)
    monkeypatch.setattr(_rnn_native, name, lambda *a: calls.append(1) or real(*a))
    got = _run(monkeypatch, "1", build, x, lengths, use_states, use_y)
    assert calls, "the native backward did not run"
    n_native = len(calls)
    ref = _run(monkeypatch, "0", build, x, lengths, use_states, use_y)
    assert len(calls) == n_native  # the reference ran the NumPy loops
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-6)


def test_not_used_for_float64_projections_or_when_off(monkeypatch):
    monkeypatch.setenv("TOCHA_NATIVE", "1")
    assert _rnn_native.available(np, np.float32, None)
    assert not _rnn_native.available(np, np.float64, None)
    assert not _rnn_native.available(np, np.float32, np.zeros((2, 3), np.float32))
    monkeypatch.setenv("TOCHA_NATIVE", "0")
    assert not _rnn_native.available(np, np.float32, None)
