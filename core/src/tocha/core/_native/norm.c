/* Layer norm over the rows of an (m, n) array. Forward: each row's mean and reciprocal
 * standard deviation, and (x - mean) * rstd * weight + bias, one read of the row for each
 * statistic and one for the output while it is in cache (NumPy: ~10 passes over the chunk).
 * Backward: the input gradient from the closed form and the weight and bias gradients'
 * partial sums, two passes per row (NumPy: ~12).
 *
 * Sums run in LANES independent partial sums (vectorized without reassociating: the compiler
 * may not reorder a single floating-point sum), added up at the end, so results do not depend
 * on the machine's vector width. The variance is the mean of squared deviations from the
 * mean (two passes), as _ops/norm.py's NumPy kernel computes it. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define LANES 16

#define ROW_SUM(NAME, T)                                                                       \
    static T NAME(const T *restrict x, int64_t n, T shift, int squares) {                      \
        T acc[LANES] = {0};                                                                    \
        int64_t j = 0;                                                                         \
        for (; j + LANES <= n; j += LANES)                                                     \
            for (int l = 0; l < LANES; l++) {                                                  \
                const T d = x[j + l] - shift;                                                  \
                acc[l] += squares ? d * d : d;                                                 \
            }                                                                                  \
        T s = 0;                                                                               \
        for (; j < n; j++) {                                                                   \
            const T d = x[j] - shift;                                                          \
            s += squares ? d * d : d;                                                          \
        }                                                                                      \
        for (int l = 0; l < LANES; l++)                                                        \
            s += acc[l];                                                                       \
        return s;                                                                              \
    }

/* w and b may be NULL (no affine part) */
#define LAYER_NORM(NAME, SUM, T, SQRT)                                                         \
    void NAME(int64_t m, int64_t n, const T *x, const T *w, const T *b, double eps, T *out,    \
              T *mean, T *rstd) {                                                              \
        for (int64_t i = 0; i < m; i++) {                                                      \
            const T *restrict xr = x + i * n;                                                  \
            T *restrict o = out + i * n;                                                       \
            const T mu = SUM(xr, n, (T)0, 0) / (T)n;                                           \
            const T r = (T)1 / SQRT(SUM(xr, n, mu, 1) / (T)n + (T)eps);                        \
            mean[i] = mu;                                                                      \
            rstd[i] = r;                                                                       \
            if (w && b)                                                                        \
                for (int64_t j = 0; j < n; j++)                                                \
                    o[j] = (xr[j] - mu) * r * w[j] + b[j];                                     \
            else if (w)                                                                        \
                for (int64_t j = 0; j < n; j++)                                                \
                    o[j] = (xr[j] - mu) * r * w[j];                                            \
            else if (b)                                                                        \
                for (int64_t j = 0; j < n; j++)                                                \
                    o[j] = (xr[j] - mu) * r + b[j];                                            \
            else                                                                               \
                for (int64_t j = 0; j < n; j++)                                                \
                    o[j] = (xr[j] - mu) * r;                                                   \
        }                                                                                      \
    }

ROW_SUM(row_sum_f32, float)
ROW_SUM(row_sum_f64, double)
LAYER_NORM(tocha_layer_norm_f32, row_sum_f32, float, sqrtf)
LAYER_NORM(tocha_layer_norm_f64, row_sum_f64, double, sqrt)

/* dx = rstd * (gw - mean(gw) - xc * rstd^2 * mean(gw * xc)), gw = g * w, xc = x - mean, for
 * rows [0, m); pw += rstd * g * xc and pb += g over the rows (each may be NULL, as may w and
 * gx). The same formula as _ops/norm.py's `_ln_backward_kernel`. */
#define LAYER_NORM_BACKWARD(NAME, T)                                                           \
    void NAME(int64_t m, int64_t n, const T *x, const T *g, const T *w, const T *mean,         \
              const T *rstd, T *gx, T *pw, T *pb) {                                            \
        for (int64_t i = 0; i < m; i++) {                                                      \
            const T *restrict xr = x + i * n, *restrict gr = g + i * n;                        \
            const T mu = mean[i], r = rstd[i];                                                 \
            if (pw)                                                                            \
                for (int64_t j = 0; j < n; j++)                                                \
                    pw[j] += r * gr[j] * (xr[j] - mu);                                         \
            if (pb)                                                                            \
                for (int64_t j = 0; j < n; j++)                                                \
                    pb[j] += gr[j];                                                            \
            if (!gx)                                                                           \
                continue;                                                                      \
            T c1[LANES] = {0}, c2[LANES] = {0};                                                \
            int64_t j = 0;                                                                     \
            for (; j + LANES <= n; j += LANES)                                                 \
                for (int l = 0; l < LANES; l++) {                                              \
                    const T gw = w ? gr[j + l] * w[j + l] : gr[j + l];                         \
                    c1[l] += gw;                                                               \
                    c2[l] += gw * (xr[j + l] - mu);                                            \
                }                                                                              \
            T s1 = 0, s2 = 0;                                                                  \
            for (; j < n; j++) {                                                               \
                const T gw = w ? gr[j] * w[j] : gr[j];                                         \
                s1 += gw;                                                                      \
                s2 += gw * (xr[j] - mu);                                                       \
            }                                                                                  \
            for (int l = 0; l < LANES; l++)                                                    \
                s1 += c1[l], s2 += c2[l];                                                      \
            const T a = s1 / (T)n, b = s2 * r * r / (T)n;                                      \
            T *restrict o = gx + i * n;                                                        \
            for (int64_t q = 0; q < n; q++) {                                                  \
                const T gw = w ? gr[q] * w[q] : gr[q];                                         \
                o[q] = r * (gw - a - (xr[q] - mu) * b);                                        \
            }                                                                                  \
        }                                                                                      \
    }

