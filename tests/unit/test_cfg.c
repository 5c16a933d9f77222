/* The cfg checker (yolo/cfg*.c) against hostile model files: each case is a
 * cfg that crashed, read out of bounds, overflowed or fooled the checker
 * (issue 13), and must now be refused with a sentence naming the key, its
 * value, the line and the accepted range.  No weights and no Darknet: only
 * cfg_network_load(), so the whole suite also runs under valgrind
 * (cfg_valgrind in meson). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfg.h"

/* Lines 1-4 of every case. */
#define NET "[net]\nwidth=32\nheight=32\nchannels=3\n"
/* A valid detector tail: 1x1 conv to 255 channels, a [yolo] of 3 anchors. */
#define HEAD                                                                   \
  "[convolutional]\nfilters=255\nsize=1\n"                                     \
  "[yolo]\nclasses=80\nnum=3\nmask=0,1,2\n"

typedef struct {
  const char *name;
  const char *text;
  YoloError code;
  const char *says[4]; /* phrases the message must hold */
} CfgCase;

static const CfgCase cases[] = {
  /* stride * stride overflowed int to 0, then c / 0: SIGFPE. */
  { "reorg-stride-65536",
      NET "[convolutional]\nfilters=16\nsize=1\n"
          "[reorg]\nstride=65536\nreverse=1\n" HEAD,
      YOLO_ERR_CFG_INVALID,
      { "line 9:", "[reorg]", "stride=65536", "1 to 64" } },
  /* An empty list read as "all num anchors" from an uninitialised array. */
  { "mask-empty",
      NET "[convolutional]\nfilters=255\nsize=1\n"
          "[yolo]\nclasses=80\nnum=3\nmask=\n",
      YOLO_ERR_CFG_INVALID, { "line 11:", "[yolo]", "mask=:", "empty" } },
  /* num > 64 with that empty mask read past the 64-entry array. */
  { "num-100",
      NET "[convolutional]\nfilters=600\nsize=1\n"
          "[yolo]\nclasses=1\nnum=100\nmask=\n",
      YOLO_ERR_CFG_INVALID, { "line 10:", "[yolo]", "num=100", "1 to 64" } },
  /* -INT_MIN overflowed. */
  { "upsample-int-min",
      NET "[convolutional]\nfilters=16\nsize=1\n"
          "[upsample]\nstride=-2147483648\n" HEAD,
      YOLO_ERR_CFG_INVALID,
      { "line 9:", "[upsample]", "stride=-2147483648", "-64 to 64" } },
  /* w + 2 * padding overflowed. */
  { "conv-padding-huge",
      NET "[convolutional]\nfilters=16\nsize=3\npadding=2147483647\n" HEAD,
      YOLO_ERR_CFG_INVALID,
      { "line 8:", "[convolutional]", "padding=2147483647", "0 to 64" } },
  /* n * (classes + 5) overflowed. */
  { "yolo-classes-huge",
      NET "[convolutional]\nfilters=255\nsize=1\n"
          "[yolo]\nclasses=2147483647\nnum=3\nmask=0,1,2\n",
      YOLO_ERR_CFG_INVALID,
      { "line 9:", "[yolo]", "classes=2147483647", "1 to 10000" } },
  { "region-num-huge",
      NET "[convolutional]\nfilters=125\nsize=1\n"
          "[region]\nclasses=20\nnum=1073741824\n",
      YOLO_ERR_CFG_INVALID,
      { "line 10:", "[region]", "num=1073741824", "1 to 64" } },
  /* Darknet's region softmax ran 4 entries past the output. */
  { "region-background-5",
      NET "[convolutional]\nfilters=125\nsize=1\n"
          "[region]\nclasses=20\nnum=5\nsoftmax=1\nbackground=5\n",
      YOLO_ERR_CFG_INVALID,
      { "line 12:", "[region]", "background=5", "0 to 1" } },
  /* Sizes of 2^30 overflowed int in every later layer. */
  { "net-width-huge",
      "[net]\nwidth=1073741824\nheight=1073741824\nchannels=3\n"
      "[upsample]\nstride=2\n" HEAD,
      YOLO_ERR_CFG_INVALID,
      { "line 2:", "[net]", "width=1073741824", "1 to 8192" } },
  /* Darknet reads numload biases into a buffer of filters: a heap overflow
   * written from the weights file.  The space hides it from a parser that
   * does not remove whitespace the way Darknet does. */
  { "numload-spaced",
      NET "[convolutional]\nfilters=255\nsize=1\nnum load = 1000\n"
          "[yolo]\nclasses=80\nnum=3\nmask=0,1,2\n",
      YOLO_ERR_CFG_INVALID,
      { "line 8:", "[convolutional]", "numload=1000", "0 to 0" } },
  /* Darknet: inputs % 0 at load. */
  { "softmax-groups-0", NET HEAD "[softmax]\ngroups=0\n", YOLO_ERR_CFG_INVALID,
      { "line 13:", "[softmax]", "groups=0", "1 to" } },
  /* Darknet counts "-1," as two layers, the second being layer 0. */
  { "route-trailing-comma",
      NET "[convolutional]\nfilters=16\nsize=1\n"
          "[route]\nlayers=-1,\n" HEAD,
      YOLO_ERR_CFG_INVALID,
      { "line 9:", "[route]", "layers=-1,", "empty entries" } },
  { "route-index-huge",
      NET "[convolutional]\nfilters=16\nsize=1\n"
          "[route]\nlayers=4294967295\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 9:", "[route]", "4294967295", "-1 to 0" } },
  /* Darknet's shortcut asserts (aborts) on unequal ratios at run time. */
  { "shortcut-other-size",
      NET "[convolutional]\nfilters=16\nsize=1\n"
          "[maxpool]\nsize=2\nstride=2\n[shortcut]\nfrom=-2\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 11:", "[shortcut]", "width or height" } },
  /* Darknet gives the next layer a 0x0x0 image and aborts. */
  { "reorg-extra",
      NET
      "[convolutional]\nfilters=16\nsize=1\n[reorg]\nstride=1\nextra=1\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 10:", "[reorg]", "extra=1", "0 to 0" } },
  /* reorg_cpu() indexes past its output when c % stride^2 != 0. */
  { "reorg-indivisible",
      NET "[convolutional]\nfilters=6\nsize=1\n[reorg]\nstride=2\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 8:", "[reorg]", "stride x stride" } },
  /* Darknet's dropout shares layer -1's output. */
  { "dropout-first", NET "[dropout]\n" HEAD, YOLO_ERR_CFG_INVALID,
      { "line 5:", "[dropout]", "first layer" } },
  /* 1 GiB of outputs per layer, 4 GiB for this one. */
  { "conv-output-huge",
      "[net]\nwidth=8192\nheight=8192\nchannels=3\n"
      "[convolutional]\nfilters=16384\nsize=1\n" HEAD,
      YOLO_ERR_CFG_INVALID,
      { "line 5:", "[convolutional]", "output", "268435456" } },
  { "connected-weights-huge",
      "[net]\nwidth=4096\nheight=4096\nchannels=3\n"
      "[connected]\noutput=65536\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 5:", "[connected]", "weights" } },
  { "transposed-weights",
      NET "[convolutional]\nfilters=16\nsize=3\ngroups=1\nflipped=1\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 9:", "flipped=1", "0 to 0" } },
  { "header-junk", NET "[convolutional]junk\nfilters=255\n",
      YOLO_ERR_CFG_INVALID, { "line 5:", "malformed section header" } },
  { "not-an-integer", NET "[convolutional]\nfilters=25x\nsize=1\n" HEAD,
      YOLO_ERR_CFG_INVALID, { "line 6:", "filters=25x", "not an integer" } },
  { "anchors-empty", NET HEAD "anchors=\n", YOLO_ERR_CFG_INVALID,
      { "line 12:", "empty anchors=" } },
  /* A well-formed cfg still loads, whitespace and CRLF included. */
  { "good-spaced",
      "[net]\r\nwidth = 32\r\nheight=32\r\nchannels=3\r\n"
      "[convolutional]\r\nfilters= 16\r\nsize=1\r\n"
      "[route]\r\nlayers = -1, 0\r\n"
      "[convolutional]\nfilters=255\nsize=1\n"
      "[yolo]\nclasses=80\nnum=3\nmask = 0, 1, 2\n"
      "anchors = 1,2, 3,4, 5,6\n",
      YOLO_OK, { NULL } },
};

