/* The real yoloswitch-edge ($YOLOSWITCH_EDGE) for element tests: started
 * on a free loopback port, and gone when the test process goes, however
 * the test ends (a failed check exits the forked test at once). */
#ifndef YOLOSWITCH_TEST_EDGE_SERVER_H
#define YOLOSWITCH_TEST_EDGE_SERVER_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GPid pid;
  gchar *url; /* ws://127.0.0.1:PORT/ as the server printed it */
} TestEdgeServer;

/* Fails the test when the server cannot start. */
TestEdgeServer *test_edge_server_start (void);
/* The same with more arguments (NULL-terminated; NULL: none). */
TestEdgeServer *test_edge_server_start_with (const char *const *extra);
/* SIGTERM, and waits for it to exit. */
void test_edge_server_stop (TestEdgeServer *server);

/* scheme://127.0.0.1:PORT/ where nothing listens (a port just closed). */
gchar *test_dead_server_url (const char *scheme);

G_END_DECLS

#endif
