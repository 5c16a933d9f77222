/* The real yoloswitch-edge ($YOLOSWITCH_EDGE) for the C integration tests
 * (test_session.c, test_split_session.c): started on a loopback port, and
 * killed when the test process goes, however it ends; paused, killed or
 * stopped as a test needs.  A failure to start fails the test (g_error). */
#ifndef YOLOSWITCH_TEST_EDGE_PROCESS_H
#define YOLOSWITCH_TEST_EDGE_PROCESS_H

#include <glib.h>

typedef struct {
  GPid pid;
  int port;
  gchar *url;
} EdgeProcess;

/* Starts it on port (0: a free one) and waits for its "listening on"
 * line. */
void edge_process_start (EdgeProcess *srv, int port);
/* A clean stop (also of a paused server). */
void edge_process_stop (EdgeProcess *srv);
/* Gone at once, as a crash: no goodbye on the socket. */
void edge_process_kill (EdgeProcess *srv);
/* Paused: it reads nothing and answers nothing, and its socket stays up.
 * Returns once the process is stopped. */
void edge_process_pause (EdgeProcess *srv);
void edge_process_resume (EdgeProcess *srv);
/* A loopback port nothing listens on (it was free a moment ago). */
int edge_unused_port (void);

#endif
