"""Launch geometry and loading of tocha's CUDA kernels: the parts that need no GPU."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from tocha.core.cuda import _kernels as K


@pytest.mark.parametrize(
    "dtype,suffix",
    [(np.float32, "f32"), (np.float64, "f64"), (np.float16, "f16"), (ml_dtypes.bfloat16, "bf16")],
)
def test_dtype_suffix(dtype, suffix):
    assert K.dtype_suffix(dtype) == suffix


def test_dtype_suffix_refuses_other_dtypes():
    with pytest.raises(TypeError, match="no kernel for dtype int64"):
        K.dtype_suffix(np.int64)


@pytest.mark.parametrize("n,threads,want", [(0, 256, 1), (1, 256, 1), (256, 256, 1), (257, 256, 2)])
def test_blocks_for_covers_every_element(n, threads, want):
    assert K.blocks_for(n, threads) == want
    assert K.blocks_for(n, threads) * threads >= n


def test_blocks_for_caps_at_the_grid_limit_and_checks_threads():
    assert K.blocks_for(2**50, 1024) == K.MAX_GRID_X
    with pytest.raises(ValueError, match="threads must be in 1..1024, got 2048"):
        K.blocks_for(10, 2048)


@pytest.mark.parametrize("ncols", [0, 1, 31, 32, 100, 1000, 4096, 10**6])
def test_row_threads_is_whole_warps_within_limits(ncols):
    t = K.row_threads(ncols)
    assert t % K.WARP == 0 and K.WARP <= t <= K.MAX_THREADS
    if K.WARP * 4 < ncols < K.MAX_THREADS * 4:  # about four elements per thread in between
        assert t * 4 >= ncols > (t - K.WARP) * 4


def test_row_grid_covers_rows_beyond_the_x_limit():
    assert K.row_grid(0) == (1, 1)
    assert K.row_grid(10) == (10, 1)
    x, y = K.row_grid(K.MAX_GRID_X + 5)
    assert x * y >= K.MAX_GRID_X + 5 and y == 2


def test_every_kernel_file_is_readable_and_names_extern_c_entry_points():
    files = sorted(K.KERNEL_DIR.glob("*.cu"))
    for f in files:
        text = K.source(f.stem)
        assert 'extern "C"' in text, f'{f.name} exposes no extern "C" entry point'
    with pytest.raises(FileNotFoundError, match="no kernel file"):
        K.source("no_such_kernel")


def test_cuda_include_dirs_finds_the_directory_with_the_bf16_header(tmp_path):
    empty, full = tmp_path / "a", tmp_path / "b"
    empty.mkdir()
    full.mkdir()
    (full / "cuda_bf16.h").write_text("// header")
    assert K.cuda_include_dirs([empty, full]) == [str(full)]
    assert K.cuda_include_dirs([empty]) == []
