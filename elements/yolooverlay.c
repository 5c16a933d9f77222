/**
 * SECTION:element-yolooverlay
 * @title: yolooverlay
 *
 * Draws the detections riding on each buffer (GstVideoRegionOfInterestMeta
 * with a "detection" param, see detection_meta.h) onto the frame itself: an
 * outline per box, lying inside the box, and above it a filled tab with the
 * label and confidence ("person 91%"); the tab moves inside the box when the
 * box touches the top of the frame.  Meant for AR previews and debugging:
 * elements downstream should read the metas, not the pixels.
 *
 * Each class has its own colour, taken from a fixed palette of 19 colours
 * of maximal contrast (Kelly's list without white, black and olive green),
 * indexed by class id modulo 19: class 0 is yellow #F3C300, class 1 purple
 * #875692, class 2 orange #F38400.  A region of interest from another plugin
 * has no class id; its colour comes from a hash of its label.
 *
 * With show-stats=true the top-left corner shows the output frame rate,
 * measured from the wall-clock arrival of buffers and smoothed, where the
 * newest detection on the frame comes from (source and model) and, when it
 * is older than the frame, its age: "24.8 fps  local yolo-fastest-1.1  age
 * 120 ms".  The rate reads "--" until two buffers have arrived.
 *
 * Drawing happens in place with cairo on the mapped frame, so only formats
 * that cairo can wrap without conversion are accepted: BGRx and BGRA on
 * little-endian machines, xRGB and ARGB on big-endian ones.  cairo takes
 * the alpha of BGRA/ARGB as premultiplied; boxes and label tabs are opaque,
 * so they come out the same either way.
 *
 * Converters and scalers may sit between yolodetect and yolooverlay: the
 * detections travel in yoloswitch's own meta, which rescales its boxes.
 *
 * Bus messages: a GST_MESSAGE_WARNING (STREAM, FORMAT), once per caps, when
 * a frame's row stride or address is not one cairo can draw on (a stride
 * that is not a multiple of 4 bytes, from an upstream GstVideoMeta).  Those
 * frames pass through undrawn.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=../shared/data/vtest.avi ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! yolodetect ! yolooverlay show-stats=true ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "yolooverlay.h"

#include <math.h>
#include <cairo.h>

#include "detection_meta.h"

GST_DEBUG_CATEGORY_STATIC (gst_yolo_overlay_debug);
#define GST_CAT_DEFAULT gst_yolo_overlay_debug

/* A gap between buffers longer than this (pause, seek, stall) restarts the
 * frame-rate estimate instead of dragging the average down for seconds. */
#define RATE_RESET_US (2 * G_USEC_PER_SEC)
/* Weight of the newest gap in the exponential average: about the last 10
 * frames count, enough to steady the number without hiding a real change. */
#define RATE_SMOOTHING 0.1

struct _GstYoloOverlay {
  GstVideoFilter parent;

  /* protected by object lock */
  double line_width;
  double font_size;
  gboolean show_labels;
  gboolean show_confidence;
  gboolean show_stats;

  /* Streaming thread only: start and set_info never run concurrently with
   * transform_frame_ip. */
  cairo_format_t cairo_format;
  cairo_font_face_t *font_face;
  gboolean layout_warned;
  gint64 last_arrival_us;
  double mean_interval_us; /* 0: not measured yet */
};

enum {
  PROP_0,
  PROP_LINE_WIDTH,
  PROP_FONT_SIZE,
  PROP_SHOW_LABELS,
  PROP_SHOW_CONFIDENCE,
  PROP_SHOW_STATS,
};

#define MIN_LINE_WIDTH 1.0
#define MAX_LINE_WIDTH 20.0
#define DEFAULT_LINE_WIDTH 2.0
#define MIN_FONT_SIZE 6.0
#define MAX_FONT_SIZE 96.0
#define DEFAULT_FONT_SIZE 14.0
#define DEFAULT_SHOW_LABELS TRUE
#define DEFAULT_SHOW_CONFIDENCE TRUE
#define DEFAULT_SHOW_STATS FALSE

/* cairo's RGB24 and ARGB32 are native-endian 32-bit words 0xAARRGGBB, which
 * is BGRx/BGRA in memory on little-endian machines and xRGB/ARGB on
 * big-endian ones. */
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define OVERLAY_FORMATS "{ BGRx, BGRA }"
#define OVERLAY_FORMAT_RGB24 GST_VIDEO_FORMAT_BGRx
#define OVERLAY_FORMAT_ARGB32 GST_VIDEO_FORMAT_BGRA
#else
#define OVERLAY_FORMATS "{ xRGB, ARGB }"
#define OVERLAY_FORMAT_RGB24 GST_VIDEO_FORMAT_xRGB
#define OVERLAY_FORMAT_ARGB32 GST_VIDEO_FORMAT_ARGB
#endif

