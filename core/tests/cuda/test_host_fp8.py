"""fp8.cu run on the host (host_kernels.py): ``cuda/_fp8.dequantize`` (e4m3fn bytes times
per-row float32 scales) against ml_dtypes' float8_e4m3fn decoding in NumPy, bit for bit:
the decode is exact, the product one float32 rounding, and half outputs one more."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from tocha.core.ao.nn.quantized import _float8 as F8
from tocha.core.cuda import _fp8
from tocha.core.cuda import _kernels as K

BF16 = np.dtype(ml_dtypes.bfloat16)
OUT_DTYPES = [np.dtype(np.float32), np.dtype(np.float16), BF16]


def _ref(q, scale, dtype):
    """ml_dtypes' e4m3fn value of each byte, times the row's scale in float32, in ``dtype``."""
    w = np.asarray(q).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    with np.errstate(over="ignore"):  # float16 overflows to inf, as the kernel's does
        return (w * np.asarray(scale, dtype=np.float32)[:, None]).astype(dtype)


def _bytes(rng, rows, cols):
    """Every one of the 256 byte values (NaNs 0x7f/0xff, -0, +-448, subnormals) in the first
    cells, the rest random."""
    q = rng.integers(0, 256, size=rows * cols, dtype=np.uint8)
    q[: min(256, q.size)] = np.arange(min(256, q.size), dtype=np.uint8)
    return q.reshape(rows, cols)


def _scales(rng, rows):
    s = rng.uniform(0.01, 2.0, size=rows).astype(np.float32)
    if rows > 2:
        s[1] = 300.0  # 448 * 300 overflows float16: inf, as the NumPy cast gives
        s[2] = 1e-30  # tiny products: float32 subnormals, zeros in the half types
    return s


def _same(got, want):
    """Bit-equal values (NaN equal to NaN, -0 apart from +0)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    bits = {2: np.uint16, 4: np.uint32}[want.itemsize]
    g, w = np.asarray(got).view(bits), np.asarray(want).view(bits)
    nan = np.isnan(np.asarray(want).astype(np.float32))
    assert np.array_equal(np.isnan(np.asarray(got).astype(np.float32)), nan)
    np.testing.assert_array_equal(g[~nan], w[~nan])


@pytest.mark.parametrize("dtype", OUT_DTYPES, ids=[d.name for d in OUT_DTYPES])
@pytest.mark.parametrize(
    "rows,cols,vec",
    [(8, 64, 4), (3, 4, 4), (9, 37, 1), (5, 6, 1), (1, 1, 1), (300, 2, 1)],
    ids=["v4", "v4-one-group", "v1-odd", "v1-not-multiple-of-4", "one-byte", "v1-many-rows"],
)
def test_dequantize_matches_ml_dtypes(host_cuda, rows, cols, vec, dtype):
    rng = np.random.default_rng(rows * 100 + cols)
    q, s = _bytes(rng, rows, cols), _scales(rng, rows)
    w = _fp8.dequantize(host_cuda.array(q), host_cuda.array(s), dtype)
    assert type(w) is not np.ndarray and w.flags.c_contiguous
    _same(w, _ref(q, s, dtype))
    assert host_cuda.launched == [f"fp8_e4m3_dequant_{K.dtype_suffix(dtype)}_v{vec}"]
    if rows * cols >= 256:  # every byte value went through the kernel
        assert np.isnan(np.asarray(w, dtype=np.float32)).sum() >= 2


def test_every_byte_value_decodes_as_ml_dtypes(host_cuda):
    # the 256 values on a row of scale 1: the decode alone, exact in float32
    q = np.arange(256, dtype=np.uint8).reshape(1, 256)
    w = _fp8.dequantize(host_cuda.array(q), host_cuda.array([1.0], np.float32), np.float32)
    _same(w, q.view(ml_dtypes.float8_e4m3fn).astype(np.float32))
    assert float(w[0, 0x7E]) == 448.0 and float(w[0, 0x01]) == 2.0**-9
    assert np.signbit(w[0, 0x80]) and float(w[0, 0x80]) == 0.0
    # and tocha's own NumPy decode table agrees
    _same(w[0], F8.decode_table())


