/* A large GEMM split over worker threads that never touch Python.
 *
 * _blas splits a product into one part per intra-op thread. Through tocha's Python thread
 * pool each handoff needs the GIL twice (the worker's Python wrapper before and after its
 * ctypes call), ~100-150 us on a busy 2-core machine, during which the caller waits with its
 * own part done (measured: ~1 ms per MLP step). Here the caller posts the other parts to
 * persistent C threads, computes part 0, and waits on a condition variable, all inside one
 * ctypes call that releases the GIL.
 *
 * The parts are row blocks (or column blocks) of C, or for products with a row or two (a GEMV
 * while decoding) blocks of the inner dimension: each thread then streams one contiguous half
 * of the weight (measured: 17-19 GB/s against 15 for interleaved column halves). Each part
 * calls the same sequential CBLAS ?gemm the caller passes in (MKL or OpenBLAS, 32- or 64-bit
 * integers). One split runs at a time: a caller that finds the workers busy (another Python
 * thread splitting) computes its product alone. A forked child starts with no workers. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111 };
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
} gemm_job;

static void run(const gemm_job *j) {
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
    else if (j->lp64)
        ((sgemm32_t)j->fn)(ROW_MAJOR, j->ta, j->tb, (int32_t)j->m, (int32_t)j->n, (int32_t)j->k,
                           1.0f, (const float *)j->a, (int32_t)j->lda, (const float *)j->b,
                           (int32_t)j->ldb, (float)beta, (float *)j->c, (int32_t)j->ldc);
    else
        ((sgemm64_t)j->fn)(ROW_MAJOR, j->ta, j->tb, j->m, j->n, j->k, 1.0f, (const float *)j->a,
                           j->lda, (const float *)j->b, j->ldb, (float)beta, (float *)j->c,
                           j->ldc);
}

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gemm_job job;
    int posted; /* 1 from posting until the part is done */
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
         * on the condition variable, whose wake-up took ~60 us on a virtual machine */
        const int64_t deadline = now_ns() + WORKER_SPIN_NS;
        for (int i = 1; !__atomic_load_n(&w->posted, __ATOMIC_ACQUIRE); i++) {
            cpu_relax();
            if (i % 256 == 0) {
                if (now_ns() > deadline)
                    break;
                sched_yield();
            }
        }
        pthread_mutex_lock(&w->mu);
        while (!w->posted)
            pthread_cond_wait(&w->cv, &w->mu);
        gemm_job job = w->job;
        pthread_mutex_unlock(&w->mu);
        run(&job);
        pthread_mutex_lock(&w->mu);
        __atomic_store_n(&w->posted, 0, __ATOMIC_RELEASE);
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

/* c = op(a) @ op(b) + beta * c in `parts` row blocks (mode SPLIT_ROWS) or column blocks
 * (SPLIT_COLS) of c, or blocks of the inner dimension k (SPLIT_K: each part's product of its
 * slices of a and b into a scratch buffer, added into c at the end), row major; ta/tb are
 * CBLAS's 111 (no transpose) or 112 (transpose); elem is 4 or 8 bytes. With a bias (n values,
 * or NULL), c = op(a) @ op(b) + bias (each row), beta unused.
 * Returns the number of parts it ran in (1 when the workers were busy or could not start, or
 * SPLIT_K's scratch could not be allocated). */
enum { SPLIT_ROWS = 0, SPLIT_COLS = 1, SPLIT_K = 2 };

int tocha_gemm_split(const void *fn, int lp64, int elem, int parts, int mode, int ta, int tb,
                     int64_t m, int64_t n, int64_t k, const void *a, int64_t lda, const void *b,
                     int64_t ldb, const void *bias, double beta, void *c, int64_t ldc) {
    gemm_job whole = {fn,  lp64, elem == 8, ta, tb, m, n, k, lda, ldb, ldc, (const char *)a,
                      (const char *)b, (const char *)bias, (char *)c, beta};
    pthread_once(&once, at_fork);
    if (parts > MAX_WORKERS + 1)
        parts = MAX_WORKERS + 1;
    if (parts < 2 || pthread_mutex_trylock(&busy) != 0) {
        run(&whole);
        return 1;
    }
    while (n_workers < parts - 1) {
        worker *w = &workers[n_workers];
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->posted = 0;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
        pthread_detach(w->thread);
        n_workers++;
    }
    if (parts > n_workers + 1)
        parts = n_workers + 1;
    char *scratch = NULL; /* SPLIT_K: parts 1.. write their (m, n) products here */
    if (mode == SPLIT_K && parts > 1) {
        scratch = malloc((size_t)((parts - 1) * m * n * elem));
        if (!scratch) {
            pthread_mutex_unlock(&busy);
            run(&whole);
            return 1;
        }
    }
    const int64_t total = mode == SPLIT_COLS ? n : mode == SPLIT_K ? k : m;
    for (int p = parts - 1; p >= 0; p--) {
        const int64_t lo = total * p / parts, hi = total * (p + 1) / parts;
        gemm_job j = whole;
        if (mode == SPLIT_COLS) { /* columns lo:hi of op(b) and of c */
            j.n = hi - lo;
            j.b += (tb == NO_TRANS ? lo : lo * ldb) * elem;
            j.c += lo * elem;
            if (j.bias)
                j.bias += lo * elem;
        } else if (mode == SPLIT_K) { /* columns lo:hi of op(a), rows lo:hi of op(b) */
            j.k = hi - lo;
            j.a += (ta == NO_TRANS ? lo : lo * lda) * elem;
            j.b += (tb == NO_TRANS ? lo * ldb : lo) * elem;
            if (p > 0) { /* into scratch, no bias, no beta: added to c below */
                j.c = scratch + (p - 1) * m * n * elem;
                j.ldc = n;
                j.bias = NULL;
                j.beta = 0.0;
            }
        } else { /* rows lo:hi of op(a) and of c */
            j.m = hi - lo;
            j.a += (ta == NO_TRANS ? lo * lda : lo) * elem;
            j.c += lo * ldc * elem;
        }
        if (p == 0) {
            run(&j);
            break;
        }
        worker *w = &workers[p - 1];
        pthread_mutex_lock(&w->mu);
        w->job = j;
        w->posted = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    for (int p = 1; p < parts; p++) {
        worker *w = &workers[p - 1];
        /* the caller has nothing else to do: spin a while on the part's flag before sleeping
         * (a condition-variable wake-up took tens of microseconds here) */
        for (long spin = 0; spin < CALLER_SPINS && __atomic_load_n(&w->posted, __ATOMIC_ACQUIRE);
             spin++)
            cpu_relax();
        pthread_mutex_lock(&w->mu);
        while (w->posted)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
    }
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
