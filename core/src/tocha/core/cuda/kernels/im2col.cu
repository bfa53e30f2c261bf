// im2col / col2im for 1-D, 2-D and 3-D convolutions (any stride, padding, dilation, groups).
//
// Every spatial geometry is padded to three dims (1-D: 1 x 1 x L, 2-D: 1 x H x W), so one
// kernel serves all. Shapes: input x (N, C, X0, X1, X2) read through element strides (a
// non-contiguous input needs no copy); columns with row r = (c, k0, k1, k2) and column
// (n, o0, o1, o2), stored at cols[r * crow + n * cn + o] (o the flat output position):
// crow = N * P, cn = P gives the (C * prod(K), N * P) GEMM operand of the convolution (groups
// are runs of rows), crow = P, cn = C * prod(K) * P torch's unfold layout (N, C * prod(K), P).
//
// col2im is the adjoint: each thread owns one element of the (N, C, X0, X1, X2) result and
// gathers the column entries whose windows read it (no atomics: deterministic), accumulating
// in float (double for f64), plus an optional per-channel bias.
//
// Entry points: im2col_<t>[_<tout>] and col2im_<tcols>[_<tout>] per dtype pair, each in an int32
// flavour and an int64 one (suffix _l) for tensors of 2**31 elements or more: 64-bit division
// costs several times more than 32-bit, and these kernels are all index arithmetic.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

#include "elem.cuh"

template <typename T> __device__ __forceinline__ T cvt(float v);
template <> __device__ __forceinline__ float cvt<float>(float v) { return v; }
template <> __device__ __forceinline__ double cvt<double>(float v) { return v; }
template <> __device__ __forceinline__ __half cvt<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 cvt<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <typename T> __device__ __forceinline__ T cvt(double v);
template <> __device__ __forceinline__ double cvt<double>(double v) { return v; }

template <typename T> __device__ __forceinline__ T zero() { return cvt<T>(0.0f); }

template <typename Tin, typename Tout, typename I>
__device__ void im2col_impl(const Tin* __restrict__ x, Tout* __restrict__ cols, I N, I C, I X0,
                            I X1, I X2, I O0, I O1, I O2, I K0, I K1, I K2, I s0, I s1, I s2,
                            I d0, I d1, I d2, I lo0, I lo1, I lo2, I xsn, I xsc, I xs0, I xs1,
                            I xs2, I crow, I cn) {
    const I P = O0 * O1 * O2;
    const I total = C * K0 * K1 * K2 * N * P;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        // the flat output position is fastest: neighbouring threads write neighbouring columns
        I t = i;
        const I o = t % P;
        t /= P;
        const I n = t % N;
        const I r = t / N;  // row (c, k0, k1, k2)
        const I o2 = o % O2;
        const I o1 = (o / O2) % O1;
        const I o0 = o / (O2 * O1);
        const I k2 = r % K2;
        const I k1 = (r / K2) % K1;
        const I k0 = (r / (K2 * K1)) % K0;
        const I c = r / (K2 * K1 * K0);
        const I p0 = o0 * s0 - lo0 + k0 * d0;
        const I p1 = o1 * s1 - lo1 + k1 * d1;
        const I p2 = o2 * s2 - lo2 + k2 * d2;
        Tout v = zero<Tout>();
        if (p0 >= 0 && p0 < X0 && p1 >= 0 && p1 < X1 && p2 >= 0 && p2 < X2) {
            v = cvt<Tout>(ld(x[n * xsn + c * xsc + p0 * xs0 + p1 * xs1 + p2 * xs2]));
        }
        cols[r * crow + n * cn + o] = v;
    }
}

