"""Text data: word tokenizers, dataset readers, a length-bucketing sampler and padding collate.

Example:
    >>> from tocha.text.data import get_tokenizer, BucketBatchSampler, pad_collate
    >>> get_tokenizer("basic_english")("Hello, World!")
    ['hello', ',', 'world', '!']
"""

from . import functional, utils
from .classification import SentencePairDataset, TextClassificationDataset
from .collate import PadCollate, pad_collate
from .lm import LanguageModelingDataset
from .qa import SquadDataset, prepare_qa_features
from .sampler import BucketBatchSampler
from .utils import char_tokenizer, get_tokenizer, ngrams_iterator

__all__ = [
    "BucketBatchSampler",
    "LanguageModelingDataset",
    "PadCollate",
    "SentencePairDataset",
    "SquadDataset",
    "TextClassificationDataset",
    "char_tokenizer",
    "functional",
    "get_tokenizer",
    "ngrams_iterator",
    "pad_collate",
    "prepare_qa_features",
    "utils",
]
