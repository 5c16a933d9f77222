/* yoloswitch-edge: command line, signals, and the first stdout line
 * scripts wait for ("listening on ws://127.0.0.1:PORT", wss:// with TLS). */
#include "edge_log.h"
#include "edge_server.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static EdgeServer *running;

static void
on_signal (int sig)
{
  if (running == NULL)
    return;
  if (sig == SIGHUP)
    edge_server_request_reload (running);
  else
    edge_server_request_stop (running);
}

/* Large blocks (packets, message buffers, decoded pictures: clients'
 * memory, edge_budget.c) each in their own mapping, given back to the
 * system when freed.  glibc otherwise raises its mmap threshold after such
 * a free, up to 32 MiB, and serves the next ones from heaps it does not
 * shrink: after a flood of 1 MiB frames the server stayed 290 MB above
 * idle with nothing charged, past the bound docs/PROTOCOL.md states. */
static void
keep_rss_close_to_live (void)
{
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
  mallopt (M_TRIM_THRESHOLD, 1 << 20);
}

int
main (int argc, char **argv)
{
  EdgeConfig config;
  GError *error = NULL;
  struct sigaction sa;
  const char *shown;

  keep_rss_close_to_live ();
  if (!edge_config_parse (&config, &argc, &argv, &error)) {
    edge_log (EDGE_LOG_ERROR, "%s (see yoloswitch-edge --help)",
        error->message);
    g_error_free (error);
    edge_config_clear (&config);
    return 2;
  }
  edge_log_init ((EdgeLogLevel) config.log_level);
  /* A reload asked for while the model loads at start is no reason to
   * die (SIGHUP's default): the model loaded is the files' latest. */
  signal (SIGHUP, SIG_IGN);
  running = edge_server_new (&config, &error);
  if (running == NULL) {
    edge_log (EDGE_LOG_ERROR, "%s", error->message);
    g_error_free (error);
    edge_config_clear (&config);
    return 1;
  }
  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = on_signal;
  /* SIGHUP is an ordinary event while serving: no EINTR for it. */
  sa.sa_flags = SA_RESTART;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  /* Every address reaches the loopback one too: print the one a local
   * client can always use. */
  shown
      = strcmp (config.address, "0.0.0.0") == 0 ? "127.0.0.1" : config.address;
  printf ("listening on %s://%s:%d\n", config.tls_cert != NULL ? "wss" : "ws",
      shown, edge_server_port (running));
  fflush (stdout);
  edge_server_run (running);
  /* No handler may touch the server while and after it is freed. */
  signal (SIGHUP, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  edge_server_free (running);
  running = NULL;
  edge_config_clear (&config);
  return 0;
}