static GstStaticPadTemplate sink_template
    = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS)));

static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS)));

typedef struct {
  guint8 r, g, b;
} OverlayColour;

/* Kelly's colours of maximal contrast, in his order (each one contrasts
 * most with those before it, so low class ids, the common ones, are the
 * easiest to tell apart).  White and black are left out because they vanish
 * on bright and dark video, olive green because it is nearly black. */
static const OverlayColour palette[] = {
  { 0xF3, 0xC3, 0x00 }, /* yellow */
  { 0x87, 0x56, 0x92 }, /* purple */
  { 0xF3, 0x84, 0x00 }, /* orange */
  { 0xA1, 0xCA, 0xF1 }, /* light blue */
  { 0xBE, 0x00, 0x32 }, /* red */
  { 0xC2, 0xB2, 0x80 }, /* buff */
  { 0x84, 0x84, 0x82 }, /* grey */
  { 0x00, 0x88, 0x56 }, /* green */
  { 0xE6, 0x8F, 0xAC }, /* purplish pink */
  { 0x00, 0x67, 0xA5 }, /* blue */
  { 0xF9, 0x93, 0x79 }, /* yellowish pink */
  { 0x60, 0x4E, 0x97 }, /* violet */
  { 0xF6, 0xA6, 0x00 }, /* orange yellow */
  { 0xB3, 0x44, 0x6C }, /* purplish red */
  { 0xDC, 0xD3, 0x00 }, /* greenish yellow */
  { 0x88, 0x2D, 0x17 }, /* reddish brown */
  { 0x8D, 0xB6, 0x00 }, /* yellow green */
  { 0x65, 0x45, 0x22 }, /* yellowish brown */
  { 0xE2, 0x58, 0x22 }, /* reddish orange */
};

/* Property values copied under the object lock once per frame, so a frame
 * is drawn with one consistent set even while the application changes them. */
typedef struct {
  double line_width;
  double font_size;
  gboolean show_labels;
  gboolean show_confidence;
  gboolean show_stats;
} OverlaySettings;

#define gst_yolo_overlay_parent_class parent_class
G_DEFINE_TYPE (GstYoloOverlay, gst_yolo_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (yolooverlay, "yolooverlay", GST_RANK_NONE,
    GST_TYPE_YOLO_OVERLAY);

static const OverlayColour *
colour_for (int class_id, const char *label)
{
  guint index;

  if (class_id >= 0)
    index = (guint) class_id % G_N_ELEMENTS (palette);
  else
    index = g_str_hash (label) % G_N_ELEMENTS (palette);
  return &palette[index];
}

static void
set_source_colour (cairo_t *cr, const OverlayColour *c)
{
  cairo_set_source_rgb (cr, c->r / 255.0, c->g / 255.0, c->b / 255.0);
}

/* Text that stays readable on a tab of colour c. */
static void
set_source_text_colour (cairo_t *cr, const OverlayColour *c)
{
  double luma = 0.299 * c->r + 0.587 * c->g + 0.114 * c->b;

  if (luma > 140)
    cairo_set_source_rgb (cr, 0, 0, 0);
  else
    cairo_set_source_rgb (cr, 1, 1, 1);
}

/* cairo puts a context in an error state for good on invalid UTF-8, and a
 * label from a model file or a truncated snprintf may be just that: keep the
 * valid prefix. */
static void
cut_to_valid_utf8 (char *text)
{
  const char *end;

  if (!g_utf8_validate (text, -1, &end))
    *(char *) end = '\0';
}

/* Streaming thread.  A filled tab with the label above the box, or inside
 * its top when there is no room above. */
static void
draw_label (cairo_t *cr, const YsDetectionView *d, const char *label,
    const OverlayColour *colour, const OverlaySettings *s, int frame_width)
{
  char text[192];
  cairo_font_extents_t fe;
  cairo_text_extents_t te;
  double pad, tab_w, tab_h, tab_x, tab_y;

  if (s->show_confidence && d->confidence >= 0) {
    int percent = (int) lround (CLAMP (d->confidence, 0.0, 1.0) * 100);
    g_snprintf (text, sizeof text, "%s %d%%", label, percent);
  } else {
    g_strlcpy (text, label, sizeof text);
  }
  cut_to_valid_utf8 (text);

  cairo_font_extents (cr, &fe);
  cairo_text_extents (cr, text, &te);
  /* Whole pixels, so the tab edges are crisp. */
  pad = ceil (s->font_size / 5);
  tab_h = ceil (fe.ascent + fe.descent) + 2 * pad;
  tab_w = ceil (te.x_advance) + 2 * pad;
  tab_x = MAX (0, MIN ((double) d->x, frame_width - tab_w));
  tab_y = (double) d->y - tab_h;
  if (tab_y < 0)
    tab_y = d->y;

  set_source_colour (cr, colour);
  cairo_rectangle (cr, tab_x, tab_y, tab_w, tab_h);
  cairo_fill (cr);

  set_source_text_colour (cr, colour);
  cairo_move_to (cr, tab_x + pad, tab_y + pad + fe.ascent);
  cairo_show_text (cr, text);
}

/* Streaming thread. */
static void
draw_detection (cairo_t *cr, const YsDetectionView *d, const OverlaySettings *s,
    int frame_width)
{
  const char *label = d->label != NULL ? d->label : "?";
  const OverlayColour *colour = colour_for (d->class_id, label);
  double lw = s->line_width;

  set_source_colour (cr, colour);
  cairo_set_line_width (cr, lw);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_MITER);
  /* Inset by half the line width so the outline lies inside the box: a box
   * along the frame border stays whole, and an integer width covers whole
   * pixels instead of blurring over two half-covered ones. */
  cairo_rectangle (cr, d->x + lw / 2, d->y + lw / 2, MAX (d->w - lw, 0),
      MAX (d->h - lw, 0));
  cairo_stroke (cr);

  if (s->show_labels)
    draw_label (cr, d, label, colour, s, frame_width);
}

