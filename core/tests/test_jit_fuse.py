"""jit.trace fusion: the groups found, the IR they become (evaluated with NumPy against the
eager ops, op by op and on whole models), the generated CUDA source (index arithmetic checked
in Python, the text compiled with nvcc), and fused replay on a GPU."""

import math
import re
import shutil
import subprocess

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.jit import _codegen, _fuse, _ir

nn = torch.nn
F = nn.functional


def _pos(x):
    return x.abs() + 0.5


# (id, function of (x (4, 3, 5), y (5,)), the op that must land in a fused group)
OPS = [
    ("add", lambda x, y: (x + y) * 2, "Add"),
    ("sub", lambda x, y: (x - y) * 2, "Sub"),
    ("mul", lambda x, y: (x * y) + 1, "Mul"),
    ("div", lambda x, y: (x / (y.abs() + 1)) - 1, "Div"),
    ("add_scalar", lambda x, y: (x + 0.3) * y, "AddScalar"),
    ("sub_scalar", lambda x, y: (x - 0.3) * y, "SubScalar"),
    ("rsub_scalar", lambda x, y: (0.3 - x) * y, "RSubScalar"),
    ("mul_scalar", lambda x, y: (x * 0.1) + y, "MulScalar"),
    ("div_scalar", lambda x, y: (x / 3.0) + y, "DivScalar"),
    ("rdiv_scalar", lambda x, y: 2.0 / (x.abs() + 1) + y, "RDivScalar"),
    ("neg", lambda x, y: -(x * y), "Neg"),
    ("relu", lambda x, y: F.relu(x + y), "Relu"),
    ("relu6", lambda x, y: F.relu6(x * 4 + y), "Hardtanh"),
    ("hardtanh", lambda x, y: F.hardtanh(x + y, -0.5, 0.25), "Hardtanh"),
    ("leaky_relu", lambda x, y: F.leaky_relu(x + y, 0.2), "LeakyRelu"),
    ("sigmoid", lambda x, y: torch.sigmoid(x * 3 + y), "Sigmoid"),
    ("tanh", lambda x, y: torch.tanh(x * 3 + y), "Tanh"),
    ("silu", lambda x, y: F.silu(x * 3 + y), "Silu"),
    ("gelu", lambda x, y: F.gelu(x * 3 + y), "Gelu"),
    ("gelu_tanh", lambda x, y: F.gelu(x * 3 + y, approximate="tanh"), "Gelu"),
    ("hardswish", lambda x, y: F.hardswish(x * 4 + y), "Hardswish"),
    ("hardsigmoid", lambda x, y: F.hardsigmoid(x * 4 + y), "Hardsigmoid"),
    ("elu", lambda x, y: F.elu(x + y, alpha=0.7), "Elu"),
    ("selu", lambda x, y: F.selu(x + y), "Elu"),
    ("softplus", lambda x, y: F.softplus(x * 10 + y, beta=2.0, threshold=5.0), "Softplus"),
    ("mish", lambda x, y: F.mish(x * 3 + y), "Mish"),
    ("exp", lambda x, y: torch.exp(x + y), "Exp"),
    ("expm1", lambda x, y: torch.expm1(x + y), "Expm1"),
    ("log", lambda x, y: torch.log(_pos(x) * _pos(y)), "Log"),
    ("log1p", lambda x, y: torch.log1p(_pos(x + y)), "Log1p"),
    ("sqrt", lambda x, y: torch.sqrt(_pos(x) + y.abs()), "Sqrt"),
    ("rsqrt", lambda x, y: torch.rsqrt(_pos(x) + y.abs()), "Rsqrt"),
    ("reciprocal", lambda x, y: torch.reciprocal(_pos(x)) * y, "Reciprocal"),
    ("abs", lambda x, y: (x - y).abs() * 2, "Abs"),
    ("sin_cos", lambda x, y: torch.sin(x + y) * torch.cos(x), "Sin"),
    ("erf", lambda x, y: torch.erf(x + y) * 2, "Erf"),
    ("erfc", lambda x, y: torch.erfc(x + y) * 2, "Erfc"),
    ("pow2", lambda x, y: (x + y) ** 2, "PowScalar"),
    ("pow3", lambda x, y: (x + y) ** 3, "PowScalar"),
    ("pow_half", lambda x, y: _pos(x + y) ** 0.5, "PowScalar"),
    ("pow_frac", lambda x, y: _pos(x + y) ** 1.7, "PowScalar"),
    ("square", lambda x, y: (x + y).square(), "PowScalar"),
    ("where", lambda x, y: torch.where(x > 0, x * 2, y), "Where"),
    ("where_scalar", lambda x, y: torch.where(x > 0, x + y, 0.0), "Where"),
    ("clamp", lambda x, y: (x + y).clamp(-0.3, 0.4), "Clamp"),
    ("clamp_min", lambda x, y: (x + y).clamp(min=0.1), "Clamp"),
    ("clamp_max", lambda x, y: (x + y).clamp(max=0.1), "Clamp"),
    ("maximum", lambda x, y: torch.maximum(x * 2, y), "Maximum"),
    ("minimum", lambda x, y: torch.minimum(x * 2, y), "Minimum"),
    ("cast_half", lambda x, y: (x + y).half().float() * 3, "ToCopy"),
    ("cast_bf16", lambda x, y: (x * 3).bfloat16().float() + y, "ToCopy"),
    ("cast_double", lambda x, y: (x + y).double() * 0.1, "ToCopy"),
]


