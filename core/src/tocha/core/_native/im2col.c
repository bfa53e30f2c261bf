/* im2col and col2im for 2-D convolutions, padding read as zeros by bounds, not by a padded copy.
 *
 * NumPy gathers the columns through a 6-D strided view whose innermost runs are one output
 * row (LeNet's 28 and 10 elements), and col2im as one slice-add per kernel tap over the whole
 * batch; here each output row is one memcpy (stride 1) or one short loop, and col2im adds
 * each column row into the image in place.
 *
 * x: (n, c, h, w) contiguous. cols: (c * kh * kw, n * oh * ow), rows in (channel, tap row,
 * tap column) order, columns in (image, output row, output column) order: the layout of
 * _ops/conv.py's `_columns` (groups are consecutive channel blocks, so a (G, Cg*K, n*P) view
 * of it is the grouped layout). Input row of output row i and tap a: i * sh - ph + a * dh
 * (ph, the padding before, may be negative when the window frame is cropped). */
#include <stdint.h>
#include <string.h>

/* the output columns j whose input column x0 + j * s lies in [0, w): [*lo, *hi) */
static void valid_span(int64_t x0, int64_t s, int64_t w, int64_t ow, int64_t *lo, int64_t *hi) {
    int64_t a = x0 < 0 ? (-x0 + s - 1) / s : 0;
    int64_t b = w - x0 <= 0 ? 0 : (w - x0 + s - 1) / s;
    a = a < ow ? a : ow;
    b = b < ow ? b : ow;
    *lo = a;
    *hi = b > a ? b : a;
}

#define IM2COL(NAME, T)                                                                        \
    void NAME(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t oh,  \
              int64_t ow, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,          \
              int64_t dw, const T *x, T *cols) {                                               \
        const int64_t plane = oh * ow, ncols = n * plane;                                      \
        for (int64_t ci = 0; ci < c; ci++)                                                     \
            for (int64_t a = 0; a < kh; a++)                                                   \
                for (int64_t b = 0; b < kw; b++) {                                             \
                    T *row = cols + ((ci * kh + a) * kw + b) * ncols;                          \
                    const int64_t x0 = b * dw - pw;                                            \
                    int64_t lo, hi;                                                            \
                    valid_span(x0, sw, w, ow, &lo, &hi);                                       \
                    for (int64_t img = 0; img < n; img++) {                                    \
                        const T *src_plane = x + (img * c + ci) * h * w;                       \
                        for (int64_t i = 0; i < oh; i++) {                                     \
                            T *d = row + img * plane + i * ow;                                 \
                            const int64_t y = i * sh - ph + a * dh;                            \
                            if (y < 0 || y >= h || lo == hi) {                                 \
                                memset(d, 0, (size_t)ow * sizeof(T));                          \
                                continue;                                                      \
                            }                                                                  \
                            const T *src = src_plane + y * w + x0;                             \
                            for (int64_t j = 0; j < lo; j++)                                   \
                                d[j] = (T)0;                                                   \
                            if (sw == 1)                                                       \
                                memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof(T));       \
                            else                                                               \
                                for (int64_t j = lo; j < hi; j++)                              \
                                    d[j] = src[j * sw];                                        \
                            for (int64_t j = hi; j < ow; j++)                                  \
                                d[j] = (T)0;                                                   \
                        }                                                                      \
                    }                                                                          \
                }                                                                              \
    }

/* the adjoint: x (overwritten) = the sum of every column entry at its input position */
#define COL2IM(NAME, T)                                                                        \
    void NAME(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t oh,  \
              int64_t ow, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,          \
              int64_t dw, const T *cols, T *x) {                                               \
        const int64_t plane = oh * ow, ncols = n * plane;                                      \
        memset(x, 0, (size_t)(n * c * h * w) * sizeof(T));                                     \
        for (int64_t ci = 0; ci < c; ci++)                                                     \
            for (int64_t a = 0; a < kh; a++)                                                   \
                for (int64_t b = 0; b < kw; b++) {                                             \
                    const T *row = cols + ((ci * kh + a) * kw + b) * ncols;                    \
                    const int64_t x0 = b * dw - pw;                                            \
                    int64_t lo, hi;                                                            \
                    valid_span(x0, sw, w, ow, &lo, &hi);                                       \
                    for (int64_t img = 0; img < n; img++) {                                    \
                        T *dst_plane = x + (img * c + ci) * h * w;                             \
                        for (int64_t i = 0; i < oh; i++) {                                     \
                            const int64_t y = i * sh - ph + a * dh;                            \
                            if (y < 0 || y >= h)                                               \
                                continue;                                                      \
                            const T *restrict s = row + img * plane + i * ow;                  \
                            T *restrict dst = dst_plane + y * w + x0;                          \
                            if (sw == 1)                                                       \
                                for (int64_t j = lo; j < hi; j++)                              \
                                    dst[j] += s[j];                                            \
                            else                                                               \
                                for (int64_t j = lo; j < hi; j++)                              \
                                    dst[j * sw] += s[j];                                       \
                        }                                                                      \
                    }                                                                          \
                }                                                                              \
    }

IM2COL(tocha_im2col_f32, float)
IM2COL(tocha_im2col_f64, double)
COL2IM(tocha_col2im_f32, float)
COL2IM(tocha_col2im_f64, double)