static gchar *
write_cfg (const char *text)
{
  gchar *path = NULL;
  GError *error = NULL;
  gint fd = g_file_open_tmp ("yoloswitch-cfg-XXXXXX.cfg", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_case (gconstpointer data)
{
  const CfgCase *c = data;
  gchar *path = write_cfg (c->text);
  CfgNetwork net;
  YoloStatus status = { 0 };
  bool ok = cfg_network_load (path, &net, &status);

  CfgNetwork mem;
  YoloStatus mem_status = { 0 };
  /* The in-memory entry point (the fuzz harness's) says the same. */
  bool mem_ok = cfg_network_parse (path, c->text, strlen (c->text), 0, 0, &mem,
      &mem_status);

  g_test_message ("%s: %s", c->name, ok ? "accepted" : status.message);
  g_assert_cmpint (mem_ok, ==, ok);
  g_assert_cmpstr (mem_status.message, ==, status.message);
  if (mem_ok) {
    g_assert_cmpstr (mem.darknet_text, ==, net.darknet_text);
    cfg_network_clear (&mem);
  }
  if (c->code == YOLO_OK) {
    g_assert_true (ok);
    g_assert_cmpint (net.classes, ==, 80);
    g_assert_cmpint (net.layers[1].out_c, ==, 32);
    g_assert_nonnull (strstr (net.darknet_text, "layers=-1,0\n"));
    g_assert_nonnull (strstr (net.darknet_text, "mask=0,1,2\n"));
    cfg_network_clear (&net);
  } else {
    g_assert_false (ok);
    g_assert_cmpint (status.code, ==, c->code);
    g_assert_nonnull (strstr (status.message, path));
    for (int i = 0; i < 4 && c->says[i] != NULL; i++)
      if (strstr (status.message, c->says[i]) == NULL)
        g_error ("%s: \"%s\" does not say \"%s\"", c->name, status.message,
            c->says[i]);
  }
  g_unlink (path);
  g_free (path);
}

/* A 40 KB cfg of 4096 sections took 354 MB to check (a fixed 70 KB per
 * section): checking it must now cost about its size.  Peak RSS is read in
 * a fresh subprocess, before and after. */
static void
test_many_sections_memory (void)
{
  if (g_test_subprocess ()) {
    GString *text = g_string_new (NET);
    struct rusage before, after;
    CfgNetwork net;
    YoloStatus status;
    gchar *path;

    for (int i = 0; i < 4093; i++)
      g_string_append (text, "[maxpool]\n");
    g_string_append (text, HEAD);
    g_assert_cmpuint (text->len, >, 40000);
    path = write_cfg (text->str);
    getrusage (RUSAGE_SELF, &before);
    if (!cfg_network_load (path, &net, &status))
      g_error ("%s", status.message);
    getrusage (RUSAGE_SELF, &after);
    g_assert_cmpint (net.layer_count, ==, 4095);
    g_assert_cmpint (net.layers[4094].out_c, ==, 255);
    g_test_message ("peak RSS grew by %ld KB checking %zu bytes",
        after.ru_maxrss - before.ru_maxrss, text->len);
    g_assert_cmpint (after.ru_maxrss - before.ru_maxrss, <, 16 * 1024);
    cfg_network_clear (&net);
    g_unlink (path);
    g_free (path);
    g_string_free (text, TRUE);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* One section past the limit is refused by number, not by memory. */
static void
test_too_many_sections (void)
{
  GString *text = g_string_new (NET "[convolutional]\nfilters=255\nsize=1\n");
  CfgNetwork net;
  YoloStatus status;
  gchar *path;

  for (int i = 0; i < 4200; i++)
    g_string_append (text, "[maxpool]\n");
  g_string_append (text, "[yolo]\nclasses=80\nnum=3\nmask=0,1,2\n");
  path = write_cfg (text->str);
  g_assert_false (cfg_network_load (path, &net, &status));
  g_assert_nonnull (strstr (status.message, "more than 4096 layers"));
  g_assert_nonnull (strstr (status.message, "line 4103:"));
  g_unlink (path);
  g_free (path);
  g_string_free (text, TRUE);
}

/* Bytes that are not text, and a file larger than any cfg. */
static void
test_not_text (void)
{
  static const char with_nul[] = NET "[convolutional]\nfil\0ters=3\n";
  gchar *big = g_malloc0 (CFG_MAX_FILE_BYTES + 2);
  gchar *path;
  CfgNetwork net;
  YoloStatus status;

  g_assert_false (cfg_network_parse ("nul.cfg", with_nul, sizeof (with_nul) - 1,
      0, 0, &net, &status));
  g_assert_cmpstr (status.message, ==,
      "Model cfg nul.cfg line 6 holds a NUL byte: this is not a Darknet cfg "
      "text file.");
  memset (big, '#', CFG_MAX_FILE_BYTES + 1);
  for (int i = 63; i <= CFG_MAX_FILE_BYTES; i += 64)
    big[i] = '\n'; /* comment lines */
  g_assert_false (cfg_network_parse ("big.cfg", big, CFG_MAX_FILE_BYTES + 1, 0,
      0, &net, &status));
  g_assert_nonnull (strstr (status.message, "larger than 1048576 bytes"));
  path = write_cfg (big);
  g_assert_false (cfg_network_load (path, &net, &status));
  g_assert_nonnull (strstr (status.message, "larger than 1048576 bytes"));
  big[CFG_MAX_FILE_BYTES] = '\0'; /* at the limit: read, then no sections */
  g_assert_true (g_file_set_contents (path, big, -1, NULL));
  g_assert_false (cfg_network_load (path, &net, &status));
  g_assert_nonnull (strstr (status.message, "has no [sections]"));
  g_unlink (path);
  g_free (path);
  g_free (big);
}

/* Darknet picks the header size from major * 10 + minor computed in int,
 * which wraps: the same answer without the signed overflow. */
static void
test_weights_header_version (void)
{
  CfgNetwork net = { 0 };

  g_assert_cmpuint (cfg_weights_bytes (&net, 0, 2), ==, 20);
  g_assert_cmpuint (cfg_weights_bytes (&net, 0, 1), ==, 16);
  g_assert_cmpuint (cfg_weights_bytes (&net, 1000, 0), ==, 16);
  g_assert_cmpuint (cfg_weights_bytes (&net, G_MAXINT32, G_MAXINT32), ==, 16);
  /* -429496730 * 10 wraps to -4, and -4 + 6 >= 2. */
  g_assert_cmpuint (cfg_weights_bytes (&net, -429496730, 6), ==, 20);
  g_assert_cmpuint (cfg_weights_bytes (&net, G_MININT32, 0), ==, 16);
}

/* The YOLO cfgs Debian's darknet ships still pass (the ranges are not
 * tighter than real models). */
static void
test_debian_cfgs_accepted (void)
{
  static const char *const names[] = { "yolov3-tiny", "yolov3", "yolov3-spp",
    "yolov3-voc", "yolov3-openimages", "yolov2-tiny", "yolov2-tiny-voc",
    "yolov2", "yolov2-voc" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    gchar *path = g_strdup_printf ("/usr/share/darknet/cfg/%s.cfg", names[i]);
    CfgNetwork net;
    YoloStatus status;
    if (!cfg_network_load (path, &net, &status))
      g_error ("%s: %s", names[i], status.message);
    g_assert_cmpint (net.classes, >, 0);
    cfg_network_clear (&net);
    g_free (path);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *name = g_strdup_printf ("/cfg/refuse/%s", cases[i].name);
    g_test_add_data_func (name, &cases[i], test_case);
    g_free (name);
  }
  g_test_add_func ("/cfg/many-sections-memory", test_many_sections_memory);
  g_test_add_func ("/cfg/too-many-sections", test_too_many_sections);
  g_test_add_func ("/cfg/not-text", test_not_text);
  g_test_add_func ("/cfg/weights-header-version", test_weights_header_version);
  g_test_add_func ("/cfg/debian-cfgs", test_debian_cfgs_accepted);
  return g_test_run ();
}
