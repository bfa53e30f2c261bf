/* Direct stride-1 convolution kernels for _ops/conv.py's implicit-GEMM layout.
 *
 * The input is zero-padded, channels-first, with the batch flattened into one axis: x is
 * (C, L) with row stride ldx, L = N * prod(span). The output at flat position r of the padded
 * grid reads the input at r + off[k] for kernel tap k, so
 *
 *     y[co, r]        = sum_{c, k} w[co, c, k] * x[c, r + off[k]]       (forward, input grad)
 *     dw[co, c, k]    = sum_r g[co, r] * x[c, r + off[k]]                (weight gradient)
 *
 * Through CBLAS this is one GEMM per tap with an inner dimension of only C, whose output is
 * re-read and re-written for every tap: MKL ran those at ~35 GMAC/s per core here against ~64
 * on a large square product. These loops keep a register tile of sums for the whole sum
 * instead. Forward (and input gradient): COB output channels x NV vectors of positions, over
 * all (channel, tap) pairs (~47 GMAC/s per core on 64-channel 3x3 layers), either over
 * consecutive positions of the padded grid (the caller crops) or by output rows, which
 * computes none of the padding and writes the output in place. Weight gradient: vectors of
 * output channels x a few (channel, tap) pairs, over a block of positions, which needs g
 * channels-last (gT, from tocha_conv_pack_cl_f32): a tile over positions instead needs a sum
 * across lanes per block, and those sums ran it at ~30 GMAC/s against ~50. For fewer output
 * channels than a vector has lanes (LeNet-5) positions go in the lanes after all, their lane
 * sums kept in memory and added across lanes once.
 *
 * Fused multiply-adds are wanted here (the sums are a GEMM's; the BLAS calls they replace use
 * them too), so this file turns contraction back on.
 *
 * The forward reads up to a whole tile of positions past r1 (plus the largest tap offset):
 * the caller leaves that much readable slack after x; positions past r1 are never stored. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#define VL 16 /* floats per vector register; 32 registers */
#define COB 8 /* forward: output channels per tile (24 sums, 3 inputs, 1 weight) */
#define NV 3  /* forward: vectors of positions per tile */
#define WG_NCV 4 /* weight gradient, wide: vectors of output channels per tile (24 sums) */
#define WG_NQ 6  /* ... and (channel, tap) pairs */
#define WG_NQ1 24 /* weight gradient, narrow (one vector of output channels): pairs per tile */
#define WS_CO 4   /* weight gradient, few channels: output channels per tile (24 sums, 4 g, 1 x) */
#define WS_NQ 6   /* ... and (channel, tap) pairs */
#else
#define VL 8 /* AVX2 / SSE: 16 registers */
#define COB 4
#define NV 3
#define WG_NCV 2
#define WG_NQ 6
#define WG_NQ1 12
#define WS_CO 3
#define WS_NQ 4
#endif
#define TW (VL * NV) /* forward: positions per tile */
#define WG_BLOCK 256 /* weight gradient: positions per block (its rows of g stay in L1) */

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4))); /* unaligned access */

/* The first n < VL lanes of v to p: a masked store where there is one (LeNet's 10-wide rows
 * store every vector this way; a memcpy call each cost more than the tile's sums) */
#if defined(__AVX512F__)
#include <immintrin.h>
static inline void store_lanes(float *p, const vf *v, int64_t n) {
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)*v);
}
#else
static inline void store_lanes(float *p, const vf *v, int64_t n) {
    for (int64_t l = 0; l < n; l++) p[l] = (*v)[l];
}
#endif

/* The layout the caller packs for: [0] output channels per forward tile (the weights are
 * packed in blocks of this many), [1] positions per forward tile (readable slack needed after
 * x's last row beyond the largest tap offset), [2] the output channels per tile of the wide
 * weight gradient, [3] floats per vector: the narrow weight gradient's output channels per
 * tile, the row forward's and the few-channel weight gradient's positions per vector (gT's
 * padded row length is a multiple of [2] or [3], by the kernel used). */
void tocha_conv_layout(int64_t *out) {
    out[0] = COB;
    out[1] = TW;
    out[2] = WG_NCV * VL;
    out[3] = VL;
}

/* One tile's sums, acc[i][j] = sum over (c, k) of wb[(c * P + k) * COB + i] * x[c * ldx +
 * src[j] + off[k]] (lanes: VL consecutive positions from src[j]). */
