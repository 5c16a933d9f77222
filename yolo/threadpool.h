/* A small fixed pool of worker threads for the inference kernels.
 *
 * Each model owns one, sized by its `threads` setting, so models with
 * different settings in one process (an edge server with several workers)
 * do not fight over a global.  Workers
 * sleep on a condition variable between jobs: no spinning that would steal
 * the decoder's core between frames.  When another process takes a core
 * and the workers stall waiting for it, the caller
 * runs the jobs alone when that is faster (threadpool.c, TRIAL_NS). */
#ifndef YOLOSWITCH_YOLO_THREADPOOL_H
#define YOLOSWITCH_YOLO_THREADPOOL_H

typedef struct YoloPool YoloPool;

/* Runs for task in [0, count): one call per task, any thread. */
typedef void (*YoloPoolFunc) (void *ctx, int task, int count);

/* threads counts the caller: 1 means no extra thread at all. */
YoloPool *yolo_pool_new (int threads);
void yolo_pool_free (YoloPool *pool);
int yolo_pool_threads (const YoloPool *pool);

/* Runs fn for every task and returns when all are done.  Called by one
 * thread at a time (the model's user). */
void yolo_pool_run (YoloPool *pool, YoloPoolFunc fn, void *ctx, int count);

/* Splits [0, n) into `count` blocks, each a multiple of `align` long but
 * the last; block `task` is [*lo, *hi), empty when n runs out. */
static inline void
yolo_pool_split (int n, int task, int count, int align, int *lo, int *hi)
{
  int per = (n + count - 1) / count;
  per = (per + align - 1) / align * align;
  *lo = task * per < n ? task * per : n;
  *hi = *lo + per < n ? *lo + per : n;
}

#endif
