/* 2x2 / stride-2 max pooling (no padding, no dilation) forward and backward, one pass each.
 *
 * NumPy needs ~10 passes over strided views for the forward (three maxima, three comparisons,
 * the slot arithmetic) and four masked multiplies for the backward; here each is one pass.
 * The forward keeps each window's winning slot (0..3 for a, b, c, d: rows 2i, 2i+1 times
 * columns 2j, 2j+1) as uint8, what backward needs, as _ops/pool.py's NumPy path does.
 * Ties keep the earlier slot and a NaN wins over any number (the last NaN over an earlier
 * one), as torch's kernel does, so the slots give torch's indices.
 *
 * x: (planes, H, W) contiguous; m and k: (planes, oh, ow) with 2 oh <= H and 2 ow <= W. */
#include <stdint.h>
#include <string.h>

#define BETTER(v, best) ((v) > (best) || (v) != (v))

/* The window loops are short (LeNet's 14 and 5 outputs per row), so most of them run in the
 * compiler's scalar code: it must not branch on the data (random comparisons mispredict half
 * the time: measured 1.7 ms against 0.31 ms for 128x6x28x28). The fast loop is a branch-free
 * tournament (pair maxima, then the larger pair, ties to the earlier slot); a row holding a
 * NaN is redone by the exact rule. */
#define MAX_POOL_2X2(NAME, T)                                                                  \
    void NAME(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const T *x, T *m,  \
              uint8_t *k) {                                                                    \
        for (int64_t p = 0; p < planes; p++) {                                                 \
            for (int64_t i = 0; i < oh; i++) {                                                 \
                const T *restrict r0 = x + (p * h + 2 * i) * w, *restrict r1 = r0 + w;         \
                T *restrict mo = m + (p * oh + i) * ow;                                        \
                uint8_t *restrict ko = k + (p * oh + i) * ow;                                  \
                int nan = 0;                                                                   \
                for (int64_t j = 0; j < ow; j++) {                                             \
                    const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1]; \
                    const int s01 = b > a, s23 = d > c;                                        \
                    const T m01 = b > a ? b : a, m23 = d > c ? d : c;                          \
                    const int hi = m23 > m01;                                                  \
                    mo[j] = m23 > m01 ? m23 : m01;                                             \
                    ko[j] = (uint8_t)(s01 + hi * (2 + s23 - s01));                             \
                    nan |= (a != a) | (b != b) | (c != c) | (d != d);                          \
                }                                                                              \
                for (int64_t j = 0; nan && j < ow; j++) { /* torch's rule, NaN included */     \
                    const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1]; \
                    T best = a;                                                                \
                    uint8_t slot = 0;                                                          \
                    if (BETTER(b, best))                                                       \
                        best = b, slot = 1;                                                    \
                    if (BETTER(c, best))                                                       \
                        best = c, slot = 2;                                                    \
                    if (BETTER(d, best))                                                       \
                        best = d, slot = 3;                                                    \
                    mo[j] = best;                                                              \
                    ko[j] = slot;                                                              \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }

/* out (planes, H, W): each window's gradient at its winning slot, zero elsewhere (also in
 * the rows and columns past 2 oh, 2 ow that no window covers). The rows are zeroed first and
 * each gradient stored at its slot's address: no data-dependent branch. */
#define MAX_POOL_2X2_BACKWARD(NAME, T)                                                         \
    void NAME(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const T *g,        \
              const uint8_t *k, T *out) {                                                      \
        memset(out, 0, (size_t)(planes * h * w) * sizeof(T));                                  \
        for (int64_t p = 0; p < planes; p++) {                                                 \
            for (int64_t i = 0; i < oh; i++) {                                                 \
                T *r0 = out + (p * h + 2 * i) * w;                                             \
                const T *go = g + (p * oh + i) * ow;                                           \
                const uint8_t *ko = k + (p * oh + i) * ow;                                     \
                for (int64_t j = 0; j < ow; j++)                                               \
                    r0[(ko[j] >> 1) * w + 2 * j + (ko[j] & 1)] = go[j];                        \
            }                                                                                  \
        }                                                                                      \
    }

MAX_POOL_2X2(tocha_max_pool_2x2_f32, float)
MAX_POOL_2X2(tocha_max_pool_2x2_f64, double)
MAX_POOL_2X2_BACKWARD(tocha_max_pool_2x2_backward_f32, float)
MAX_POOL_2X2_BACKWARD(tocha_max_pool_2x2_backward_f64, double)
