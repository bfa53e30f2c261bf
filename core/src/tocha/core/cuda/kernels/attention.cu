// Scaled dot-product attention forward, flash style (tocha.core.cuda._attention launches it).
//
// q (BH, L, E), k (BH, S, E), v (BH, S, Ev), all C-contiguous, E and Ev <= 128; out (BH, L, Ev)
// in the input dtype and lse (BH, L) float32, the log-sum-exp of each row of scaled scores,
// which backward uses to rebuild the probabilities without storing them.
//
// A block of 4 warps takes BQ = 16 query rows (4 per warp) of one (batch, head); it walks the
// keys in tiles of BK = 32 staged in shared memory (as float). Per tile and query row, lane j
// computes the score of key j (q in shared memory is read as a broadcast; K rows are padded to
// 129 floats so the 32 lanes hit 32 banks), the warp takes the tile's max and sum with
// shuffles, rescales its running output (online softmax: m, l and o of each row stay in
// registers, o spread as Ev/32 values per lane) and adds p_j * V[j, :] with p_j broadcast by
// shuffle. causal masks key j > query i (torch's is_causal: top-left aligned). Plain FMAs, no
// tensor cores: correctness first; the launcher keeps the xp path for what this misses.

#include <cuda_fp16.h>
#include <cuda_bf16.h>

// -inf without <math.h>'s INFINITY macro, which NVRTC (cupy.RawModule) does not define
__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

typedef long long i64;

#define BQ 16
#define BK 32
#define NWARPS 4
#define ROWS_PER_WARP (BQ / NWARPS)
#define DMAX 128
#define KPITCH (DMAX + 1)
#define PER_LANE (DMAX / 32)

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

// max that keeps a NaN (fmaxf drops it): a NaN score must reach its row's output and lse, as
// in a plain softmax, instead of reading as "no visible key" and leaving a row of zeros
__device__ __forceinline__ float max_nan(float a, float b) {
    return a != a ? a : (b != b ? b : fmaxf(a, b));
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x = max_nan(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

template <class T>
__device__ void attn_fwd(const T* __restrict__ q, const T* __restrict__ k,
                         const T* __restrict__ v, T* __restrict__ out, float* __restrict__ lse,
                         i64 bh_count, i64 L, i64 S, int E, int Ev, float scale, int causal) {
    __shared__ float Qs[BQ][DMAX];
    __shared__ float Ks[BK][KPITCH];
    __shared__ float Vs[BK][DMAX];

    const i64 nqt = (L + BQ - 1) / BQ;
    const i64 blk = (i64)blockIdx.y * (i64)gridDim.x + (i64)blockIdx.x;
    if (blk >= bh_count * nqt) return;  // uniform over the block: before any barrier
    const i64 bh = blk / nqt;
    const i64 q0 = (blk - bh * nqt) * BQ;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int nthreads = NWARPS * 32;

    const T* qb = q + bh * L * E;
    const T* kb = k + bh * S * E;
    const T* vb = v + bh * S * Ev;

    for (int e = tid; e < BQ * DMAX; e += nthreads) {
        const int r = e / DMAX, d = e - r * DMAX;
        Qs[r][d] = (q0 + r < L && d < E) ? to_f(qb[(q0 + r) * E + d]) * scale : 0.f;
    }

    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], o[ROWS_PER_WARP][PER_LANE];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
        m[r] = neg_inf();
        l[r] = 0.f;
#pragma unroll
        for (int c = 0; c < PER_LANE; ++c) o[r][c] = 0.f;
    }

    i64 kend = S;
    if (causal) {
        const i64 last = q0 + BQ;  // keys past the block's last query are masked for all rows
        kend = last < S ? last : S;
    }

    for (i64 k0 = 0; k0 < kend; k0 += BK) {
        __syncthreads();  // the previous tile is no longer read (and Qs is written, first time)
        for (int e = tid; e < BK * DMAX; e += nthreads) {
            const int j = e / DMAX, d = e - j * DMAX;
            const bool row_ok = k0 + j < S;
            Ks[j][d] = (row_ok && d < E) ? to_f(kb[(k0 + j) * E + d]) : 0.f;
            Vs[j][d] = (row_ok && d < Ev) ? to_f(vb[(k0 + j) * Ev + d]) : 0.f;
        }
        __syncthreads();
        const i64 kj = k0 + lane;
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; ++r) {
            const int row = warp * ROWS_PER_WARP + r;
            const i64 qi = q0 + row;
            if (qi >= L) continue;  // uniform over the warp
            float s = 0.f;
            for (int d = 0; d < E; ++d) s += Qs[row][d] * Ks[lane][d];
            const bool valid = kj < S && (!causal || kj <= qi);
            s = valid ? s : neg_inf();
            const float mt = warp_max(s);
            const float mn = max_nan(m[r], mt);
            if (mn == neg_inf()) continue;  // nothing visible yet for this row (uniform)
            const float p = valid ? __expf(s - mn) : 0.f;
            const float alpha = __expf(m[r] - mn);  // 0 on the first visible tile
            l[r] = l[r] * alpha + warp_sum(p);
            m[r] = mn;
#pragma unroll
            for (int c = 0; c < PER_LANE; ++c) o[r][c] *= alpha;
            for (int j = 0; j < BK; ++j) {
                const float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
                for (int c = 0; c < PER_LANE; ++c) o[r][c] += pj * Vs[j][c * 32 + lane];
            }
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
        const i64 qi = q0 + warp * ROWS_PER_WARP + r;
        if (qi >= L) continue;
        const float inv = l[r] == 0.f ? 0.f : 1.f / l[r];  // NaN stays NaN
        T* orow = out + (bh * L + qi) * Ev;
#pragma unroll
        for (int c = 0; c < PER_LANE; ++c) {
            const int d = c * 32 + lane;
            if (d < Ev) orow[d] = from_f<T>(o[r][c] * inv);
        }
        if (lane == 0) lse[bh * L + qi] = l[r] == 0.f ? neg_inf() : m[r] + logf(l[r]);
    }
}

#define TOCHA_ATTN_ENTRIES(SUF, T)                                                              \
    extern "C" __global__ void __launch_bounds__(NWARPS * 32) attn_fwd_##SUF(                   \
        const T* q, const T* k, const T* v, T* out, float* lse, i64 bh_count, i64 L, i64 S,     \
        int E, int Ev, float scale, int causal) {                                               \
        attn_fwd<T>(q, k, v, out, lse, bh_count, L, S, E, Ev, scale, causal);                   \
    }

TOCHA_ATTN_ENTRIES(f32, float)
TOCHA_ATTN_ENTRIES(f16, __half)
TOCHA_ATTN_ENTRIES(bf16, __nv_bfloat16)
