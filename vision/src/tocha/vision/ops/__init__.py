"""Operators for vision (torchvision.ops): boxes, RoI pooling, losses and building blocks."""

from .misc import Conv2dNormActivation, SqueezeExcitation, StochasticDepth, stochastic_depth

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "StochasticDepth", "stochastic_depth"]
