/* Optimizer updates as one pass over a parameter's elements.
 *
 * SGD's NumPy kernel (optim/sgd.py) makes four to eight passes over a chunk of parameters,
 * gradients and momentum buffers (scale the buffer, add the gradient, scale by the learning
 * rate, add to the parameter, ...), each streaming the chunk through the cache again: an MLP's
 * 670K-parameter step took 0.97 ms against 0.64 ms as one pass (torch: 0.49). The kernel here
 * reads each element once and rounds every intermediate as those NumPy calls do (in the
 * arrays' precision, the scalars rounded to it first; -ffp-contract=off fuses nothing), so
 * both paths give the same bits. The same for Adam, AdamW and AMSGrad. */
#include <math.h>
#include <stdint.h>

/* flags */
enum { SGD_MOMENTUM = 1, SGD_INIT = 2, SGD_NESTEROV = 4, SGD_DAMPENING = 8, SGD_DECAY = 16,
       SGD_MAXIMIZE = 32 };

/* p -= lr * d for n elements, where (torch's SGD):
 *   g' = (maximize ? -g : g) + weight_decay * p      (the decay term only with SGD_DECAY)
 *   b  = g' on the first step (SGD_INIT), else momentum * b + (1 - dampening) * g'
 *        (the (1 - dampening) factor only with SGD_DAMPENING); stored back into buf
 *   d  = nesterov ? g' + momentum * b : b            (d = g' without SGD_MOMENTUM)
 * `nlr` is -lr, `damp` is 1 - dampening. */
#define SGD_BODY(NAME, T)                                                                       \
    static inline __attribute__((always_inline)) void NAME(int64_t n, T *restrict p,           \
                                                           const T *restrict g, T *restrict buf,\
                                                           const int flags, T nlr, T momentum, \
                                                           T damp, T wd) {                     \
        for (int64_t i = 0; i < n; i++) {                                                       \
            T gi = g[i];                                                                        \
            if (flags & SGD_MAXIMIZE)                                                           \
                gi = -gi;                                                                       \
            if (flags & SGD_DECAY) {                                                            \
                T t = p[i] * wd;                                                                \
                gi = gi + t;                                                                    \
            }                                                                                   \
            T d = gi;                                                                           \
            if (flags & SGD_MOMENTUM) {                                                         \
                T b;                                                                            \
                if (flags & SGD_INIT)                                                           \
                    b = gi;                                                                     \
                else if (flags & SGD_DAMPENING) {                                               \
                    T t = gi * damp;                                                            \
                    b = buf[i] * momentum;                                                      \
                    b = b + t;                                                                  \
                } else {                                                                        \
                    b = buf[i] * momentum;                                                      \
                    b = b + gi;                                                                 \
                }                                                                               \
                buf[i] = b;                                                                     \
                if (flags & SGD_NESTEROV) {                                                     \
                    T t = b * momentum;                                                         \
                    d = gi + t;                                                                 \
                } else                                                                          \
                    d = b;                                                                      \
            }                                                                                   \
            T t = d * nlr;                                                                      \
            p[i] = p[i] + t;                                                                    \
        }                                                                                       \
    }

/* The common settings get loops of their own (the flags constant there, so each compiles to
 * straight vector code); any other combination runs the general loop. */
