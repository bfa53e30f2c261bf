// Direct depthwise 2-D convolution (groups == input channels, weight (Co, 1, K0, K1) with
// Co = C * mult): MobileNet / EfficientNet layers, where im2col would build a column matrix
// prod(K) times the input for a GEMM with an inner dimension of prod(K).
//
// - dw_fwd:   y[n, co, o0, o1] = b[co] + sum_k x[n, co / mult, o0*s0 - lo0 + k0*d0, ...] w[co, k]
// - dw_bwd_x: the adjoint in x (also the transposed depthwise convolution): each thread owns
//             one input element and gathers the outputs whose windows read it (no atomics)
// - dw_bwd_w: the adjoint in w as deterministic partial sums: block (co*K + k, split) reduces
//             its slice of the N * O0 * O1 products in a fixed order and writes one partial;
//             the caller sums the `splits` partials of each weight element
//
// x and g are read through element strides (non-contiguous inputs need no copy); w, y, the
// input gradient and the partials are contiguous. Accumulation in float (double for f64).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

#include "elem.cuh"

template <typename T, typename I>
__device__ void dw_fwd_impl(const T* __restrict__ x, const T* __restrict__ w,
                            const T* __restrict__ b, int has_bias, T* __restrict__ y, I N, I C,
                            I mult, I X0, I X1, I O0, I O1, I K0, I K1, I s0, I s1, I d0, I d1,
                            I lo0, I lo1, I xsn, I xsc, I xs0, I xs1) {
    typedef typename Acc<T>::type A;
    const I Co = C * mult;
    const I total = N * Co * O0 * O1;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        I t = i;
        const I o1 = t % O1;
        t /= O1;
        const I o0 = t % O0;
        t /= O0;
        const I co = t % Co;
        const I n = t / Co;
        const T* xp = x + n * xsn + (co / mult) * xsc;
        const T* wp = w + co * K0 * K1;
        A acc = has_bias ? (A)ld(b[co]) : (A)0;
        for (I k0 = 0; k0 < K0; ++k0) {
            const I p0 = o0 * s0 - lo0 + k0 * d0;
            if (p0 < 0 || p0 >= X0) continue;
            for (I k1 = 0; k1 < K1; ++k1) {
                const I p1 = o1 * s1 - lo1 + k1 * d1;
                if (p1 < 0 || p1 >= X1) continue;
                acc += (A)ld(xp[p0 * xs0 + p1 * xs1]) * (A)ld(wp[k0 * K1 + k1]);
            }
        }
        y[i] = to(acc, T());
    }
}

template <typename T, typename I>
__device__ void dw_bwd_x_impl(const T* __restrict__ g, const T* __restrict__ w,
                              const T* __restrict__ b, int has_bias, T* __restrict__ gx, I N,
                              I C, I mult, I X0, I X1, I O0, I O1, I K0, I K1, I s0, I s1, I d0,
                              I d1, I lo0, I lo1, I gsn, I gsc, I gs0, I gs1) {
    typedef typename Acc<T>::type A;
    const I total = N * C * X0 * X1;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        I t = i;
        const I p1 = t % X1;
        t /= X1;
        const I p0 = t % X0;
        t /= X0;
        const I c = t % C;
        const I n = t / C;
        A acc = has_bias ? (A)ld(b[c]) : (A)0;
        for (I m = 0; m < mult; ++m) {
            const I co = c * mult + m;
            const T* gp = g + n * gsn + co * gsc;
            const T* wp = w + co * K0 * K1;
            for (I k0 = 0; k0 < K0; ++k0) {
                const I q0 = p0 + lo0 - k0 * d0;  // o0 * s0 for the window that reads p0
                if (q0 < 0) break;                // q0 decreases with k0
                if (q0 % s0 != 0 || q0 / s0 >= O0) continue;
                const I o0 = q0 / s0;
                for (I k1 = 0; k1 < K1; ++k1) {
                    const I q1 = p1 + lo1 - k1 * d1;
                    if (q1 < 0) break;
                    if (q1 % s1 != 0 || q1 / s1 >= O1) continue;
                    acc += (A)ld(gp[o0 * gs0 + (q1 / s1) * gs1]) * (A)ld(wp[k0 * K1 + k1]);
                }
            }
        }
        gx[i] = to(acc, T());
    }
}

