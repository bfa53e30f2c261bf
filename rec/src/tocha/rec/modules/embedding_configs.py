"""Table configurations (torchrec.modules.embedding_configs).

Example:
    >>> from tocha.rec.modules.embedding_configs import EmbeddingBagConfig, PoolingType
    >>> cfg = EmbeddingBagConfig(name="t1", embedding_dim=8, num_embeddings=100,
    ...                          feature_names=["f1"], pooling=PoolingType.MEAN)
    >>> cfg.get_weight_init_max()
    0.1
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, unique

import tocha.core as torch

__all__ = [
    "BaseEmbeddingConfig",
    "DataType",
    "EmbeddingBagConfig",
    "EmbeddingConfig",
    "PoolingType",
    "data_type_to_dtype",
    "pooling_type_to_str",
]


@unique
class PoolingType(Enum):
    """How an EmbeddingBag reduces the rows of one bag."""

    SUM = "SUM"
    MEAN = "MEAN"
    MAX = "MAX"
    NONE = "NONE"


@unique
class DataType(Enum):
    """Storage type of an embedding table."""

    FP32 = "FP32"
    FP16 = "FP16"
    BF16 = "BF16"

    def __str__(self) -> str:
        return self.value


def data_type_to_dtype(data_type: DataType):
    """The tocha dtype of a ``DataType``.

    Example:
        >>> data_type_to_dtype(DataType.FP16)
        torch.float16
    """
    # keyed by value so an enum imported under another module name still matches
    table = {"FP32": torch.float32, "FP16": torch.float16, "BF16": torch.bfloat16}
    key = getattr(data_type, "value", data_type)
    if key not in table:
        raise ValueError(f"data_type_to_dtype: unsupported data type {data_type}")
    return table[key]


def pooling_type_to_str(pooling: PoolingType) -> str:
    """The ``nn.EmbeddingBag`` mode string of a pooling type.

    Example:
        >>> pooling_type_to_str(PoolingType.SUM)
        'sum'
    """
    key = getattr(pooling, "value", pooling)
    if key == "NONE":
        raise ValueError("pooling_type_to_str: PoolingType.NONE has no EmbeddingBag mode")
    return key.lower()


@dataclass
class BaseEmbeddingConfig:
    """Fields shared by every table config.

    The default initialisation is uniform in ``[-sqrt(1/num_embeddings), sqrt(1/num_embeddings)]``
    unless ``weight_init_min``/``weight_init_max`` or ``init_fn`` say otherwise.
    """

    num_embeddings: int
    embedding_dim: int
    name: str = ""
    data_type: DataType = DataType.FP32
    feature_names: list[str] = field(default_factory=list)
    weight_init_max: float | None = None
    weight_init_min: float | None = None
    num_embeddings_post_pruning: int | None = None
    init_fn: Callable | None = None
    need_pos: bool = False

    def __post_init__(self) -> None:
        if self.num_embeddings <= 0 or self.embedding_dim <= 0:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: num_embeddings ({self.num_embeddings}) and "
                f"embedding_dim ({self.embedding_dim}) must be positive"
            )

    def get_weight_init_max(self) -> float:
        if self.weight_init_max is None:
            return math.sqrt(1 / self.num_embeddings)
        return self.weight_init_max

    def get_weight_init_min(self) -> float:
        if self.weight_init_min is None:
            return -math.sqrt(1 / self.num_embeddings)
        return self.weight_init_min

    def num_features(self) -> int:
        return len(self.feature_names)


@dataclass
class EmbeddingBagConfig(BaseEmbeddingConfig):
    """A table whose bags are pooled (``pooling`` SUM by default)."""

    pooling: PoolingType = PoolingType.SUM


@dataclass
class EmbeddingConfig(BaseEmbeddingConfig):
    """A table looked up per position (no pooling)."""

    pooling: PoolingType = PoolingType.NONE