static inline __attribute__((always_inline)) void fwd_tile(int64_t C, int64_t P,
                                                           const int64_t *off, const float *x,
                                                           int64_t ldx, const float *wb,
                                                           const int64_t *src, vf acc[COB][NV]) {
    for (int i = 0; i < COB; i++)
        for (int j = 0; j < NV; j++) acc[i][j] = (vf){0};
    for (int64_t c = 0; c < C; c++) {
        const float *xc = x + c * ldx;
        const float *wc = wb + c * P * COB;
        for (int64_t k = 0; k < P; k++) {
            const float *xk = xc + off[k];
            vf xv[NV];
            for (int j = 0; j < NV; j++) xv[j] = *(const vfu *)(xk + src[j]);
            const float *wk = wc + k * COB;
            for (int i = 0; i < COB; i++) {
                const float wv = wk[i];
                for (int j = 0; j < NV; j++) acc[i][j] += xv[j] * wv;
            }
        }
    }
}

/* Flat: y[co * ldy + r] for r in [r0, r1) and co < Co, every position of the padded grid
 * (the caller crops). wp: the weights packed as (ceil(Co / COB), C, P, COB), zero past Co. */
void tocha_conv_fwd_f32(int64_t C, int64_t Co, int64_t P, const int64_t *off, const float *x,
                        int64_t ldx, const float *wp, float *y, int64_t ldy, int64_t r0,
                        int64_t r1) {
    const int64_t nb = (Co + COB - 1) / COB;
    for (int64_t r = r0; r < r1; r += TW) {
        const int64_t n = r1 - r < TW ? r1 - r : TW;
        int64_t src[NV];
        for (int j = 0; j < NV; j++) src[j] = r + j * VL;
        /* every output-channel block of this tile while its inputs are in L1 */
        for (int64_t b = 0; b < nb; b++) {
            vf acc[COB][NV];
            fwd_tile(C, P, off, x, ldx, wp + b * C * P * COB, src, acc);
            const int64_t rows = Co - b * COB < COB ? Co - b * COB : COB;
            for (int i = 0; i < rows; i++) {
                float *yr = y + (b * COB + i) * ldy + r;
                if (n == TW)
                    for (int j = 0; j < NV; j++) *(vfu *)(yr + j * VL) = acc[i][j];
                else
                    for (int j = 0; j < NV && j * VL < n; j++)
                        store_lanes(yr + j * VL, &acc[i][j], n - j * VL < VL ? n - j * VL : VL);
            }
        }
    }
}

/* By output rows: y (N, Co, Oh, Ow) written directly (plus bias[co] when bias is not NULL),
 * for the row vectors [v0, v1): each output row is ceil(Ow / VL) vectors of VL outputs, the
 * last one part-used, so no position of the padding is computed (the flat kernel computes
 * span / O more: 1.27x at 16x16, 1.07x at 56x56). x is the padded grid of images S apart with
 * rows Ws apart. */
void tocha_conv_fwd_rows_f32(int64_t C, int64_t Co, int64_t P, const int64_t *off,
                             const float *x, int64_t ldx, const float *wp, const float *bias,
                             float *y, int64_t Oh, int64_t Ow, int64_t S, int64_t Ws,
                             int64_t v0, int64_t v1) {
    const int64_t nb = (Co + COB - 1) / COB, nw = (Ow + VL - 1) / VL, plane = Oh * Ow;
    for (int64_t v = v0; v < v1; v += NV) {
        int64_t src[NV], dst[NV], lanes[NV];
        for (int j = 0; j < NV; j++) {
            const int64_t vj = v + j < v1 ? v + j : v; /* past v1: computed, not stored */
            const int64_t row = vj / nw, part = vj % nw, n = row / Oh, h = row % Oh;
            src[j] = n * S + h * Ws + part * VL;
            dst[j] = n * Co * plane + h * Ow + part * VL;
            lanes[j] = v + j < v1 ? (Ow - part * VL < VL ? Ow - part * VL : VL) : 0;
        }
        for (int64_t b = 0; b < nb; b++) {
            vf acc[COB][NV];
            fwd_tile(C, P, off, x, ldx, wp + b * C * P * COB, src, acc);
            const int64_t rows = Co - b * COB < COB ? Co - b * COB : COB;
            for (int i = 0; i < rows; i++) {
                const int64_t co = b * COB + i;
                const float add = bias ? bias[co] : 0.0f;
                for (int j = 0; j < NV; j++) {
                    float *yr = y + co * plane + dst[j];
                    const vf out = acc[i][j] + add;
                    if (lanes[j] == VL)
                        *(vfu *)yr = out;
                    else if (lanes[j] > 0)
                        store_lanes(yr, &out, lanes[j]);
                }
            }
        }
    }
}

/* The implicit-GEMM layout of x (N, C, H, W): out (C, N, Hs, Ws) for channels [c0, c1), x's
 * pixel (h, w) at (h + lo_h, w + lo_w) (a negative lo crops), zero around: a copy per row
 * (NumPy's transposing copy of the same took ~1 ns per element). */
