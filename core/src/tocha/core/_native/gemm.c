/* tocha's C worker threads, and the work that runs on them: large GEMMs split in parts, two
 * independent products side by side, attention's heads, products with few output columns,
 * and any other compiled kernel given as a range function (an optimizer's update).
 *
 * _blas splits a product into one part per intra-op thread. Through tocha's Python thread
 * pool each handoff needs the GIL twice (the worker's Python wrapper before and after its
 * ctypes call), ~100-150 us on a busy 2-core machine, during which the caller waits with its
 * own part done (measured: ~1 ms per MLP step). Here the caller posts the other parts to
 * persistent C threads, computes part 0, and waits, all inside one ctypes call that releases
 * the GIL. Everything that runs on the workers lives in this one library: a second library
 * would start a second set of threads competing for the same cores.
 *
 * The parts are row blocks (or column blocks) of C, or for products with a row or two (a GEMV
 * while decoding) blocks of the inner dimension: each thread then streams one contiguous half
 * of the weight (measured: 17-19 GB/s against 15 for interleaved column halves). Each part
 * calls the same sequential CBLAS ?gemm the caller passes in (MKL or OpenBLAS, 32- or 64-bit
 * integers). Two independent products (a linear layer's two gradients) can also run side by
 * side, each on its share of the threads (tocha_gemm_pair). One call runs at a time: a caller
 * that finds the workers busy (another Python thread splitting) computes alone. A forked
 * child starts with no workers.
 *
 * Contracted to fused multiply-adds (the other kernels use -ffp-contract=off): attention's exp
 * polynomial ran 2.2x faster as FMAs, and the narrow products are sums of products. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmath.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
#define CALLER_SPINS 200000L     /* pause instructions: ~1-2 ms at most */
#define WORKER_SPIN_NS 1000000L  /* a worker's wait for the next part before it sleeps */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#define MAX_WORKERS 63

typedef void (*sgemm32_t)(int, int, int, int32_t, int32_t, int32_t, float, const float *, int32_t,
                          const float *, int32_t, float, float *, int32_t);
typedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                          const float *, int64_t, float, float *, int64_t);
typedef void (*dgemm32_t)(int, int, int, int32_t, int32_t, int32_t, double, const double *,
                          int32_t, const double *, int32_t, double, double *, int32_t);
typedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                          int64_t, const double *, int64_t, double, double *, int64_t);

typedef struct {
    const void *fn;
    int lp64, dbl, ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    const char *a, *b, *bias;
    char *c;
    double beta;
    void (*task)(void *); /* instead of a product: task(arg) (attention's heads) */
    void *arg;
} gemm_job;

