// Shared by the row-wise kernels (softmax.cu, cross_entropy.cu, norm.cu): number traits that load
// half types as float (double stays double), exp/log and the special values without <math.h>
// macros (NVRTC has none), aligned vector loads, the row index of a thread, and the online
// (max, sum of exp) reduction across a block. Included inside each file's anonymous
// namespace, after <cuda_fp16.h> and <cuda_bf16.h>; it includes nothing itself.
#pragma once

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
