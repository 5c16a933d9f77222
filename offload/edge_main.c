/* yoloswitch-edge: command line, signals, and the first stdout line
 * scripts wait for ("listening on ws://127.0.0.1:PORT", wss:// with TLS). */
#include "edge_log.h"
#include "edge_server.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static EdgeServer *running;

static void
on_signal (int sig)
{
  (void) sig;
  if (running != NULL)
    edge_server_request_stop (running);
}

int
main (int argc, char **argv)
{
  EdgeConfig config;
  GError *error = NULL;
  struct sigaction sa;
  const char *shown;

  if (!edge_config_parse (&config, &argc, &argv, &error)) {
    edge_log (EDGE_LOG_ERROR, "%s (see yoloswitch-edge --help)",
        error->message);
    g_error_free (error);
    edge_config_clear (&config);
    return 2;
  }
  edge_log_init ((EdgeLogLevel) config.log_level);
  running = edge_server_new (&config, &error);
  if (running == NULL) {
    edge_log (EDGE_LOG_ERROR, "%s", error->message);
    g_error_free (error);
    edge_config_clear (&config);
    return 1;
  }
  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  /* Every address reaches the loopback one too: print the one a local
   * client can always use. */
  shown
      = strcmp (config.address, "0.0.0.0") == 0 ? "127.0.0.1" : config.address;
  printf ("listening on %s://%s:%d\n", config.tls_cert != NULL ? "wss" : "ws",
      shown, edge_server_port (running));
  fflush (stdout);
  edge_server_run (running);
  edge_server_free (running);
  running = NULL;
  edge_config_clear (&config);
  return 0;
}
