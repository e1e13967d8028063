/* A fixed pool of worker threads for data-parallel loops inside ops. The calling thread takes part,
 * so a pool of 1 thread runs everything inline (no threads are created). */
#ifndef DETC_THREADPOOL_H
#define DETC_THREADPOOL_H

typedef struct detc_threadpool detc_threadpool;

/* Runs fn(ctx, begin, end) over [0, n) split into contiguous chunks, one per thread. */
typedef void (*detc_range_fn)(void *ctx, int begin, int end);

detc_threadpool *detc_threadpool_create(int threads); /* NULL on failure; threads < 1 means 1 */
void detc_threadpool_destroy(detc_threadpool *pool);
int detc_threadpool_size(const detc_threadpool *pool); /* 1 for a NULL pool */
/* Sends sleeping workers back to spinning for a while, so that parallel loops starting within about a hundred
 * microseconds find them awake (a run calls it first). Cheap when they are awake already. */
void detc_threadpool_wake(detc_threadpool *pool);
/* Splits [0, n) into at most size(pool) chunks of at least min_chunk items. Blocks until all are done. */
void detc_parallel_for(detc_threadpool *pool, int n, int min_chunk, detc_range_fn fn, void *ctx);

#endif
