"""Text classifiers: torchtext's EmbeddingBag baseline and a small transformer encoder."""

from __future__ import annotations

import math

import tocha.core as torch
from tocha.core import Tensor, nn

__all__ = ["TextClassificationModel", "TransformerClassifier"]


class TextClassificationModel(nn.Module):
    """torchtext's text-classification tutorial model: a mean ``EmbeddingBag`` over each
    text's tokens (flat ``text`` with ``offsets`` giving each text's start) and a linear
    layer, initialised uniformly in [-0.5, 0.5] with a zero bias.

    Example:
        >>> import tocha.core as torch
        >>> _ = torch.manual_seed(0)
        >>> model = TextClassificationModel(vocab_size=10, embed_dim=4, num_class=3)
        >>> text, offsets = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2])
        >>> tuple(model(text, offsets).shape)
        (2, 3)
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_class: int) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self) -> None:
        r = 0.5
        nn.init.uniform_(self.embedding.weight, -r, r)
        nn.init.uniform_(self.fc.weight, -r, r)
        nn.init.zeros_(self.fc.bias)

    def forward(self, text: Tensor, offsets: Tensor) -> Tensor:
        return self.fc(self.embedding(text, offsets))


class TransformerClassifier(nn.Module):
    """Token embeddings scaled by sqrt(d_model) plus sinusoidal positions, an
    ``nn.TransformerEncoder`` (batch first), pooling over the non-padding tokens (``"mean"``)
    or the first token (``"cls"``), and a linear head.

    ``forward(input_ids, attention_mask=None)``: ids (batch, seq); the mask (1 = token,
    0 = padding) defaults to ``input_ids != padding_idx``. Returns logits (batch, num_classes).

    Example:
        >>> import tocha.core as torch
        >>> _ = torch.manual_seed(0)
        >>> model = TransformerClassifier(vocab_size=30, num_classes=2, d_model=16, nhead=2,
        ...                               num_layers=1, dim_feedforward=32).eval()
        >>> tuple(model(torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])).shape)
        (2, 2)
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 128,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        max_len: int = 512,
        padding_idx: int = 0,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(
                f"TransformerClassifier: pooling must be 'mean' or 'cls', got '{pooling}'"
            )
        self.d_model, self.padding_idx, self.pooling = d_model, padding_idx, pooling
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div = torch.exp(
            torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(1e4) / d_model)
        )
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", pe, persistent=False)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        n = input_ids.shape[1]
        if n > self.pe.shape[0]:
            raise ValueError(
                f"TransformerClassifier: sequence length {n} exceeds max_len {self.pe.shape[0]}"
            )
        if attention_mask is None:
            attention_mask = input_ids != self.padding_idx
        keep = attention_mask.bool()
        x = self.embedding(input_ids) * math.sqrt(self.d_model) + self.pe[:n]
        x = self.encoder(self.dropout(x), src_key_padding_mask=~keep)
        if self.pooling == "cls":
            pooled = x[:, 0]
        else:
            m = keep.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.classifier(pooled)
