// Embedding and embedding_bag kernels (tocha.core.cuda._embedding launches them).
//
// Layout: the weight / gathered rows are C-contiguous (rows, d); indices are int64. Half types
// are read and written as such and accumulated in float; float64 accumulates in double.
//
//   embedding_fwd      out[i, :] = w[idx[i], :]                      (grid-stride, coalesced)
//   embedding_bwd_atomic   acc[idx[i], :] += g[i, :] * scale[i]      (atomicAdd into an
//                      accumulator array of the accumulation type, zeroed by the caller)
//   embedding_bwd_sorted   out[uniq[s], :] = sum over the sorted run s of g[order[k], :] *
//                      scale[order[k]]: one block per distinct index, summed in a fixed order
//                      (deterministic; the caller sorts with a stable argsort)
//   bag_sum_fwd        out[b, :] = sum_{k in bag b} rows[k, :] * coef[k]   (CSR offsets)
//   bag_max_fwd        out[b, j] = max over the kept rows of bag b, pos[b, j] = first row
//                      attaining it (-1 and 0 for an empty bag)
//   bag_rows_bwd       grows[k, :] = g[seg[k], :] * coef[k]
//
// scale / coef are arrays of the accumulation type (float, or double for float64).

#include <cuda_fp16.h>
#include <cuda_bf16.h>

typedef long long i64;

template <class T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }
__device__ __forceinline__ float to_acc(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T> __device__ __forceinline__ T from_acc(float x);
template <> __device__ __forceinline__ float from_acc<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_acc<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

template <class T> __device__ __forceinline__ T store(typename Acc<T>::type x) { return from_acc<T>(x); }
template <> __device__ __forceinline__ double store<double>(double x) { return x; }

// one block per row for up to 2**31-1 * 65535 rows (see _kernels.row_grid)
__device__ __forceinline__ i64 block_row() {
    return (i64)blockIdx.y * (i64)gridDim.x + (i64)blockIdx.x;
}

template <class T>
__device__ void embedding_fwd(const T* __restrict__ w, const i64* __restrict__ idx,
                              T* __restrict__ out, i64 n, i64 d) {
    const i64 total = n * d;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        const i64 i = e / d;
        const i64 j = e - i * d;
        out[e] = w[idx[i] * d + j];
    }
}

template <class T>
__device__ void embedding_bwd_atomic(const T* __restrict__ g, const i64* __restrict__ idx,
                                     const typename Acc<T>::type* __restrict__ scale,
                                     int has_scale, typename Acc<T>::type* __restrict__ acc,
                                     i64 n, i64 d) {
    typedef typename Acc<T>::type A;
    const i64 total = n * d;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        const i64 i = e / d;
        const i64 j = e - i * d;
        A v = to_acc(g[e]);
        if (has_scale) v *= scale[i];
        atomicAdd(acc + idx[i] * d + j, v);
    }
}

template <class T>
__device__ void embedding_bwd_sorted(const T* __restrict__ g, const i64* __restrict__ order,
                                     const i64* __restrict__ starts,
                                     const i64* __restrict__ uniq,
                                     const typename Acc<T>::type* __restrict__ scale,
                                     int has_scale, T* __restrict__ out, i64 nseg, i64 d) {
    typedef typename Acc<T>::type A;
    const i64 s = block_row();
    if (s >= nseg) return;
    const i64 lo = starts[s], hi = starts[s + 1];
    T* orow = out + uniq[s] * d;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        A sum = 0;
        for (i64 k = lo; k < hi; ++k) {
            const i64 r = order[k];
            A v = to_acc(g[r * d + j]);
            if (has_scale) v *= scale[r];
            sum += v;
        }
        orow[j] = store<T>(sum);
    }
}

template <class T>
__device__ void bag_sum_fwd(const T* __restrict__ rows, const typename Acc<T>::type* __restrict__ coef,
                            const i64* __restrict__ offsets, T* __restrict__ out, i64 nbags,
                            i64 d) {
    typedef typename Acc<T>::type A;
    const i64 b = block_row();
    if (b >= nbags) return;
    const i64 lo = offsets[b], hi = offsets[b + 1];
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        A sum = 0;
        for (i64 k = lo; k < hi; ++k) sum += to_acc(rows[k * d + j]) * coef[k];
        out[b * d + j] = store<T>(sum);
    }
}