void tocha_conv_pack_f32(int64_t c0, int64_t c1, int64_t N, int64_t C, int64_t H, int64_t W,
                         const float *x, int64_t lo_h, int64_t lo_w, int64_t Hs, int64_t Ws,
                         float *out) {
    /* the columns of a padded row that x fills: [a, a + n) from x's column s */
    const int64_t a = lo_w > 0 ? lo_w : 0, s = lo_w < 0 ? -lo_w : 0;
    int64_t n = W - s < Ws - a ? W - s : Ws - a;
    n = n > 0 ? n : 0;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t i = 0; i < N; i++) {
            const float *src = x + (i * C + c) * H * W;
            float *dst = out + (c * N + i) * Hs * Ws;
            for (int64_t h = 0; h < Hs; h++) {
                float *restrict row = dst + h * Ws;
                const int64_t hx = h - lo_h;
                /* loops, not memset/memcpy: rows are short (LeNet's 10-18), where the calls
                 * cost more than the copies */
                if (hx < 0 || hx >= H || n == 0) {
                    for (int64_t j = 0; j < Ws; j++) row[j] = 0.0f;
                    continue;
                }
                const float *restrict sr = src + hx * W + s;
                for (int64_t j = 0; j < a; j++) row[j] = 0.0f;
                for (int64_t j = 0; j < n; j++) row[a + j] = sr[j];
                for (int64_t j = a + n; j < Ws; j++) row[j] = 0.0f;
            }
        }
}

/* g (N, C, H, W) channels-last: out (N * H * W, ldc), zero in columns C to ldc (the weight
 * gradient reads g with output channels in vector lanes). */
void tocha_conv_pack_cl_f32(int64_t N, int64_t C, int64_t HW, const float *g, int64_t ldc,
                            float *out) {
    for (int64_t n = 0; n < N; n++) {
        const float *src = g + n * C * HW;
        float *o = out + n * HW * ldc;
        for (int64_t p = 0; p < HW; p++) {
            float *op = o + p * ldc;
            for (int64_t c = 0; c < C; c++) op[c] = src[c * HW + p];
            memset(op + C, 0, (size_t)(ldc - C) * sizeof(float));
        }
    }
}

/* The weight gradient with NCV vectors of output channels per tile: dwT (C * P, ldg) += the
 * sum over the output rows [row0, row1) (row = n * Oh + h) and their Ow positions of
 * x[c * ldx + n * S + h * Ws + w + off[k]] * gT[(row * Ow + w) * ldg + co], (c, k) flattened
 * as c * P + k; only real output positions, none of the padding. */
#define WGRAD(NAME, NCV, NQ)                                                                   \
    void NAME(int64_t C, int64_t P, const int64_t *off, const float *x, int64_t ldx,           \
              const float *gT, int64_t ldg, float *dwT, int64_t Oh, int64_t Ow, int64_t S,     \
              int64_t Ws, int64_t row0, int64_t row1) {                                        \
        const int64_t Q = C * P, nrow = WG_BLOCK / Ow > 0 ? WG_BLOCK / Ow : 1;                 \
        for (int64_t a = row0; a < row1; a += nrow) {                                          \
            const int64_t a1 = row1 - a < nrow ? row1 : a + nrow;                              \
            for (int64_t co = 0; co < ldg; co += NCV * VL)                                     \
                for (int64_t q = 0; q < Q; q += NQ) {                                          \
                    /* pairs past Q repeat the last one; their sums are not stored */          \
                    const float *xr[NQ];                                                       \
                    for (int j = 0; j < NQ; j++) {                                             \
                        const int64_t qj = q + j < Q ? q + j : Q - 1;                          \
                        xr[j] = x + (qj / P) * ldx + off[qj % P];                              \
                    }                                                                          \
                    vf acc[NQ][NCV];                                                           \
                    for (int j = 0; j < NQ; j++)                                               \
                        for (int i = 0; i < NCV; i++) acc[j][i] = (vf){0};                     \
                    for (int64_t row = a; row < a1; row++) {                                   \
                        const int64_t xo = (row / Oh) * S + (row % Oh) * Ws;                   \
                        const float *gr = gT + row * Ow * ldg + co;                            \
                        for (int64_t w = 0; w < Ow; w++, gr += ldg) {                          \
                            vf gv[NCV];                                                        \
                            for (int i = 0; i < NCV; i++) gv[i] = *(const vfu *)(gr + i * VL); \
                            for (int j = 0; j < NQ; j++) {                                     \
                                const float xv = xr[j][xo + w];                                \
                                for (int i = 0; i < NCV; i++) acc[j][i] += gv[i] * xv;         \
                            }                                                                  \
                        }                                                                      \
                    }                                                                          \
                    for (int j = 0; j < NQ && q + j < Q; j++)                                  \
                        for (int i = 0; i < NCV; i++)                                          \
                            *(vfu *)(dwT + (q + j) * ldg + co + i * VL) += acc[j][i];          \
                }                                                                              \
        }                                                                                      \
    }

