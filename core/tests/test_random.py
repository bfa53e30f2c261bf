"""Random sampling: seeding and generator state, the distributions against SciPy, argument
handling (dtype, device, requires_grad, generator, out), the in-place samplers and errors.

Distribution checks draw many samples with a fixed seed and use bounds several standard errors
wide, so they are deterministic and still fail for a wrong mean, scale or shape.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import stats

import tocha.core as torch
from tocha.core._device import cuda_available

N = 100_000


def _np(t):
    return t.detach().numpy()


# --- seeding and generator state ------------------------------------------------------------
def _draw_all(generator=None):
    return [
        _np(torch.rand(5, generator=generator)),
        _np(torch.randn(5, generator=generator)),
        _np(torch.randint(0, 1000, (5,), generator=generator)),
        _np(torch.randperm(9, generator=generator)),
        _np(torch.multinomial(torch.ones(6), 3, generator=generator)),
        _np(torch.normal(0.0, 1.0, (4,), generator=generator)),
        _np(torch.empty(4).uniform_(generator=generator)),
    ]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_manual_seed_reproduces_the_stream():
    torch.manual_seed(123)
    first = _draw_all()
    torch.manual_seed(123)
    assert _same(first, _draw_all())
    torch.manual_seed(124)
    assert not _same(first, _draw_all())


def test_consecutive_draws_differ():
    torch.manual_seed(0)
    assert not np.array_equal(_np(torch.rand(8)), _np(torch.rand(8)))


def test_generators_with_same_seed_agree_and_are_independent():
    g1 = torch.Generator().manual_seed(7)
    g2 = torch.Generator().manual_seed(7)
    torch.manual_seed(0)
    ref_default = _np(torch.rand(4))
    torch.manual_seed(0)
    a = _draw_all(g1)
    # draws from g1 neither advance g2 nor the default generator
    assert _np(torch.rand(4)).tolist() == ref_default.tolist()
    assert _same(a, _draw_all(g2))
    g3 = torch.Generator().manual_seed(8)
    assert not _same(_draw_all(torch.Generator().manual_seed(7)), _draw_all(g3))


def test_seed_values_and_return_types():
    g = torch.manual_seed(42)
    assert g is torch.default_generator
    assert torch.initial_seed() == 42
    assert torch.default_generator.initial_seed() == 42
    gen = torch.Generator()
    assert gen.manual_seed(5) is gen
    assert gen.initial_seed() == 5
    assert gen.device == torch.device("cpu")
    # torch's rule: negative seeds wrap to unsigned 64-bit
    assert torch.manual_seed(-1).initial_seed() == 2**64 - 1
    assert torch.Generator().initial_seed() == 67280421310721  # torch's default seed
    with pytest.raises(ValueError, match="Overflow"):
        torch.manual_seed(2**64)


def test_seed_is_nondeterministic_and_recorded():
    s1 = torch.seed()
    assert isinstance(s1, int) and 0 <= s1 < 2**64
    assert torch.initial_seed() == s1
    s2 = torch.Generator().seed()
    assert s1 != s2


def test_rng_state_round_trip():
    torch.manual_seed(3)
    torch.rand(3)
    state = torch.get_rng_state()
    assert state.dtype == torch.uint8 and state.ndim == 1
    a = _draw_all()
    torch.set_rng_state(state)
    assert _same(a, _draw_all())
    # a half-consumed 32-bit buffer (float32 draws) is part of the state too
    torch.rand(1)
    state = torch.random.get_rng_state()
    b = _np(torch.rand(7))
    torch.random.set_rng_state(state)
    assert np.array_equal(b, _np(torch.rand(7)))


def test_generator_state_transfers_between_generators():
    g1 = torch.Generator().manual_seed(11)
    torch.randn(3, generator=g1)
    g2 = torch.Generator()
    assert g2.set_state(g1.get_state()) is g2
    assert g2.initial_seed() == 11
    assert _same(_draw_all(g1), _draw_all(g2))


def test_set_state_errors():
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        torch.set_rng_state(torch.zeros(48))
    with pytest.raises(RuntimeError, match="size 48 but found the input RNG state size to be 3"):
        torch.Generator().set_state(torch.zeros(3, dtype=torch.uint8))


def test_generator_pickles_with_its_state():
    g = torch.Generator().manual_seed(9)
    torch.rand(5, generator=g)
    g2 = pickle.loads(pickle.dumps(g))
    assert g2.initial_seed() == 9
    assert _same(_draw_all(g), _draw_all(g2))


def test_fork_rng_restores_state():
    torch.manual_seed(0)
    expected = _np(torch.rand(4))
    torch.manual_seed(0)
    with torch.random.fork_rng():
        torch.rand(100)
        torch.manual_seed(99)
    assert np.array_equal(_np(torch.rand(4)), expected)
    torch.manual_seed(0)
    with torch.random.fork_rng(enabled=False):
        torch.rand(100)
    assert not np.array_equal(_np(torch.rand(4)), expected)


@pytest.mark.skipif(cuda_available(), reason="checks the error without a GPU")
def test_cuda_generator_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        torch.Generator("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        torch.rand(2, device="cuda")


# --- rand / randn / randint / randperm: values and distributions ----------------------------
def test_rand_is_uniform_on_unit_interval():
    x = _np(torch.rand(N)).astype(np.float64)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.005
    assert abs(x.var() - 1 / 12) < 0.002
    assert stats.kstest(x, "uniform").pvalue > 1e-3
    # a normal sample must fail the same test (the test has power)
    assert stats.kstest(_np(torch.randn(N)), "uniform").pvalue < 1e-6


def test_randn_is_standard_normal():
    x = _np(torch.randn(N)).astype(np.float64)
    assert abs(x.mean()) < 0.015
    assert abs(x.std() - 1.0) < 0.015
    assert stats.kstest(x, "norm").pvalue > 1e-3
    assert stats.kstest(x * 1.1, "norm").pvalue < 1e-6


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_rand_low_precision_stays_below_one(dtype):
    x = torch.rand(N, dtype=dtype)
    assert x.dtype == dtype
    v = np.asarray(x.float().numpy(), dtype=np.float64)
    assert v.min() >= 0.0 and v.max() < 1.0
    assert abs(v.mean() - 0.5) < 0.01
    digits = 11 if dtype is torch.float16 else 8
    assert np.all(v * 2**digits == np.floor(v * 2**digits))  # on the dtype's grid
    z = np.asarray(torch.randn(N, dtype=dtype).float().numpy(), dtype=np.float64)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02


def test_complex_randn_and_rand():
    z = _np(torch.randn(N, dtype=torch.complex64))
    assert z.dtype == np.complex64
    assert abs(z.real.var() - 0.5) < 0.01 and abs(z.imag.var() - 0.5) < 0.01
    u = _np(torch.rand(1000, dtype=torch.complex128))
    assert u.real.min() >= 0 and u.real.max() < 1 and u.imag.min() >= 0 and u.imag.max() < 1


def test_randint_is_uniform_over_its_range():
    x = _np(torch.randint(3, 13, (N,)))
    assert x.dtype == np.int64
    assert x.min() == 3 and x.max() == 12
    counts = np.bincount(x - 3, minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-3
    skewed = np.bincount(np.minimum(x - 3, 8), minlength=10)
    assert stats.chisquare(skewed).pvalue < 1e-6


def test_randint_signatures_and_dtypes():
    assert torch.randint(10, (2, 3)).shape == (2, 3)
    assert torch.randint(10, size=(4,)).shape == (4,)
    assert torch.randint(high=10, size=(4,)).shape == (4,)
    assert torch.randint(low=5, high=6, size=(3,)).tolist() == [5, 5, 5]
    assert torch.randint(-3, -2, torch.Size([2])).tolist() == [-3, -3]
    assert torch.randint(0, 5, (3,), dtype=torch.float32).dtype == torch.float32
    b = torch.randint(0, 2, (1000,), dtype=torch.bool)
    assert b.dtype == torch.bool and 0 < int(_np(b).sum()) < 1000
    u8 = _np(torch.randint(0, 256, (5000,), dtype=torch.uint8))
    assert u8.dtype == np.uint8 and u8.max() > 250
    big = _np(torch.randint(-(2**63), 2**63 - 1, (1000,)))
    assert big.min() < -(2**60) and big.max() > 2**60


def test_randint_errors():
    with pytest.raises(
        RuntimeError,
        match=r"random_ expects 'from' to be less than 'to', but got from=5 >= to=5",
    ):
        torch.randint(5, 5, (3,))
    with pytest.raises(RuntimeError, match="from is out of bounds for unsigned char"):
        torch.randint(-1, 5, (3,), dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for signed char"):
        torch.randint(0, 200, (3,), dtype=torch.int8)
    with pytest.raises(TypeError, match="must be int, not float"):
        torch.randint(3.5, (3,))
    with pytest.raises(TypeError, match="size"):
        torch.randint(3, 10)
    with pytest.raises(RuntimeError, match="floating point and complex"):
        torch.randint(5, (2,), requires_grad=True)


def test_randperm_is_a_permutation():
    for n in (0, 1, 7, 1000):
        p = _np(torch.randperm(n))
        assert p.dtype == np.int64
        assert np.array_equal(np.sort(p), np.arange(n))
    assert torch.randperm(5, dtype=torch.int8).dtype == torch.int8
    assert sorted(torch.randperm(4, dtype=torch.float32).tolist()) == [0.0, 1.0, 2.0, 3.0]
    # the first element is uniform over 0..n-1
    firsts = np.array([torch.randperm(5).tolist()[0] for _ in range(5000)])
    assert stats.chisquare(np.bincount(firsts, minlength=5)).pvalue > 1e-3


def test_randperm_errors():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        torch.randperm(-1)
    with pytest.raises(NotImplementedError, match="'Bool'"):
        torch.randperm(3, dtype=torch.bool)
    with pytest.raises(RuntimeError, match="randperm"):
        torch.randperm(300, dtype=torch.int8)


# --- factory arguments ----------------------------------------------------------------------
@pytest.mark.parametrize("fn", [torch.rand, torch.randn])
def test_factory_size_forms_and_arguments(fn):
    for size in [(2, 3), ((2, 3),), ([2, 3],), (torch.Size([2, 3]),)]:
        assert fn(*size).shape == (2, 3)
    assert fn(size=(2, 3)).shape == (2, 3)
    assert fn(()).shape == () and fn().shape == ()
    assert fn(0, 3).shape == (0, 3)
    assert fn(2).dtype == torch.float32
    assert fn(2, dtype=torch.float64).dtype == torch.float64
    assert fn(2, device="cpu").device == torch.device("cpu")
    x = fn(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    torch.set_default_dtype(torch.float64)
    assert fn(2).dtype == torch.float64


def test_factory_dtype_errors():
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.rand(3, dtype=torch.int64)
    with pytest.raises(NotImplementedError, match="not implemented for 'Int'"):
        torch.randn(3, dtype=torch.int32)
    with pytest.raises(RuntimeError, match="negative dimension"):
        torch.rand(-1)
    with pytest.raises(TypeError, match="size"):
        torch.rand(2.5)


def test_out_argument_writes_in_place():
    out = torch.zeros(2, 3, dtype=torch.float64)
    res = torch.rand(2, 3, out=out)
    assert res is out and out.dtype == torch.float64
    assert 0 < float(_np(out).sum()) < 6


def test_generator_argument_type_is_checked():
    with pytest.raises(TypeError, match="Generator"):
        torch.rand(2, generator=3)


def test_like_functions():
    x = torch.zeros(2, 3, dtype=torch.float64)
    assert torch.rand_like(x).dtype == torch.float64 and torch.rand_like(x).shape == (2, 3)
    assert torch.randn_like(x, dtype=torch.float32).dtype == torch.float32
    i = torch.zeros(4, 5, dtype=torch.int32)
    r = torch.randint_like(i, 7)
    assert r.dtype == torch.int32 and r.shape == (4, 5)
    assert int(_np(r).min()) >= 0 and int(_np(r).max()) < 7
    r = _np(torch.randint_like(x, 3, 5))
    assert set(np.unique(r).tolist()) <= {3.0, 4.0}
    with pytest.raises(NotImplementedError, match="'Int'"):
        torch.rand_like(i)
    g = torch.Generator().manual_seed(1)
    a = _np(torch.rand_like(x, generator=g))
    assert np.array_equal(a, _np(torch.rand_like(x, generator=torch.Generator().manual_seed(1))))
    assert torch.rand_like(x, requires_grad=True).requires_grad


# --- normal ---------------------------------------------------------------------------------
def test_normal_scalar_overload():
    x = torch.normal(2.0, 3.0, size=(N,))
    assert x.dtype == torch.float32 and x.shape == (N,)
    v = _np(x).astype(np.float64)
    assert stats.kstest(v, "norm", args=(2.0, 3.0)).pvalue > 1e-3
    assert torch.normal(0, 1, (2,), dtype=torch.float64).dtype == torch.float64
    assert torch.normal(0.0, 1.0, (3,), requires_grad=True).requires_grad
    assert torch.normal(5.0, 0.0, (3,)).tolist() == [5.0, 5.0, 5.0]


def test_normal_tensor_overloads_broadcast_and_scale():
    mean = torch.tensor([[0.0], [10.0]])  # (2, 1)
    std = torch.tensor([0.5, 1.0, 2.0])  # (3,)
    x = torch.normal(mean.expand(2, 3).contiguous(), std)
    assert x.shape == (2, 3)
    big = _np(torch.normal(torch.full((N // 10, 3), 10.0), torch.tensor([0.5, 1.0, 2.0])))
    assert np.allclose(big.mean(0), 10.0, atol=0.05)
    assert np.allclose(big.std(0), [0.5, 1.0, 2.0], rtol=0.03)
    m = _np(torch.normal(torch.arange(4.0).repeat(N // 20), 0.25)).reshape(-1, 4)
    assert np.allclose(m.mean(0), [0, 1, 2, 3], atol=0.01)
    s = _np(torch.normal(-1.0, torch.full((N // 10,), 2.0)))
    assert abs(s.mean() + 1) < 0.05 and abs(s.std() - 2) < 0.05


def test_normal_dtypes_follow_the_tensor_argument():
    f64, f32 = torch.zeros(2, dtype=torch.float64), torch.ones(2)
    assert torch.normal(f64, f32).dtype == torch.float64
    assert torch.normal(f32, f64).dtype == torch.float32
    assert torch.normal(f64, 1.0).dtype == torch.float64
    assert torch.normal(1.0, f64).dtype == torch.float64
    assert torch.normal(torch.zeros(3, dtype=torch.float16), f64[:1]).dtype == torch.float16


def test_normal_has_a_zero_gradient_like_torch():
    mean = torch.tensor([1.0, 2.0], requires_grad=True)
    std = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.normal(mean, std)
    assert y.grad_fn is not None and y.grad_fn.name() == "NormalBackward3"
    y.sum().backward()
    assert mean.grad.tolist() == [0.0, 0.0] and std.grad.tolist() == [0.0, 0.0]
    y = torch.normal(mean, 1.0)
    assert y.grad_fn.name() == "NormalBackward1"
    y = torch.normal(0.0, std)
    assert y.grad_fn.name() == "NormalBackward2"


def test_normal_errors():
    with pytest.raises(RuntimeError, match=r"normal expects std >= 0.0, but found std -1"):
        torch.normal(0.0, -1.0, (3,))
    with pytest.raises(RuntimeError, match=r"normal expects std >= 0.0, but found std -1"):
        torch.normal(torch.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match=r"normal expects all elements of std >= 0.0"):
        torch.normal(torch.zeros(2), torch.tensor([1.0, -1.0]))
    with pytest.raises(TypeError, match="normal"):
        torch.normal(0.0, 1.0)
    with pytest.raises(NotImplementedError, match="'Long'"):
        torch.normal(torch.tensor([1, 2]), 1.0)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match .* \(4\)"):
        torch.normal(torch.zeros(2, 3), torch.ones(4))


# --- bernoulli / multinomial / poisson ------------------------------------------------------
def test_bernoulli_frequencies():
    p = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).repeat(N // 5, 1)
    x = torch.bernoulli(p)
    assert x.dtype == torch.float32 and x.shape == p.shape
    v = _np(x)
    assert set(np.unique(v).tolist()) <= {0.0, 1.0}
    assert np.allclose(v.mean(0), [0.0, 0.1, 0.5, 0.9, 1.0], atol=0.01)
    assert v[:, 0].sum() == 0 and v[:, 4].min() == 1
    d = torch.bernoulli(torch.full((N,), 0.3, dtype=torch.float64))
    assert d.dtype == torch.float64 and abs(_np(d).mean() - 0.3) < 0.01
    assert torch.full((3,), 0.5).bernoulli().shape == (3,)


def test_bernoulli_with_scalar_p_keeps_input_dtype():
    x = torch.bernoulli(torch.zeros(N, dtype=torch.int64), p=0.25)
    assert x.dtype == torch.int64
    assert abs(_np(x).mean() - 0.25) < 0.01


def test_bernoulli_gradient_is_zero():
    p = torch.tensor([0.2, 0.7], requires_grad=True)
    y = torch.bernoulli(p)
    assert y.grad_fn.name() == "BernoulliBackward0"
    y.sum().backward()
    assert p.grad.tolist() == [0.0, 0.0]


def test_bernoulli_errors():
    with pytest.raises(RuntimeError, match="p_in >= 0 && p_in <= 1"):
        torch.bernoulli(torch.tensor([1.5]))
    with pytest.raises(NotImplementedError, match="'Long'"):
        torch.bernoulli(torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"expects p to be in \[0, 1\], but got p=1.5"):
        torch.bernoulli(torch.zeros(3), p=1.5)


def test_multinomial_with_replacement_matches_probabilities():
    w = torch.tensor([1.0, 0.0, 3.0, 6.0])  # unnormalised weights
    x = _np(torch.multinomial(w, N, replacement=True))
    assert x.dtype == np.int64 and x.shape == (N,)
    counts = np.bincount(x, minlength=4)
    assert counts[1] == 0
    expected = np.array([0.1, 0.3, 0.6]) * N
    assert stats.chisquare(counts[[0, 2, 3]], expected).pvalue > 1e-3
    assert stats.chisquare(counts[[0, 2, 3]], expected[::-1]).pvalue < 1e-6


def test_multinomial_2d_rows_are_independent_distributions():
    w = torch.tensor([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], dtype=torch.float64)
    x = _np(torch.multinomial(w, 30_000, replacement=True))
    assert x.shape == (3, 30_000)
    assert np.all(x[0] == 2)
    assert set(np.unique(x[1]).tolist()) == {0, 1}
    assert abs((x[1] == 0).mean() - 0.5) < 0.015
    assert np.allclose(np.bincount(x[2], minlength=3) / 30_000, [0.2, 0.3, 0.5], atol=0.015)


def test_multinomial_without_replacement_distinct_and_ordered_like_sequential_draws():
    p = np.array([0.5, 0.3, 0.2])
    rows = 30_000
    x = _np(torch.multinomial(torch.tensor(p).repeat(rows, 1), 2))
    assert x.shape == (rows, 2) and np.all(x[:, 0] != x[:, 1])
    # sequential sampling: P(i then j) = p_i * p_j / (1 - p_i)
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    expected = np.array([p[i] * p[j] / (1 - p[i]) for i, j in pairs]) * rows
    observed = np.array([np.sum((x[:, 0] == i) & (x[:, 1] == j)) for i, j in pairs])
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # a wrong (unordered, with-replacement) model must be rejected
    wrong = np.array([p[i] * p[j] for i, j in pairs])
    assert stats.chisquare(observed, wrong / wrong.sum() * rows).pvalue < 1e-6


def test_multinomial_without_replacement_edge_cases():
    perm = _np(torch.multinomial(torch.rand(2, 50) + 0.01, 50))
    assert np.all(np.sort(perm, axis=1) == np.arange(50))
    # zero weights come only after every positive weight is used up
    x = _np(torch.multinomial(torch.tensor([0.0, 1.0, 0.0, 2.0]).repeat(200, 1), 2))
    assert set(np.unique(x).tolist()) == {1, 3}
    y = _np(torch.multinomial(torch.tensor([0.5, 0.5, 0.0]), 3))
    assert sorted(y.tolist()) == [0, 1, 2] and y[2] == 2
    assert torch.multinomial(torch.tensor([0.0, 1.0, 0.0]), 1).tolist() == [1]
    assert torch.zeros(0, 3).multinomial(1).shape == (0, 1)


def test_multinomial_errors():
    with pytest.raises(RuntimeError, match="probability tensor contains either `inf`, `nan`"):
        torch.multinomial(torch.tensor([0.5, -0.1]), 1)
    with pytest.raises(RuntimeError, match="probability tensor contains either `inf`, `nan`"):
        torch.multinomial(torch.tensor([1.0, float("inf")]), 1)
    with pytest.raises(
        RuntimeError,
        match=r"cannot sample n_sample > prob_dist.size\(-1\) samples without replacement",
    ):
        torch.multinomial(torch.tensor([0.5, 0.1]), 3)
    with pytest.raises(RuntimeError, match=r"sum of probabilities <= 0"):
        torch.multinomial(torch.tensor([[0.0, 0.0], [1.0, 1.0]]), 1)
    with pytest.raises(RuntimeError, match="prob_dist must be 1 or 2 dim"):
        torch.multinomial(torch.ones(2, 2, 2), 1)
    with pytest.raises(
        RuntimeError, match="only supports floating-point dtypes for input, got: Long"
    ):
        torch.multinomial(torch.tensor([1, 2]), 1)
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        torch.multinomial(torch.tensor([1.0, 2.0]), 0)


def test_poisson_mean_and_variance():
    lam = torch.tensor([0.5, 4.0, 30.0]).repeat(N // 5, 1)
    x = torch.poisson(lam)
    assert x.dtype == torch.float32
    v = _np(x)
    assert np.all(v == np.floor(v)) and v.min() >= 0
    assert np.allclose(v.mean(0), [0.5, 4.0, 30.0], rtol=0.02)
    assert np.allclose(v.var(0), [0.5, 4.0, 30.0], rtol=0.05)
    assert torch.poisson(torch.zeros(3, dtype=torch.float64)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(
        RuntimeError, match="invalid Poisson rate, expected rate to be non-negative"
    ):
        torch.poisson(torch.tensor([-1.0]))
    with pytest.raises(NotImplementedError, match="'Long'"):
        torch.poisson(torch.tensor([1, 2]))


# --- in-place samplers ----------------------------------------------------------------------
def test_uniform_inplace():
    x = torch.empty(N)
    assert x.uniform_(2.0, 5.0) is x
    v = _np(x).astype(np.float64)
    assert v.min() >= 2.0 and v.max() < 5.0
    assert stats.kstest(v, "uniform", args=(2.0, 3.0)).pvalue > 1e-3
    h = torch.empty(1000, dtype=torch.float16).uniform_(-1, 1)
    hv = h.float().numpy()
    assert h.dtype == torch.float16 and hv.min() >= -1 and hv.max() <= 1
    c = _np(torch.zeros(1000, dtype=torch.complex64).uniform_(1, 3))
    assert c.real.min() >= 1 and c.imag.min() >= 1 and c.real.max() < 3 and c.imag.max() < 3


def test_normal_inplace():
    v = _np(torch.empty(N, dtype=torch.float64).normal_(3.0, 2.0))
    assert stats.kstest(v, "norm", args=(3.0, 2.0)).pvalue > 1e-3
    assert torch.zeros(3).normal_(1.5, 0.0).tolist() == [1.5, 1.5, 1.5]
    c = _np(torch.zeros(N, dtype=torch.complex64).normal_(5.0, 2.0))
    # torch shifts both parts by the mean and splits the variance between them
    assert abs(c.real.mean() - 5) < 0.03 and abs(c.imag.mean() - 5) < 0.03
    assert abs(c.real.std() - np.sqrt(2)) < 0.03


def test_bernoulli_inplace():
    x = torch.zeros(N, dtype=torch.int64).bernoulli_(0.3)
    assert x.dtype == torch.int64 and abs(_np(x).mean() - 0.3) < 0.01
    b = torch.zeros(1000, dtype=torch.bool).bernoulli_()
    assert 400 < int(_np(b).sum()) < 600
    p = torch.tensor([0.0, 1.0, 0.0])
    assert torch.zeros(2, 3).bernoulli_(p).tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    with pytest.raises(
        RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"
    ):
        torch.zeros(3).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="p_in >= 0 && p_in <= 1"):
        torch.zeros(3).bernoulli_(torch.tensor([2.0, 1.0, 0.0]))


@pytest.mark.parametrize(
    "dtype, hi",
    [
        (torch.float16, 2**11),
        (torch.bfloat16, 2**8),
        (torch.float32, 2**24),
        (torch.float64, 2**53),
        (torch.uint8, 255),
        (torch.int8, 127),
        (torch.int32, 2**31 - 1),
        (torch.int64, 2**63 - 1),
        (torch.bool, 1),
    ],
)
def test_random_inplace_default_range(dtype, hi):
    x = torch.empty(20_000, dtype=dtype).random_()
    v = x.double().numpy() if dtype in (torch.float16, torch.bfloat16) else _np(x)
    v = v.astype(np.float64)
    assert v.min() >= 0 and v.max() <= hi
    assert v.max() > hi * 0.9  # spans the range
    assert np.all(v == np.floor(v))


def test_random_inplace_bounds():
    x = _np(torch.empty(N, dtype=torch.int64).random_(10))
    assert x.min() == 0 and x.max() == 9
    assert stats.chisquare(np.bincount(x, minlength=10)).pvalue > 1e-3
    x = _np(torch.empty(1000).random_(-3, 4))
    assert x.min() == -3 and x.max() == 3 and np.all(x == np.floor(x))
    x = _np(torch.empty(1000, dtype=torch.int64).random_(2**62, None))
    assert x.min() >= 2**62
    with pytest.raises(
        RuntimeError, match="random_ expects 'from' to be less than 'to', but got from=10 >= to=3"
    ):
        torch.empty(3, dtype=torch.int64).random_(10, 3)
    with pytest.raises(RuntimeError, match="from is out of bounds for unsigned char"):
        torch.empty(3, dtype=torch.uint8).random_(-1, 5)
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for unsigned char"):
        torch.empty(3, dtype=torch.uint8).random_(0, 300)
    with pytest.raises(NotImplementedError, match="'ComplexFloat'"):
        torch.empty(3, dtype=torch.complex64).random_()


def test_exponential_geometric_log_normal_cauchy():
    e = _np(torch.empty(N, dtype=torch.float64).exponential_(2.0))
    assert e.min() >= 0
    assert stats.kstest(e, "expon", args=(0, 0.5)).pvalue > 1e-3
    g = _np(torch.empty(N).geometric_(0.3))
    assert g.min() == 1 and np.all(g == np.floor(g))
    assert abs(g.mean() - 1 / 0.3) < 0.05
    assert abs((g == 1).mean() - 0.3) < 0.01
    gi = torch.empty(100, dtype=torch.int32).geometric_(0.5)
    assert gi.dtype == torch.int32 and int(_np(gi).min()) >= 1
    ln = _np(torch.empty(N, dtype=torch.float64).log_normal_(0.5, 0.25))
    assert stats.kstest(np.log(ln), "norm", args=(0.5, 0.25)).pvalue > 1e-3
    d = _np(torch.empty(N).log_normal_()).astype(np.float64)  # torch's defaults: mean 1, std 2
    assert abs(np.log(d).mean() - 1.0) < 0.03 and abs(np.log(d).std() - 2.0) < 0.03
    c = _np(torch.empty(N, dtype=torch.float64).cauchy_(1.0, 2.0))
    assert stats.kstest(c, "cauchy", args=(1.0, 2.0)).pvalue > 1e-3


def test_inplace_errors():
    with pytest.raises(
        NotImplementedError, match="\"check_uniform_bounds\" not implemented for 'Long'"
    ):
        torch.zeros(3, dtype=torch.int64).uniform_()
    with pytest.raises(
        RuntimeError,
        match=r"uniform_ expects to return a \[from, to\) range, but found from=2 > to=1",
    ):
        torch.zeros(3).uniform_(2, 1)
    with pytest.raises(NotImplementedError, match="'Bool'"):
        torch.zeros(3, dtype=torch.bool).normal_()
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0, but found std -1"):
        torch.zeros(3).normal_(0, -1)
    with pytest.raises(RuntimeError, match="exponential_ expects lambda > 0.0, but found lambda=0"):
        torch.zeros(3).exponential_(0)
    with pytest.raises(
        RuntimeError, match="Exponential distribution is a continuous .* you specified Int"
    ):
        torch.zeros(3, dtype=torch.int32).exponential_()
    with pytest.raises(RuntimeError, match=r"geometric_ expects p to be in \(0, 1\), but got p=1"):
        torch.zeros(3).geometric_(1)
    with pytest.raises(RuntimeError, match="log_normal_ expects std > 0.0, but found std=0"):
        torch.zeros(3).log_normal_(1, 0)
    with pytest.raises(RuntimeError, match="cauchy_ expects sigma > 0.0, but found sigma=-1"):
        torch.zeros(3).cauchy_(0, -1)
    with pytest.raises(RuntimeError, match="Cauchy distribution .* you specified long int"):
        torch.zeros(3, dtype=torch.int64).cauchy_()


_INPLACE_CALLS = [
    ("uniform_", ()),
    ("normal_", ()),
    ("bernoulli_", (0.5,)),
    ("random_", (0, 10)),
    ("exponential_", ()),
    ("geometric_", (0.5,)),
    ("log_normal_", ()),
    ("cauchy_", ()),
]


@pytest.mark.parametrize("name, args", _INPLACE_CALLS)
def test_inplace_writes_memory_and_bumps_version(name, args):
    arr = np.full(64, -7.0, dtype=np.float32)
    t = torch.from_numpy(arr)
    v0 = t._version
    assert getattr(t, name)(*args) is t
    assert t._version == v0 + 1
    assert not np.any(arr == -7.0)  # the NumPy array shares the memory and sees the samples
    assert t.dtype == torch.float32


@pytest.mark.parametrize("name, args", _INPLACE_CALLS)
def test_inplace_reproducible_with_seed_and_generator(name, args):
    torch.manual_seed(5)
    a = _np(getattr(torch.empty(16), name)(*args))
    torch.manual_seed(5)
    b = _np(getattr(torch.empty(16), name)(*args))
    assert np.array_equal(a, b)
    g = torch.Generator().manual_seed(3)
    c = _np(getattr(torch.empty(16), name)(*args, generator=g))
    d = _np(getattr(torch.empty(16), name)(*args, generator=torch.Generator().manual_seed(3)))
    assert np.array_equal(c, d)


@pytest.mark.parametrize("name, args", _INPLACE_CALLS)
def test_inplace_on_leaf_requiring_grad(name, args):
    x = torch.zeros(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        getattr(x, name)(*args)
    with torch.no_grad():
        getattr(x, name)(*args)
    assert x.requires_grad and x.is_leaf


def test_inplace_on_non_leaf_has_zero_gradient():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.uniform_()
    assert y.grad_fn.name() == "UniformBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_inplace_on_a_view_changes_the_base():
    base = torch.zeros(4, 4)
    with torch.no_grad():
        row = base.narrow(0, 1, 1)
        row.normal_()
    b = _np(base)
    assert np.all(b[0] == 0) and np.all(b[2:] == 0) and np.all(b[1] != 0)


# --- CUDA (run with `python -m pytest -m gpu` on a machine with a GPU) ----------------------
@pytest.mark.gpu
def test_cuda_generator_reproducible_and_state_round_trip():
    g = torch.Generator("cuda").manual_seed(4)
    assert g.device.type == "cuda"
    a = torch.rand(1000, device="cuda", generator=g)
    assert a.device.type == "cuda"
    state = g.get_state()
    assert state.dtype == torch.uint8 and state.shape == (16,)
    b = torch.randn(10, device="cuda", generator=g).cpu().numpy()
    g.set_state(state)
    assert np.array_equal(b, torch.randn(10, device="cuda", generator=g).cpu().numpy())
    g2 = torch.Generator("cuda").manual_seed(4)
    assert np.array_equal(
        a.cpu().numpy(), torch.rand(1000, device="cuda", generator=g2).cpu().numpy()
    )
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator"):
        torch.rand(2, generator=g)


@pytest.mark.gpu
def test_cuda_sampling_distributions():
    torch.manual_seed(0)
    u = torch.rand(N, device="cuda").cpu().numpy().astype(np.float64)
    assert u.min() >= 0 and u.max() < 1 and stats.kstest(u, "uniform").pvalue > 1e-3
    z = torch.randn(N, device="cuda", dtype=torch.float64).cpu().numpy()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    r = torch.randint(0, 10, (N,), device="cuda").cpu().numpy()
    assert stats.chisquare(np.bincount(r, minlength=10)).pvalue > 1e-3
    p = torch.randperm(100, device="cuda").cpu().numpy()
    assert np.array_equal(np.sort(p), np.arange(100))
    m = torch.multinomial(torch.tensor([0.2, 0.0, 0.8], device="cuda"), N, True).cpu().numpy()
    assert np.bincount(m, minlength=3)[1] == 0 and abs((m == 2).mean() - 0.8) < 0.01
    w = torch.multinomial(torch.rand(4, 20, device="cuda") + 0.01, 20).cpu().numpy()
    assert np.all(np.sort(w, axis=1) == np.arange(20))
    x = torch.empty(N, device="cuda").normal_(2.0, 3.0).cpu().numpy().astype(np.float64)
    assert stats.kstest(x, "norm", args=(2.0, 3.0)).pvalue > 1e-3
    b = torch.bernoulli(torch.full((N,), 0.3, device="cuda")).cpu().numpy()
    assert abs(b.mean() - 0.3) < 0.01
    lam = torch.poisson(torch.full((N,), 4.0, device="cuda")).cpu().numpy()
    assert abs(lam.mean() - 4.0) < 0.05
    torch.manual_seed(0)
    assert np.array_equal(u, torch.rand(N, device="cuda").cpu().numpy().astype(np.float64))
