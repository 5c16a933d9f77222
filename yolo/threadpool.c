#include "threadpool.h"

#include <stdbool.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* How long an idle thread keeps polling for the next job before it sleeps.
 * A network runs a hundred-odd layers back to back, each a job: waking a
 * sleeping thread costs tens to hundreds of microseconds (more in a VM,
 * where it means waking an idle virtual CPU), which is the length of a
 * whole layer.  Between frames the threads do go to sleep. */
#define SPIN_NS 300000

/* Sharing the machine politely.  A job ends when its last task does, so a
 * worker pushed off its core in the middle of a task (by another process,
 * or by the host of a virtual machine) stalls the whole layer for the rest
 * of a scheduler time slice: milliseconds, against layers of a tenth of
 * one.  With one core of two taken, a two-thread pool ran
 * MobileNetV2-YOLOv3-Nano in 13.9 ms where one thread took 9.4.  So the
 * caller times its jobs both ways in turn: TRIAL_NS of jobs with the
 * threads, then as many jobs alone, and keeps the faster way for HOLD_NS
 * before trying again.  The jobs are a network's layers over and over, so
 * two trials of several inferences each see the same mix.  While it holds
 * to the threads it keeps timing them, TRIAL_NS at a time, against the
 * alone trial's time per job: the machine that made the threads faster can
 * change within the hold (another process starts, or the scheduler puts
 * the worker on the busy core; with one core of two taken, one process in
 * two held to threads that had won their trial by chance, 9-11 ms a frame
 * of yolo-fastest-1.1 against 6 alone), and a hold that has turned slower
 * goes alone for the rest of it.  Results do not depend on it: every
 * kernel gives the same bits however it is sliced. */
#define TRIAL_NS 30000000LL
#define HOLD_NS 1000000000LL

typedef enum { TRY_THREADS, TRY_ALONE, HOLD } PoolPhase;

static long long
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

struct YoloPool {
  int threads;
  pthread_t *workers;
  pthread_mutex_t lock;
  pthread_cond_t wake; /* a new job, or stop */
  pthread_cond_t done; /* the last task of a job finished */
  /* written under lock; also polled without it while spinning */
  atomic_ulong generation;
  atomic_int finished; /* tasks finished in this job */
  /* protected by lock */
  int stop;
  YoloPoolFunc fn;
  void *ctx;
  int count;
  int next; /* next task to hand out */
  /* the caller's only: the trials of sharing politely (TRIAL_NS) */
  PoolPhase phase;
  bool hold_alone;
  int phase_jobs, threads_jobs;
  long long phase_ns, threads_ns, hold_until_ns;
  double alone_job_ns; /* the last alone trial's mean time per job */
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
    if (atomic_fetch_add (&p->finished, 1) + 1 == p->count)
      pthread_cond_broadcast (&p->done);
  }
}

/* Polls `value` until it differs from `old` or SPIN_NS pass. */
static bool
spin_until_changed (atomic_ulong *value, unsigned long old)
{
  long long deadline = now_ns () + SPIN_NS;

  for (int i = 0;; i++) {
    if (atomic_load_explicit (value, memory_order_acquire) != old)
      return true;
    cpu_relax ();
    if ((i & 255) == 255 && now_ns () > deadline)
      return false;
  }
}

/* Worker threads: poll for a job a little, else sleep until one comes;
 * help with it; again. */
static void *
worker_main (void *data)
{
  YoloPool *p = data;
  unsigned long seen = 0;

  for (;;) {
    spin_until_changed (&p->generation, seen);
    pthread_mutex_lock (&p->lock);
    while (!p->stop && atomic_load (&p->generation) == seen)
      pthread_cond_wait (&p->wake, &p->lock);
    if (p->stop) {
      pthread_mutex_unlock (&p->lock);
      break;
    }
    seen = atomic_load (&p->generation);
    drain (p);
    pthread_mutex_unlock (&p->lock);
  }
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

/* Whether the job starting at t0 runs on the caller alone. */
static bool
run_alone (YoloPool *p, long long t0)
{
  if (p->phase == HOLD && t0 >= p->hold_until_ns) {
    p->phase = TRY_THREADS;
    p->phase_jobs = 0;
    p->phase_ns = 0;
  }
  return p->phase == HOLD ? p->hold_alone : p->phase == TRY_ALONE;
}

/* Books a job of the running trial, or of the hold to the threads. */
static void
note_job (YoloPool *p, long long t0, long long t1)
{
  p->phase_ns += t1 - t0;
  p->phase_jobs++;
  if (p->phase == HOLD) {
    /* Holding to the threads: still faster than alone was? */
    if (!p->hold_alone && p->phase_ns >= TRIAL_NS) {
      if (p->phase_ns > p->alone_job_ns * p->phase_jobs)
        p->hold_alone = true;
      p->phase_jobs = 0;
      p->phase_ns = 0;
    }
    return;
  }
  if (p->phase == TRY_THREADS && p->phase_ns >= TRIAL_NS) {
    p->threads_ns = p->phase_ns;
    p->threads_jobs = p->phase_jobs;
    p->phase = TRY_ALONE;
    p->phase_jobs = 0;
    p->phase_ns = 0;
  } else if (p->phase == TRY_ALONE && p->phase_jobs >= p->threads_jobs) {
    p->hold_alone = p->phase_ns < p->threads_ns;
    p->alone_job_ns = (double) p->phase_ns / p->phase_jobs;
    p->phase = HOLD;
    p->hold_until_ns = t1 + HOLD_NS;
    p->phase_jobs = 0;
    p->phase_ns = 0;
  }
}

void
yolo_pool_run (YoloPool *p, YoloPoolFunc fn, void *ctx, int count)
{
  long long t0;

  if (count <= 0)
    return;
  if (p->threads == 1 || count == 1) {
    for (int i = 0; i < count; i++)
      fn (ctx, i, count);
    return;
  }
  t0 = now_ns ();
  if (run_alone (p, t0)) {
    for (int i = 0; i < count; i++)
      fn (ctx, i, count);
    note_job (p, t0, now_ns ());
    return;
  }
  pthread_mutex_lock (&p->lock);
  p->fn = fn;
  p->ctx = ctx;
  p->count = count;
  p->next = 0;
  atomic_store (&p->finished, 0);
  atomic_fetch_add_explicit (&p->generation, 1, memory_order_release);
  pthread_cond_broadcast (&p->wake);
  drain (p);
  if (atomic_load (&p->finished) < count) {
    /* The others are finishing their last task: poll briefly first. */
    long long deadline = now_ns () + SPIN_NS;
    pthread_mutex_unlock (&p->lock);
    for (int i = 0;
         atomic_load_explicit (&p->finished, memory_order_acquire) < count;
         i++) {
      cpu_relax ();
      if ((i & 255) == 255 && now_ns () > deadline)
        break;
    }
    pthread_mutex_lock (&p->lock);
    while (atomic_load (&p->finished) < count)
      pthread_cond_wait (&p->done, &p->lock);
  }
  pthread_mutex_unlock (&p->lock);
  note_job (p, t0, now_ns ());
}
