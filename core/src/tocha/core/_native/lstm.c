/* LSTM and GRU layers' time loops (one direction, one part of the batch), forward and backward.
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

/* rows 0..n of a part's (rows, width) state into rows row0 + j * stride of an (N, width)
 * buffer saved for backward */
static void save_rows(float *dst, const float *src, int64_t row0, int64_t n, int64_t stride,
                      int64_t width) {
    for (int64_t j = 0; j < n; j++)
        memcpy(dst + (row0 + j * stride) * width, src + j * width, width * sizeof(float));
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
            save_rows(hprev, h, row0[s], n, stride, hid);
            save_rows(cprev, c, row0[s], n, stride, hid);
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

/* --- GRU (torch's: n = tanh(x_n + r * (W_hn h + b_hn)), h' = n + z * (h - n)) ------------- */

static void gru_forward_row(int64_t hid, const float *restrict xr, const float *restrict b,
                            const float *restrict t, float *restrict a, float *restrict h,
                            float *restrict y) {
    for (int64_t q = 0; q < hid; q++) {
        const float r = sigmoid_f32((xr[q] + b[q]) + t[q]);
        const float z = sigmoid_f32((xr[hid + q] + b[hid + q]) + t[hid + q]);
        const float ghn = t[2 * hid + q] + b[2 * hid + q];
        const float nn = tanh_f32(r * ghn + xr[2 * hid + q]);
        const float hn = nn + z * (h[q] - nn);
        a[q] = r, a[hid + q] = z, a[2 * hid + q] = nn, a[3 * hid + q] = ghn;
        h[q] = hn;
        y[q] = hn;
    }
}

/* dh: this step's h gradient in, dh * z out (the product's part is added by the caller) */
static void gru_backward_row(int64_t hid, const float *restrict a, const float *restrict hp,
                             float *restrict dh, float *restrict dd) {
    for (int64_t q = 0; q < hid; q++) {
        const float dht = dh[q];
        const float r = a[q], z = a[hid + q], nn = a[2 * hid + q], ghn = a[3 * hid + q];
        const float dnp = dht * (1.0f - z) * (1.0f - nn * nn);
        dd[3 * hid + q] = dnp;
        dd[2 * hid + q] = dnp * r;
        dd[q] = dnp * ghn * ((1.0f - r) * r);
        dd[hid + q] = (hp[q] - nn) * dht * ((1.0f - z) * z);
        dh[q] = dht * z;
    }
}

/* Forward. gx: (N, 3H) input projections (r, z, n blocks) with b_ih; b_hh: (3H) (zeros when
 * the layer has none). whh_t: W_hh^T, (H, 3H) row-major. h: this part's state, updated.
 * y: (N, H). acts: (N, 4H) rows of r, z, n and W_hn h + b_hn, as backward needs them, when
 * saving; else a (rows, 4H) scratch. hprev: (N, H) or NULL. tmp: (rows, 3H) scratch. */
void tocha_gru_forward_f32(const void *sgemm, int lp64, int64_t n_steps, const int64_t *row0,
                           const int64_t *nrows, int64_t stride, int64_t hid, const float *gx,
                           const float *b_hh, const float *whh_t, float *h, float *y,
                           float *acts, int save, float *hprev, float *tmp) {
    const int64_t g3 = 3 * hid, g4 = 4 * hid;
    for (int64_t s = 0; s < n_steps; s++) {
        const int64_t n = nrows[s];
        if (hprev)
            save_rows(hprev, h, row0[s], n, stride, hid);
        gemm(sgemm, lp64, n, g3, hid, h, hid, whh_t, g3, 0.0f, tmp, g3);
        for (int64_t j = 0; j < n; j++) {
            const int64_t row = row0[s] + j * stride;
            gru_forward_row(hid, gx + row * g3, b_hh, tmp + j * g3, acts + (save ? row : j) * g4,
                            h + j * hid, y + row * hid);
        }
    }
}

/* Backward through time (steps in processing order). acts, hprev: forward's. gy: (N, H) or
 * NULL. w_hh: (3H, H) row-major. dh: (rows, H), in: the gradient of h_n, out: of h0.
 * d: (N, 4H) written: the gradients of r's and z's pre-activations, of W_hn h + b_hn, and of
 * n's pre-activation. */
void tocha_gru_backward_f32(const void *sgemm, int lp64, int64_t n_steps, const int64_t *row0,
                            const int64_t *nrows, int64_t stride, int64_t hid, const float *acts,
                            const float *hprev, const float *gy, const float *w_hh, float *dh,
                            float *d) {
    const int64_t g3 = 3 * hid, g4 = 4 * hid;
    for (int64_t s = 0; s < n_steps; s++) {
        const int64_t n = nrows[s];
        for (int64_t j = 0; j < n; j++) {
            const int64_t row = row0[s] + j * stride;
            if (gy)
                add_row(hid, dh + j * hid, gy + row * hid);
            gru_backward_row(hid, acts + row * g4, hprev + row * hid, dh + j * hid, d + row * g4);
        }
        /* dh_prev = dh z + (the recurrent product's gradient) @ W_hh */
        gemm(sgemm, lp64, n, hid, g3, d + row0[s] * g4, stride * g4, w_hh, hid, 1.0f, dh, hid);
    }
}
