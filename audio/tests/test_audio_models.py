"""Model architectures (torchaudio key names, parameter counts, reference forwards) and CTC
decoding (against brute-force enumeration of alignments)."""

import itertools
import math

import numpy as np
import pytest

import tocha.core as torch
from tocha.audio.models import M5, Conformer, DeepSpeech, Wav2Letter
from tocha.audio.models.decoder import (
    GreedyCTCDecoder,
    ctc_decoder,
    ctc_greedy_decode,
    ctc_prefix_beam_search,
)


def _count(m):
    return sum(p.numel() for p in m.parameters())


def test_m5_tutorial_parameter_count_and_step():
    torch.manual_seed(0)
    m = M5(n_input=1, n_output=35)
    assert _count(m) == 26915  # torchaudio's speech-command tutorial prints this
    x = torch.randn(4, 1, 8000)
    out = m(x)
    assert out.shape == (4, 1, 35)
    np.testing.assert_allclose(out.exp().sum(-1).detach().numpy(), 1.0, rtol=1e-5)
    loss = torch.nn.functional.nll_loss(out.squeeze(1), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert m.conv1.weight.grad is not None


@pytest.mark.slow  # 23M parameters: initialising them takes seconds
def test_wav2letter_layout():
    m = Wav2Letter(num_classes=40)
    keys = list(m.state_dict())
    assert keys[:2] == ["acoustic_model.0.0.weight", "acoustic_model.0.0.bias"]
    assert "acoustic_model.1.20.weight" in keys
    conv = (
        [(250, 1, 250), (250, 250, 48)]
        + [(250, 250, 7)] * 7
        + [(2000, 250, 32), (2000, 2000, 1), (40, 2000, 1)]
    )
    assert _count(m) == sum(o * i * k + o for o, i, k in conv)
    assert m(torch.randn(1, 1, 16000)).shape == (1, 40, 51)
    m2 = Wav2Letter(num_classes=29, input_type="mfcc", num_features=13)
    assert "acoustic_model.0.weight" in m2.state_dict()


def test_deepspeech_matches_numpy_reference():
    torch.manual_seed(0)
    m = DeepSpeech(n_feature=6, n_hidden=8, n_class=5).double()
    x = torch.randn(2, 1, 7, 6, dtype=torch.float64)
    out = m(x).detach().numpy()
    P = {k: v.numpy() for k, v in m.state_dict().items()}

    def fc(name, h):
        return np.clip(h @ P[f"{name}.fc.weight"].T + P[f"{name}.fc.bias"], 0, 20)

    h = fc("fc3", fc("fc2", fc("fc1", x.numpy()[:, 0])))  # (N, T, H)

    def rnn(seq, sfx):
        st = np.zeros((seq.shape[0], 8))
        outs = []
        for t in range(seq.shape[1]):
            st = np.maximum(
                0,
                seq[:, t] @ P[f"bi_rnn.weight_ih_l0{sfx}"].T
                + P[f"bi_rnn.bias_ih_l0{sfx}"]
                + st @ P[f"bi_rnn.weight_hh_l0{sfx}"].T
                + P[f"bi_rnn.bias_hh_l0{sfx}"],
            )
            outs.append(st)
        return np.stack(outs, 1)

    h = rnn(h, "") + rnn(h[:, ::-1], "_reverse")[:, ::-1]
    z = fc("fc4", h) @ P["out.weight"].T + P["out.bias"]
    ref = z - np.log(np.exp(z).sum(-1, keepdims=True))
    np.testing.assert_allclose(out, ref, atol=1e-10)


def test_conformer_masking_and_keys():
    torch.manual_seed(0)
    m = Conformer(
        input_dim=8, num_heads=2, ffn_dim=16, num_layers=2, depthwise_conv_kernel_size=3
    ).eval()
    pointwise = Conformer(
        input_dim=8, num_heads=2, ffn_dim=16, num_layers=2, depthwise_conv_kernel_size=1
    ).eval()
    keys = set(m.state_dict())
    for k in [
        "conformer_layers.0.ffn1.sequential.0.weight",
        "conformer_layers.0.self_attn.in_proj_weight",
        "conformer_layers.0.conv_module.sequential.2.weight",
        "conformer_layers.0.conv_module.sequential.3.running_mean",
        "conformer_layers.1.final_layer_norm.bias",
    ]:
        assert k in keys, k
    x = torch.randn(2, 10, 8)
    lengths = torch.tensor([10, 6])
    # Attention ignores padded frames; with a kernel-1 depthwise convolution nothing else mixes
    # frames, so the valid frames of item 1 do not depend on its padding at all.
    x2 = x.clone()
    x2[1, 6:] = 100.0
    out, _ = pointwise(x, lengths)
    out2, _ = pointwise(x2, lengths)
    np.testing.assert_allclose(out2[1, :6].detach().numpy(), out[1, :6].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(out2[0].detach().numpy(), out[0].detach().numpy(), atol=1e-6)
    # ... and the padding does matter without the mask (the test can fail).
    out3, _ = pointwise(x2, torch.tensor([10, 10]))
    assert np.abs(out3[1, :6].detach().numpy() - out[1, :6].detach().numpy()).max() > 1e-3
    assert m(x, lengths)[0].shape == (2, 10, 8)
    with pytest.raises(ValueError, match="max"):
        m(torch.randn(2, 12, 8), torch.tensor([10, 6]))


def _brute_force(lp, blank=0):
    """Total log-probability of each labelling, summing over all alignments."""
    T, V = lp.shape
    scores = {}
    for path in itertools.product(range(V), repeat=T):
        lab = tuple(k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k))
        s = sum(lp[t, k] for t, k in enumerate(path))
        scores[lab] = np.logaddexp(scores.get(lab, -np.inf), s)
    return sorted(scores.items(), key=lambda kv: -kv[1])


@pytest.mark.parametrize("seed", range(5))
def test_prefix_beam_search_exact_with_wide_beam(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((5, 4)) * 2
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    ref = _brute_force(lp)
    got = ctc_prefix_beam_search(lp, beam_size=10_000, nbest=5)
    for (toks, score, _), (rtoks, rscore) in zip(got, ref[:5]):
        assert toks == rtoks
        assert math.isclose(score, rscore, rel_tol=1e-9, abs_tol=1e-9)


def test_greedy_and_decoder_api():
    e = torch.eye(5)[[1, 1, 0, 1, 2, 4, 4, 0, 3]]
    assert ctc_greedy_decode(e) == [[1, 1, 2, 4, 3]]
    assert ctc_greedy_decode(e[None].expand(2, 9, 5)) == [[1, 1, 2, 4, 3]] * 2
    assert GreedyCTCDecoder(["-", "a", "b", "c", "|"])(e) == "aab|c"
    dec = ctc_decoder(None, ["-", "a", "b", "c", "|"], nbest=3, beam_size=20)
    logits = torch.log(e * 0.9 + 0.02)[None]
    hyps = dec(logits, torch.tensor([9]))[0]
    assert len(hyps) == 3
    assert hyps[0].tokens.tolist() == [1, 1, 2, 4, 3] and hyps[0].words == ["aab", "c"]
    assert hyps[0].timesteps.tolist() == [0, 3, 4, 5, 8]
    assert hyps[0].score >= hyps[1].score >= hyps[2].score
    with pytest.raises(NotImplementedError, match="lexicon"):
        ctc_decoder("lexicon.txt", ["-", "a"])


def test_conv_tasnet_size_and_shapes():
    from tocha.audio.models import ConvTasNet, conv_tasnet_base

    m = conv_tasnet_base()
    block = (128 * 512 + 512) + 1 + 1024 + (512 * 3 + 512) + 1 + 1024 + 2 * (512 * 128 + 128)
    last = block - (512 * 128 + 128)  # the very last block has no residual conv
    expected = 2 * 512 * 16 + 1024 + (512 * 128 + 128) + 23 * block + last + 1 + (128 * 1024 + 1024)
    assert sum(p.numel() for p in m.parameters()) == expected == 4_984_881
    assert m.mask_generator.receptive_field == 3 + 2 * (1 + 2 + 4 + 8 + 16 + 32 + 64 + 128) * 3 - 2
    assert "mask_generator.conv_layers.23.skip_out.weight" in m.state_dict()
    assert "mask_generator.conv_layers.23.res_out.weight" not in m.state_dict()
    torch.manual_seed(0)
    small = ConvTasNet(
        num_sources=3,
        enc_kernel_size=4,
        enc_num_feats=8,
        msk_num_feats=4,
        msk_num_hidden_feats=8,
        msk_num_layers=2,
        msk_num_stacks=1,
    )
    for n in (101, 100):
        x = torch.randn(2, 1, n, requires_grad=True)
        y = small(x)
        assert y.shape == (2, 3, n)
    y.sum().backward()
    assert x.grad.shape == (2, 1, 100)
    with pytest.raises(ValueError, match="batch, 1, frames"):
        small(torch.randn(2, 100))
