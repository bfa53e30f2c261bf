// Shared by the strided-gather kernels (im2col.cu, depthwise.cu, pool.cu): the accumulation
// type of an element type (float, double for double), ld() to load an element as it and to()
// to round an accumulator back to the element type. Included inside each file's anonymous
// namespace, after <cuda_fp16.h> and <cuda_bf16.h>; it includes nothing itself.
#pragma once

template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

__device__ __forceinline__ float ld(float v) { return v; }
__device__ __forceinline__ double ld(double v) { return v; }
__device__ __forceinline__ float ld(__half v) { return __half2float(v); }
__device__ __forceinline__ float ld(__nv_bfloat16 v) { return __bfloat162float(v); }

__device__ __forceinline__ float to(float v, float) { return v; }
__device__ __forceinline__ double to(double v, double) { return v; }
__device__ __forceinline__ __half to(float v, __half) { return __float2half_rn(v); }
__device__ __forceinline__ __nv_bfloat16 to(float v, __nv_bfloat16) {
    return __float2bfloat16_rn(v);
}
