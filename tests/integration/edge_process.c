/* See edge_process.h. */
#include "edge_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_images.h"

/* Runs in the child: the server goes when the test goes, even on abort. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts yoloswitch-edge on port (0: a free one) and waits for its
 * "listening on" line. */
void
edge_process_start (EdgeProcess *srv, int port)
{
  const char *edge = g_getenv ("YOLOSWITCH_EDGE");
  gchar *port_arg = g_strdup_printf ("%d", port);
  gchar *argv[] = { (gchar *) edge, (gchar *) "--port", port_arg,
    (gchar *) "--model-dir", (gchar *) test_models_dir (), NULL };
  GError *error = NULL;
  gint out_fd;
  GIOChannel *ch;
  gchar *line = NULL;

  if (edge == NULL)
    g_error ("YOLOSWITCH_EDGE is not set");
  if (!g_spawn_async_with_pipes (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
          die_with_parent, NULL, &srv->pid, NULL, &out_fd, NULL, &error))
    g_error ("cannot start %s: %s", edge, error->message);
  ch = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (ch, TRUE);
  if (g_io_channel_read_line (ch, &line, NULL, NULL, NULL) != G_IO_STATUS_NORMAL
      || !g_str_has_prefix (line, "listening on ws://"))
    g_error ("%s --port %d did not start (%s)", edge, port,
        line != NULL ? line : "no output");
  g_strstrip (line);
  srv->url = g_strdup (strrchr (line, ' ') + 1);
  srv->port = atoi (strrchr (srv->url, ':') + 1);
  g_assert_cmpint (srv->port, >, 0);
  g_free (line);
  g_free (port_arg);
  g_io_channel_unref (ch);
}

static void
edge_process_reap (EdgeProcess *srv)
{
  waitpid (srv->pid, NULL, 0);
  g_spawn_close_pid (srv->pid);
  srv->pid = 0;
  g_clear_pointer (&srv->url, g_free);
}

/* A clean stop (also of a paused server). */
void
edge_process_stop (EdgeProcess *srv)
{
  kill (srv->pid, SIGCONT);
  kill (srv->pid, SIGTERM);
  edge_process_reap (srv);
}

/* Gone at once, as a crash: no goodbye on the socket. */
void
edge_process_kill (EdgeProcess *srv)
{
  kill (srv->pid, SIGKILL);
  edge_process_reap (srv);
}

/* Paused: it reads nothing and answers nothing, and its socket stays up.
 * Returns once the process is stopped. */
void
edge_process_pause (EdgeProcess *srv)
{
  int status;

  kill (srv->pid, SIGSTOP);
  g_assert_cmpint (waitpid (srv->pid, &status, WUNTRACED), ==, srv->pid);
  g_assert_true (WIFSTOPPED (status));
}

void
edge_process_resume (EdgeProcess *srv)
{
  kill (srv->pid, SIGCONT);
}

/* A loopback port nothing listens on (it was free a moment ago). */
int
edge_unused_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof (addr);
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof (addr)), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}
