#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>

struct detc_threadpool {
    int size; /* threads including the caller */
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    /* the job being run */
    detc_range_fn fn;
    void *ctx;
    int n, chunks;
    int next_chunk;
    int pending;       /* chunks not yet finished */
    unsigned generation;
    int stop;
    int busy; /* a job is running: a second caller (a pool shared by contexts) computes alone */
};

static void chunk_bounds(const detc_threadpool *pool, int chunk, int *begin, int *end)
{
    long long n = pool->n, c = pool->chunks;
    *begin = (int)(n * chunk / c);
    *end = (int)(n * (chunk + 1) / c);
}

/* Takes and runs chunks until none are left. Called with the lock held; returns with it held. */
static void run_chunks(detc_threadpool *pool)
{
    while (pool->next_chunk < pool->chunks) {
        int chunk = pool->next_chunk++;
        int begin, end;
        chunk_bounds(pool, chunk, &begin, &end);
        pthread_mutex_unlock(&pool->lock);
        pool->fn(pool->ctx, begin, end);
        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_broadcast(&pool->work_done);
    }
}

static void *worker_main(void *arg)
{
    detc_threadpool *pool = arg;
    unsigned seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stop && pool->generation == seen)
            pthread_cond_wait(&pool->work_ready, &pool->lock);
        if (pool->stop)
            break;
        seen = pool->generation;
        run_chunks(pool);
    }
    pthread_mutex_unlock(&pool->lock);
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
    if (threads > 1) {
        pool->workers = calloc((size_t)threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            detc_threadpool_destroy(pool);
            return NULL;
        }
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&pool->workers[i], NULL, worker_main, pool) != 0) {
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
    pool->stop = 1;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    if (pool->workers)
        for (int i = 0; i < pool->size - 1; i++)
            pthread_join(pool->workers[i], NULL);
    free(pool->workers);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    free(pool);
}

int detc_threadpool_size(const detc_threadpool *pool)
{
    return pool ? pool->size : 1;
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
    if (chunks <= 1 || !pool) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    if (pool->busy) {
        pthread_mutex_unlock(&pool->lock);
        fn(ctx, 0, n);
        return;
    }
    pool->busy = 1;
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    pool->chunks = chunks;
    pool->next_chunk = 0;
    pool->pending = chunks;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_ready);
    run_chunks(pool);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->work_done, &pool->lock);
    pool->busy = 0;
    pthread_mutex_unlock(&pool->lock);
}
