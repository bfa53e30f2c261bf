"""MLP (torch_geometric.nn.models.MLP)."""

from __future__ import annotations

import inspect

from tocha.core import Tensor
from tocha.core.nn import Identity, Module, ModuleList
from tocha.core.nn import functional as F

from ..dense.linear import Linear
from ..resolver import activation_resolver, normalization_resolver

__all__ = ["MLP"]


class MLP(Module):
    """A multi-layer perceptron: ``Linear -> norm -> act -> dropout`` per layer, the last layer
    plain (``plain_last``).

    Args:
        channel_list: sizes of all layers, or give ``in_channels``, ``hidden_channels``,
            ``out_channels``, ``num_layers``.
        dropout: dropout (one value or one per layer).
        act: activation name or module.
        norm: ``'batch_norm'`` (default), ``'layer_norm'``, ``None``, ...

    Example:
        >>> import tocha.core as torch
        >>> from tocha.geometric.nn import MLP
        >>> MLP([3, 8, 2], norm=None)(torch.ones(5, 3)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        channel_list=None,
        *,
        in_channels: int | None = None,
        hidden_channels: int | None = None,
        out_channels: int | None = None,
        num_layers: int | None = None,
        dropout=0.0,
        act="relu",
        act_first: bool = False,
        act_kwargs: dict | None = None,
        norm="batch_norm",
        norm_kwargs: dict | None = None,
        plain_last: bool = True,
        bias=True,
        **kwargs,
    ) -> None:
        super().__init__()
        if isinstance(channel_list, int):
            in_channels, channel_list = channel_list, None
        if channel_list is None:
            if num_layers is None or num_layers < 1:
                raise ValueError("MLP: give 'channel_list' or 'num_layers' >= 1")
            if in_channels is None or out_channels is None:
                raise ValueError("MLP: give 'in_channels' and 'out_channels'")
            if num_layers > 1 and hidden_channels is None:
                raise ValueError("MLP: 'hidden_channels' is needed for num_layers > 1")
            channel_list = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        channel_list = list(channel_list)
        if len(channel_list) < 2:
            raise ValueError("MLP: 'channel_list' needs at least two sizes")
        self.channel_list = channel_list
        self.act = activation_resolver(act, **(act_kwargs or {}))
        self.act_first = act_first
        self.plain_last = plain_last
        n = len(channel_list) - 1
        self.dropout = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * n
        if len(self.dropout) != n:
            raise ValueError(f"MLP: expected {n} dropout values, got {len(self.dropout)}")
        biases = list(bias) if isinstance(bias, (list, tuple)) else [bias] * n
        self.lins = ModuleList(
            [Linear(a, b, bias=bb) for a, b, bb in zip(channel_list[:-1], channel_list[1:], biases)]
        )
        self.norms = ModuleList()
        for hidden in channel_list[1:-1] if plain_last else channel_list[1:]:
            m = normalization_resolver(norm, hidden, **(norm_kwargs or {})) if norm else None
            self.norms.append(m if m is not None else Identity())
        self._norm_batch = ["batch" in inspect.signature(m.forward).parameters for m in self.norms]

    @property
    def in_channels(self) -> int:
        return self.channel_list[0]

    @property
    def out_channels(self) -> int:
        return self.channel_list[-1]

    @property
    def num_layers(self) -> int:
        return len(self.channel_list) - 1

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()
        for norm in self.norms:
            if hasattr(norm, "reset_parameters"):
                norm.reset_parameters()

    def forward(self, x: Tensor, batch=None, batch_size=None, return_emb=None) -> Tensor:
        for i, (lin, norm) in enumerate(zip(self.lins, self.norms)):
            x = lin(x)
            if self.act is not None and self.act_first:
                x = self.act(x)
            x = norm(x, batch, batch_size) if self._norm_batch[i] else norm(x)
            if self.act is not None and not self.act_first:
                x = self.act(x)
            x = F.dropout(x, p=self.dropout[i], training=self.training)
        if self.plain_last:
            x = self.lins[-1](x)
            x = F.dropout(x, p=self.dropout[-1], training=self.training)
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.channel_list)[1:-1]})"
