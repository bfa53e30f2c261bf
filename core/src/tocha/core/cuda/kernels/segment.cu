// Scatter and segment reductions (tocha.core.cuda._segment launches them).
//
// The caller turns scatter / index_add / scatter_reduce into flat target offsets into an
// output buffer of the accumulation type (float, or double for float64), so every kernel here
// is one-dimensional:
//
//   scatter_atomic    out[tgt[i]] (op)= src[i]  with atomics (atomicAdd; a CAS loop for
//                     max/min/prod): fast, the order of a sum's terms is not fixed
//   scatter_sorted    the deterministic variant: src already permuted by a stable argsort of
//                     tgt, starts = CSR offsets of the runs of equal targets; one thread per
//                     run combines it into out[tgt_of_run[s]] in index order
//   segment_csr       out[s, :] = (op) over rows starts[s]..starts[s+1] of x (nrows, d):
//                     torch_scatter's segment_csr on sorted indices (sum, mean, max, min; an
//                     empty segment gives 0 and arg -1), with the first arg-max/min row
//
// op codes: 0 sum, 1 max, 2 min, 3 prod, 4 mean (segment_csr only). max/min propagate NaN.

#include <cuda_fp16.h>
#include <cuda_bf16.h>

typedef long long i64;

template <class T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }
__device__ __forceinline__ float to_acc(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T> __device__ __forceinline__ T store(float x);
template <> __device__ __forceinline__ float store<float>(float x) { return x; }
template <> __device__ __forceinline__ __half store<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 store<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}
__device__ __forceinline__ double store_d(double x) { return x; }
template <class T> __device__ __forceinline__ T store_any(typename Acc<T>::type x) {
    return store<T>(x);
}
template <> __device__ __forceinline__ double store_any<double>(double x) { return store_d(x); }

template <class A>
__device__ __forceinline__ A combine(A a, A b, int op) {
    if (op == 0) return a + b;
    if (op == 3) return a * b;
    if (a != a) return a;  // NaN propagates through max / min (torch's amax / amin)
    if (b != b) return b;
    if (op == 1) return b > a ? b : a;
    return b < a ? b : a;
}

// max / min / prod by compare-and-swap on the bit pattern
__device__ void atomic_combine(float* addr, float v, int op) {
    if (op == 0) {
        atomicAdd(addr, v);
        return;
    }
    int* ia = (int*)addr;
    int old = *ia;
    while (true) {
        const float cur = __int_as_float(old);
        const float nv = combine(cur, v, op);
        const int nbits = __float_as_int(nv);
        if (nbits == old) return;
        const int seen = atomicCAS(ia, old, nbits);
        if (seen == old) return;
        old = seen;
    }
}

__device__ void atomic_combine(double* addr, double v, int op) {
    if (op == 0) {
        atomicAdd(addr, v);
        return;
    }
    unsigned long long* ia = (unsigned long long*)addr;
    unsigned long long old = *ia;
    while (true) {
        const double cur = __longlong_as_double((long long)old);
        const double nv = combine(cur, v, op);
        const unsigned long long nbits = (unsigned long long)__double_as_longlong(nv);
        if (nbits == old) return;
        const unsigned long long seen = atomicCAS(ia, old, nbits);
        if (seen == old) return;
        old = seen;
    }
}

template <class T>
__device__ void scatter_atomic(const T* __restrict__ src, const i64* __restrict__ tgt,
                               typename Acc<T>::type* __restrict__ out, i64 n, int op) {
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        atomic_combine(out + tgt[i], to_acc(src[i]), op);
}

template <class T>
__device__ void scatter_sorted(const T* __restrict__ src, const i64* __restrict__ starts,
                               const i64* __restrict__ run_tgt,
                               typename Acc<T>::type* __restrict__ out, i64 nruns, int op) {
    typedef typename Acc<T>::type A;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 s = (i64)blockIdx.x * blockDim.x + threadIdx.x; s < nruns; s += stride) {
        A acc = out[run_tgt[s]];
        for (i64 k = starts[s]; k < starts[s + 1]; ++k) acc = combine(acc, to_acc(src[k]), op);
        out[run_tgt[s]] = acc;
    }
}

template <class T>
__device__ void segment_csr(const T* __restrict__ x, const i64* __restrict__ starts,
                            T* __restrict__ out, i64* __restrict__ arg, int has_arg, i64 nseg,
                            i64 d, int op) {
    typedef typename Acc<T>::type A;
    const i64 s = (i64)blockIdx.y * (i64)gridDim.x + (i64)blockIdx.x;
    if (s >= nseg) return;
    const i64 lo = starts[s], hi = starts[s + 1];
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        A acc = 0;
        i64 at = -1;
        if (op == 0 || op == 4) {
            for (i64 k = lo; k < hi; ++k) acc += to_acc(x[k * d + j]);
            if (op == 4 && hi > lo) acc /= (A)(hi - lo);
        } else {
            for (i64 k = lo; k < hi; ++k) {
                const A v = to_acc(x[k * d + j]);
                if (at < 0) {
                    acc = v;
                    at = k;
                } else {
                    const A nv = combine(acc, v, op);
                    // a new row wins only when it changes the value (ties keep the first)
                    if (!(nv == acc) && !(nv != nv && acc != acc)) at = k;
                    acc = nv;
                }
            }
        }
        out[s * d + j] = store_any<T>(acc);
        if (has_arg) arg[s * d + j] = at;
    }
}

#define TOCHA_SEGMENT_ENTRIES(SUF, T)                                                           \
    extern "C" __global__ void scatter_atomic_##SUF(const T* src, const i64* tgt,              \
                                                    Acc<T>::type* out, i64 n, int op) {         \
        scatter_atomic<T>(src, tgt, out, n, op);                                                \
    }                                                                                           \
    extern "C" __global__ void scatter_sorted_##SUF(const T* src, const i64* starts,           \
                                                    const i64* run_tgt, Acc<T>::type* out,      \
                                                    i64 nruns, int op) {                        \
        scatter_sorted<T>(src, starts, run_tgt, out, nruns, op);                                \
    }                                                                                           \
    extern "C" __global__ void segment_csr_##SUF(const T* x, const i64* starts, T* out,        \
                                                 i64* arg, int has_arg, i64 nseg, i64 d,        \
                                                 int op) {                                      \
        segment_csr<T>(x, starts, out, arg, has_arg, nseg, d, op);                              \
    }

TOCHA_SEGMENT_ENTRIES(f32, float)
TOCHA_SEGMENT_ENTRIES(f64, double)
TOCHA_SEGMENT_ENTRIES(f16, __half)
TOCHA_SEGMENT_ENTRIES(bf16, __nv_bfloat16)
