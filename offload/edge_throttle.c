/* Token-failure backoff per address; see edge_throttle.h. */
#include "edge_throttle.h"

#include <string.h>

typedef struct {
  char address[64];
  guint failures; /* since the address was last forgotten */
  gint64 blocked_until_us;
  gint64 last_failure_us;
} Entry;

struct EdgeThrottle {
  Entry *entries;
  int used, size;
  gint64 backoff_us, backoff_max_us;
};

EdgeThrottle *
edge_throttle_new (int table_size, int backoff_ms, int backoff_max_ms)
{
  EdgeThrottle *t = g_new0 (EdgeThrottle, 1);

  t->size = MAX (table_size, 1);
  t->entries = g_new0 (Entry, t->size);
  t->backoff_us = (gint64) MAX (backoff_ms, 0) * 1000;
  t->backoff_max_us = (gint64) MAX (backoff_max_ms, backoff_ms) * 1000;
  return t;
}

void
edge_throttle_free (EdgeThrottle *t)
{
  if (t == NULL)
    return;
  g_free (t->entries);
  g_free (t);
}

/* A linear scan: the table is small (1024 by default) and looked at only
 * for HELLOs that carry a token. */
static Entry *
find (EdgeThrottle *t, const char *address)
{
  for (int i = 0; i < t->used; i++)
    if (strcmp (t->entries[i].address, address) == 0)
      return &t->entries[i];
  return NULL;
}

/* An address quiet for twice the longest wait is forgiven: a camera that
 * once had a wrong token is not punished days later. */
static gboolean
forgiven (const EdgeThrottle *t, const Entry *e, gint64 now_us)
{
  return now_us - e->last_failure_us > 2 * t->backoff_max_us;
}

gint64
edge_throttle_wait_ms (EdgeThrottle *t, const char *address, gint64 now_us)
{
  Entry *e;

  if (t->backoff_us == 0 || (e = find (t, address)) == NULL
      || now_us >= e->blocked_until_us)
    return 0;
  return (e->blocked_until_us - now_us + 999) / 1000;
}

gint64
edge_throttle_failed (EdgeThrottle *t, const char *address, gint64 now_us)
{
  Entry *e;
  gint64 wait_us;

  if (t->backoff_us == 0)
    return 0;
  e = find (t, address);
  if (e == NULL) {
    if (t->used < t->size) {
      e = &t->entries[t->used++];
    } else {
      e = &t->entries[0];
      for (int i = 1; i < t->used; i++)
        if (t->entries[i].last_failure_us < e->last_failure_us)
          e = &t->entries[i];
    }
    memset (e, 0, sizeof (*e));
    g_strlcpy (e->address, address, sizeof (e->address));
  } else if (forgiven (t, e, now_us)) {
    e->failures = 0;
  }
  e->failures++;
  e->last_failure_us = now_us;
  if (e->failures < 2)
    return 0;
  /* backoff << (failures - 2), capped; the shift is bounded so it cannot
   * overflow whatever the count. */
  wait_us = t->backoff_us << MIN (e->failures - 2, 30u);
  if (wait_us > t->backoff_max_us || wait_us <= 0)
    wait_us = t->backoff_max_us;
  e->blocked_until_us = now_us + wait_us;
  return wait_us / 1000;
}

void
edge_throttle_succeeded (EdgeThrottle *t, const char *address)
{
  Entry *e = find (t, address);

  if (e == NULL)
    return;
  *e = t->entries[--t->used];
}

int
edge_throttle_size (const EdgeThrottle *t)
{
  return t->used;
}
