"""Small helpers shared by the builders."""

from __future__ import annotations

from typing import Any


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