/* c = alpha op(a) @ op(b) + beta c through a CBLAS sgemm of either integer width */
static void sgemm(const void *fn, int lp64, int ta, int tb, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc) {
    if (lp64)
        ((sgemm32_t)fn)(ROW_MAJOR, ta, tb, (int32_t)m, (int32_t)n, (int32_t)k, alpha, a,
                        (int32_t)lda, b, (int32_t)ldb, beta, c, (int32_t)ldc);
    else
        ((sgemm64_t)fn)(ROW_MAJOR, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void run(const gemm_job *j) {
    if (j->task) {
        j->task(j->arg);
        return;
    }
    if (j->m == 0 || j->n == 0)
        return;
    double beta = j->beta;
    if (j->bias) { /* c = bias, accumulated by the GEMM (beta 1): each part fills its own rows */
        const int64_t elem = j->dbl ? 8 : 4;
        for (int64_t i = 0; i < j->m; i++)
            memcpy(j->c + i * j->ldc * elem, j->bias, (size_t)(j->n * elem));
        beta = 1.0;
    }
    if (j->dbl && j->lp64)
        ((dgemm32_t)j->fn)(ROW_MAJOR, j->ta, j->tb, (int32_t)j->m, (int32_t)j->n, (int32_t)j->k,
                           1.0, (const double *)j->a, (int32_t)j->lda, (const double *)j->b,
                           (int32_t)j->ldb, beta, (double *)j->c, (int32_t)j->ldc);
    else if (j->dbl)
        ((dgemm64_t)j->fn)(ROW_MAJOR, j->ta, j->tb, j->m, j->n, j->k, 1.0, (const double *)j->a,
                           j->lda, (const double *)j->b, j->ldb, beta, (double *)j->c, j->ldc);
    else
        sgemm(j->fn, j->lp64, j->ta, j->tb, j->m, j->n, j->k, 1.0f, (const float *)j->a, j->lda,
              (const float *)j->b, j->ldb, (float)beta, (float *)j->c, j->ldc);
}

/* A worker's part: IDLE, then POSTED by the caller, then TAKEN by the worker (which sets IDLE
 * when done), or taken back by the caller (POSTED -> IDLE) when the worker had not started it */
enum { IDLE = 0, POSTED = 1, TAKEN = 2 };

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gemm_job job;
    int state;
} worker;

static worker workers[MAX_WORKERS];
static int n_workers;
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    for (;;) {
        /* the next part often follows within a millisecond (a decoding step's GEMVs): wait
         * for it spinning, yielding the core to any other runnable thread, before sleeping
         * on the condition variable (a sleeping virtual CPU took 60-300 us to wake) */
        const int64_t deadline = now_ns() + WORKER_SPIN_NS;
        for (int i = 1; __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != POSTED; i++) {
            cpu_relax();
            if (i % 256 == 0) {
                if (now_ns() > deadline)
                    break;
                sched_yield();
            }
        }
        if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != POSTED) {
            pthread_mutex_lock(&w->mu);
            while (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != POSTED)
                pthread_cond_wait(&w->cv, &w->mu);
            pthread_mutex_unlock(&w->mu);
        }
        int posted = POSTED; /* the caller may have taken the part back meanwhile */
        if (!__atomic_compare_exchange_n(&w->state, &posted, TAKEN, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;
        gemm_job job = w->job;
        run(&job);
        pthread_mutex_lock(&w->mu);
        __atomic_store_n(&w->state, IDLE, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static void forget_workers(void) { /* in a forked child: the threads are gone */
    n_workers = 0;
    pthread_mutex_init(&busy, NULL);
}

static void at_fork(void) { pthread_atfork(NULL, NULL, forget_workers); }

enum { SPLIT_ROWS = 0, SPLIT_COLS = 1, SPLIT_K = 2 };

/* The caller's claim on the workers: the number of parts it may run side by side (1 when
 * another thread holds them, or none could start; `busy` is then not held). */
static int claim(int parts) {
    pthread_once(&once, at_fork);
    if (parts > MAX_WORKERS + 1)
        parts = MAX_WORKERS + 1;
    if (parts < 2 || pthread_mutex_trylock(&busy) != 0)
        return 1;
    while (n_workers < parts - 1) {
        worker *w = &workers[n_workers];
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->state = IDLE;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
        pthread_detach(w->thread);
        n_workers++;
    }
    if (parts > n_workers + 1)
        parts = n_workers + 1;
    if (parts < 2)
        pthread_mutex_unlock(&busy);
    return parts;
}

/* jobs[1..n-1] posted to the workers, jobs[0] run here; returns when all are done. A part
 * whose worker has not started it when the caller gets to it is run by the caller: waking a
 * worker that went to sleep can take longer than the part itself (LeNet-5's small linear
 * layers: ~300 us for ~60 us of work), and the woken worker then finds the next part
 * spinning. */
static void run_parallel(const gemm_job *jobs, int n) {
    for (int p = 1; p < n; p++) {
        worker *w = &workers[p - 1];
        pthread_mutex_lock(&w->mu);
        w->job = jobs[p];
        __atomic_store_n(&w->state, POSTED, __ATOMIC_RELEASE);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    run(&jobs[0]);
    for (int p = 1; p < n; p++) {
        worker *w = &workers[p - 1];
        int posted = POSTED;
        if (__atomic_compare_exchange_n(&w->state, &posted, IDLE, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            run(&jobs[p]);
            continue;
        }
        /* the worker is on it: spin a while before sleeping (a condition-variable wake-up
         * took tens of microseconds here) */
        for (long spin = 0;
             spin < CALLER_SPINS && __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != IDLE; spin++)
            cpu_relax();
        pthread_mutex_lock(&w->mu);
        while (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != IDLE)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
    }
}

/* task(arg) on the caller and on up to parts - 1 workers at once (each call takes its share
 * of the work from a counter in arg), or on the caller alone when the workers are busy. */
static void run_task(int parts, void (*task)(void *), void *arg) {
    parts = claim(parts);
    if (parts < 2) {
        task(arg);
        return;
    }
    gemm_job jobs[MAX_WORKERS + 1];
    memset(jobs, 0, sizeof jobs);
    for (int p = 0; p < parts; p++) {
        jobs[p].task = task;
        jobs[p].arg = arg;
    }
    run_parallel(jobs, parts);
    pthread_mutex_unlock(&busy);
}

/* Part p of `parts` of the product `whole`: rows lo:hi of op(a) and of c (SPLIT_ROWS),
 * columns lo:hi of op(b) and of c (SPLIT_COLS), or columns lo:hi of op(a) and rows lo:hi of
 * op(b) (SPLIT_K; parts after the first write their product, without bias or beta, to
 * `scratch` + (p - 1) (m, n) blocks, for the caller to add). */
static gemm_job part_of(const gemm_job *whole, int mode, int p, int parts, char *scratch) {
    const int64_t elem = whole->dbl ? 8 : 4;
    const int64_t total = mode == SPLIT_COLS ? whole->n : mode == SPLIT_K ? whole->k : whole->m;
    const int64_t lo = total * p / parts, hi = total * (p + 1) / parts;
    gemm_job j = *whole;
    if (mode == SPLIT_COLS) {
        j.n = hi - lo;
        j.b += (j.tb == NO_TRANS ? lo : lo * j.ldb) * elem;
        j.c += lo * elem;
        if (j.bias)
            j.bias += lo * elem;
    } else if (mode == SPLIT_K) {
        j.k = hi - lo;
        j.a += (j.ta == NO_TRANS ? lo : lo * j.lda) * elem;
        j.b += (j.tb == NO_TRANS ? lo * j.ldb : lo) * elem;
        if (p > 0) {
            j.c = scratch + (p - 1) * whole->m * whole->n * elem;
            j.ldc = whole->n;
            j.bias = NULL;
            j.beta = 0.0;
        }
    } else {
        j.m = hi - lo;
        j.a += (j.ta == NO_TRANS ? lo * j.lda : lo) * elem;
        j.c += lo * j.ldc * elem;
    }
    return j;
}

/* c = op(a) @ op(b) + beta * c in `parts` row blocks (mode SPLIT_ROWS) or column blocks
 * (SPLIT_COLS) of c, or blocks of the inner dimension k (SPLIT_K: each part's product of its
 * slices of a and b into a scratch buffer, added into c at the end), row major; ta/tb are
 * CBLAS's 111 (no transpose) or 112 (transpose); elem is 4 or 8 bytes. With a bias (n values,
 * or NULL), c = op(a) @ op(b) + bias (each row), beta unused.
 * Returns the number of parts it ran in (1 when the workers were busy or could not start, or
 * SPLIT_K's scratch could not be allocated). */
int tocha_gemm_split(const void *fn, int lp64, int elem, int parts, int mode, int ta, int tb,
                     int64_t m, int64_t n, int64_t k, const void *a, int64_t lda, const void *b,
                     int64_t ldb, const void *bias, double beta, void *c, int64_t ldc) {
    gemm_job whole = {fn,  lp64, elem == 8, ta, tb, m, n, k, lda, ldb, ldc, (const char *)a,
                      (const char *)b, (const char *)bias, (char *)c, beta, NULL, NULL};
    parts = claim(parts);
    if (parts < 2) {
        run(&whole);
        return 1;
    }
    char *scratch = NULL; /* SPLIT_K: parts 1.. write their (m, n) products here */
    if (mode == SPLIT_K) {
        scratch = malloc((size_t)((parts - 1) * m * n * elem));
        if (!scratch) {
            pthread_mutex_unlock(&busy);
            run(&whole);
            return 1;
        }
    }
    gemm_job jobs[MAX_WORKERS + 1];
    for (int p = 0; p < parts; p++)
        jobs[p] = part_of(&whole, mode, p, parts, scratch);
    run_parallel(jobs, parts);
    if (scratch) { /* c += the other parts' products, in part order */
        for (int p = 1; p < parts; p++)
            for (int64_t i = 0; i < m; i++) {
                if (elem == 8) {
                    double *cr = (double *)((char *)c + i * ldc * 8);
                    const double *sr = (const double *)(scratch + ((p - 1) * m + i) * n * 8);
                    for (int64_t q = 0; q < n; q++) cr[q] += sr[q];
                } else {
                    float *cr = (float *)((char *)c + i * ldc * 4);
                    const float *sr = (const float *)(scratch + ((p - 1) * m + i) * n * 4);
                    for (int64_t q = 0; q < n; q++) cr[q] += sr[q];
                }
            }
        free(scratch);
    }
    pthread_mutex_unlock(&busy);
    return parts;
}

/* Two independent products side by side, c1 = op(a1) @ op(b1) and c2 = op(a2) @ op(b2)
 * (no bias, beta 0): each on its own share of the `parts` threads (the first on the caller's),
 * split by its output's longer side when its share has several. A linear layer's two
 * gradients (g @ w and g^T @ x) take the same number of multiply-adds, and computing each on
 * one thread packs no operand twice, where splitting each in turn packs a shared operand on
 * both threads and hands off twice. Returns the number of threads used (1: one after the
 * other, the workers being busy). */
int tocha_gemm_pair(const void *fn, int lp64, int elem, int parts,
                    int ta1, int tb1, int64_t m1, int64_t n1, int64_t k1, const void *a1,
                    int64_t lda1, const void *b1, int64_t ldb1, void *c1, int64_t ldc1,
                    int ta2, int tb2, int64_t m2, int64_t n2, int64_t k2, const void *a2,
                    int64_t lda2, const void *b2, int64_t ldb2, void *c2, int64_t ldc2) {
    const gemm_job one = {fn,  lp64, elem == 8, ta1, tb1, m1, n1, k1, lda1, ldb1, ldc1,
                          (const char *)a1, (const char *)b1, NULL, (char *)c1, 0.0, NULL, NULL};
    const gemm_job two = {fn,  lp64, elem == 8, ta2, tb2, m2, n2, k2, lda2, ldb2, ldc2,
                          (const char *)a2, (const char *)b2, NULL, (char *)c2, 0.0, NULL, NULL};
    parts = claim(parts);
    if (parts < 2) {
        run(&one);
        run(&two);
        return 1;
    }
    const int p1 = parts / 2, p2 = parts - p1;
    gemm_job jobs[MAX_WORKERS + 1];
    for (int p = 0; p < p1; p++)
        jobs[p] = part_of(&one, one.n > one.m ? SPLIT_COLS : SPLIT_ROWS, p, p1, NULL);
    for (int p = 0; p < p2; p++)
        jobs[p1 + p] = part_of(&two, two.n > two.m ? SPLIT_COLS : SPLIT_ROWS, p, p2, NULL);
    run_parallel(jobs, parts);
    pthread_mutex_unlock(&busy);
    return parts;
}

/* Scaled dot-product attention without masks, dropout or kept probabilities, float32: for
 * each of `heads` (query, key, value) matrices, out = softmax(scale q k^T) v, the softmax
 * max-shifted per row (with `causal`, row i over keys 0..i only: torch's top-left causal
 * mask). Heads go to the threads one at a time from a shared counter; each computes its
 * scores into an (L, S) scratch that stays in cache from the first product through the
 * softmax to the second, where NumPy's chunks make ~8 calls per chunk, each taking the GIL
 * (measured: 2 threads ran them 1.56x faster than one). Matrices are given by byte offsets
 * from q, k, v and out, one per head, and their row strides (elements); rows contiguous. */
typedef struct {
    const void *fn;
    int lp64, causal;
    int64_t heads, L, S, E, Ev, ldq, ldk, ldv, ldo;
    float scale;
    const char *q, *k, *v;
    char *out;
    const int64_t *oq, *ok, *ov, *oo;
    int64_t next; /* the next head to take */
    int failed;   /* a scratch allocation failed: the caller computes it another way */
} attention_job;

/* 16 floats (one AVX-512 register, two AVX ones), loaded from any float address */
typedef float row_vec __attribute__((vector_size(64), aligned(4)));
typedef int32_t row_mask __attribute__((vector_size(64)));
#define ROW_LANES 16

static void attention_rows(float *restrict s, int64_t L, int64_t S, int causal,
                           float *restrict inv) {
    for (int64_t i = 0; i < L; i++) {
        float *restrict row = s + i * S;
        const int64_t n = causal && i + 1 < S ? i + 1 : S;
        row_vec vm = (row_vec){0} + row[0], vs = {0};
        int64_t j = 0;
        for (; j + ROW_LANES <= n; j += ROW_LANES) {
            const row_vec x = *(const row_vec *)(row + j);
            const row_mask gt = x > vm; /* a NaN score stays out of the max: its exp is NaN */
            vm = (row_vec)((gt & (row_mask)x) | (~gt & (row_mask)vm));
        }
        float mx = row[0], lanes[ROW_LANES];
        memcpy(lanes, &vm, sizeof lanes);
        for (int l = 0; l < ROW_LANES; l++)
            mx = lanes[l] > mx ? lanes[l] : mx;
        for (int64_t t = j; t < n; t++)
            mx = row[t] > mx ? row[t] : mx;
        for (j = 0; j < n; j++)
            row[j] = exp_f32(row[j] - mx);
        for (j = 0; j + ROW_LANES <= n; j += ROW_LANES)
            vs += *(const row_vec *)(row + j);
        float sum = 0.0f;
        for (; j < n; j++)
            sum += row[j];
        memcpy(lanes, &vs, sizeof lanes);
        for (int w = ROW_LANES / 2; w >= 1; w /= 2) /* by halving: no long chain of adds */
            for (int l = 0; l < w; l++)
                lanes[l] += lanes[l + w];
        for (j = n; j < S; j++)
            row[j] = 0.0f;
        inv[i] = 1.0f / (sum + lanes[0]);
    }
}

static void attention_heads(void *arg) {
    attention_job *t = arg;
    float *s = malloc((size_t)(t->L * t->S + t->L) * sizeof(float));
    if (!s) {
        __atomic_store_n(&t->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    float *inv = s + t->L * t->S;
    for (;;) {
        const int64_t h = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
        if (h >= t->heads)
            break;
        const float *q = (const float *)(t->q + t->oq[h]);
        const float *k = (const float *)(t->k + t->ok[h]);
        const float *v = (const float *)(t->v + t->ov[h]);
        float *o = (float *)(t->out + t->oo[h]);
        sgemm(t->fn, t->lp64, NO_TRANS, TRANS, t->L, t->S, t->E, t->scale, q, t->ldq, k, t->ldk,
              0.0f, s, t->S);
        attention_rows(s, t->L, t->S, t->causal, inv);
        sgemm(t->fn, t->lp64, NO_TRANS, NO_TRANS, t->L, t->Ev, t->S, 1.0f, s, t->S, v, t->ldv,
              0.0f, o, t->ldo);
        for (int64_t i = 0; i < t->L; i++)
            for (int64_t j = 0; j < t->Ev; j++)
                o[i * t->ldo + j] *= inv[i];
    }
    free(s);
}

/* Returns 0, or -1 when a thread could not allocate its scratch (out then incomplete). */
int tocha_attention_f32(const void *fn, int lp64, int parts, int64_t heads, int64_t L,
                        int64_t S, int64_t E, int64_t Ev, float scale, int causal,
                        const void *q, const int64_t *oq, int64_t ldq, const void *k,
                        const int64_t *ok, int64_t ldk, const void *v, const int64_t *ov,
                        int64_t ldv, void *out, const int64_t *oo, int64_t ldo) {
    attention_job t = {fn,  lp64, causal, heads, L,  S,  E,  Ev, ldq, ldk, ldv, ldo, scale,
                       (const char *)q, (const char *)k, (const char *)v, (char *)out,
                       oq,  ok,   ov,     oo,    0,  0};
    run_task(parts < heads ? parts : (int)heads, attention_heads, &t);
    return t.failed ? -1 : 0;
}

/* Products with few output columns (a classifier's head: (256, 512) @ (512, 10)), float32:
 * c[i, j] = sum_p a[i, p] w[j, p] (+ bias[j]) for n <= NARROW_MAX, w given row by row (a
 * linear layer's weight). BLAS kernels tile the columns in blocks of 16 or more and run these
 * at a fraction of their speed (MKL or OpenBLAS: 70-80 us for that head, ~25 GMAC/s here);
 * here w is transposed once into (k, 16) rows, and each output row is one vector of 16
 * columns accumulated over k, eight rows at a time (eight independent chains of FMAs). Row
 * blocks go to the threads from a shared counter. */
#define NARROW_MAX 16
#define NARROW_BLOCK 32 /* rows per task: a few per thread */
#define NARROW_ROWS 8
typedef float narrow_vec __attribute__((vector_size(NARROW_MAX * 4), aligned(4)));

typedef struct {
    int64_t m, n, k, lda, ldc;
    const float *a, *wt, *bias;
    float *c;
    int64_t next;
} narrow_job;

static void narrow_store(const narrow_job *t, int64_t i, narrow_vec v) {
    float lanes[NARROW_MAX];
    memcpy(lanes, &v, sizeof lanes);
    memcpy(t->c + i * t->ldc, lanes, (size_t)t->n * sizeof(float));
}

static void narrow_rows(const narrow_job *t, int64_t r0, int64_t r1) {
    const narrow_vec b0 = t->bias ? *(const narrow_vec *)t->bias : (narrow_vec){0};
    const int64_t k = t->k, lda = t->lda;
    int64_t i = r0;
    /* eight rows at a time in eight named sums (an array of them was kept on the stack) */
    for (; i + NARROW_ROWS <= r1; i += NARROW_ROWS) {
        const float *a = t->a + i * lda;
        narrow_vec s0 = b0, s1 = b0, s2 = b0, s3 = b0, s4 = b0, s5 = b0, s6 = b0, s7 = b0;
        for (int64_t p = 0; p < k; p++) {
            if (p % 16 == 0) /* eight rows of a: more streams than the prefetcher follows */
                for (int r = 0; r < NARROW_ROWS; r++)
                    __builtin_prefetch(a + r * lda + p + 64);
            const narrow_vec w = *(const narrow_vec *)(t->wt + p * NARROW_MAX);
            s0 += a[p] * w;
            s1 += a[lda + p] * w;
            s2 += a[2 * lda + p] * w;
            s3 += a[3 * lda + p] * w;
            s4 += a[4 * lda + p] * w;
            s5 += a[5 * lda + p] * w;
            s6 += a[6 * lda + p] * w;
            s7 += a[7 * lda + p] * w;
        }
        narrow_store(t, i, s0);
        narrow_store(t, i + 1, s1);
        narrow_store(t, i + 2, s2);
        narrow_store(t, i + 3, s3);
        narrow_store(t, i + 4, s4);
        narrow_store(t, i + 5, s5);
        narrow_store(t, i + 6, s6);
        narrow_store(t, i + 7, s7);
    }
    for (; i < r1; i++) {
        const float *a = t->a + i * lda;
        narrow_vec s0 = b0;
        for (int64_t p = 0; p < k; p++)
            s0 += a[p] * *(const narrow_vec *)(t->wt + p * NARROW_MAX);
        narrow_store(t, i, s0);
    }
}

static void narrow_task(void *arg) {
    narrow_job *t = arg;
    for (;;) {
        const int64_t b = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
        const int64_t r0 = b * NARROW_BLOCK;
        if (r0 >= t->m)
            break;
        narrow_rows(t, r0, r0 + NARROW_BLOCK < t->m ? r0 + NARROW_BLOCK : t->m);
    }
}

/* c (m, n) = a (m, k) @ w (n, k)^T (+ bias), rows of a, w and c contiguous; n <= 16. Returns
 * 0, or -1 (nothing written) when n is too large or the transposed copy of w could not be
 * allocated. */
int tocha_gemm_narrow_f32(int parts, int64_t m, int64_t n, int64_t k, const float *a,
                          int64_t lda, const float *w, int64_t ldw, const float *bias, float *c,
                          int64_t ldc) {
    if (n < 1 || n > NARROW_MAX)
        return -1;
    float *wt = calloc((size_t)(k * NARROW_MAX + NARROW_MAX), sizeof(float));
    if (!wt)
        return -1;
    for (int64_t j = 0; j < n; j++)
        for (int64_t p = 0; p < k; p++)
            wt[p * NARROW_MAX + j] = w[j * ldw + p];
    float *b = NULL; /* the bias padded to a whole vector */
    if (bias) {
        b = wt + k * NARROW_MAX;
        memcpy(b, bias, (size_t)n * sizeof(float));
    }
    narrow_job t = {m, n, k, lda, ldc, a, wt, b, c, 0};
    const int64_t blocks = (m + NARROW_BLOCK - 1) / NARROW_BLOCK;
    run_task(parts < blocks ? parts : (int)blocks, narrow_task, &t);
    free(wt);
    return 0;
}

/* Any range kernel over the workers: fn(arg, lo, hi) for pieces [lo, hi) of [0, n), `piece`
 * long, taken from a shared counter by the caller and parts - 1 workers. Other compiled
 * kernels (an optimizer's update of every parameter) run on these threads this way: they are
 * the ones a training step keeps awake (a Python pool thread took 50-250 us to start). */
typedef struct {
    void (*fn)(void *, int64_t, int64_t);
    void *arg;
    int64_t n, piece, next;
} range_job;

static void range_task(void *p) {
    range_job *r = p;
    for (;;) {
        const int64_t lo = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED) * r->piece;
        if (lo >= r->n)
            break;
        r->fn(r->arg, lo, lo + r->piece < r->n ? lo + r->piece : r->n);
    }
}

void tocha_parallel_for(int parts, void (*fn)(void *, int64_t, int64_t), void *arg, int64_t n,
                        int64_t piece) {
    if (piece < 1)
        piece = 1;
    range_job r = {fn, arg, n, piece, 0};
    const int64_t pieces = (n + piece - 1) / piece;
    run_task(parts < pieces ? parts : (int)pieces, range_task, &r);
}