template <typename Tc, typename Tout, typename I>
__device__ void col2im_impl(const Tc* __restrict__ cols, Tout* __restrict__ out,
                            const Tout* __restrict__ bias, int has_bias, I N, I C, I X0, I X1,
                            I X2, I O0, I O1, I O2, I K0, I K1, I K2, I s0, I s1, I s2, I d0,
                            I d1, I d2, I lo0, I lo1, I lo2, I crow, I cn) {
    typedef typename Acc<Tout>::type A;
    const I total = N * C * X0 * X1 * X2;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        I t = i;
        const I p2 = t % X2;
        t /= X2;
        const I p1 = t % X1;
        t /= X1;
        const I p0 = t % X0;
        t /= X0;
        const I c = t % C;
        const I n = t / C;
        A acc = has_bias ? (A)ld(bias[c]) : (A)0;
        const Tc* base = cols + n * cn + c * (K0 * K1 * K2) * crow;
        // window k reads padded position o * s + k * d = p + lo: only the k with a whole o
        for (I k0 = 0; k0 < K0; ++k0) {
            const I q0 = p0 + lo0 - k0 * d0;
            if (q0 < 0) break;  // q decreases with k
            if (q0 % s0 != 0 || q0 / s0 >= O0) continue;
            const I o0 = q0 / s0;
            for (I k1 = 0; k1 < K1; ++k1) {
                const I q1 = p1 + lo1 - k1 * d1;
                if (q1 < 0) break;
                if (q1 % s1 != 0 || q1 / s1 >= O1) continue;
                const I o1 = q1 / s1;
                for (I k2 = 0; k2 < K2; ++k2) {
                    const I q2 = p2 + lo2 - k2 * d2;
                    if (q2 < 0) break;
                    if (q2 % s2 != 0 || q2 / s2 >= O2) continue;
                    const I o2 = q2 / s2;
                    const I r = (k0 * K1 + k1) * K2 + k2;
                    acc += (A)ld(base[r * crow + (o0 * O1 + o1) * O2 + o2]);
                }
            }
        }
        out[i] = cvt<Tout>(acc);
    }
}

}  // namespace

#define IM2COL_PARAMS(I)                                                                      \
    I N, I C, I X0, I X1, I X2, I O0, I O1, I O2, I K0, I K1, I K2, I s0, I s1, I s2, I d0,    \
        I d1, I d2, I lo0, I lo1, I lo2
#define IM2COL_ARGS                                                                           \
    N, C, X0, X1, X2, O0, O1, O2, K0, K1, K2, s0, s1, s2, d0, d1, d2, lo0, lo1, lo2

#define DEFINE_IM2COL(NAME, TIN, TOUT, I)                                                     \
    extern "C" __global__ void NAME(const TIN* x, TOUT* cols, IM2COL_PARAMS(I), I xsn, I xsc, \
                                    I xs0, I xs1, I xs2, I crow, I cn) {                      \
        im2col_impl<TIN, TOUT, I>(x, cols, IM2COL_ARGS, xsn, xsc, xs0, xs1, xs2, crow, cn);   \
    }

#define DEFINE_COL2IM(NAME, TC, TOUT, I)                                                      \
    extern "C" __global__ void NAME(const TC* cols, TOUT* out, const TOUT* bias, int has_bias,  \
                                    IM2COL_PARAMS(I), I crow, I cn) {                         \
        col2im_impl<TC, TOUT, I>(cols, out, bias, has_bias, IM2COL_ARGS, crow, cn);           \
    }

#define DEFINE_BOTH(SUFFIX, TIN, TOUT)                                                        \
    DEFINE_IM2COL(im2col_##SUFFIX, TIN, TOUT, int)                                            \
    DEFINE_IM2COL(im2col_##SUFFIX##_l, TIN, TOUT, long long)

#define DEFINE_BOTH_COL2IM(SUFFIX, TC, TOUT)                                                  \
    DEFINE_COL2IM(col2im_##SUFFIX, TC, TOUT, int)                                             \
    DEFINE_COL2IM(col2im_##SUFFIX##_l, TC, TOUT, long long)

// same dtype in and out
DEFINE_BOTH(f32, float, float)
DEFINE_BOTH(f64, double, double)
DEFINE_BOTH(f16, __half, __half)
DEFINE_BOTH(bf16, __nv_bfloat16, __nv_bfloat16)
// half / bfloat16 input, float32 columns (the GEMM runs in float32)
DEFINE_BOTH(f16_f32, __half, float)
DEFINE_BOTH(bf16_f32, __nv_bfloat16, float)

DEFINE_BOTH_COL2IM(f32, float, float)
DEFINE_BOTH_COL2IM(f64, double, double)
DEFINE_BOTH_COL2IM(f16, __half, __half)
DEFINE_BOTH_COL2IM(bf16, __nv_bfloat16, __nv_bfloat16)
// float32 columns, half / bfloat16 result
DEFINE_BOTH_COL2IM(f32_f16, float, __half)
DEFINE_BOTH_COL2IM(f32_bf16, float, __nv_bfloat16)