def test_misaligned_bytes_take_the_scalar_path(host_cuda):
    # cols % 4 == 0, but the bytes start one past a 4-byte boundary: no 4-byte loads
    rng = np.random.default_rng(1)
    buf = host_cuda.array(rng.integers(0, 256, size=4 * 16 + 1, dtype=np.uint8))
    q = buf[1:].reshape(4, 16)
    assert q.flags.c_contiguous and q.data.ptr % 4 != 0
    s = _scales(rng, 4)
    w = _fp8.dequantize(q, host_cuda.array(s), np.float16)
    _same(w, _ref(q, s, np.float16))
    assert host_cuda.launched == ["fp8_e4m3_dequant_f16_v1"]


@pytest.mark.parametrize("vec,cols", [(4, 24), (1, 23)])
def test_grid_stride_loop(host_cuda, monkeypatch, vec, cols):
    # a grid capped at 2 blocks of 256 threads: each thread handles several groups, across
    # rows
    monkeypatch.setattr(_fp8, "MAX_BLOCKS", 2)
    rng = np.random.default_rng(2)
    rows = 2 * 256 * 3 * vec // cols + 5
    q, s = _bytes(rng, rows, cols), _scales(rng, rows)
    assert rows * cols // vec > 2 * 256 * 2
    w = _fp8.dequantize(host_cuda.array(q), host_cuda.array(s), BF16)
    _same(w, _ref(q, s, BF16))
    assert host_cuda.launched == [f"fp8_e4m3_dequant_bf16_v{vec}"]


def test_strided_bytes_and_float64_scales_are_made_contiguous(host_cuda):
    rng = np.random.default_rng(3)
    qt = host_cuda.array(_bytes(rng, 12, 8)).T  # (8, 12), column-major
    assert not qt.flags.c_contiguous
    s = rng.uniform(0.5, 1.5, size=8)
    w = _fp8.dequantize(qt, host_cuda.array(s, np.float64), np.float32)
    _same(w, _ref(np.ascontiguousarray(qt), s.astype(np.float32), np.float32))
    assert host_cuda.launched == ["fp8_e4m3_dequant_f32_v4"]


@pytest.mark.parametrize("rows,cols", [(0, 8), (3, 0), (0, 0)])
def test_empty_weight_launches_nothing(host_cuda, rows, cols):
    q = host_cuda.array(np.zeros((rows, cols), np.uint8))
    w = _fp8.dequantize(q, host_cuda.array(np.ones(rows), np.float32), np.float16)
    assert w.shape == (rows, cols) and w.dtype == np.float16
    assert host_cuda.launched == []


def test_scale_of_the_wrong_length_is_refused(host_cuda):
    q = host_cuda.array(np.zeros((4, 8), np.uint8))
    with pytest.raises(ValueError, match=r"scale of shape \(3,\) for 4 rows"):
        _fp8.dequantize(q, host_cuda.array(np.ones(3), np.float32), np.float32)
    assert host_cuda.launched == []


def test_numpy_inputs_are_left_to_the_caller(host_cuda):
    assert _fp8.dequantize(np.zeros((2, 4), np.uint8), np.ones(2, np.float32), np.float32) is None
    assert host_cuda.launched == []


@pytest.mark.parametrize("dtype", [*OUT_DTYPES, np.dtype(np.float64)], ids=lambda d: d.name)
def test_ao_dequantize_on_device_matches_its_numpy_path(host_cuda, dtype):
    # tocha.core.ao's quantize -> dequantize round trip: the kernel on device arrays, the
    # table look-up on NumPy ones, the same bits (float64 activations: float32 cast up)
    rng = np.random.default_rng(4)
    wt = (rng.standard_normal((6, 20)) * rng.uniform(0.1, 5, size=(6, 1))).astype(np.float32)
    wt[2] = 0.0  # an all-zero row: scale 1
    q, s = F8.quantize_weight_fp8(wt)
    dev = F8.dequantize_fp8(host_cuda.array(q), host_cuda.array(s), dtype)
    cpu = F8.dequantize_fp8(q, s, dtype)
    assert type(dev) is not np.ndarray and dev.dtype == cpu.dtype == dtype
    if dtype == np.float64:
        np.testing.assert_array_equal(dev, cpu)
    else:
        _same(dev, cpu)
    np.testing.assert_allclose(np.asarray(dev, np.float64), wt, rtol=0.07, atol=1e-6)
    suffix = K.dtype_suffix(_fp8.out_dtype(dtype))  # float64 runs the float32 kernel
    assert host_cuda.launched == [f"fp8_e4m3_dequant_{suffix}_v4"]
