/* The pool: workers wait for jobs by spinning a short while (DETC_POOL_SPIN_US) before sleeping on a
 * condition variable, so that the back-to-back parallel loops of one inference (a conv every few hundred
 * microseconds) find them awake, while an idle pool costs nothing.
 *
 * A job is published in one 64-bit word: generation (32 bits), chunk count (16) and, in the low 16 bits,
 * which chunks are taken: a bit per chunk when there are at most 16, else the next chunk to take. Threads
 * take chunks by compare-and-swap on that word, so a chunk is only ever taken from the job whose generation
 * the taker saw. With a bit per chunk, thread t (the caller is 0) takes chunk t first when it is free:
 * consecutive ops split the same way (a conv's first half of the pixels, then a depthwise conv's first half
 * of the rows) then run their parts on the same cores, and each reads what its own core wrote rather than
 * what sits in the other core's cache (taking chunks in arrival order let the two swap at random); the job's function and context are read after taking a chunk, when they
 * cannot change (the caller publishes the next job only after every chunk of this one has finished).
 * Sleeping uses the usual pattern with sequentially consistent atomics: a sleeper registers itself, then
 * checks for work under the lock; a publisher stores the work, then wakes if anyone is registered.
 * detc_threadpool_wake sends sleeping workers back to spinning without work: a run calls it as it starts, so
 * that the workers, asleep after the caller's pause between runs (decoding the next frame), are awake by the
 * time the first op splits its work instead of the caller doing every chunk alone while they wake. */
#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Microseconds a thread spins for work (or for the end of a job) before sleeping. */
#define DETC_POOL_SPIN_US 150

typedef struct {
    struct detc_threadpool *pool;
    int index; /* 1 .. size-1 (the caller is 0) */
} worker_arg;

struct detc_threadpool {
    int size; /* threads including the caller */
    pthread_t *workers;
    worker_arg *args;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    /* the job being run: fields written by the caller before it publishes `word` */
    detc_range_fn fn;
    void *ctx;
    int n;
    _Atomic uint64_t word;  /* generation << 32 | chunks << 16 | next chunk */
    atomic_int pending;     /* chunks not yet finished */
    atomic_int sleepers;    /* workers registered to sleep on work_ready */
    atomic_int waiting;     /* the caller is registered to sleep on work_done */
    atomic_int stop;
    atomic_uint wakes;      /* bumped by detc_threadpool_wake */
    atomic_int busy;        /* a job is running: a second caller (a pool shared by contexts) computes alone */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Chunk counts up to this have a bit each in the job word (see the top). */
#define POOL_CHUNK_BITS 16

/* Takes and runs chunks of the job of generation `gen` until none are left; self is the thread's index. */
static void run_chunks(detc_threadpool *pool, uint32_t gen, int self)
{
    uint64_t w = atomic_load(&pool->word);
    for (;;) {
        if ((uint32_t)(w >> 32) != gen)
            return;
        unsigned chunks = (unsigned)(w >> 16) & 0xFFFF, low = (unsigned)w & 0xFFFF, next;
        uint64_t taken;
        if (chunks <= POOL_CHUNK_BITS) {
            unsigned free_bits = ~low & ((1u << chunks) - 1);
            if (!free_bits)
                return;
            unsigned mine = (unsigned)self % chunks;
            next = free_bits >> mine & 1 ? mine : (unsigned)__builtin_ctz(free_bits);
            taken = w | (uint64_t)1 << next;
        } else {
            next = low;
            if (next >= chunks)
                return;
            taken = w + 1;
        }
        if (!atomic_compare_exchange_weak(&pool->word, &w, taken))
            continue; /* w reloaded */
        long long n = pool->n;
        pool->fn(pool->ctx, (int)(n * next / chunks), (int)(n * (next + 1) / chunks));
        if (atomic_fetch_sub(&pool->pending, 1) == 1 && atomic_load(&pool->waiting)) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_broadcast(&pool->work_done);
            pthread_mutex_unlock(&pool->lock);
        }
        w = atomic_load(&pool->word);
    }
}

