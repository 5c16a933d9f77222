/* What a detector puts on a frame, from the switcher's records: the boxes
 * of the analyses that last saw them (grouped per analysis, so each group's
 * result record says where it came from and how old it is), the frame's
 * own analysis in sync delivery, or a record saying why it has none.  And
 * the results-location line of an analysis.  Metas themselves are written
 * by detection_meta.c. */
#ifndef YOLOSWITCH_DETECTOR_ATTACH_H
#define YOLOSWITCH_DETECTOR_ATTACH_H

#include <gst/gst.h>

#include "analysis.h"
#include "switcher.h"

G_BEGIN_DECLS

/* Async: the boxes ys_switcher_process handed out for the frame `me`
 * (backend_id: the id its path gave it, 0: none). */
void ys_attach_boxes (GstBuffer *buffer, YsSwitcher *switcher,
    const YsFrameBoxes *boxes, const YoloFrameStamp *me,
    YoloDetections *scratch);

/* Sync: the frame's own analysis (found boxes or why not). */
void ys_attach_own (GstBuffer *buffer, const YoloAnalysis *analysis,
    const YoloFrameStamp *me, guint32 backend_id);

/* Sync, a frame the interval skipped: the newest analysis so far (NULL:
 * none yet), with its age. */
void ys_attach_newest (GstBuffer *buffer, const YoloAnalysis *newest,
    const YoloFrameStamp *me, YoloDetections *scratch);

/* A frame no path took: a record with the reason. */
void ys_attach_not_sent (GstBuffer *buffer, const char *source,
    const YoloFrameStamp *me, const char *reason);

/* One JSON line (with its newline) for results-location: the analysis as
 * the model found it, and the pts of the frame it arrived with. */
void ys_results_line (GString *line, const YoloAnalysis *analysis,
    const YoloFrameStamp *arrival);

G_END_DECLS

#endif