/* Streaming thread.  newest: the most recent detection on the frame, or
 * NULL when there is none. */
static void
draw_stats (GstYoloOverlay *self, cairo_t *cr, const OverlaySettings *s,
    const YsDetectionView *newest)
{
  char rate[G_ASCII_DTOSTR_BUF_SIZE];
  char text[256];
  cairo_font_extents_t fe;
  cairo_text_extents_t te;
  double pad, margin;

  if (self->mean_interval_us > 0)
    g_ascii_formatd (rate, sizeof rate, "%.1f",
        G_USEC_PER_SEC / self->mean_interval_us);
  else
    g_strlcpy (rate, "--", sizeof rate);

  if (newest == NULL)
    g_snprintf (text, sizeof text, "%s fps", rate);
  else if (newest->age_ms > 0)
    g_snprintf (text, sizeof text, "%s fps  %s %s  age %.0f ms", rate,
        newest->source, newest->model, newest->age_ms);
  else
    g_snprintf (text, sizeof text, "%s fps  %s %s", rate, newest->source,
        newest->model);
  cut_to_valid_utf8 (text);

  cairo_font_extents (cr, &fe);
  cairo_text_extents (cr, text, &te);
  pad = ceil (s->font_size / 5);
  margin = pad;

  /* A dark translucent tab keeps the text readable on bright video. */
  cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
  cairo_rectangle (cr, margin, margin, ceil (te.x_advance) + 2 * pad,
      ceil (fe.ascent + fe.descent) + 2 * pad);
  cairo_fill (cr);

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_move_to (cr, margin + pad, margin + pad + fe.ascent);
  cairo_show_text (cr, text);
}

/* Streaming thread.  Newer: smaller age; at equal age, the later frame. */
static gboolean
is_newer (const YsDetectionView *a, const YsDetectionView *b)
{
  if (a->age_ms != b->age_ms)
    return a->age_ms < b->age_ms;
  if (!GST_CLOCK_TIME_IS_VALID (b->frame_pts))
    return GST_CLOCK_TIME_IS_VALID (a->frame_pts);
  return GST_CLOCK_TIME_IS_VALID (a->frame_pts) && a->frame_pts > b->frame_pts;
}

/* Streaming thread.  Exponential average of the wall-clock gap between
 * buffers, measured whether or not stats are shown so that turning them on
 * shows a settled number at once. */
static void
update_rate (GstYoloOverlay *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->last_arrival_us != 0) {
    double gap = (double) (now - self->last_arrival_us);

    if (gap > RATE_RESET_US)
      self->mean_interval_us = 0;
    else if (gap > 0 && self->mean_interval_us == 0)
      self->mean_interval_us = gap;
    else if (gap > 0)
      self->mean_interval_us += (gap - self->mean_interval_us) * RATE_SMOOTHING;
  }
  self->last_arrival_us = now;
}

/* Streaming thread.  Wraps the mapped frame without copying; NULL (and one
 * warning per caps) when cairo cannot address its memory layout. */
