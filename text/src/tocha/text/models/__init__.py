"""Transformer models with Hugging Face key names and call style (BERT, GPT-2), sentence
embeddings, and the torchtext text-classification baselines.

Example:
    >>> from tocha.text import models
    >>> sorted(n for n in models.__all__ if n.startswith("Bert"))[:2]
    ['BertConfig', 'BertForMaskedLM']
"""

from __future__ import annotations

from ._output import (
    BaseModelOutputWithPooling,
    CausalLMOutputWithPast,
    MaskedLMOutput,
    ModelOutput,
    SequenceClassifierOutput,
)
from .bert import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel
from .classifier import TextClassificationModel, TransformerClassifier
from .gpt import GPT, Conv1D, GPTConfig, KVCache
from .sentence import Pooling, SentenceEncoder

__all__ = [
    "BaseModelOutputWithPooling",
    "BertConfig",
    "BertForMaskedLM",
    "BertForSequenceClassification",
    "BertModel",
    "CausalLMOutputWithPast",
    "Conv1D",
    "GPT",
    "GPTConfig",
    "KVCache",
    "MaskedLMOutput",
    "ModelOutput",
    "Pooling",
    "SentenceEncoder",
    "TextClassificationModel",
    "TransformerClassifier",
    "SequenceClassifierOutput",
]
