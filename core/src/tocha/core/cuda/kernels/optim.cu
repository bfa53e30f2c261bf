// Fused multi-tensor optimizer steps (tocha.core.cuda._optim launches them).
//
// One launch updates every parameter of a dtype group: the host passes arrays of device
// pointers (as 64-bit integers) to the parameters, gradients and state buffers, their sizes,
// and the per-tensor step-dependent scalars. blockIdx.y picks the tensor (the launcher splits
// groups of more than 65535 tensors), blockIdx.x with a grid-stride loop walks its elements.
// Arithmetic is in float (double for float64) with torch's order of operations; parameters
// and states keep their own dtype (torch's fused kernels use the same "opmath" rule).

#include <cuda_fp16.h>
#include <cuda_bf16.h>

typedef long long i64;
typedef unsigned long long u64;

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
template <class T> __device__ __forceinline__ T store_any(typename Acc<T>::type x) {
    return store<T>(x);
}
template <> __device__ __forceinline__ double store_any<double>(double x) { return x; }

__device__ __forceinline__ float sqrt_acc(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_acc(double x) { return sqrt(x); }

// Adam / AdamW (decoupled) with amsgrad and maximize; step_size = lr / (1 - beta1^t) and
// bc2_sqrt = sqrt(1 - beta2^t) per tensor (tensors may be at different steps).
template <class T>
__device__ void adam_multi(const u64* __restrict__ p_ptr, const u64* __restrict__ g_ptr,
                           const u64* __restrict__ m_ptr, const u64* __restrict__ v_ptr,
                           const u64* __restrict__ vmax_ptr, const i64* __restrict__ sizes,
                           const double* __restrict__ step_size,
                           const double* __restrict__ bc2_sqrt, double beta1_, double beta2_,
                           double lr_, double wd_, double eps_, int maximize, int decoupled,
                           int amsgrad, i64 first) {
    typedef typename Acc<T>::type A;
    const i64 t = first + blockIdx.y;
    const i64 n = sizes[t];
    T* p = (T*)p_ptr[t];
    const T* g = (const T*)g_ptr[t];
    T* m = (T*)m_ptr[t];
    T* v = (T*)v_ptr[t];
    T* vmax = amsgrad ? (T*)vmax_ptr[t] : (T*)0;
    const A beta2 = (A)beta2_, wd = (A)wd_, eps = (A)eps_;
    // 1 - beta in double, rounded once (torch's foreach/CPU value, tocha's CPU path): in float
    // from beta2 = 0.999f it would be 0.00099998712, 1.3e-5 off, and bias every v and update
    const A one_m_beta1 = (A)(1.0 - beta1_), one_m_beta2 = (A)(1.0 - beta2_);
    const A ss = (A)step_size[t], bc2 = (A)bc2_sqrt[t];
    const A decay = (A)(1.0 - lr_ * wd_);
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        A pi = to_acc(p[i]);
        A gi = to_acc(g[i]);
        if (maximize) gi = -gi;
        if (wd_ != 0.0) {
            if (decoupled)
                pi *= decay;
            else
                gi += wd * pi;
        }
        A mi = to_acc(m[i]);
        mi += one_m_beta1 * (gi - mi);
        A vi = beta2 * to_acc(v[i]) + one_m_beta2 * gi * gi;
        m[i] = store_any<T>(mi);
        v[i] = store_any<T>(vi);
        if (amsgrad) {
            const A old = to_acc(vmax[i]);
            vi = old > vi ? old : vi;
            vmax[i] = store_any<T>(vi);
        }
        const A denom = sqrt_acc(vi) / bc2 + eps;
        pi -= ss * mi / denom;
        p[i] = store_any<T>(pi);
    }
}

// SGD with momentum, dampening, nesterov, weight decay, maximize; init[t] != 0 marks a
// momentum buffer on its first step (it becomes a copy of the gradient, as torch's).
template <class T>
__device__ void sgd_multi(const u64* __restrict__ p_ptr, const u64* __restrict__ g_ptr,
                          const u64* __restrict__ buf_ptr, const i64* __restrict__ sizes,
                          const int* __restrict__ init, double lr_, double momentum_,
                          double dampening_, double wd_, int nesterov, int maximize,
                          int has_momentum, i64 first) {
    typedef typename Acc<T>::type A;
    const i64 t = first + blockIdx.y;
    const i64 n = sizes[t];
    T* p = (T*)p_ptr[t];
    const T* g = (const T*)g_ptr[t];
    T* buf = has_momentum ? (T*)buf_ptr[t] : (T*)0;
    const int first_step = has_momentum ? init[t] : 0;
    const A lr = (A)lr_, mom = (A)momentum_, damp = (A)(1.0 - dampening_), wd = (A)wd_;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        A pi = to_acc(p[i]);
        A gi = to_acc(g[i]);
        if (maximize) gi = -gi;
        if (wd_ != 0.0) gi += wd * pi;
        if (has_momentum) {
            A b;
            if (first_step)
                b = gi;
            else if (dampening_ != 0.0)
                b = mom * to_acc(buf[i]) + damp * gi;
            else
                b = mom * to_acc(buf[i]) + gi;
            buf[i] = store_any<T>(b);
            gi = nesterov ? gi + mom * b : b;
        }
        p[i] = store_any<T>(pi - lr * gi);
    }
}

#define TOCHA_OPTIM_ENTRIES(SUF, T)                                                             \
    extern "C" __global__ void adam_multi_##SUF(                                                \
        const u64* p, const u64* g, const u64* m, const u64* v, const u64* vmax,                \
        const i64* sizes, const double* step_size, const double* bc2_sqrt, double beta1,        \
        double beta2, double lr, double wd, double eps, int maximize, int decoupled,            \
        int amsgrad, i64 first) {                                                               \
        adam_multi<T>(p, g, m, v, vmax, sizes, step_size, bc2_sqrt, beta1, beta2, lr, wd, eps,  \
                      maximize, decoupled, amsgrad, first);                                     \
    }                                                                                           \
    extern "C" __global__ void sgd_multi_##SUF(                                                 \
        const u64* p, const u64* g, const u64* buf, const i64* sizes, const int* init,          \
        double lr, double momentum, double dampening, double wd, int nesterov, int maximize,    \
        int has_momentum, i64 first) {                                                          \
        sgd_multi<T>(p, g, buf, sizes, init, lr, momentum, dampening, wd, nesterov, maximize,   \
                     has_momentum, first);                                                      \
    }

TOCHA_OPTIM_ENTRIES(f32, float)
TOCHA_OPTIM_ENTRIES(f64, double)
TOCHA_OPTIM_ENTRIES(f16, __half)
TOCHA_OPTIM_ENTRIES(bf16, __nv_bfloat16)