def _xy(dtype=torch.float32):
    g = np.random.default_rng(5)
    x = torch.tensor(g.standard_normal((4, 3, 5)).astype(np.float32)).to(dtype)
    y = torch.tensor(g.standard_normal(5).astype(np.float32)).to(dtype)
    return x, y


def _members(traced) -> list[str]:
    targets = {n.name: n.target for n in traced.graph if n.opcode == "call_op"}
    return [targets[m] for g in traced.graph.fused_groups for m in g.node_names]


@pytest.mark.parametrize("fn, target", [c[1:] for c in OPS], ids=[c[0] for c in OPS])
def test_jit_fuse_ir_equals_eager_for_each_op(fn, target):
    x, y = _xy()
    t = torch.jit.trace(fn, (x, y))
    assert target in _members(t)
    x2, y2 = (v * 1.3 - 0.1 for v in _xy())  # other values than the traced ones
    with torch.no_grad():
        ref = fn(x2, y2).numpy()
    got = t._replay((x2, y2), True).numpy()  # each group evaluated by its IR with NumPy
    assert got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6)
    unfused = t._replay((x2, y2), False).numpy()
    np.testing.assert_allclose(unfused, ref, rtol=1e-7, atol=0)


@pytest.mark.parametrize(
    "dtype, tol", [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2), (torch.float64, 1e-12)]
)
def test_jit_fuse_ir_half_and_double(dtype, tol):
    def f(x, y):
        return F.gelu(x * 0.5 + y) + torch.sigmoid(x).clamp(max=0.7) * F.silu(y)

    x, y = _xy(dtype)
    t = torch.jit.trace(f, (x, y))
    assert len(t.graph.fused_groups) == 1 and t.graph.fused_groups[0].acc == (
        np.float64 if dtype == torch.float64 else np.float32
    )
    got = t._replay((x, y), True)
    assert got.dtype == dtype
    # the eager ops round to the half type after each op; the kernel computes in float32 and
    # rounds once, so it is compared with the float64 result
    with torch.no_grad():
        exact = f(x.double(), y.double()).numpy()
    g = got.double().numpy()
    np.testing.assert_allclose(g, exact, rtol=tol, atol=tol)
    with torch.no_grad():
        eager = f(x, y).double().numpy()
    np.testing.assert_allclose(g, eager, rtol=4 * tol, atol=4 * tol)


def test_jit_fuse_half_rounding_points():
    # .half() in a float32 chain rounds there, and a half value rounds where it is cast back
    x = torch.tensor([[1.0001, 2049.0, 0.1, -3.3333]])
    t = torch.jit.trace(lambda x: (x * 1.0).half().float() * 3.0, x)
    assert len(t.graph.fused_groups) == 1
    with torch.no_grad():
        ref = ((x * 1.0).half().float() * 3.0).numpy()
    np.testing.assert_array_equal(t._replay((x,), True).numpy(), ref)
    t2 = torch.jit.trace(lambda x: (x.half() * 3).float() + 1, x)
    with torch.no_grad():
        ref2 = ((x.half() * 3).float() + 1).numpy()
    np.testing.assert_array_equal(t2._replay((x,), True).numpy(), ref2)


def _bn_block():
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    bn = m[1]
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.normal_()
    return m.eval()


