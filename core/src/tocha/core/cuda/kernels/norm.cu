// layer_norm and rms_norm over the last dim of a C-contiguous (rows, cols) array, forward and
// backward (tocha.core.cuda._norm launches them; the trailing normalized dims are one row).
//
// Row kernels: the launch layout of softmax.cu (block (tx, ty), tx threads per row, ty rows per
// block, rows past the end join the reductions with no columns; chunks of V elements; a row
// of at most CACHE * tx elements kept in registers, a longer one read again). Statistics are
// accumulated in float (double for float64) and saved as mean and rstd in that type; the
// mean and variance are two passes (centred variance), as the xp reference computes them.
// Weight and bias come as float arrays (double for float64) of cols elements.
//
// Weight and bias gradients: a two-stage column reduction without atomics, so the result does
// not depend on scheduling. Stage 1 (norm_wb_partial_*): block (32, 8), blockIdx.x a tile of
// 32 columns, blockIdx.y a part of rows_per_part rows; each part writes its column sums to
// partial[part, col]. Stage 2 sums partial over parts in a fixed order (CuPy's sum).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

constexpr int CACHE = 8;  // elements per thread kept in registers

#include "rows.cuh"


template <typename T, int V, bool CENTER>
__device__ void norm_fwd(const T* __restrict__ x, const typename Num<T>::acc* __restrict__ w,
                         const typename Num<T>::acc* __restrict__ b, T* __restrict__ y,
                         typename Num<T>::acc* __restrict__ mean_out,
                         typename Num<T>::acc* __restrict__ rstd_out, long long rows,
                         long long cols, typename Num<T>::acc eps, int has_w, int has_b) {
  typedef typename Num<T>::acc A;
  typedef Vec<T, V> VT;
  constexpr int CH = CACHE / V;
  const long long row = row_index();
  const long long nch = row < rows ? cols / V : 0;
  const long long base = row < rows ? row * cols : 0;
  const VT* xr = reinterpret_cast<const VT*>(x + base);
  VT* yr = reinterpret_cast<VT*>(y + base);
  const int tid = threadIdx.x, nt = blockDim.x;
  const A n = A(cols);
  const bool cached = cols <= (long long)CACHE * nt;  // the same for the whole block
  A v[CACHE];
  A mean = A(0);
  if (cached) {
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        const VT p = xr[c];
#pragma unroll
        for (int j = 0; j < V; ++j) v[k * V + j] = Num<T>::load(p.v[j]);
      }
    }
  }
  if (CENTER) {
    A acc = A(0);
    if (cached) {
#pragma unroll
      for (int k = 0; k < CH; ++k)
        if (tid + (long long)k * nt < nch) {
#pragma unroll
          for (int j = 0; j < V; ++j) acc += v[k * V + j];
        }
    } else {
      for (long long c = tid; c < nch; c += nt) {
        const VT p = xr[c];
#pragma unroll
        for (int j = 0; j < V; ++j) acc += Num<T>::load(p.v[j]);
      }
    }
    mean = row_sum(acc) / n;
  }
  A acc = A(0);
  if (cached) {
#pragma unroll
    for (int k = 0; k < CH; ++k)
      if (tid + (long long)k * nt < nch) {
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const A d = v[k * V + j] - mean;
          acc += d * d;
        }
      }
  } else {
    for (long long c = tid; c < nch; c += nt) {
      const VT p = xr[c];
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const A d = Num<T>::load(p.v[j]) - mean;
        acc += d * d;
      }
    }
  }
  const A rstd = A(1) / sqrt(row_sum(acc) / n + eps);
  if (row < rows && tid == 0) {
    if (CENTER) mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
  if (cached) {
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        VT p;
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const long long col = c * V + j;
          A o = (v[k * V + j] - mean) * rstd;
          if (has_w) o *= w[col];
          if (has_b) o += b[col];
          p.v[j] = Num<T>::store(o);
        }
        yr[c] = p;
      }
    }
    return;
  }
  for (long long c = tid; c < nch; c += nt) {
    const VT p = xr[c];
    VT q;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const long long col = c * V + j;
      A o = (Num<T>::load(p.v[j]) - mean) * rstd;
      if (has_w) o *= w[col];
      if (has_b) o += b[col];
      q.v[j] = Num<T>::store(o);
    }
    yr[c] = q;
  }
}