// blockDim.x must be a multiple of 32 (the launcher uses 256): every warp is full, so the
// full-mask shuffles below are well defined
template <typename T, typename I>
__device__ void dw_bwd_w_impl(const T* __restrict__ x, const T* __restrict__ g,
                              typename Acc<T>::type* __restrict__ part, I N, I C, I mult, I X0,
                              I X1, I O0, I O1, I K0, I K1, I s0, I s1, I d0, I d1, I lo0,
                              I lo1, I xsn, I xsc, I xs0, I xs1, I gsn, I gsc, I gs0, I gs1) {
    typedef typename Acc<T>::type A;
    __shared__ A warp_sums[32];
    const I KK = K0 * K1;
    const I row = (I)blockIdx.x;  // co * KK + k
    const I co = row / KK;
    const I k0 = (row % KK) / K1;
    const I k1 = row % K1;
    const I c = co / mult;
    const I P = O0 * O1;
    const I total = N * P;
    const I splits = (I)gridDim.y;
    // in 64 bits: total * blockIdx.y can pass 2**31 even where every index fits in 32
    const I begin = (I)((long long)total * blockIdx.y / splits);
    const I end = (I)((long long)total * (blockIdx.y + 1) / splits);
    A acc = (A)0;
    for (I j = begin + (I)threadIdx.x; j < end; j += (I)blockDim.x) {
        const I n = j / P;
        const I o = j % P;
        const I o0 = o / O1;
        const I o1 = o % O1;
        const I p0 = o0 * s0 - lo0 + k0 * d0;
        const I p1 = o1 * s1 - lo1 + k1 * d1;
        if (p0 < 0 || p0 >= X0 || p1 < 0 || p1 >= X1) continue;
        acc += (A)ld(g[n * gsn + co * gsc + o0 * gs0 + o1 * gs1]) *
               (A)ld(x[n * xsn + c * xsc + p0 * xs0 + p1 * xs1]);
    }
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        const int nwarps = (int)(blockDim.x >> 5);
        acc = lane < nwarps ? warp_sums[lane] : (A)0;
        for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
        if (lane == 0) part[row * splits + (I)blockIdx.y] = acc;
    }
}

}  // namespace

#define DW_GEOM(I)                                                                            \
    I N, I C, I mult, I X0, I X1, I O0, I O1, I K0, I K1, I s0, I s1, I d0, I d1, I lo0, I lo1
#define DW_GEOM_ARGS N, C, mult, X0, X1, O0, O1, K0, K1, s0, s1, d0, d1, lo0, lo1

#define DEFINE_DW(SUFFIX, T, I)                                                               \
    extern "C" __global__ void dw_fwd_##SUFFIX(const T* x, const T* w, const T* b,            \
                                               int has_bias, T* y, DW_GEOM(I), I xsn, I xsc,  \
                                               I xs0, I xs1) {                                \
        dw_fwd_impl<T, I>(x, w, b, has_bias, y, DW_GEOM_ARGS, xsn, xsc, xs0, xs1);           \
    }                                                                                         \
    extern "C" __global__ void dw_bwd_x_##SUFFIX(const T* g, const T* w, const T* b,          \
                                                 int has_bias, T* gx, DW_GEOM(I), I gsn,      \
                                                 I gsc, I gs0, I gs1) {                       \
        dw_bwd_x_impl<T, I>(g, w, b, has_bias, gx, DW_GEOM_ARGS, gsn, gsc, gs0, gs1);        \
    }                                                                                         \
    extern "C" __global__ void dw_bwd_w_##SUFFIX(const T* x, const T* g,                      \
                                                 Acc<T>::type* part, DW_GEOM(I), I xsn,       \
                                                 I xsc, I xs0, I xs1, I gsn, I gsc, I gs0,    \
                                                 I gs1) {                                     \
        dw_bwd_w_impl<T, I>(x, g, part, DW_GEOM_ARGS, xsn, xsc, xs0, xs1, gsn, gsc, gs0,     \
                            gs1);                                                             \
    }

DEFINE_DW(f32, float, int)
DEFINE_DW(f64, double, int)
DEFINE_DW(f16, __half, int)
DEFINE_DW(bf16, __nv_bfloat16, int)
DEFINE_DW(f32_l, float, long long)
DEFINE_DW(f64_l, double, long long)
DEFINE_DW(f16_l, __half, long long)
DEFINE_DW(bf16_l, __nv_bfloat16, long long)
