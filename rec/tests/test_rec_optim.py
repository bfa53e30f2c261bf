import numpy as np

import tocha.core as torch
from tocha.rec.optim import (
    CombinedOptimizer,
    KeyedOptimizerWrapper,
    apply_optimizer_in_backward,
    in_backward_optimizer_filter,
)


def test_keyed_wrapper_steps_like_its_optimizer_and_names_state():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    table = torch.nn.Parameter(torch.zeros(4, 2))
    apply_optimizer_in_backward(torch.optim.SGD, [table], {"lr": 0.1})
    named = dict(in_backward_optimizer_filter([("w", a.weight), ("b", a.bias), ("table", table)]))
    assert list(named) == ["w", "b"]
    assert [n for n, _ in in_backward_optimizer_filter([("table", table)], include=True)] == [
        "table"
    ]
    keyed = KeyedOptimizerWrapper(named, lambda ps: torch.optim.Adagrad(ps, lr=0.3))
    plain = torch.optim.Adagrad(b.parameters(), lr=0.3)
    x = torch.randn(5, 3)
    for opt, m in ((keyed, a), (plain, b)):
        for _ in range(2):
            opt.zero_grad()
            (m(x) ** 2).sum().backward()
            opt.step()
    np.testing.assert_allclose(a.weight.detach().numpy(), b.weight.detach().numpy(), rtol=1e-6)
    sd = keyed.state_dict()
    assert sorted(sd["state"]) == ["b", "w"]
    np.testing.assert_allclose(
        sd["state"]["w"]["sum"].numpy(), plain.state[b.weight]["sum"].numpy(), rtol=1e-6
    )
    combined = CombinedOptimizer([("dense", keyed)])
    assert sorted(combined.params) == ["dense.b", "dense.w"]
    combined.zero_grad()
    assert a.weight.grad is None