// gx = rstd * (gxh - xh * mean(gxh * xh) - mean(gxh)), xh = (x - mean) * rstd, gxh = g * w
// (rms_norm: mean 0 and no mean(gxh) term)
template <typename T, int V, bool CENTER>
__device__ void norm_bwd(const T* __restrict__ x, const T* __restrict__ g,
                         const typename Num<T>::acc* __restrict__ w,
                         const typename Num<T>::acc* __restrict__ mean_in,
                         const typename Num<T>::acc* __restrict__ rstd_in, T* __restrict__ gx,
                         long long rows, long long cols, int has_w) {
  typedef typename Num<T>::acc A;
  typedef Vec<T, V> VT;
  constexpr int CH = CACHE / V;
  const long long row = row_index();
  const bool live = row < rows;
  const long long nch = live ? cols / V : 0;
  const long long base = live ? row * cols : 0;
  const VT* xr = reinterpret_cast<const VT*>(x + base);
  const VT* gr = reinterpret_cast<const VT*>(g + base);
  VT* gxr = reinterpret_cast<VT*>(gx + base);
  const int tid = threadIdx.x, nt = blockDim.x;
  const A n = A(cols);
  const A mean = (CENTER && live) ? mean_in[row] : A(0);
  const A rstd = live ? rstd_in[row] : A(0);
  const bool cached = cols <= (long long)CACHE * nt;
  A xh[CACHE], gh[CACHE];
  A s1 = A(0), s2 = A(0);  // sum(gxh), sum(gxh * xh)
  if (cached) {
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        const VT p = xr[c];
        const VT q = gr[c];
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const A a = (Num<T>::load(p.v[j]) - mean) * rstd;
          A d = Num<T>::load(q.v[j]);
          if (has_w) d *= w[c * V + j];
          xh[k * V + j] = a;
          gh[k * V + j] = d;
          s1 += d;
          s2 += d * a;
        }
      }
    }
  } else {
    for (long long c = tid; c < nch; c += nt) {
      const VT p = xr[c];
      const VT q = gr[c];
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const A a = (Num<T>::load(p.v[j]) - mean) * rstd;
        A d = Num<T>::load(q.v[j]);
        if (has_w) d *= w[c * V + j];
        s1 += d;
        s2 += d * a;
      }
    }
  }
  const A c1 = CENTER ? row_sum(s1) / n : A(0);
  const A c2 = row_sum(s2) / n;
  if (cached) {
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        VT o;
#pragma unroll
        for (int j = 0; j < V; ++j) {
          A d = gh[k * V + j] - xh[k * V + j] * c2;
          if (CENTER) d -= c1;
          o.v[j] = Num<T>::store(d * rstd);
        }
        gxr[c] = o;
      }
    }
    return;
  }
  for (long long c = tid; c < nch; c += nt) {
    const VT p = xr[c];
    const VT q = gr[c];
    VT o;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const A a = (Num<T>::load(p.v[j]) - mean) * rstd;
      A d = Num<T>::load(q.v[j]);
      if (has_w) d *= w[c * V + j];
      d -= a * c2;
      if (CENTER) d -= c1;
      o.v[j] = Num<T>::store(d * rstd);
    }
    gxr[c] = o;
  }
}

// Stage 1 of the weight/bias gradients: pw[part, col] = sum over the part's rows of g * xh,
// pb[part, col] = sum of g. Block (32, 8); every thread reaches the __syncthreads.
template <typename T, bool CENTER>
__device__ void norm_wb_partial(const T* __restrict__ x, const T* __restrict__ g,
                                const typename Num<T>::acc* __restrict__ mean_in,
                                const typename Num<T>::acc* __restrict__ rstd_in,
                                typename Num<T>::acc* __restrict__ pw,
                                typename Num<T>::acc* __restrict__ pb, long long rows,
                                long long cols, long long rows_per_part, int need_w,
                                int need_b) {
  typedef typename Num<T>::acc A;
  __shared__ A sw[8][33];  // 33: the column reads of the final sum hit distinct banks
  __shared__ A sb[8][33];
  const long long col = (long long)blockIdx.x * 32 + threadIdx.x;
  const long long part = blockIdx.y;
  const long long lo = part * rows_per_part;
  const long long hi = lo + rows_per_part < rows ? lo + rows_per_part : rows;
  A aw = A(0), ab = A(0);
  if (col < cols) {
    for (long long r = lo + threadIdx.y; r < hi; r += 8) {
      const A gg = Num<T>::load(g[r * cols + col]);
      if (need_w) {
        const A m = CENTER ? mean_in[r] : A(0);
        aw += gg * ((Num<T>::load(x[r * cols + col]) - m) * rstd_in[r]);
      }
      ab += gg;
    }
  }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    A tw = A(0), tb = A(0);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      tw += sw[i][threadIdx.x];
      tb += sb[i][threadIdx.x];
    }
    if (need_w) pw[part * cols + col] = tw;
    if (need_b) pb[part * cols + col] = tb;
  }
}

}  // namespace

