/* float32 exp, exp2, tanh and sigmoid written so that GCC and Clang vectorize the loops that call
 * them (libm's expf and tanhf are calls the compiler cannot vectorize without -ffast-math).
 *
 * exp: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 split in a short high part and a
 * correction), exp(r) by its Taylor series to r^7 (truncation below 6e-9, under float32's
 * 2^-24), times 2^n built in the exponent bits. tanh: 1 - 2 / (exp(2|x|) + 1) with the sign
 * put back, and its odd Taylor series to x^13 below |x| = 0.3, where the subtraction would
 * lose bits. Both are within a few float32 ulp of the exact values (tested against NumPy in
 * core/tests/test_native.py). Comparisons are written as selects, not fminf/fmaxf, so a NaN
 * input gives a NaN as NumPy's functions do. */
#ifndef TOCHA_VMATH_H
#define TOCHA_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 2^n * e^r for |r| <= ln2/2: e^r by its Taylor series to r^7, 2^n (n in [-126, 127]) built
 * in the exponent bits */
static inline float scaled_exp_f32(float n, float r) {
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { int32_t i; float f; } scale;
    scale.i = ((int32_t)n + 127) << 23;
    return p * scale.f;
}

#define ROUND_SHIFT 12582912.0f /* 1.5 * 2^23: x + it - it rounds x to an integer */

static inline float exp_f32(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float n = (x * 1.44269504088896341f + ROUND_SHIFT) - ROUND_SHIFT;
    float r = x - n * 0.693145751953125f; /* ln2's high part: n times it is exact */
    r = r - n * 1.42860682030941723212e-6f;
    return scaled_exp_f32(n, r);
}

/* 2^x = 2^n * e^(f ln2) with n the nearest integer and |f| <= 1/2 (f exact) */
static inline float exp2_f32(float x) {
    x = x < -126.0f ? -126.0f : x;
    x = x > 127.0f ? 127.0f : x;
    const float n = (x + ROUND_SHIFT) - ROUND_SHIFT;
    return scaled_exp_f32(n, (x - n) * 0.693147180559945309f);
}

static inline float tanh_f32(float x) {
    float a = x < 0.0f ? -x : x;
    float big_in = a > 10.0f ? 10.0f : a; /* tanh(x > 9.02) rounds to 1 in float32 */
    const float big = 1.0f - 2.0f / (exp_f32(2.0f * big_in) + 1.0f);
    const float z = a * a;
    float p = 21844.0f / 6081075.0f;
    p = p * z - 1382.0f / 155925.0f;
    p = p * z + 62.0f / 2835.0f;
    p = p * z - 17.0f / 315.0f;
    p = p * z + 2.0f / 15.0f;
    p = p * z - 1.0f / 3.0f;
    const float small = a + a * z * p;
    const float t = a < 0.3f ? small : big;
    return x < 0.0f ? -t : t;
}

static inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }

#endif