#define SGD_KERNEL(NAME, BODY, T)                                                               \
    void NAME(int64_t n, T *restrict p, const T *restrict g, T *restrict buf, int flags, T nlr, \
              T momentum, T damp, T wd) {                                                       \
        switch (flags) {                                                                        \
        case 0:                                                                                 \
            BODY(n, p, g, buf, 0, nlr, momentum, damp, wd);                                     \
            break;                                                                              \
        case SGD_DECAY:                                                                         \
            BODY(n, p, g, buf, SGD_DECAY, nlr, momentum, damp, wd);                             \
            break;                                                                              \
        case SGD_MOMENTUM:                                                                      \
            BODY(n, p, g, buf, SGD_MOMENTUM, nlr, momentum, damp, wd);                          \
            break;                                                                              \
        case SGD_MOMENTUM | SGD_DECAY:                                                          \
            BODY(n, p, g, buf, SGD_MOMENTUM | SGD_DECAY, nlr, momentum, damp, wd);              \
            break;                                                                              \
        case SGD_MOMENTUM | SGD_NESTEROV:                                                       \
            BODY(n, p, g, buf, SGD_MOMENTUM | SGD_NESTEROV, nlr, momentum, damp, wd);           \
            break;                                                                              \
        case SGD_MOMENTUM | SGD_NESTEROV | SGD_DECAY:                                           \
            BODY(n, p, g, buf, SGD_MOMENTUM | SGD_NESTEROV | SGD_DECAY, nlr, momentum, damp,   \
                 wd);                                                                           \
            break;                                                                              \
        default:                                                                                \
            BODY(n, p, g, buf, flags, nlr, momentum, damp, wd);                                 \
        }                                                                                       \
    }

SGD_BODY(sgd_f32, float)
SGD_BODY(sgd_f64, double)
SGD_KERNEL(tocha_sgd_f32, sgd_f32, float)
SGD_KERNEL(tocha_sgd_f64, sgd_f64, double)

/* SGD over several parameters as one range of elements (gemm.c's tocha_parallel_for hands
 * out its pieces): parameter i holds elements [start[i], start[i + 1]); p, g and buf are
 * arrays of their data pointers; the scalars as doubles, rounded to the parameters' type as
 * the single-parameter kernels' arguments are. */
typedef struct {
    int64_t count;
    const int64_t *start;
    void *const *p;
    const void *const *g;
    void *const *buf;
    int64_t flags;
    double nlr, momentum, damp, wd;
} sgd_params;

/* The part [*a, *b) of [lo, hi) that parameter i holds (start[i] <= element < start[i + 1]),
 * as an offset into that parameter; 0 when they do not overlap. */
static inline int param_piece(const int64_t *start, int64_t i, int64_t lo, int64_t hi,
                              int64_t *off, int64_t *n) {
    const int64_t a = lo > start[i] ? lo : start[i];
    const int64_t b = hi < start[i + 1] ? hi : start[i + 1];
    *off = a - start[i];
    *n = b - a;
    return a < b;
}

#define SGD_RANGE(NAME, KERNEL, T)                                                              \
    void NAME(void *arg, int64_t lo, int64_t hi) {                                              \
        const sgd_params *s = arg;                                                              \
        int64_t off, n;                                                                         \
        for (int64_t i = 0; i < s->count; i++)                                                  \
            if (param_piece(s->start, i, lo, hi, &off, &n))                                     \
                KERNEL(n, (T *)s->p[i] + off, (const T *)s->g[i] + off,                         \
                       s->buf[i] ? (T *)s->buf[i] + off : (T *)0, (int)s->flags, (T)s->nlr,     \
                       (T)s->momentum, (T)s->damp, (T)s->wd);                                   \
    }

SGD_RANGE(tocha_sgd_range_f32, tocha_sgd_f32, float)
SGD_RANGE(tocha_sgd_range_f64, tocha_sgd_f64, double)

/* Adam's update (optim/adam.py's _adam_kernel and the _util helpers it calls, rounding for
 * rounding): with ADAM_DECOUPLED p *= decay first (AdamW); g' = (maximize ? -g : g) (+ p *
 * wd with ADAM_DECAY); m += (1 - beta1) (g' - m) as torch's lerp (small weights: m + w t,
 * else g' - (1 - w) t, with t = g' - m); v = beta2 v + (1 - beta2) g' g'; with
 * ADAM_AMSGRAD vmax = max(vmax, v) (NaN-propagating, as np.maximum) is used for v; then
 * p += (-step_size m) / (sqrt(v) / bc2 + eps). */
