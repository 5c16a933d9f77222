#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>

struct YoloPool {
  int threads;
  pthread_t *workers;
  pthread_mutex_t lock;
  pthread_cond_t wake; /* a new job, or stop */
  pthread_cond_t done; /* the last task of a job finished */
  /* protected by lock */
  unsigned long generation;
  int stop;
  YoloPoolFunc fn;
  void *ctx;
  int count;
  int next; /* next task to hand out */
  int finished; /* tasks finished in this job */
};

/* Takes and runs tasks of the current job until none is left.  Called with
 * the lock held; returns with it held. */
static void
drain (YoloPool *p)
{
  while (p->next < p->count) {
    int task = p->next++;
    YoloPoolFunc fn = p->fn;
    void *ctx = p->ctx;
    int count = p->count;

    pthread_mutex_unlock (&p->lock);
    fn (ctx, task, count);
    pthread_mutex_lock (&p->lock);
    if (++p->finished == p->count)
      pthread_cond_broadcast (&p->done);
  }
}

/* Worker threads: sleep until a job comes, help with it, sleep again. */
static void *
worker_main (void *data)
{
  YoloPool *p = data;
  unsigned long seen = 0;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    while (!p->stop && p->generation == seen)
      pthread_cond_wait (&p->wake, &p->lock);
    if (p->stop)
      break;
    seen = p->generation;
    drain (p);
  }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

YoloPool *
yolo_pool_new (int threads)
{
  YoloPool *p = calloc (1, sizeof (*p));

  if (p == NULL)
    return NULL;
  p->threads = threads < 1 ? 1 : threads;
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->wake, NULL);
  pthread_cond_init (&p->done, NULL);
  p->workers = calloc (p->threads, sizeof (pthread_t));
  if (p->workers == NULL) {
    yolo_pool_free (p);
    return NULL;
  }
  for (int i = 1; i < p->threads; i++) {
    if (pthread_create (&p->workers[i], NULL, worker_main, p) != 0) {
      /* Run with the threads we got rather than fail. */
      p->threads = i;
      break;
    }
  }
  return p;
}

void
yolo_pool_free (YoloPool *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  p->stop = 1;
  pthread_cond_broadcast (&p->wake);
  pthread_mutex_unlock (&p->lock);
  for (int i = 1; p->workers != NULL && i < p->threads; i++)
    pthread_join (p->workers[i], NULL);
  free (p->workers);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->wake);
  pthread_cond_destroy (&p->done);
  free (p);
}

int
yolo_pool_threads (const YoloPool *p)
{
  return p->threads;
}

void
yolo_pool_run (YoloPool *p, YoloPoolFunc fn, void *ctx, int count)
{
  if (count <= 0)
    return;
  if (p->threads == 1 || count == 1) {
    for (int i = 0; i < count; i++)
      fn (ctx, i, count);
    return;
  }
  pthread_mutex_lock (&p->lock);
  p->fn = fn;
  p->ctx = ctx;
  p->count = count;
  p->next = 0;
  p->finished = 0;
  p->generation++;
  pthread_cond_broadcast (&p->wake);
  drain (p);
  while (p->finished < p->count)
    pthread_cond_wait (&p->done, &p->lock);
  pthread_mutex_unlock (&p->lock);
}