LAYER_NORM_BACKWARD(tocha_layer_norm_backward_f32, float)
LAYER_NORM_BACKWARD(tocha_layer_norm_backward_f64, double)

/* Batch norm over the rows of an (N * C, ln) array (row r is channel r % C), rows [r0, r1),
 * one call per part of the rows on each intra-op thread. The statistics' combination, the
 * choice of shift and every per-channel constant stay in _ops/_batchnorm_cpu.py; these are
 * its passes over the data, each one read of the rows it needs (NumPy: 2-4 calls per pass).
 *
 * Sums: with t = x - k[c], s1[r] = sum(t) and s2[r] = sum(t * t); given g, s1[r] = sum(g)
 * and s2[r] = sum(g * t). */
#define BATCH_NORM_SUMS(NAME, T)                                                               \
    /* LANES partial sums as one vector (GCC does not vectorize two lane arrays at once) */    \
    typedef T NAME##_vec __attribute__((vector_size(LANES * sizeof(T)), aligned(sizeof(T))));  \
    void NAME(int64_t r0, int64_t r1, int64_t ln, int64_t C, const T *x, const T *g,           \
              const T *k, T *s1, T *s2) {                                                      \
        typedef NAME##_vec vec;                                                                \
        for (int64_t r = r0; r < r1; r++) {                                                    \
            const T *restrict xr = x + r * ln, *restrict gr = g ? g + r * ln : 0;              \
            const T kc = k[r % C];                                                             \
            vec a1 = {0}, a2 = {0};                                                            \
            int64_t j = 0;                                                                     \
            if (gr)                                                                            \
                for (; j + LANES <= ln; j += LANES) {                                          \
                    const vec gv = *(const vec *)(gr + j);                                     \
                    a1 += gv;                                                                  \
                    a2 += gv * (*(const vec *)(xr + j) - kc);                                  \
                }                                                                              \
            else                                                                               \
                for (; j + LANES <= ln; j += LANES) {                                          \
                    const vec t = *(const vec *)(xr + j) - kc;                                 \
                    a1 += t;                                                                   \
                    a2 += t * t;                                                               \
                }                                                                              \
            T v1 = 0, v2 = 0;                                                                  \
            for (; j < ln; j++) {                                                              \
                const T t = xr[j] - kc;                                                        \
                v1 += gr ? gr[j] : t;                                                          \
                v2 += gr ? gr[j] * t : t * t;                                                  \
            }                                                                                  \
            /* the lanes by halving: short rows (ResNet's 4x4 maps: one vector) would */       \
            /* otherwise wait on a chain of LANES dependent adds */                            \
            T h1[LANES], h2[LANES];                                                            \
            memcpy(h1, &a1, sizeof h1);                                                        \
            memcpy(h2, &a2, sizeof h2);                                                        \
            for (int w = LANES / 2; w >= 1; w /= 2)                                            \
                for (int l = 0; l < w; l++)                                                    \
                    h1[l] += h1[l + w], h2[l] += h2[l + w];                                    \
            s1[r - r0] = v1 + h1[0];                                                           \
            s2[r - r0] = v2 + h2[0];                                                           \
        }                                                                                      \
    }

/* out = x * a[c] + b[c] (the normalisation); given g, out = a[c] * g + b[c] * (x - m[c]) +
 * d[c] (the input gradient). */
#define BATCH_NORM_APPLY(NAME, T)                                                              \
    void NAME(int64_t r0, int64_t r1, int64_t ln, int64_t C, const T *x, const T *g,           \
              const T *m, const T *a, const T *b, const T *d, T *out) {                        \
        for (int64_t r = r0; r < r1; r++) {                                                    \
            const T *restrict xr = x + r * ln;                                                 \
            T *restrict o = out + r * ln;                                                      \
            const int64_t c = r % C;                                                           \
            const T ac = a[c], bc = b[c];                                                      \
            if (g) {                                                                           \
                const T *restrict gr = g + r * ln;                                             \
                const T mc = m[c], dc = d[c];                                                  \
                for (int64_t j = 0; j < ln; j++)                                               \
                    o[j] = ac * gr[j] + bc * (xr[j] - mc) + dc;                                \
            } else {                                                                           \
                for (int64_t j = 0; j < ln; j++)                                               \
                    o[j] = xr[j] * ac + bc;                                                    \
            }                                                                                  \
        }                                                                                      \
    }

BATCH_NORM_SUMS(tocha_batch_norm_sums_f32, float)
BATCH_NORM_SUMS(tocha_batch_norm_sums_f64, double)
BATCH_NORM_APPLY(tocha_batch_norm_apply_f32, float)
BATCH_NORM_APPLY(tocha_batch_norm_apply_f64, double)
