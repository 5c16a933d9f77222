/* yoloswitch-profile's report of a profile: a table on stdout, and
 * accuracy against bandwidth drawn by gnuplot. */
#ifndef YOLOSWITCH_PIPELINE_PROFILE_REPORT_H
#define YOLOSWITCH_PIPELINE_PROFILE_REPORT_H

#include "profile.h"

#include <glib.h>
#include <stdbool.h>

void ys_profile_print_summary (const YsProfile *profile);

/* Into png: a line per edge codec (of codecs, NULL-terminated) and scale,
 * the split rungs as points, each local configuration as a level. */
bool ys_profile_plot (const char *png, char **codecs, const double *scales,
    int n_scales, const YsProfile *profile, GError **error);

#endif