template <class T>
__device__ void bag_max_fwd(const T* __restrict__ rows, const unsigned char* __restrict__ keep,
                            int has_keep, const i64* __restrict__ offsets, T* __restrict__ out,
                            i64* __restrict__ pos, i64 nbags, i64 d) {
    typedef typename Acc<T>::type A;
    const i64 b = block_row();
    if (b >= nbags) return;
    const i64 lo = offsets[b], hi = offsets[b + 1];
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        A best = 0;
        i64 at = -1;
        for (i64 k = lo; k < hi; ++k) {
            if (has_keep && !keep[k]) continue;
            const A v = to_acc(rows[k * d + j]);
            // torch's rule: the first kept row starts the max (a NaN or -inf there too) and
            // only a strictly larger value replaces it, so ties keep the first row and a
            // later NaN never wins
            if (at < 0 || v > best) {
                best = v;
                at = k;
            }
        }
        out[b * d + j] = store<T>(at < 0 ? (A)0 : best);
        pos[b * d + j] = at;
    }
}

template <class T>
__device__ void bag_rows_bwd(const T* __restrict__ g, const i64* __restrict__ seg,
                             const typename Acc<T>::type* __restrict__ coef,
                             T* __restrict__ out, i64 n, i64 d) {
    const i64 total = n * d;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        const i64 i = e / d;
        const i64 j = e - i * d;
        out[e] = store<T>(to_acc(g[seg[i] * d + j]) * coef[i]);
    }
}

#define TOCHA_EMBEDDING_ENTRIES(SUF, T)                                                        \
    extern "C" __global__ void embedding_fwd_##SUF(const T* w, const i64* idx, T* out, i64 n, \
                                                   i64 d) {                                    \
        embedding_fwd<T>(w, idx, out, n, d);                                                   \
    }                                                                                          \
    extern "C" __global__ void embedding_bwd_atomic_##SUF(                                     \
        const T* g, const i64* idx, const Acc<T>::type* scale, int has_scale,                  \
        Acc<T>::type* acc, i64 n, i64 d) {                                                     \
        embedding_bwd_atomic<T>(g, idx, scale, has_scale, acc, n, d);                          \
    }                                                                                          \
    extern "C" __global__ void embedding_bwd_sorted_##SUF(                                     \
        const T* g, const i64* order, const i64* starts, const i64* uniq,                      \
        const Acc<T>::type* scale, int has_scale, T* out, i64 nseg, i64 d) {                   \
        embedding_bwd_sorted<T>(g, order, starts, uniq, scale, has_scale, out, nseg, d);       \
    }                                                                                          \
    extern "C" __global__ void bag_sum_fwd_##SUF(const T* rows, const Acc<T>::type* coef,     \
                                                 const i64* offsets, T* out, i64 nbags,        \
                                                 i64 d) {                                      \
        bag_sum_fwd<T>(rows, coef, offsets, out, nbags, d);                                    \
    }                                                                                          \
    extern "C" __global__ void bag_max_fwd_##SUF(const T* rows, const unsigned char* keep,    \
                                                 int has_keep, const i64* offsets, T* out,     \
                                                 i64* pos, i64 nbags, i64 d) {                 \
        bag_max_fwd<T>(rows, keep, has_keep, offsets, out, pos, nbags, d);                     \
    }                                                                                          \
    extern "C" __global__ void bag_rows_bwd_##SUF(const T* g, const i64* seg,                 \
                                                  const Acc<T>::type* coef, T* out, i64 n,     \
                                                  i64 d) {                                     \
        bag_rows_bwd<T>(g, seg, coef, out, n, d);                                              \
    }

TOCHA_EMBEDDING_ENTRIES(f32, float)
TOCHA_EMBEDDING_ENTRIES(f64, double)
TOCHA_EMBEDDING_ENTRIES(f16, __half)
TOCHA_EMBEDDING_ENTRIES(bf16, __nv_bfloat16)