def test_jit_fuse_batchnorm_folds_into_one_group(capsys):
    m = _bn_block()
    x = torch.randn(2, 3, 6, 7)
    t = torch.jit.trace(m, x)
    (g,) = t.graph.fused_groups
    targets = _members(t)
    # BatchNorm's scale and shift (computed from its buffers), the per-channel affine and
    # the ReLU: one kernel; the conv stays a conv
    assert targets == ["Mul", "Neg", "Mul", "Add", "ChannelAffine", "Relu"]
    assert len(t._plan) == 2 and len(t._steps) == 7
    name, src = _codegen.source(g)
    assert "% 8u" in src and "(i / 42u)" in src  # per-channel loads of an (2, 8, 6, 7) output
    x2 = torch.randn(2, 3, 6, 7)
    with torch.no_grad():
        np.testing.assert_allclose(
            t._replay((x2,), True).numpy(), m(x2).numpy(), rtol=1e-6, atol=1e-6
        )
        # the buffers are read at replay time: a new running mean is seen
        m[1].running_mean.add_(0.5)
        np.testing.assert_allclose(
            t._replay((x2,), True).numpy(), m(x2).numpy(), rtol=1e-6, atol=1e-6
        )
    t.print_tabular()
    out = capsys.readouterr().out
    assert re.search(r"channelaffine_\d+ +ChannelAffine .*fused_1", out)
    assert "fused groups (each one generated kernel on CUDA): 1 group of 6 ops" in out
    assert "CUDA replay runs 2 steps instead of 7" in out


class _BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock, written here so that core's tests need no tocha.vision."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


def _resnet18(num_classes=10):
    """ResNet-18 as torchvision builds it (stem, 4 stages of 2 BasicBlocks, pool, fc)."""
    layers = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def test_jit_fuse_resnet18_launches_and_values(tmp_path, monkeypatch):
    torch.manual_seed(0)
    m = _resnet18().eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.normal_(0, 0.1)
            mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(1, 3, 32, 32)
    t = torch.jit.trace(m, x)
    groups = t.graph.fused_groups
    # one group per BatchNorm + ReLU (and + residual add); the downsampling blocks' two
    # BatchNorms, the add and the ReLU make one
    assert len(groups) == 17
    assert len(t._steps) == 149 and len(t._plan) == 41
    x2 = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = m(x2).numpy()
    np.testing.assert_allclose(t._replay((x2,), True).numpy(), ref, rtol=1e-5, atol=1e-5)
    if _host_compiler():  # the generated C itself, run on the CPU, end to end
        got = _replay_on_host(t, (x2,), tmp_path, monkeypatch, rtol=1e-6)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)


def test_jit_fuse_comparisons_and_bool_masks(tmp_path, monkeypatch):
    def f(x, y):
        m = x > 0.2  # recorded (comparisons bypass the op table; the tracer sees them)
        return x * m + torch.where(m, 1.0, y) - y * (y < 0), m

    x, y = _xy()
    t = torch.jit.trace(f, (x, y))
    (g,) = t.graph.fused_groups
    assert len(g.node_names) == 7 and len(g.out_slots) == 2  # the mask is written too
    x2, y2 = (v * 1.3 - 0.4 for v in _xy())
    with torch.no_grad():
        ref = f(x2, y2)
    for got in (t._replay((x2, y2), True), t._replay((x2, y2), False)):
        np.testing.assert_array_equal(got[0].numpy(), ref[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), ref[1].numpy())
    if _host_compiler():
        got = _replay_on_host(t, (x2, y2), tmp_path, monkeypatch)
        np.testing.assert_array_equal(got[0].numpy(), ref[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), ref[1].numpy())