WGRAD(tocha_conv_wgrad_wide_f32, WG_NCV, WG_NQ)
WGRAD(tocha_conv_wgrad_narrow_f32, 1, WG_NQ1)

/* The weight gradient for few output channels (fewer than a vector's lanes, as LeNet's 6):
 * positions in the vector lanes instead, over the flat padded grid. dw (Co, C * P), (c, k)
 * flattened as c * P + k, overwritten with the sum over r in [r0, r1) of g[co * ldg + r] *
 * x[c * ldx + r + off[k]]. g must be zero outside the outputs; nothing past r1 is read (the
 * last part-vector is copied into a zeroed one); r0 is a multiple of VL.
 * Per block of positions the tile's sums go to a (Co, C * P, VL) buffer of lane sums, added
 * across lanes once at the end. Returns -1 when that buffer cannot be allocated, else 0. */
int tocha_conv_wgrad_few_f32(int64_t C, int64_t Co, int64_t P, const int64_t *off,
                             const float *x, int64_t ldx, const float *g, int64_t ldg, float *dw,
                             int64_t r0, int64_t r1) {
    const int64_t Q = C * P;
    if (Co * Q == 0) return 0;
    vf *lane = aligned_alloc(sizeof(vf), (size_t)(Co * Q) * sizeof(vf)); /* vector-aligned */
    if (!lane) return -1;
    memset(lane, 0, (size_t)(Co * Q) * sizeof(vf));
    for (int64_t a = r0; a < r1; a += WG_BLOCK * 4) {
        const int64_t a1 = r1 - a < WG_BLOCK * 4 ? r1 : a + WG_BLOCK * 4;
        for (int64_t co = 0; co < Co; co += WS_CO) {
            /* rows past Co repeat the last one; their sums are not stored */
            const float *gr[WS_CO];
            for (int i = 0; i < WS_CO; i++) gr[i] = g + (co + i < Co ? co + i : Co - 1) * ldg;
            for (int64_t q = 0; q < Q; q += WS_NQ) {
                const float *xr[WS_NQ];
                for (int j = 0; j < WS_NQ; j++) {
                    const int64_t qj = q + j < Q ? q + j : Q - 1;
                    xr[j] = x + (qj / P) * ldx + off[qj % P];
                }
                vf acc[WS_CO][WS_NQ];
                for (int i = 0; i < WS_CO; i++)
                    for (int j = 0; j < WS_NQ; j++) acc[i][j] = (vf){0};
                int64_t r = a;
                for (; r + VL <= a1; r += VL) {
                    vf gv[WS_CO];
                    for (int i = 0; i < WS_CO; i++) gv[i] = *(const vfu *)(gr[i] + r);
                    for (int j = 0; j < WS_NQ; j++) {
                        const vf xv = *(const vfu *)(xr[j] + r);
                        for (int i = 0; i < WS_CO; i++) acc[i][j] += gv[i] * xv;
                    }
                }
                if (r < a1) { /* the last part-vector, zero-filled: past r1 lie the next */
                    vf gv[WS_CO];  /* row's values (1-d maps leave less zero slack per row */
                    for (int i = 0; i < WS_CO; i++) { /* than a vector) */
                        gv[i] = (vf){0};
                        memcpy(&gv[i], gr[i] + r, (size_t)(a1 - r) * sizeof(float));
                    }
                    for (int j = 0; j < WS_NQ; j++) {
                        vf xv = {0};
                        memcpy(&xv, xr[j] + r, (size_t)(a1 - r) * sizeof(float));
                        for (int i = 0; i < WS_CO; i++) acc[i][j] += gv[i] * xv;
                    }
                }
                for (int i = 0; i < WS_CO && co + i < Co; i++)
                    for (int j = 0; j < WS_NQ && q + j < Q; j++)
                        lane[(co + i) * Q + q + j] += acc[i][j];
            }
        }
    }
    for (int64_t i = 0; i < Co * Q; i++) {
        float t[VL];
        memcpy(t, &lane[i], sizeof t);
        for (int w = VL / 2; w >= 1; w /= 2)
            for (int l = 0; l < w; l++) t[l] += t[l + w];
        dw[i] = t[0];
    }
    free(lane);
    return 0;
}
