/* The exact (erf) GELU on float32, forward and backward, one pass each.
 *
 * Same formula as _ops/activation.py's NumPy kernel, whose coefficients the caller passes in
 * (one source for both): Phi(x) = 1 / (1 + 2^r), r = x P(y) / Q(y), y = x^2, with P and Q
 * quartics fitted for minimax relative error (coef rows 0 and 1, ascending powers), and the
 * Gaussian density 2^(c0 + c1 y) (row 2). NumPy needs ~10 passes over a block; here it is one.
 * Each function returns the number of non-finite exponents r (inf or nan inputs, |x| beyond
 * the rational's range): the caller then recomputes the block exactly, as the NumPy path does.
 */
#include <stdint.h>

#include "vmath.h"

static inline float quartic(const float *c, float y) {
    return (((c[4] * y + c[3]) * y + c[2]) * y + c[1]) * y + c[0];
}

int64_t tocha_gelu_f32(int64_t n, const float *restrict x, float *restrict out,
                       const float *restrict coef) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i], y = v * v;
        const float r = v * quartic(coef, y) / quartic(coef + 5, y);
        bad += !(r - r == 0.0f); /* inf - inf and nan - nan are nan */
        out[i] = v / (1.0f + exp2_f32(r));
    }
    return bad;
}

/* out = g * (Phi(x) + x * pdf(x)) */
int64_t tocha_gelu_backward_f32(int64_t n, const float *restrict g, const float *restrict x,
                                float *restrict out, const float *restrict coef) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i], y = v * v;
        const float r = v * quartic(coef, y) / quartic(coef + 5, y);
        bad += !(r - r == 0.0f);
        const float phi = 1.0f / (1.0f + exp2_f32(r));
        const float pdf = exp2_f32(coef[10] + coef[11] * y);
        out[i] = g[i] * (phi + v * pdf);
    }
    return bad;
}

/* ReLU's backward: out = g where y > 0, else +0 (`_select_or_zero`'s bits), one vectorized
 * pass; NumPy's mask-then-multiply took 1.5x as long from 64Ki elements (its forward,
 * np.maximum, is one pass already and stays). */
#define RELU_BACKWARD(NAME, T)                                                                 \
    void NAME(int64_t n, const T *restrict y, const T *restrict g, T *restrict out) {          \
        for (int64_t i = 0; i < n; i++)                                                        \
            out[i] = y[i] > 0 ? g[i] : (T)0;                                                   \
    }
RELU_BACKWARD(tocha_relu_backward_f32, float)
RELU_BACKWARD(tocha_relu_backward_f64, double)