@pytest.mark.parametrize(
    "f, shapes",
    [
        (lambda x: F.silu(x * 2 + 1), [()]),  # 0-dim values (NumPy gives scalars for them)
        (lambda x: torch.tanh(x.sum() * 2) + 1, [(3, 4)]),
        (lambda x, y: (x * y).relu() - 1, [(0, 4), (4,)]),  # empty
    ],
    ids=["zero_dim", "after_sum", "empty"],
)
def test_jit_fuse_zero_dim_and_empty(f, shapes, tmp_path, monkeypatch):
    args = tuple(torch.randn(*s) for s in shapes)
    t = torch.jit.trace(f, args)
    assert len(t.graph.fused_groups) == 1
    with torch.no_grad():
        ref = f(*args).numpy()
    for fused in (False, True):
        got = t._replay(args, fused).numpy()
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-6)
    if _host_compiler():
        got = _replay_on_host(t, args, tmp_path, monkeypatch).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_jit_fuse_outputs_and_escaping_values():
    lin = nn.Linear(5, 5)

    def f(x):
        a = x * 2 + 1  # read by the Linear before the group could finish: not internal
        h = lin(a)
        b = torch.tanh(h) * 0.5
        return b + a, b  # b escapes the group: a second output

    x = torch.randn(3, 5)
    t = torch.jit.trace(f, x)
    descr = [g.describe() for g in t.graph.fused_groups]
    assert len(descr) == 2
    assert descr[0].endswith("-> addscalar_2")
    g2 = t.graph.fused_groups[1]
    assert len(g2.out_slots) == 2 and g2.describe().count(",") >= 3
    x2 = torch.randn(3, 5)
    with torch.no_grad():
        refs = f(x2)
    for got, ref in zip(t._replay((x2,), True), refs):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_jit_fuse_not_across_other_ops_and_fuse_false(capsys):
    def f(x):
        a = x.relu()
        s = a.sum(1, keepdim=True)  # a reduction: not fused, it splits the chains
        return (a - s).exp() * 2

    x = torch.randn(4, 6)
    t = torch.jit.trace(f, x)
    assert [g.node_names for g in t.graph.fused_groups] == [["sub_3", "exp_4", "mulscalar_5"]]
    assert "relu_1" not in t.graph.fused_groups[0].node_names
    t0 = torch.jit.trace(f, x, fuse=False)
    assert t0.graph.fused_groups == [] and t0._plan is None
    t0.print_tabular()
    out = capsys.readouterr().out
    assert "fused" not in out
    with torch.no_grad():
        np.testing.assert_allclose(t._replay((x,), True).numpy(), f(x).numpy(), rtol=1e-6)


def test_jit_fuse_group_fallback_for_other_dtypes():
    t = torch.jit.trace(lambda x, y: F.silu(x * y + 1), _xy())
    (g,) = t.graph.fused_groups
    x, y = (v.double()._data for v in _xy())
    # what the CUDA replay does when the inputs' dtypes differ from the trace's
    (res,) = g.fallback([x, y])
    assert res.dtype == np.float64
    z = x * y + 1
    np.testing.assert_allclose(res, z / (1 + np.exp(-z)), rtol=1e-14)


def _eval_offset(expr: str, i: np.ndarray) -> np.ndarray:
    py = re.sub(r"(\d+)u(ll)?", r"\1", expr).replace("/", "//")
    return eval(py, {"i": i})  # the C index expression, on every flat index at once


@pytest.mark.parametrize(
    "shape, placement, S",
    [
        ((2, 8, 6, 7), (0, 1, 2, 3), (2, 8, 6, 7)),  # the iteration shape itself
        ((8,), (1,), (2, 8, 6, 7)),  # a per-channel vector
        ((7,), (3,), (2, 8, 6, 7)),  # a bias over the last dim
        ((6, 7), (2, 3), (2, 8, 6, 7)),  # trailing dims: one run
        ((2, 1, 1, 7), (0, 1, 2, 3), (2, 8, 6, 7)),  # two runs
        ((8, 1), (1, 2), (2, 8, 6, 1)),  # size-1 dims of the iteration shape
        ((), (), (3, 4)),  # a 0-dim tensor
        ((1, 1), (0, 1), (1, 5)),
        ((3, 1, 5), (0, 1, 2), (3, 4, 5)),
    ],
)
def test_jit_fuse_index_arithmetic(shape, placement, S):
    full = [1] * len(S)
    for k, d in enumerate(placement):
        full[d] = shape[k]
    n = math.prod(S)
    want = np.broadcast_to(np.arange(math.prod(shape)).reshape(full), S).reshape(-1)
    expr = _codegen.offset(shape, placement, S)
    got = np.broadcast_to(_eval_offset(expr, np.arange(n)), (n,))
    np.testing.assert_array_equal(got, want)
    # 64-bit indices (iteration spaces of 2**31 elements and more) use the same arithmetic
    expr64 = _codegen.offset(shape, placement, S, "ull")
    assert expr64 == re.sub(r"(\d+)u\b", r"\1ull", expr)


