/* See edge_server.h. */
#include "edge_server.h"

#include <gst/check/gstcheck.h>

#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_images.h"

/* In the server, before exec: it dies with the test that started it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

TestEdgeServer *
test_edge_server_start (void)
{
  return test_edge_server_start_with (NULL);
}

TestEdgeServer *
test_edge_server_start_with (const char *const *extra)
{
  const char *edge = g_getenv ("YOLOSWITCH_EDGE");
  GPtrArray *args = g_ptr_array_new ();
  gchar **argv;
  TestEdgeServer *server = g_new0 (TestEdgeServer, 1);
  GError *error = NULL;
  gint out_fd;
  GIOChannel *ch;
  gchar *line = NULL;

  fail_unless (edge != NULL, "YOLOSWITCH_EDGE is not set");
  g_ptr_array_add (args, (gpointer) edge);
  g_ptr_array_add (args, (gpointer) "--port");
  g_ptr_array_add (args, (gpointer) "0");
  g_ptr_array_add (args, (gpointer) "--model-dir");
  g_ptr_array_add (args, (gpointer) test_models_dir ());
  for (int i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  argv = (gchar **) args->pdata;
  fail_unless (g_spawn_async_with_pipes (NULL, argv, NULL,
                   G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL,
                   &server->pid, NULL, &out_fd, NULL, &error),
      "cannot start %s: %s", edge, error ? error->message : "?");
  g_ptr_array_free (args, TRUE);
  ch = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (ch, TRUE);
  fail_unless (g_io_channel_read_line (ch, &line, NULL, NULL, NULL)
      == G_IO_STATUS_NORMAL);
  fail_unless (g_str_has_prefix (line, "listening on ws://"), "%s", line);
  g_strstrip (line);
  server->url = g_strdup (strrchr (line, ' ') + 1);
  g_free (line);
  g_io_channel_unref (ch);
  return server;
}

void
test_edge_server_stop (TestEdgeServer *server)
{
  if (server == NULL)
    return;
  kill (server->pid, SIGTERM);
  waitpid (server->pid, NULL, 0);
  g_spawn_close_pid (server->pid);
  g_free (server->url);
  g_free (server);
}

gchar *
test_dead_server_url (const char *scheme)
{
  struct sockaddr_in addr;
  socklen_t len = sizeof (addr);
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  fail_unless (fd >= 0);
  memset (&addr, 0, sizeof (addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (fd, (struct sockaddr *) &addr, sizeof (addr)) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *) &addr, &len) == 0);
  close (fd);
  return g_strdup_printf ("%s://127.0.0.1:%u/", scheme,
      (guint) ntohs (addr.sin_port));
}
