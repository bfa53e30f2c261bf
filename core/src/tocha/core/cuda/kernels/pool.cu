// 2-D pooling (1-D pooling runs as 2-D with a height of 1).
//
// - maxpool2d_fwd: values and int64 argmax indices (flat h * W + w in the input plane), as
//   torch's CUDA kernel: windows clipped to the input, the first maximum wins ties, a NaN
//   always wins (so the last NaN of a window is taken), and a window of -inf reports its first
//   element inside the input.
// - maxpool2d_bwd: the gradient as a gather: each thread owns one input element and sums the
//   gradients of the outputs whose window covers it and whose argmax it is (deterministic, no
//   atomics).
// - window2d: a separable windowed sum, y[n, c, p, q] = ho[p] * wo[q] *
//   sum_{i in [hs[p], he[p])} sum_{j in [ws[q], we[q])} hi[i] * wi[j] * x[n, c, i, j].
//   Average pooling (count_include_pad, ceil_mode, divisor_override) has ho/wo the reciprocal
//   divisors and hi/wi ones; adaptive average pooling likewise; their adjoints (the backward)
//   are windows over the outputs with hi/wi the divisors: both directions are gathers.
//
// x and g are read through element strides; results are contiguous (N, C, ., .).
// Accumulation in float (double for f64).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

#include "elem.cuh"

template <typename T, typename I>
__device__ void maxpool_fwd_impl(const T* __restrict__ x, T* __restrict__ y,
                                 long long* __restrict__ idx, I N, I C, I H, I W, I OH, I OW,
                                 I kh, I kw, I sh, I sw, I ph, I pw, I dh, I dw, I xsn, I xsc,
                                 I xsh, I xsw) {
    typedef typename Acc<T>::type A;
    const I total = N * C * OH * OW;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        I t = i;
        const I ow = t % OW;
        t /= OW;
        const I oh = t % OH;
        t /= OH;
        const I c = t % C;
        const I n = t / C;
        I hstart = oh * sh - ph;
        I wstart = ow * sw - pw;
        const I hend = min(hstart + (kh - 1) * dh + 1, H);
        const I wend = min(wstart + (kw - 1) * dw + 1, W);
        while (hstart < 0) hstart += dh;
        while (wstart < 0) wstart += dw;
        const T* xp = x + n * xsn + c * xsc;
        long long best = (long long)hstart * W + wstart;
        A m = -(A)__int_as_float(0x7f800000);  // -inf (no math.h macros under NVRTC)
        for (I h = hstart; h < hend; h += dh) {
            for (I w = wstart; w < wend; w += dw) {
                const A v = (A)ld(xp[h * xsh + w * xsw]);
                if (v > m || v != v) {
                    best = (long long)h * W + w;
                    m = v;
                }
            }
        }
        y[i] = to(m, T());
        idx[i] = best;
    }
}

template <typename T, typename I>
__device__ void maxpool_bwd_impl(const T* __restrict__ g, const long long* __restrict__ idx,
                                 T* __restrict__ gx, I N, I C, I H, I W, I OH, I OW, I kh, I kw,
                                 I sh, I sw, I ph, I pw, I dh, I dw, I gsn, I gsc, I gsh,
                                 I gsw) {
    typedef typename Acc<T>::type A;
    const I total = N * C * H * W;
    const I ext_h = (kh - 1) * dh + 1;
    const I ext_w = (kw - 1) * dw + 1;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        I t = i;
        const I w = t % W;
        t /= W;
        const I h = t % H;
        t /= H;
        const I c = t % C;
        const I n = t / C;
        // outputs whose window extent [o*s - p, o*s - p + ext) covers h (resp. w)
        const I oh0 = (h + ph < ext_h) ? 0 : (h + ph - ext_h) / sh + 1;
        const I oh1 = min((h + ph) / sh + 1, OH);
        const I ow0 = (w + pw < ext_w) ? 0 : (w + pw - ext_w) / sw + 1;
        const I ow1 = min((w + pw) / sw + 1, OW);
        const long long me = (long long)h * W + w;
        const long long* ip = idx + (n * C + c) * OH * OW;
        const T* gp = g + n * gsn + c * gsc;
        A acc = (A)0;
        for (I oh = oh0; oh < oh1; ++oh) {
            for (I ow = ow0; ow < ow1; ++ow) {
                if (ip[oh * OW + ow] == me) acc += (A)ld(gp[oh * gsh + ow * gsw]);
            }
        }
        gx[i] = to(acc, T());
    }
}

