/* An LSTM layer's time loop (one direction, one part of the batch), forward and backward.
 *
 * The Python loop in _ops/rnn.py makes ~15 NumPy calls per time step forward and ~20
 * backward, each holding the GIL; here a whole loop is one call that releases it, so the
 * batch's parts run side by side on tocha's threads with no contention, and the gate
 * activations are one pass over each row instead of one pass per NumPy call.
 *
 * Layout (as in rnn.py): gates are (N, 4H) rows in the order i, f, g, o; step s owns rows
 * row0[s] + j * stride for j < nrows[s]; the state h, c (and dh, dc) of this part is
 * (rows, H), and a step uses its first nrows[s] rows (packed batches shrink in time).
 * The recurrent product goes through the CBLAS sgemm the caller passes in (MKL or NumPy's
 * OpenBLAS, with 32-bit or 64-bit integers), so it is the same GEMM tocha uses elsewhere.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vmath.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_lp64_t)(int, int, int, int32_t, int32_t, int32_t, float, const float *,
                             int32_t, const float *, int32_t, float, float *, int32_t);
typedef void (*sgemm_ilp64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                              int64_t, const float *, int64_t, float, float *, int64_t);

/* c = a @ b + beta * c, row-major, no transposes (sizes here are far below 2^31) */
static void gemm(const void *fn, int lp64, int64_t m, int64_t n, int64_t k, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (lp64)
        ((sgemm_lp64_t)fn)(ROW_MAJOR, NO_TRANS, NO_TRANS, (int32_t)m, (int32_t)n, (int32_t)k,
                           1.0f, a, (int32_t)lda, b, (int32_t)ldb, beta, c, (int32_t)ldc);
    else
        ((sgemm_ilp64_t)fn)(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1.0f, a, lda, b, ldb, beta, c,
                            ldc);
}

/* one row of a forward step: gate activations (written back), c and h updated, tanh(c) and
 * the output row written */
static void forward_row(int64_t hid, float *restrict gi, float *restrict c, float *restrict h,
                        float *restrict tc, float *restrict y) {
    float *restrict gf = gi + hid, *restrict gg = gi + 2 * hid, *restrict go = gi + 3 * hid;
    for (int64_t q = 0; q < hid; q++) {
        const float i = sigmoid_f32(gi[q]), f = sigmoid_f32(gf[q]);
        const float u = tanh_f32(gg[q]), o = sigmoid_f32(go[q]);
        const float cn = f * c[q] + i * u;
        const float t = tanh_f32(cn);
        gi[q] = i, gf[q] = f, gg[q] = u, go[q] = o;
        c[q] = cn;
        tc[q] = t;
        h[q] = o * t;
        y[q] = o * t;
    }
}

static void add_row(int64_t n, float *restrict a, const float *restrict b) {
    for (int64_t q = 0; q < n; q++)
        a[q] += b[q];
}

/* one row of a backward step: dh (this step's h gradient) and dc in, dc of the previous step
 * out, the pre-activation gradients written. sigmoid' = s (1 - s), tanh' = 1 - t^2 */
static void backward_row(int64_t hid, const float *restrict gi, const float *restrict cp,
                         const float *restrict tc, const float *restrict dh, float *restrict dc,
                         float *restrict di) {
    const float *restrict gf = gi + hid, *restrict gg = gi + 2 * hid, *restrict go = gi + 3 * hid;
    float *restrict df = di + hid, *restrict dg = di + 2 * hid, *restrict dout = di + 3 * hid;
    for (int64_t q = 0; q < hid; q++) {
        const float i = gi[q], f = gf[q], u = gg[q], o = go[q], t = tc[q];
        const float dct = dc[q] + dh[q] * o * (1.0f - t * t);
        di[q] = dct * u * i * (1.0f - i);
        df[q] = dct * cp[q] * f * (1.0f - f);
        dg[q] = dct * i * (1.0f - u * u);
        dout[q] = dh[q] * t * o * (1.0f - o);
        dc[q] = dct * f;
    }
}

/* Forward. gates: pre-activations (x @ W_ih^T + b_ih + b_hh) in, activations out (what
 * backward needs). whh_t: W_hh^T, (H, 4H) row-major. h, c: this part's state, updated.
 * y: (N, H). hprev, cprev, tc_all: (N, H) each, saved for backward, or all NULL (then
 * tc_buf, (rows, H), is scratch). */
void tocha_lstm_forward_f32(const void *sgemm, int lp64, int64_t n_steps, const int64_t *row0,
                            const int64_t *nrows, int64_t stride, int64_t hid, float *gates,
                            const float *whh_t, float *h, float *c, float *y, float *hprev,
                            float *cprev, float *tc_all, float *tc_buf) {
    const int64_t g4 = 4 * hid;
    for (int64_t s = 0; s < n_steps; s++) {
        const int64_t n = nrows[s];
        float *g0 = gates + row0[s] * g4;
        if (hprev) {
            for (int64_t j = 0; j < n; j++) {
                const int64_t row = row0[s] + j * stride;
                memcpy(hprev + row * hid, h + j * hid, hid * sizeof(float));
                memcpy(cprev + row * hid, c + j * hid, hid * sizeof(float));
            }
        }
        gemm(sgemm, lp64, n, g4, hid, h, hid, whh_t, g4, 1.0f, g0, stride * g4);
        for (int64_t j = 0; j < n; j++) {
            const int64_t row = row0[s] + j * stride;
            forward_row(hid, gates + row * g4, c + j * hid, h + j * hid,
                        tc_all ? tc_all + row * hid : tc_buf + j * hid, y + row * hid);
        }
    }
}

/* Backward through time (steps given in processing order: reverse time). gates, cprev,
 * tc_all: what forward saved. gy: (N, H) gradient of y, or NULL. w_hh: (4H, H) row-major.
 * dh, dc: this part's (rows, H) gradients of the state, in: those of h_n and c_n, out: those
 * of h0 and c0. dgates: (N, 4H) gradients of the pre-activations, written. */
void tocha_lstm_backward_f32(const void *sgemm, int lp64, int64_t n_steps, const int64_t *row0,
                             const int64_t *nrows, int64_t stride, int64_t hid,
                             const float *gates, const float *cprev, const float *tc_all,
                             const float *gy, const float *w_hh, float *dh, float *dc,
                             float *dgates) {
    const int64_t g4 = 4 * hid;
    for (int64_t s = 0; s < n_steps; s++) {
        const int64_t n = nrows[s];
        for (int64_t j = 0; j < n; j++) {
            const int64_t row = row0[s] + j * stride;
            if (gy)
                add_row(hid, dh + j * hid, gy + row * hid);
            backward_row(hid, gates + row * g4, cprev + row * hid, tc_all + row * hid,
                         dh + j * hid, dc + j * hid, dgates + row * g4);
        }
        /* the previous step's dh: dgates @ W_hh, over this step's rows */
        gemm(sgemm, lp64, n, hid, g4, dgates + row0[s] * g4, stride * g4, w_hh, hid, 0.0f, dh,
             hid);
    }
}
