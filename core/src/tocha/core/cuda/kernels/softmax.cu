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

template <typename T>
struct Num;
template <>
struct Num<float> {
  typedef float acc;
  static __device__ __forceinline__ float load(float v) { return v; }
  static __device__ __forceinline__ float store(float v) { return v; }
};
template <>
struct Num<double> {
  typedef double acc;
  static __device__ __forceinline__ double load(double v) { return v; }
  static __device__ __forceinline__ double store(double v) { return v; }
};
template <>
struct Num<__half> {
  typedef float acc;
  static __device__ __forceinline__ float load(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half store(float v) { return __float2half_rn(v); }
};
template <>
struct Num<__nv_bfloat16> {
  typedef float acc;
  static __device__ __forceinline__ float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 store(float v) {
    return __float2bfloat16_rn(v);
  }
};

__device__ __forceinline__ float ex(float v) { return expf(v); }
__device__ __forceinline__ double ex(double v) { return exp(v); }
__device__ __forceinline__ float lg(float v) { return logf(v); }
__device__ __forceinline__ double lg(double v) { return log(v); }
template <typename A>
__device__ __forceinline__ A neg_inf();
template <>
__device__ __forceinline__ float neg_inf<float>() { return __int_as_float(0xff800000); }
template <>
__device__ __forceinline__ double neg_inf<double>() {
  return __longlong_as_double(0xfff0000000000000LL);
}
template <typename A>
__device__ __forceinline__ A quiet_nan();
template <>
__device__ __forceinline__ float quiet_nan<float>() { return __int_as_float(0x7fc00000); }
template <>
__device__ __forceinline__ double quiet_nan<double>() {
  return __longlong_as_double(0x7ff8000000000000LL);
}

// V elements loaded or stored at once (16 bytes at most)
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

__device__ __forceinline__ long long row_index() {
  return ((long long)blockIdx.y * gridDim.x + blockIdx.x) * blockDim.y + threadIdx.y;
}

// Sum over the tx threads of a row. Every thread of the block must call it (no thread has
// left early); every thread of the row gets the total.
template <typename A>
__device__ __forceinline__ A row_sum(A v) {
  __shared__ A part[32];  // one slot per warp of the block (at most 1024 / 32)
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int nw = blockDim.x >> 5;
  if (nw == 1) return v;  // the same for the whole block: a warp per row needs no shared memory
  const int lane = threadIdx.x & 31;
  A* mine = part + threadIdx.y * nw;
  __syncthreads();  // a previous call may still be reading part
  if (lane == 0) mine[threadIdx.x >> 5] = v;
  __syncthreads();
  v = lane < nw ? mine[lane] : A(0);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// exp(a - m) for a <= m, and 1 where a == m (so -inf == -inf and inf == inf give 1, not nan)
template <typename A>
__device__ __forceinline__ A rescale(A a, A m) {
  return a == m ? A(1) : ex(a - m);
}

// (max, sum of exp(x - max)) merged with another such pair; m is never nan (nan fails x > m
// and turns s into nan instead)
template <typename A>
__device__ __forceinline__ void merge(A& m, A& s, A m2, A s2) {
  const A mm = m2 > m ? m2 : m;
  s = s * rescale(m, mm) + s2 * rescale(m2, mm);
  m = mm;
}

// one element x into (m, s): a single exp either way
template <typename A>
__device__ __forceinline__ void push(A& m, A& s, A x) {
  if (x > m) {
    s = s * ex(m - x) + A(1);
    m = x;
  } else {
    s += rescale(x, m);  // nan (x or m) makes s nan
  }
}

template <typename A>
__device__ __forceinline__ void row_max_sum(A& m, A& s) {
  __shared__ A pm[32];
  __shared__ A ps[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const A m2 = __shfl_xor_sync(0xffffffffu, m, o);
    const A s2 = __shfl_xor_sync(0xffffffffu, s, o);
    merge(m, s, m2, s2);
  }
  const int nw = blockDim.x >> 5;
  if (nw > 1) {
    const int lane = threadIdx.x & 31;
    const int base = threadIdx.y * nw;
    __syncthreads();
    if (lane == 0) {
      pm[base + (threadIdx.x >> 5)] = m;
      ps[base + (threadIdx.x >> 5)] = s;
    }
    __syncthreads();
    m = lane < nw ? pm[base + lane] : neg_inf<A>();
    s = lane < nw ? ps[base + lane] : A(0);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const A m2 = __shfl_xor_sync(0xffffffffu, m, o);
      const A s2 = __shfl_xor_sync(0xffffffffu, s, o);
      merge(m, s, m2, s2);
    }
  }
  // the two-pass formula sums exp(inf - inf) = nan where the max is +inf, and
  // exp(-inf - -inf) = nan in a row of only -inf: so does this (log(s) is then nan too)
  if (m == -neg_inf<A>() || m == neg_inf<A>()) s = quiet_nan<A>();
}

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