// the per-axis tables: bounds (start[O], end[O]) and weights (in[n_in], out[O])
template <typename T, typename I>
__device__ void window_impl(const T* __restrict__ x, T* __restrict__ y,
                            const long long* __restrict__ hb, const long long* __restrict__ wb,
                            const typename Acc<T>::type* __restrict__ hwt,
                            const typename Acc<T>::type* __restrict__ wwt, I N, I C, I H, I W,
                            I OH, I OW, I xsn, I xsc, I xsh, I xsw) {
    typedef typename Acc<T>::type A;
    const I total = N * C * OH * OW;
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < total;
         i += (I)gridDim.x * (I)blockDim.x) {
        I t = i;
        const I q = t % OW;
        t /= OW;
        const I p = t % OH;
        t /= OH;
        const I c = t % C;
        const I n = t / C;
        const I h0 = (I)hb[p], h1 = (I)hb[OH + p];
        const I w0 = (I)wb[q], w1 = (I)wb[OW + q];
        const T* xp = x + n * xsn + c * xsc;
        A acc = (A)0;
        for (I h = h0; h < h1; ++h) {
            A row = (A)0;
            for (I w = w0; w < w1; ++w) row += wwt[w] * (A)ld(xp[h * xsh + w * xsw]);
            acc += hwt[h] * row;
        }
        y[i] = to(acc * hwt[H + p] * wwt[W + q], T());
    }
}

}  // namespace

#define POOL_GEOM(I)                                                                          \
    I N, I C, I H, I W, I OH, I OW, I kh, I kw, I sh, I sw, I ph, I pw, I dh, I dw
#define POOL_GEOM_ARGS N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw

#define DEFINE_POOL(SUFFIX, T, I)                                                             \
    extern "C" __global__ void maxpool2d_fwd_##SUFFIX(const T* x, T* y, long long* idx,        \
                                                      POOL_GEOM(I), I xsn, I xsc, I xsh,      \
                                                      I xsw) {                                \
        maxpool_fwd_impl<T, I>(x, y, idx, POOL_GEOM_ARGS, xsn, xsc, xsh, xsw);               \
    }                                                                                         \
    extern "C" __global__ void maxpool2d_bwd_##SUFFIX(const T* g, const long long* idx,       \
                                                      T* gx, POOL_GEOM(I), I gsn, I gsc,      \
                                                      I gsh, I gsw) {                         \
        maxpool_bwd_impl<T, I>(g, idx, gx, POOL_GEOM_ARGS, gsn, gsc, gsh, gsw);              \
    }                                                                                         \
    extern "C" __global__ void window2d_##SUFFIX(                                             \
        const T* x, T* y, const long long* hb, const long long* wb, const Acc<T>::type* hwt,  \
        const Acc<T>::type* wwt, I N, I C, I H, I W, I OH, I OW, I xsn, I xsc, I xsh,         \
        I xsw) {                                                                              \
        window_impl<T, I>(x, y, hb, wb, hwt, wwt, N, C, H, W, OH, OW, xsn, xsc, xsh, xsw);    \
    }

DEFINE_POOL(f32, float, int)
DEFINE_POOL(f64, double, int)
DEFINE_POOL(f16, __half, int)
DEFINE_POOL(bf16, __nv_bfloat16, int)
DEFINE_POOL(f32_l, float, long long)
DEFINE_POOL(f64_l, double, long long)
DEFINE_POOL(f16_l, __half, long long)
DEFINE_POOL(bf16_l, __nv_bfloat16, long long)