static cairo_surface_t *
wrap_frame (GstYoloOverlay *self, GstVideoFrame *frame)
{
  int width = GST_VIDEO_FRAME_WIDTH (frame);
  int height = GST_VIDEO_FRAME_HEIGHT (frame);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  int min_stride = cairo_format_stride_for_width (self->cairo_format, width);
  cairo_surface_t *surface;

  /* cairo (pixman) addresses pixels as aligned 32-bit words. */
  if (min_stride < 0 || stride < min_stride || stride % 4 != 0
      || (guintptr) data % 4 != 0)
    goto bad_layout;

  surface = cairo_image_surface_create_for_data (data, self->cairo_format,
      width, height, stride);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy (surface);
    goto bad_layout;
  }
  return surface;

  /* ERRORS */
bad_layout : {
  if (!self->layout_warned) {
    self->layout_warned = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("Cannot draw detections on frames with a row stride of %d "
         "bytes; they pass through without boxes.",
            stride),
        ("%dx%d frame with a row stride of %d bytes at %p: cairo needs a "
         "stride that is a multiple of 4 and at least %d, and 4-byte "
         "aligned rows",
            width, height, stride, data, min_stride));
  } else {
    GST_LOG_OBJECT (self, "frame with stride %d passes through undrawn",
        stride);
  }
  return NULL;
}
}

/* Streaming thread. */
static GstFlowReturn
gst_yolo_overlay_transform_frame_ip (GstVideoFilter *filter,
    GstVideoFrame *frame)
{
  GstYoloOverlay *self = GST_YOLO_OVERLAY (filter);
  OverlaySettings s;
  YsDetectionView d, newest;
  gboolean have_newest = FALSE;
  YsDetectionIter it;
  guint n_detections;
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_status_t status;

  update_rate (self);

  GST_OBJECT_LOCK (self);
  s.line_width = self->line_width;
  s.font_size = self->font_size;
  s.show_labels = self->show_labels;
  s.show_confidence = self->show_confidence;
  s.show_stats = self->show_stats;
  GST_OBJECT_UNLOCK (self);

  n_detections = ys_detection_meta_count (frame->buffer);
  GST_LOG_OBJECT (self, "frame %" GST_TIME_FORMAT ": %u detections",
      GST_TIME_ARGS (GST_BUFFER_PTS (frame->buffer)), n_detections);
  if (n_detections == 0 && !s.show_stats)
    return GST_FLOW_OK;

  surface = wrap_frame (self, frame);
  if (surface == NULL)
    return GST_FLOW_OK;
  cr = cairo_create (surface);
  cairo_set_font_face (cr, self->font_face);
  cairo_set_font_size (cr, s.font_size);

  ys_detection_iter_init (&it, frame->buffer);
  while (ys_detection_iter_next (&it, &d)) {
    draw_detection (cr, &d, &s, GST_VIDEO_FRAME_WIDTH (frame));
    if (!have_newest || is_newer (&d, &newest)) {
      newest = d;
      have_newest = TRUE;
    }
  }
  if (s.show_stats)
    draw_stats (self, cr, &s, have_newest ? &newest : NULL);

  status = cairo_status (cr);
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    GST_WARNING_OBJECT (self, "cairo could not draw the whole frame: %s",
        cairo_status_to_string (status));
  return GST_FLOW_OK;
}

/* Streaming thread (caps event). */
static gboolean
gst_yolo_overlay_set_info (GstVideoFilter *filter, GstCaps *incaps,
    GstVideoInfo *in_info, GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstYoloOverlay *self = GST_YOLO_OVERLAY (filter);

  switch (GST_VIDEO_INFO_FORMAT (in_info)) {
    case OVERLAY_FORMAT_RGB24: self->cairo_format = CAIRO_FORMAT_RGB24; break;
    case OVERLAY_FORMAT_ARGB32: self->cairo_format = CAIRO_FORMAT_ARGB32; break;
    default: goto unsupported;
  }
  self->layout_warned = FALSE;
  GST_DEBUG_OBJECT (self, "drawing on %s %dx%d", GST_VIDEO_INFO_NAME (in_info),
      GST_VIDEO_INFO_WIDTH (in_info), GST_VIDEO_INFO_HEIGHT (in_info));
  return TRUE;

  /* ERRORS */
unsupported : {
  GST_ERROR_OBJECT (self, "format %s cannot be wrapped by cairo",
      GST_VIDEO_INFO_NAME (in_info));
  return FALSE;
}
}

