"""Small helpers shared by the builders."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, TypeVar

from tocha.core import nn

__all__ = ["IntermediateLayerGetter"]

V = TypeVar("V")


class IntermediateLayerGetter(nn.ModuleDict):
    """Run a model's direct children in order and return the outputs of some of them.

    Only the children up to the last requested one are kept, so the classifier head of a
    backbone is dropped. The children must be used in the order they were registered and only
    once in the model's ``forward`` (true of ResNet and of ``MobileNetV3.features``).

    Args:
        model: the model whose children are run.
        return_layers: ``{child name: output key}``.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import nn
        >>> from tocha.vision.models._utils import IntermediateLayerGetter
        >>> m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.Flatten())
        >>> out = IntermediateLayerGetter(m, {"0": "low", "2": "high"})(torch.zeros(1, 3, 8, 8))
        >>> {k: tuple(v.shape) for k, v in out.items()}
        {'low': (1, 4, 6, 6), 'high': (1, 5, 4, 4)}
    """

    _version = 2

    def __init__(self, model: nn.Module, return_layers: dict[str, str]) -> None:
        names = [name for name, _ in model.named_children()]
        missing = [k for k in return_layers if k not in names]
        if missing:
            raise ValueError(
                f"IntermediateLayerGetter: return_layers {missing} are not children of the "
                f"model (children: {names})"
            )
        orig_return_layers = return_layers
        return_layers = {str(k): str(v) for k, v in return_layers.items()}
        wanted = dict(return_layers)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            wanted.pop(name, None)
            if not wanted:
                break
        super().__init__(layers)
        self.return_layers = orig_return_layers

    def forward(self, x):
        out: OrderedDict = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


def _ovewrite_value_param(param: str, actual: V | None, expected: V) -> V:
    """``expected``, refusing a different non-None ``actual`` the caller passed."""
    if actual is not None and actual != expected:
        raise ValueError(
            f"The parameter '{param}' expected value {expected} but got {actual} instead "
            "(it is fixed by the pretrained weights)."
        )
    return expected


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, never going below 90% of ``v``.

    The rule of the original TensorFlow MobileNet code, which the published widths follow.
    """
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _ovewrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """Set ``kwargs[param]``, refusing a conflicting value the caller passed."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(
                f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} "
                "instead (it is fixed by the pretrained weights)."
            )
    else:
        kwargs[param] = new_value


def _load_weights(model, weights, progress: bool) -> None:
    """Load ``weights`` (a WeightsEnum member) into ``model``, strictly."""
    model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