static void *worker_main(void *arg)
{
    detc_threadpool *pool = ((worker_arg *)arg)->pool;
    const int self = ((worker_arg *)arg)->index;
    uint32_t seen = (uint32_t)(atomic_load(&pool->word) >> 32);
    for (;;) {
        uint32_t gen = (uint32_t)(atomic_load(&pool->word) >> 32);
        if (gen == seen && !atomic_load(&pool->stop)) {
            int64_t until = now_us() + DETC_POOL_SPIN_US;
            for (int i = 1;; i++) {
                cpu_relax();
                gen = (uint32_t)(atomic_load(&pool->word) >> 32);
                if (gen != seen || atomic_load(&pool->stop) || ((i & 63) == 0 && now_us() > until))
                    break;
            }
        }
        if (gen == seen && !atomic_load(&pool->stop)) {
            pthread_mutex_lock(&pool->lock);
            atomic_fetch_add(&pool->sleepers, 1);
            const unsigned wakes = atomic_load(&pool->wakes); /* a wake before this is no reason to stay up */
            while (!atomic_load(&pool->stop) && (uint32_t)(atomic_load(&pool->word) >> 32) == seen &&
                   atomic_load(&pool->wakes) == wakes)
                pthread_cond_wait(&pool->work_ready, &pool->lock);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->lock);
            gen = (uint32_t)(atomic_load(&pool->word) >> 32);
        }
        if (atomic_load(&pool->stop))
            break;
        if (gen == seen)
            continue; /* woken without work (detc_threadpool_wake): spin again */
        seen = gen;
        run_chunks(pool, gen, self);
    }
    return NULL;
}

detc_threadpool *detc_threadpool_create(int threads)
{
    if (threads < 1)
        threads = 1;
    if (threads > 256)
        threads = 256;
    detc_threadpool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->size = threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->work_done, NULL);
    atomic_init(&pool->word, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->waiting, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->wakes, 0);
    atomic_init(&pool->busy, 0);
    if (threads > 1) {
        pool->workers = calloc((size_t)threads - 1, sizeof *pool->workers);
        pool->args = calloc((size_t)threads - 1, sizeof *pool->args);
        if (!pool->workers || !pool->args) {
            pool->size = 1; /* no worker to join */
            detc_threadpool_destroy(pool);
            return NULL;
        }
        for (int i = 0; i < threads - 1; i++) {
            pool->args[i] = (worker_arg){.pool = pool, .index = i + 1};
            if (pthread_create(&pool->workers[i], NULL, worker_main, &pool->args[i]) != 0) {
                pool->size = i + 1; /* keep the ones that started */
                break;
            }
        }
    }
    return pool;
}

void detc_threadpool_destroy(detc_threadpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    if (pool->workers)
        for (int i = 0; i < pool->size - 1; i++)
            pthread_join(pool->workers[i], NULL);
    free(pool->workers);
    free(pool->args);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    free(pool);
}

int detc_threadpool_size(const detc_threadpool *pool)
{
    return pool ? pool->size : 1;
}

void detc_threadpool_wake(detc_threadpool *pool)
{
    if (!pool || pool->size < 2)
        return;
    atomic_fetch_add(&pool->wakes, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->work_ready);
        pthread_mutex_unlock(&pool->lock);
    }
}

void detc_parallel_for(detc_threadpool *pool, int n, int min_chunk, detc_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (min_chunk < 1)
        min_chunk = 1;
    int chunks = detc_threadpool_size(pool);
    if (chunks > n / min_chunk)
        chunks = n / min_chunk;
    if (chunks <= 1 || !pool || atomic_exchange(&pool->busy, 1)) {
        fn(ctx, 0, n);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    atomic_store(&pool->pending, chunks);
    uint32_t gen = (uint32_t)(atomic_load(&pool->word) >> 32) + 1;
    atomic_store(&pool->word, (uint64_t)gen << 32 | (uint64_t)chunks << 16);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->work_ready);
        pthread_mutex_unlock(&pool->lock);
    }
    run_chunks(pool, gen, 0);
    if (atomic_load(&pool->pending) > 0) {
        int64_t until = now_us() + DETC_POOL_SPIN_US;
        for (int i = 1; atomic_load(&pool->pending) > 0; i++) {
            cpu_relax();
            if ((i & 63) == 0 && now_us() > until)
                break;
        }
    }
    if (atomic_load(&pool->pending) > 0) {
        pthread_mutex_lock(&pool->lock);
        atomic_store(&pool->waiting, 1);
        while (atomic_load(&pool->pending) > 0)
            pthread_cond_wait(&pool->work_done, &pool->lock);
        atomic_store(&pool->waiting, 0);
        pthread_mutex_unlock(&pool->lock);
    }
    atomic_store(&pool->busy, 0);
}