/* Application thread (state change). */
static gboolean
gst_yolo_overlay_start (GstBaseTransform *trans)
{
  GstYoloOverlay *self = GST_YOLO_OVERLAY (trans);

  self->last_arrival_us = 0;
  self->mean_interval_us = 0;
  self->layout_warned = FALSE;
  return TRUE;
}

static void
gst_yolo_overlay_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstYoloOverlay *self = GST_YOLO_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LINE_WIDTH: self->line_width = g_value_get_double (value); break;
    case PROP_FONT_SIZE: self->font_size = g_value_get_double (value); break;
    case PROP_SHOW_LABELS:
      self->show_labels = g_value_get_boolean (value);
      break;
    case PROP_SHOW_CONFIDENCE:
      self->show_confidence = g_value_get_boolean (value);
      break;
    case PROP_SHOW_STATS: self->show_stats = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_overlay_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstYoloOverlay *self = GST_YOLO_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LINE_WIDTH: g_value_set_double (value, self->line_width); break;
    case PROP_FONT_SIZE: g_value_set_double (value, self->font_size); break;
    case PROP_SHOW_LABELS:
      g_value_set_boolean (value, self->show_labels);
      break;
    case PROP_SHOW_CONFIDENCE:
      g_value_set_boolean (value, self->show_confidence);
      break;
    case PROP_SHOW_STATS: g_value_set_boolean (value, self->show_stats); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_overlay_finalize (GObject *object)
{
  GstYoloOverlay *self = GST_YOLO_OVERLAY (object);

  cairo_font_face_destroy (self->font_face);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_yolo_overlay_class_init (GstYoloOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags flags
      = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_yolo_overlay_debug, "yolooverlay", 0,
      "YOLO detection overlay");

  gobject_class->set_property = gst_yolo_overlay_set_property;
  gobject_class->get_property = gst_yolo_overlay_get_property;
  gobject_class->finalize = gst_yolo_overlay_finalize;

  g_object_class_install_property (gobject_class, PROP_LINE_WIDTH,
      g_param_spec_double ("line-width", "Line width",
          "Width of the box outlines, in pixels, drawn inside each box "
          "(1 to 20, default 2)",
          MIN_LINE_WIDTH, MAX_LINE_WIDTH, DEFAULT_LINE_WIDTH, flags));
  g_object_class_install_property (gobject_class, PROP_FONT_SIZE,
      g_param_spec_double ("font-size", "Font size",
          "Size of the label and stats text, in pixels (6 to 96, default 14)",
          MIN_FONT_SIZE, MAX_FONT_SIZE, DEFAULT_FONT_SIZE, flags));
  g_object_class_install_property (gobject_class, PROP_SHOW_LABELS,
      g_param_spec_boolean ("show-labels", "Show labels",
          "Draw a tab with the class name above each box (default true)",
          DEFAULT_SHOW_LABELS, flags));
  g_object_class_install_property (gobject_class, PROP_SHOW_CONFIDENCE,
      g_param_spec_boolean ("show-confidence", "Show confidence",
          "Add the confidence in percent to each label, as in \"person 91%\"; "
          "no effect when show-labels is false (default true)",
          DEFAULT_SHOW_CONFIDENCE, flags));
  g_object_class_install_property (gobject_class, PROP_SHOW_STATS,
      g_param_spec_boolean ("show-stats", "Show stats",
          "Draw the measured output frame rate, the source and model of the "
          "newest detection and its age in ms (when above 0) in the top-left "
          "corner (default false)",
          DEFAULT_SHOW_STATS, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "YOLO detection overlay", "Filter/Effect/Video",
      "Draws detection boxes, labels and confidences on video with cairo, "
      "one colour per class, with an optional frame rate and source corner",
      "yoloswitch developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_yolo_overlay_start);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_yolo_overlay_set_info);
  filter_class->transform_frame_ip
      = GST_DEBUG_FUNCPTR (gst_yolo_overlay_transform_frame_ip);
}

static void
gst_yolo_overlay_init (GstYoloOverlay *self)
{
  self->line_width = DEFAULT_LINE_WIDTH;
  self->font_size = DEFAULT_FONT_SIZE;
  self->show_labels = DEFAULT_SHOW_LABELS;
  self->show_confidence = DEFAULT_SHOW_CONFIDENCE;
  self->show_stats = DEFAULT_SHOW_STATS;
  self->cairo_format = CAIRO_FORMAT_RGB24;
  /* Looked up once rather than per frame; fontconfig picks the actual font. */
  self->font_face = cairo_toy_font_face_create ("sans-serif",
      CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);

  /* It draws on the frames, so it needs them writable: never passthrough. */
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
