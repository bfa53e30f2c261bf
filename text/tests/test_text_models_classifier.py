"""torchtext's EmbeddingBag classifier and the transformer classifier."""

import numpy as np

import tocha.core as torch
from tocha.text.models import TextClassificationModel, TransformerClassifier


def test_embedding_bag_model_matches_numpy_and_torchtext_init():
    torch.manual_seed(0)
    model = TextClassificationModel(vocab_size=20, embed_dim=6, num_class=4)
    emb = model.embedding.weight.detach().numpy()
    w, b = model.fc.weight.detach().numpy(), model.fc.bias.detach().numpy()
    assert np.abs(emb).max() <= 0.5 and np.abs(w).max() <= 0.5 and not b.any()
    assert emb.std() > 0.2  # uniform(-0.5, 0.5), not N(0, 1)
    text = np.array([3, 4, 5, 1, 19, 2, 2])
    offsets = np.array([0, 3, 5])
    got = model(torch.from_numpy(text), torch.from_numpy(offsets)).detach().numpy()
    bags = np.split(text, offsets[1:])
    ref = np.stack([emb[t].mean(0) for t in bags]) @ w.T + b
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_transformer_classifier_ignores_padding_and_learns():
    torch.manual_seed(0)
    model = TransformerClassifier(vocab_size=30, num_classes=2, d_model=16, nhead=2,
                                  num_layers=2, dim_feedforward=32, dropout=0.0)  # fmt: skip
    model.eval()
    short = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0]])
    with torch.no_grad():
        assert torch.allclose(model(short), model(padded), atol=1e-5)
    # a separable task: does the text contain token 3?
    gen = np.random.default_rng(0)
    x = gen.integers(4, 30, (64, 8))
    y = gen.integers(0, 2, 64)
    x[y == 1, gen.integers(0, 8, (y == 1).sum())] = 3
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(xt).argmax(-1) == yt).float().mean())
    assert acc > 0.95
