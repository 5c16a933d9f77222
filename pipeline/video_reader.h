/* Frames of a video file as I420, with libavformat/libavcodec: what the
 * profiler scores configurations on (a camera's frames, without GStreamer). */
#ifndef YOLOSWITCH_PIPELINE_VIDEO_READER_H
#define YOLOSWITCH_PIPELINE_VIDEO_READER_H

#include "yolo.h"

#include <glib.h>
#include <stdbool.h>

typedef struct YsVideoReader YsVideoReader;

/* NULL with *error (naming the file and the problem) when it cannot be
 * opened or has no decodable video stream. */
YsVideoReader *ys_video_reader_open (const char *path, GError **error);
void ys_video_reader_close (YsVideoReader *reader);

int ys_video_reader_width (const YsVideoReader *reader);
int ys_video_reader_height (const YsVideoReader *reader);
double ys_video_reader_fps (const YsVideoReader *reader);

/* The next frame, I420; its planes stay valid until the next call.  false
 * at the end (*error NULL) or on a decoding failure (*error set). */
bool ys_video_reader_next (YsVideoReader *reader, YoloFrame *frame,
    GError **error);

#endif