def test_jit_fuse_literals():
    assert _codegen.literal(0.1, np.float32) == "0.1f"
    assert _codegen.literal(float(np.float32(0.1)), np.float32) == "0.10000000149011612f"
    assert _codegen.literal(2.0, np.float64) == "2.0"
    assert _codegen.literal(-math.inf, np.float32) == "__int_as_float(0xff800000)"
    assert "7ff8" in _codegen.literal(math.nan, np.float64)
    assert _ir.scalar_in(0.1, np.float16) == float(np.float16(0.1))


def _representative_sources():
    srcs = []

    def add(fn, *xs):
        t = torch.jit.trace(fn, xs)
        srcs.extend(_codegen.source(g)[1] for g in t.graph.fused_groups)

    x, y = _xy()
    add(lambda x, y: sum(f(x, y) for _, f, _ in OPS[:30]), x, y)  # every activation
    add(lambda x, y: sum(f(x, y) for _, f, _ in OPS[30:]), x, y)  # where, clamps, casts
    add(lambda x, y: F.gelu(x * 2 + y) * torch.sigmoid(y), *_xy(torch.float16))
    add(lambda x, y: F.hardswish(x - y).clamp(-1, 1), *_xy(torch.bfloat16))
    add(lambda x, y: torch.tanh(x.float() * y), *_xy(torch.float64))
    add(_bn_block(), torch.randn(2, 3, 6, 7))
    add(lambda x, y: (x * (x > 0.2) + torch.where(x > 0, 1.0, y), x < y), x, y)  # masks
    return srcs