// Entry points: layer_norm_{fwd,bwd}_<dtype>_v<V>, rms_norm_{fwd,bwd}_<dtype>_v<V> and
// {layer,rms}_norm_wb_partial_<dtype>; V the elements per vector load (1, or 16 bytes' worth).
// rms_norm takes the same arguments as layer_norm and ignores mean (may be any pointer) and b.
#define TOCHA_NORM_ROWS(T, SUF, V)                                                            \
  extern "C" __global__ void layer_norm_fwd_##SUF##_v##V(                                    \
      const T* x, const Num<T>::acc* w, const Num<T>::acc* b, T* y, Num<T>::acc* mean,       \
      Num<T>::acc* rstd, long long rows, long long cols, Num<T>::acc eps, int has_w,          \
      int has_b) {                                                                            \
    norm_fwd<T, V, true>(x, w, b, y, mean, rstd, rows, cols, eps, has_w, has_b);              \
  }                                                                                           \
  extern "C" __global__ void rms_norm_fwd_##SUF##_v##V(                                      \
      const T* x, const Num<T>::acc* w, const Num<T>::acc* b, T* y, Num<T>::acc* mean,       \
      Num<T>::acc* rstd, long long rows, long long cols, Num<T>::acc eps, int has_w,          \
      int has_b) {                                                                            \
    norm_fwd<T, V, false>(x, w, b, y, mean, rstd, rows, cols, eps, has_w, 0);                 \
    (void)has_b;                                                                              \
  }                                                                                           \
  extern "C" __global__ void layer_norm_bwd_##SUF##_v##V(                                    \
      const T* x, const T* g, const Num<T>::acc* w, const Num<T>::acc* mean,                  \
      const Num<T>::acc* rstd, T* gx, long long rows, long long cols, int has_w) {            \
    norm_bwd<T, V, true>(x, g, w, mean, rstd, gx, rows, cols, has_w);                         \
  }                                                                                           \
  extern "C" __global__ void rms_norm_bwd_##SUF##_v##V(                                      \
      const T* x, const T* g, const Num<T>::acc* w, const Num<T>::acc* mean,                  \
      const Num<T>::acc* rstd, T* gx, long long rows, long long cols, int has_w) {            \
    norm_bwd<T, V, false>(x, g, w, mean, rstd, gx, rows, cols, has_w);                        \
  }

#define TOCHA_NORM_COLS(T, SUF)                                                               \
  extern "C" __global__ void layer_norm_wb_partial_##SUF(                                    \
      const T* x, const T* g, const Num<T>::acc* mean, const Num<T>::acc* rstd,               \
      Num<T>::acc* pw, Num<T>::acc* pb, long long rows, long long cols, long long rpp,        \
      int need_w, int need_b) {                                                               \
    norm_wb_partial<T, true>(x, g, mean, rstd, pw, pb, rows, cols, rpp, need_w, need_b);      \
  }                                                                                           \
  extern "C" __global__ void rms_norm_wb_partial_##SUF(                                      \
      const T* x, const T* g, const Num<T>::acc* mean, const Num<T>::acc* rstd,               \
      Num<T>::acc* pw, Num<T>::acc* pb, long long rows, long long cols, long long rpp,        \
      int need_w, int need_b) {                                                               \
    norm_wb_partial<T, false>(x, g, mean, rstd, pw, pb, rows, cols, rpp, need_w, need_b);     \
  }

TOCHA_NORM_ROWS(float, f32, 1)
TOCHA_NORM_ROWS(float, f32, 4)
TOCHA_NORM_ROWS(double, f64, 1)
TOCHA_NORM_ROWS(double, f64, 2)
TOCHA_NORM_ROWS(__half, f16, 1)
TOCHA_NORM_ROWS(__half, f16, 8)
TOCHA_NORM_ROWS(__nv_bfloat16, bf16, 1)
TOCHA_NORM_ROWS(__nv_bfloat16, bf16, 8)
TOCHA_NORM_COLS(float, f32)
TOCHA_NORM_COLS(double, f64)
TOCHA_NORM_COLS(__half, f16)
TOCHA_NORM_COLS(__nv_bfloat16, bf16)
