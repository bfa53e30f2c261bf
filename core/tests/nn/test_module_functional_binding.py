"""Layers whose forward is a class attribute ``_fn = staticmethod(F.something)`` (the conv,
pooling, dropout, loss and activation families): the attribute must be the public function
of ``tocha.core.nn.functional``, and under autocast the layer must give what that function
gives (amp swaps such attributes along with the module namespaces)."""

from __future__ import annotations

import inspect

import pytest

import tocha.core as torch
import tocha.core.nn.functional as F
from tocha.core import nn


def _fn_classes() -> list:
    out = []
    for name in nn.modules.__all__:
        cls = getattr(nn, name)
        if inspect.isclass(cls) and isinstance(cls.__dict__.get("_fn"), staticmethod):
            out.append(cls)
    return out


def test_fn_families_are_found():
    names = {c.__name__ for c in _fn_classes()}
    expected = {"Conv2d", "MaxPool2d", "AvgPool3d", "ReLU", "Softmax", "MSELoss", "Dropout2d"}
    assert expected <= names


@pytest.mark.parametrize("cls", _fn_classes(), ids=lambda c: c.__name__)
def test_fn_is_the_public_functional(cls):
    fn = cls.__dict__["_fn"].__func__
    public = getattr(F, fn.__name__, None)
    assert public is fn, f"{cls.__name__}._fn is not F.{fn.__name__}"


def _bf16(*shape):
    torch.manual_seed(0)
    return torch.randn(*shape).bfloat16()


# the references look F up at call time: a function object captured here, before the first
# autocast region, would stay unwrapped
CASES = [
    (lambda: nn.MSELoss(), lambda x, y: F.mse_loss(x, y), lambda: (_bf16(4, 5), _bf16(4, 5))),
    (lambda: nn.L1Loss(), lambda x, y: F.l1_loss(x, y), lambda: (_bf16(4, 5), _bf16(4, 5))),
    (
        lambda: nn.MarginRankingLoss(),
        lambda a, b, t: F.margin_ranking_loss(a, b, t),
        lambda: (_bf16(4), _bf16(4), torch.tensor([1.0, -1.0, 1.0, -1.0]).bfloat16()),
    ),
    (lambda: nn.Softmax(dim=1), lambda x: F.softmax(x, 1), lambda: (_bf16(4, 5),)),
    (lambda: nn.MaxPool2d(2), lambda x: F.max_pool2d(x, 2), lambda: (_bf16(1, 2, 4, 4),)),
    (lambda: nn.ReLU(), lambda x: F.relu(x), lambda: (_bf16(4, 5),)),
]


@pytest.mark.parametrize("make, ref, inputs", CASES, ids=["mse", "l1", "rank", "sm", "mp", "relu"])
def test_layer_follows_functional_under_autocast(make, ref, inputs):
    m, args = make(), inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = m(*args), ref(*args)
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want)