def test_jit_fuse_generated_cuda_compiles_with_nvcc(tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not on PATH: the generated CUDA source is not compiled here")
    srcs = _representative_sources()
    assert len(srcs) >= 6
    # one translation unit (the preamble is guarded), compiled as NVRTC would: device code
    path = tmp_path / "fused.cu"
    path.write_text("\n".join(srcs))
    cmd = [nvcc, "-cubin", "-arch=sm_80", "-std=c++17", "--fmad=false"]
    cmd += ["-Werror=all-warnings", "-o", str(tmp_path / "fused.cubin"), str(path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "fused.cubin").stat().st_size > 0


_HOST_PRELUDE = """
#include <cmath>
#include <cstring>
// the CUDA built-ins the kernels read, for one host 'thread' that strides over everything
struct tocha_dim3 { unsigned int x; };
static tocha_dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
static inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
static inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, 8); return d; }
"""


def _host_compiler():
    """(g++, [CUDA include dir]) when both are here, else None."""
    from tocha.core.cuda import _kernels

    gxx, inc = shutil.which("g++"), _kernels.cuda_include_dirs()
    return (gxx, inc) if gxx and inc else None


class _HostKernels:
    """The generated CUDA source compiled as host C++ (g++ and the CUDA headers, whose half
    and bfloat16 conversions work on the host) and called with ctypes: the same text the GPU
    runs, with ``__global__`` dropped, executed on the CPU."""

    def __init__(self, groups, tmp_path):
        import ctypes

        found = _host_compiler()
        if found is None:
            pytest.skip("g++ or the CUDA headers (cuda_bf16.h) are missing")
        gxx, inc = found
        srcs = {}
        for g in groups:
            name, src = _codegen.source(g)
            srcs[name] = src.replace("__global__", "")
        cpp = tmp_path / "fused_host.cpp"
        cpp.write_text(_HOST_PRELUDE + "\n".join(srcs.values()))
        so = tmp_path / "fused_host.so"
        cmd = [gxx, "-O1", "-shared", "-fPIC", f"-I{inc[0]}", "-o", str(so), str(cpp)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        self.lib = ctypes.CDLL(str(so))
        self.ctypes = ctypes

    def __call__(self, group, arrays):
        name, _ = _codegen.source(group)
        args = [np.ascontiguousarray(a) for a in list(arrays) + group.baked]
        outs = [np.empty(group.shape, dt) for _, dt in group.outputs]
        ptrs = [self.ctypes.c_void_p(a.ctypes.data) for a in args + outs]
        getattr(self.lib, name)(*ptrs)
        return tuple(outs)


def _replay_on_host(t, inputs, tmp_path, monkeypatch, rtol=1e-6):
    """Replay ``t`` with every fused group run by its generated C on the host; each group's
    result is also checked against the group's NumPy IR evaluation."""
    host = _HostKernels(t.graph.fused_groups, tmp_path)
    evaluate = _fuse.FusedGroup.evaluate
    calls = []

    def run(group, arrays):
        ref = evaluate(group, arrays)
        got = host(group, arrays)
        for r, g in zip(ref, got):
            assert g.dtype == r.dtype
            if r.dtype == np.bool_:
                np.testing.assert_array_equal(g, r)
            else:
                r, g = r.astype(np.float64), g.astype(np.float64)
                tol = rtol if r.dtype.itemsize > 2 else 1e-2
                np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
        calls.append(group.name)
        return got

    monkeypatch.setattr(_fuse.FusedGroup, "evaluate", run)
    out = t._replay(inputs, True)
    assert sorted(calls) == sorted(g.name for g in t.graph.fused_groups)
    return out


def test_jit_fuse_generated_c_runs_on_host(tmp_path, monkeypatch):
    def f(x, y):
        outs = [fn(x, y).float() for _, fn, _ in OPS]
        return sum(o for o in outs), (x * 2 > y)

    x, y = _xy()
    t = torch.jit.trace(f, (x, y))
    assert len(t.graph.fused_groups) > 5
    x2, y2 = (v * 1.3 - 0.1 for v in _xy())
    got = _replay_on_host(t, (x2, y2), tmp_path, monkeypatch)
    with torch.no_grad():
        ref = f(x2, y2)
    np.testing.assert_allclose(got[0].numpy(), ref[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[1].numpy(), ref[1].numpy())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_jit_fuse_generated_c_half_and_double(dtype, tmp_path, monkeypatch):
    def f(x, y):
        h = F.gelu(x * 0.5 + y) + torch.sigmoid(x).clamp(max=0.7) * F.silu(y)
        return torch.where(h > 0.1, h, -h).float() * 2

    x, y = _xy(dtype)
    t = torch.jit.trace(f, (x, y))
    got = _replay_on_host(t, (x, y), tmp_path, monkeypatch)
    with torch.no_grad():
        exact = f(x.double(), y.double()).numpy()
    tol = {torch.float16: 4e-3, torch.bfloat16: 3e-2, torch.float64: 1e-6}[dtype]
    np.testing.assert_allclose(got.double().numpy(), exact, rtol=tol, atol=tol)


class _DeviceArray(np.ndarray):
    """Stands in for a CuPy array: not an ``np.ndarray`` by class, so replay takes the CUDA
    path (the fused plan, the launcher)."""


def _fake_cupy(host, fail: bool = False):
    """A ``cupy`` module whose RawKernel runs the host-compiled generated source."""
    import types

    cp = types.ModuleType("cupy")
    launches = []

    class RawKernel:
        def __init__(self, src, name, options=()):
            assert "--fmad=false" in options
            self.name = name

        def compile(self):
            if fail:
                raise RuntimeError("nvrtc: error: simulated")

        def __call__(self, grid, block, args):
            assert block == (_codegen.THREADS,) and grid[0] >= 1
            ptrs = [host.ctypes.c_void_p(a.ctypes.data) for a in args]
            getattr(host.lib, self.name)(*ptrs)
            launches.append(self.name)

    cp.RawKernel = RawKernel
    cp.ascontiguousarray = lambda a: np.ascontiguousarray(a).view(_DeviceArray)
    cp.asarray = lambda a: np.asarray(a).view(_DeviceArray)
    cp.empty = lambda shape, dtype: np.empty(shape, dtype).view(_DeviceArray)
    return cp, launches


def test_jit_fuse_cuda_launcher_with_host_kernels(tmp_path, monkeypatch):
    import sys

    from tocha.core._tensor import wrap
    from tocha.core.cuda import _activation

    monkeypatch.setattr(_activation, "ENABLED", False)  # eager ops here: the NumPy code

    def f(x, y):
        h = F.silu(x * 2 + y)
        return torch.where(x > 0, h, 0.5) - 1, h.sum()

    x, y = _xy()
    t = torch.jit.trace(f, (x, y))
    groups = t.graph.fused_groups
    host = _HostKernels(groups, tmp_path)
    cp, launches = _fake_cupy(host)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    _codegen._kernel.cache_clear()
    for g in groups:
        g.kernel, g.broken = None, False
    x2, y2 = (v * 1.3 - 0.1 for v in _xy())
    dev = (wrap(x2._data.view(_DeviceArray)), wrap(y2._data.view(_DeviceArray)))
    got = t(*dev)  # the CUDA path: each group one (host-run) kernel launch
    # one group writing two values: h (read later by the sum) and the where's result
    assert len(groups) == 1 and len(groups[0].out_slots) == 2
    assert len(launches) == 1
    with torch.no_grad():
        ref = f(x2, y2)
    for g_, r in zip(got, ref):
        np.testing.assert_allclose(np.asarray(g_._data), r.numpy(), rtol=1e-6, atol=1e-6)
    # inputs of another dtype than the trace's: the group's ops run one by one
    launches.clear()
    d64 = tuple(wrap(v._data.astype(np.float64).view(_DeviceArray)) for v in (x2, y2))
    got64 = t(*d64)
    assert launches == [] and got64[0].dtype == torch.float64
    np.testing.assert_allclose(np.asarray(got64[0]._data), ref[0].numpy(), rtol=1e-6, atol=1e-6)

    # a kernel that does not compile: a warning, then the ops one by one (same values)
    cp_bad, launches_bad = _fake_cupy(host, fail=True)
    monkeypatch.setitem(sys.modules, "cupy", cp_bad)
    _codegen._kernel.cache_clear()
    for g in groups:
        g.kernel, g.broken = None, False
    with pytest.warns(RuntimeWarning, match="fused group fused_1 did not compile"):
        got_bad = t(*dev)
    assert launches_bad == [] and all(g.broken for g in groups)
    np.testing.assert_allclose(np.asarray(got_bad[0]._data), ref[0].numpy(), rtol=1e-6)
    _codegen._kernel.cache_clear()


def test_jit_fuse_generated_cuda_compiles_with_nvrtc():
    nvrtc = pytest.importorskip(
        "cupy_backends.cuda.libs.nvrtc", reason="CuPy's NVRTC bindings are not installed"
    )
    from tocha.core.cuda import _kernels

    inc = [f"-I{d}" for d in _kernels.cuda_include_dirs()]
    for src in _representative_sources():  # each text exactly as cupy.RawKernel gets it
        prog = nvrtc.createProgram(src, "fused.cu", (), ())
        try:
            nvrtc.compileProgram(prog, [*_codegen.OPTIONS, "-arch=compute_80", *inc])
            assert nvrtc.getProgramLog(prog).strip() == ""
        finally:
            nvrtc.destroyProgram(prog)


@pytest.mark.gpu
def test_jit_fuse_cuda_replay_equals_eager(monkeypatch):
    m = _resnet18().eval().to("cuda")
    x = torch.randn(2, 3, 64, 64, device="cuda")
    t = torch.jit.trace(m, x)
    assert len(t._plan) < len(t._steps)  # fewer launches: one per fused group
    launch, launches = _codegen.launch, []

    def counting(group, kernel, arrays):
        launches.append(group.name)
        return launch(group, kernel, arrays)

    monkeypatch.setattr(_codegen, "launch", counting)
    x2 = torch.randn(2, 3, 64, 64, device="cuda")
    with torch.no_grad():
        ref = m(x2).cpu().numpy()
    np.testing.assert_allclose(t(x2).cpu().numpy(), ref, rtol=1e-5, atol=1e-5)
    # one kernel per group (in the plan's order, which may interleave independent groups)
    assert sorted(launches) == sorted(g.name for g in t.graph.fused_groups)
    for _, fn, _ in OPS:
        xs = tuple(v.to("cuda") for v in _xy())
        tf = torch.jit.trace(fn, xs)
        xs2 = tuple((v * 1.3 - 0.1) for v in xs)
        with torch.no_grad():
            np.testing.assert_allclose(
                tf(*xs2).cpu().numpy(), fn(*xs2).cpu().numpy(), rtol=2e-6, atol=1e-6
            )
    for dt, tol in ((torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)):
        xs = tuple(v.to("cuda") for v in _xy(dt))

        def f(x, y):
            return F.gelu(x * 0.5 + y) * torch.sigmoid(y)

        tf = torch.jit.trace(f, xs)
        with torch.no_grad():
            ref = f(*(v.double() for v in xs)).cpu().numpy()
        got = tf(*xs)
        assert got.dtype == dt
        np.testing.assert_allclose(got.double().cpu().numpy(), ref, rtol=tol, atol=tol)
