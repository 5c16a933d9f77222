/* yoloswitch-profile's report: the table it prints and the plot it draws;
 * see profile_report.h. */
#include "profile_report.h"

#include <stdio.h>
#include <string.h>

static double
kbps (const YsProfile *p, const YsProfileConfig *c)
{
  return c->bytes_per_frame * 8 * p->fps / 1000;
}

void
ys_profile_print_summary (const YsProfile *p)
{
  printf ("\n%-44s %9s %6s %9s %10s %s\n", "configuration", "accuracy", "F1",
      "infer ms", "kbit/s", "pareto");
  for (int i = 0; i < p->config_count; i++) {
    const YsProfileConfig *c = &p->configs[i];
    char *d = ys_profile_config_describe (c);
    if (!ys_path_traits (c->path)->uses_link)
      printf ("%-44s %9.3f %6.3f %9.1f %10s %s\n", d, c->iou_accuracy, c->f1,
          c->infer_ms, "-", c->pareto ? "*" : "");
    else
      printf ("%-44s %9.3f %6.3f %9.1f %10.0f %s\n", d, c->iou_accuracy, c->f1,
          c->infer_ms, kbps (p, c), c->pareto ? "*" : "");
    g_free (d);
  }
}

/* Accuracy against bandwidth: one line per edge codec and scale, the split
 * rungs as points, a dashed level per local configuration (it needs no
 * bandwidth). */
bool
ys_profile_plot (const char *png, char **codecs, const double *scales,
    int n_scales, const YsProfile *p, GError **error)
{
  GString *s = g_string_new (NULL);
  GString *plots = g_string_new (NULL);
  FILE *gp;
  int status;

  g_string_append_printf (s,
      "set terminal pngcairo size 1000,650 font ',10'\n"
      "set output '%s'\n"
      "set title 'yoloswitch profile: %s, %d frames, reference %s'\n"
      "set logscale x\nset grid\nset key bottom right box opaque\n"
      "set xlabel 'edge bandwidth, kbit/s (log)'\n"
      "set ylabel 'IoU accuracy against the reference'\n"
      "set yrange [0:1.05]\n",
      png, p->video, p->frames, p->reference_model);
  for (int k = 0; codecs[k] != NULL; k++)
    for (int j = 0; j < n_scales; j++) {
      g_string_append_printf (s, "$e%d_%d << EOD\n", k, j);
      for (int i = 0; i < p->config_count; i++) {
        const YsProfileConfig *c = &p->configs[i];
        if (c->path == YS_PATH_EDGE && strcmp (c->codec, codecs[k]) == 0
            && c->scale == scales[j])
          g_string_append_printf (s, "%f %f\n", kbps (p, c), c->iou_accuracy);
      }
      g_string_append (s, "EOD\n");
      g_string_append_printf (plots,
          "%s$e%d_%d using 1:2 with linespoints title 'edge %s x%.2f'",
          plots->len > 0 ? ", " : "", k, j, codecs[k], scales[j]);
    }
  g_string_append (s, "$split << EOD\n");
  for (int i = 0; i < p->config_count; i++)
    if (ys_path_traits (p->configs[i].path)->sends_tensors)
      g_string_append_printf (s, "%f %f\n", kbps (p, &p->configs[i]),
          p->configs[i].iou_accuracy);
  g_string_append (s, "EOD\n");
  g_string_append (plots,
      ", $split using 1:2 with points pointtype 7 title 'split (cut, bits)'");
  for (int i = 0; i < p->config_count; i++) {
    const YsProfileConfig *c = &p->configs[i];
    if (c->path == YS_PATH_LOCAL)
      g_string_append_printf (plots,
          ", %f with lines dashtype 2 linewidth 2 title 'local %s %dx%d "
          "(%.1f ms)'",
          c->iou_accuracy, c->model, c->width, c->height, c->infer_ms);
  }
  g_string_append_printf (s, "plot %s\n", plots->str);
  gp = popen ("gnuplot", "w");
  if (gp == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "cannot run gnuplot for --plot: install gnuplot-nox "
        "(scripts/install-deps.sh does)");
  } else {
    fputs (s->str, gp);
    status = pclose (gp);
    if (status != 0)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "gnuplot failed to draw %s (is gnuplot-nox installed? "
          "scripts/install-deps.sh installs it)",
          png);
  }
  g_string_free (s, TRUE);
  g_string_free (plots, TRUE);
  return error == NULL || *error == NULL;
}