enum { ADAM_DECAY = 1, ADAM_DECOUPLED = 2, ADAM_MAXIMIZE = 4, ADAM_AMSGRAD = 8,
       ADAM_LERP_SMALL = 16 };

typedef struct {
    double decay, wd, w, one_minus_w, beta2, c2, bc2, eps, nstep;
} adam_scalars;

#define ADAM_KERNEL(NAME, T, SQRT)                                                              \
    void NAME(int64_t n, T *restrict p, const T *restrict g, T *restrict m, T *restrict v,      \
              T *restrict vmax, int flags, const adam_scalars *s) {                             \
        const T decay = (T)s->decay, wd = (T)s->wd, w = (T)s->w, omw = (T)s->one_minus_w;       \
        const T beta2 = (T)s->beta2, c2 = (T)s->c2, bc2 = (T)s->bc2, eps = (T)s->eps;           \
        const T nstep = (T)s->nstep;                                                            \
        for (int64_t i = 0; i < n; i++) {                                                       \
            T pi = p[i];                                                                        \
            if (flags & ADAM_DECOUPLED)                                                         \
                pi = pi * decay;                                                                \
            T gi = g[i];                                                                        \
            if (flags & ADAM_MAXIMIZE)                                                          \
                gi = -gi;                                                                       \
            if (flags & ADAM_DECAY) {                                                           \
                const T t = pi * wd;                                                            \
                gi = gi + t;                                                                    \
            }                                                                                   \
            T t = gi - m[i], mi;                                                                \
            if (flags & ADAM_LERP_SMALL) {                                                      \
                t = t * w;                                                                      \
                mi = m[i] + t;                                                                  \
            } else {                                                                            \
                t = t * omw;                                                                    \
                mi = gi - t;                                                                    \
            }                                                                                   \
            m[i] = mi;                                                                          \
            T vi = v[i] * beta2, sq = gi * c2;                                                  \
            sq = sq * gi;                                                                       \
            vi = vi + sq;                                                                       \
            v[i] = vi;                                                                          \
            if (flags & ADAM_AMSGRAD) {                                                         \
                const T vm = vmax[i];                                                           \
                vi = (vm >= vi || vm != vm) ? vm : vi;                                          \
                vmax[i] = vi;                                                                   \
            }                                                                                   \
            T d = SQRT(vi);                                                                     \
            d = d / bc2;                                                                        \
            d = d + eps;                                                                        \
            T u = mi * nstep;                                                                   \
            u = u / d;                                                                          \
            p[i] = pi + u;                                                                      \
        }                                                                                       \
    }

ADAM_KERNEL(tocha_adam_f32, float, sqrtf)
ADAM_KERNEL(tocha_adam_f64, double, sqrt)

/* Adam over several parameters as one range of elements (as sgd_params) */
typedef struct {
    int64_t count;
    const int64_t *start;
    void *const *p;
    const void *const *g;
    void *const *m;
    void *const *v;
    void *const *vmax;
    int64_t flags;
    adam_scalars s;
} adam_params;

#define ADAM_RANGE(NAME, KERNEL, T)                                                             \
    void NAME(void *arg, int64_t lo, int64_t hi) {                                              \
        const adam_params *a = arg;                                                             \
        int64_t off, n;                                                                         \
        for (int64_t i = 0; i < a->count; i++)                                                  \
            if (param_piece(a->start, i, lo, hi, &off, &n))                                     \
                KERNEL(n, (T *)a->p[i] + off, (const T *)a->g[i] + off, (T *)a->m[i] + off,     \
                       (T *)a->v[i] + off, a->vmax[i] ? (T *)a->vmax[i] + off : (T *)0,         \
                       (int)a->flags, &a->s);                                                   \
    }

ADAM_RANGE(tocha_adam_range_f32, tocha_adam_f32, float)
ADAM_RANGE(tocha_adam_range_f64, tocha_adam_f64, double)
