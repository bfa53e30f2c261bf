// softmax / log_softmax over the last dim of a C-contiguous (rows, cols) array, forward and
// backward (tocha.core.cuda._softmax launches them; dims other than the last are moved there).
//
// Launch: block (tx, ty): tx threads (a multiple of 32) per row, ty rows per block; grid
// (gx, gy) with row = (blockIdx.y * gridDim.x + blockIdx.x) * ty + threadIdx.y. Rows past the
// end take part in the block reductions with no columns, so no thread leaves early.
// Columns are read in chunks of V elements (one aligned vector load; the launcher picks V > 1
// only when cols % V == 0 and the base pointer is 16-byte aligned). A row of at most
// CACHE * tx elements is read once and kept in registers; a longer row is read again.
//
// The forward is one pass with an online max: each thread keeps (max, sum of exp(x - max)),
// merged across threads; rows holding +inf or nan and rows of only -inf give nan, as the
// two-pass formula (and torch) does. Accumulation is in float (double for float64).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

constexpr int CACHE = 8;  // elements per thread kept in registers

#include "rows.cuh"

template <typename T, int V, bool LOG>
__device__ void softmax_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows,
                            long long cols) {
  typedef typename Num<T>::acc A;
  typedef Vec<T, V> VT;
  constexpr int CH = CACHE / V;  // chunks per thread kept in registers
  const long long row = row_index();
  const long long nch = row < rows ? cols / V : 0;  // chunks of this thread's row
  const long long base = row < rows ? row * cols : 0;
  const VT* xr = reinterpret_cast<const VT*>(x + base);
  VT* yr = reinterpret_cast<VT*>(y + base);
  const int tid = threadIdx.x, nt = blockDim.x;
  A m = neg_inf<A>(), s = A(0);
  if (cols <= (long long)CACHE * nt) {  // the same for the whole block
    A v[CACHE];
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        const VT p = xr[c];
#pragma unroll
        for (int j = 0; j < V; ++j) {
          v[k * V + j] = Num<T>::load(p.v[j]);
          push(m, s, v[k * V + j]);
        }
      }
    }
    row_max_sum(m, s);
    const A ls = lg(s);
    const A inv = A(1) / s;
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        VT p;
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const A z = v[k * V + j] - m;
          p.v[j] = Num<T>::store(LOG ? z - ls : ex(z) * inv);
        }
        yr[c] = p;
      }
    }
    return;
  }
  for (long long c = tid; c < nch; c += nt) {
    const VT p = xr[c];
#pragma unroll
    for (int j = 0; j < V; ++j) push(m, s, Num<T>::load(p.v[j]));
  }
  row_max_sum(m, s);
  const A ls = lg(s);
  const A inv = A(1) / s;
  for (long long c = tid; c < nch; c += nt) {
    const VT p = xr[c];
    VT q;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const A z = Num<T>::load(p.v[j]) - m;
      q.v[j] = Num<T>::store(LOG ? z - ls : ex(z) * inv);
    }
    yr[c] = q;
  }
}

// softmax: gx = y * (g - sum(g * y));  log_softmax: gx = g - exp(y) * sum(g)
template <typename T, int V, bool LOG>
__device__ void softmax_bwd(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ gx,
                            long long rows, long long cols) {
  typedef typename Num<T>::acc A;
  typedef Vec<T, V> VT;
  constexpr int CH = CACHE / V;
  const long long row = row_index();
  const long long nch = row < rows ? cols / V : 0;
  const long long base = row < rows ? row * cols : 0;
  const VT* yr = reinterpret_cast<const VT*>(y + base);
  const VT* gr = reinterpret_cast<const VT*>(g + base);
  VT* gxr = reinterpret_cast<VT*>(gx + base);
  const int tid = threadIdx.x, nt = blockDim.x;
  A acc = A(0);
  if (cols <= (long long)CACHE * nt) {
    A yv[CACHE], gv[CACHE];
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        const VT p = yr[c];
        const VT q = gr[c];
#pragma unroll
        for (int j = 0; j < V; ++j) {
          yv[k * V + j] = Num<T>::load(p.v[j]);
          gv[k * V + j] = Num<T>::load(q.v[j]);
          acc += LOG ? gv[k * V + j] : gv[k * V + j] * yv[k * V + j];
        }
      }
    }
    acc = row_sum(acc);
#pragma unroll
    for (int k = 0; k < CH; ++k) {
      const long long c = tid + (long long)k * nt;
      if (c < nch) {
        VT p;
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const A yy = yv[k * V + j], gg = gv[k * V + j];
          p.v[j] = Num<T>::store(LOG ? gg - ex(yy) * acc : yy * (gg - acc));
        }
        gxr[c] = p;
      }
    }
    return;
  }
  for (long long c = tid; c < nch; c += nt) {
    const VT p = yr[c];
    const VT q = gr[c];
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const A gg = Num<T>::load(q.v[j]);
      acc += LOG ? gg : gg * Num<T>::load(p.v[j]);
    }
  }
  acc = row_sum(acc);
  for (long long c = tid; c < nch; c += nt) {
    const VT p = yr[c];
    const VT q = gr[c];
    VT o;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const A yy = Num<T>::load(p.v[j]), gg = Num<T>::load(q.v[j]);
      o.v[j] = Num<T>::store(LOG ? gg - ex(yy) * acc : yy * (gg - acc));
    }
    gxr[c] = o;
  }
}

}  // namespace

// Entry points: <op>_<dtype>_v<V>, V the elements per vector load (1, or 16 bytes' worth).
#define TOCHA_SOFTMAX(T, SUF, V)                                                              \
  extern "C" __global__ void softmax_fwd_##SUF##_v##V(const T* x, T* y, long long rows,      \
                                                      long long cols) {                      \
    softmax_fwd<T, V, false>(x, y, rows, cols);                                               \
  }                                                                                           \
  extern "C" __global__ void log_softmax_fwd_##SUF##_v##V(const T* x, T* y, long long rows,  \
                                                          long long cols) {                  \
    softmax_fwd<T, V, true>(x, y, rows, cols);                                                \
  }                                                                                           \
  extern "C" __global__ void softmax_bwd_##SUF##_v##V(const T* y, const T* g, T* gx,         \
                                                      long long rows, long long cols) {      \
    softmax_bwd<T, V, false>(y, g, gx, rows, cols);                                           \
  }                                                                                           \
  extern "C" __global__ void log_softmax_bwd_##SUF##_v##V(const T* y, const T* g, T* gx,     \
                                                          long long rows, long long cols) {  \
    softmax_bwd<T, V, true>(y, g, gx, rows, cols);                                            \
  }

TOCHA_SOFTMAX(float, f32, 1)
TOCHA_SOFTMAX(float, f32, 4)
TOCHA_SOFTMAX(double, f64, 1)
TOCHA_SOFTMAX(double, f64, 2)
TOCHA_SOFTMAX(__half, f16, 1)
TOCHA_SOFTMAX(__half, f16, 8)
TOCHA_SOFTMAX(__nv_bfloat16, bf16, 1)
TOCHA_SOFTMAX(__nv_bfloat16, bf16, 8)
