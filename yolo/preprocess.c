/* Frame -> network input tensor.
 *
 * The resize reproduces Darknet's resize_image() (separable bilinear with
 * (src-1)/(dst-1) scaling, horizontal pass first) so detections match the
 * reference Darknet produces on the same pixels.  Rows are converted to float
 * one at a time, so no full-resolution float copy of the frame is made. */
#include "yolo.h"

#include "status.h"

#include <stdlib.h>
#include <string.h>

static inline float
clamp01 (float v)
{
  return v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
}

/* BT.601 limited range, the colorimetry of SD video and of most cameras. */
static inline void
yuv_to_rgb (int y, int u, int v, float *r, float *g, float *b)
{
  float fy = 1.164383f * (float) (y - 16);
  float fu = (float) (u - 128), fv = (float) (v - 128);
  *r = clamp01 ((fy + 1.596027f * fv) / 255.f);
  *g = clamp01 ((fy - 0.391762f * fu - 0.812968f * fv) / 255.f);
  *b = clamp01 ((fy + 2.017232f * fu) / 255.f);
}

/* Converts row y of the frame to three float planes r, g, b in 0..1. */
static void
convert_row (const YoloFrame *f, int y, float *r, float *g, float *b)
{
  const float k = 1.f / 255.f;
  int w = f->width;
  int ri = 0, gi = 1, bi = 2, step = 3;
  const uint8_t *row = f->planes[0] + (size_t) y * f->strides[0];

  switch (f->format) {
    case YOLO_PIXEL_RGB: break;
    case YOLO_PIXEL_BGR:
      ri = 2;
      bi = 0;
      break;
    case YOLO_PIXEL_RGBX: step = 4; break;
    case YOLO_PIXEL_BGRX:
      step = 4;
      ri = 2;
      bi = 0;
      break;
    case YOLO_PIXEL_XRGB:
      step = 4;
      ri = 1;
      gi = 2;
      bi = 3;
      break;
    case YOLO_PIXEL_XBGR:
      step = 4;
      ri = 3;
      gi = 2;
      bi = 1;
      break;
    case YOLO_PIXEL_I420: {
      const uint8_t *u = f->planes[1] + (size_t) (y / 2) * f->strides[1];
      const uint8_t *v = f->planes[2] + (size_t) (y / 2) * f->strides[2];
      for (int x = 0; x < w; x++)
        yuv_to_rgb (row[x], u[x / 2], v[x / 2], &r[x], &g[x], &b[x]);
      return;
    }
    case YOLO_PIXEL_NV12: {
      const uint8_t *uv = f->planes[1] + (size_t) (y / 2) * f->strides[1];
      for (int x = 0; x < w; x++)
        yuv_to_rgb (row[x], uv[(x / 2) * 2], uv[(x / 2) * 2 + 1], &r[x], &g[x],
            &b[x]);
      return;
    }
  }
  for (int x = 0; x < w; x++) {
    const uint8_t *p = row + (size_t) x * step;
    r[x] = p[ri] * k;
    g[x] = p[gi] * k;
    b[x] = p[bi] * k;
  }
}

static int
plane_count (YoloPixelFormat format)
{
  switch (format) {
    case YOLO_PIXEL_I420: return 3;
    case YOLO_PIXEL_NV12: return 2;
    default: return 1;
  }
}

static int
min_stride (YoloPixelFormat format, int plane, int width)
{
  switch (format) {
    case YOLO_PIXEL_RGB:
    case YOLO_PIXEL_BGR: return width * 3;
    case YOLO_PIXEL_I420: return plane == 0 ? width : (width + 1) / 2;
    case YOLO_PIXEL_NV12: return plane == 0 ? width : ((width + 1) / 2) * 2;
    default: return width * 4;
  }
}

static bool
check_frame (const YoloFrame *f, YoloStatus *status)
{
  if (f->width < 1 || f->height < 1 || f->width > 16384 || f->height > 16384)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Frame size %dx%d is outside 1x1 .. 16384x16384.", f->width, f->height);
  if ((unsigned) f->format > YOLO_PIXEL_NV12)
    return yolo_fail (status, YOLO_ERR_INPUT, "Unknown pixel format %d.",
        (int) f->format);
  for (int p = 0; p < plane_count (f->format); p++) {
    if (f->planes[p] == NULL)
      return yolo_fail (status, YOLO_ERR_INPUT, "%s frame is missing plane %d.",
          yolo_pixel_format_name (f->format), p);
    if (f->strides[p] < min_stride (f->format, p, f->width))
      return yolo_fail (status, YOLO_ERR_INPUT,
          "%s frame plane %d has stride %d, less than its %d-pixel width "
          "needs (%d).",
          yolo_pixel_format_name (f->format), p, f->strides[p], f->width,
          min_stride (f->format, p, f->width));
  }
  return true;
}

/* Scratch kept in the input so a steady stream allocates nothing per frame. */
typedef struct {
  float *row; /* 3 x source width */
  size_t row_len;
  float *part; /* 3 x source height x target width */
  size_t part_len;
} Scratch;

static bool
grow (float **buf, size_t *len, size_t want)
{
  float *p;

  if (*len >= want)
    return true;
  p = realloc (*buf, want * sizeof (float));
  if (p == NULL)
    return false;
  *buf = p;
  *len = want;
  return true;
}

/* Resizes the frame to dw x dh and writes it at (dx, dy) into the three
 * planes of dst (plane size dst_w x dst_h). */
static bool
resize_into (const YoloFrame *f, Scratch *s, float *dst, int dst_w, int dst_h,
    int dx, int dy, int dw, int dh)
{
  int sw = f->width, sh = f->height;
  float w_scale = dw > 1 ? (float) (sw - 1) / (dw - 1) : 0.f;
  float h_scale = dh > 1 ? (float) (sh - 1) / (dh - 1) : 0.f;
  size_t plane = (size_t) dst_w * dst_h;

  if (!grow (&s->row, &s->row_len, (size_t) 3 * sw)
      || !grow (&s->part, &s->part_len, (size_t) 3 * sh * dw))
    return false;

  /* Horizontal pass: part[k][r][c] for every source row r. */
  for (int r = 0; r < sh; r++) {
    float *rgb[3] = { s->row, s->row + sw, s->row + 2 * sw };
    convert_row (f, r, rgb[0], rgb[1], rgb[2]);
    for (int k = 0; k < 3; k++) {
      float *out = s->part + ((size_t) k * sh + r) * dw;
      const float *in = rgb[k];
      for (int c = 0; c < dw; c++) {
        if (c == dw - 1 || sw == 1) {
          out[c] = in[sw - 1];
        } else {
          float sx = c * w_scale;
          int ix = (int) sx;
          float d = sx - ix;
          out[c] = (1 - d) * in[ix] + d * in[ix + 1];
        }
      }
    }
  }

  /* Vertical pass. */
  for (int k = 0; k < 3; k++) {
    for (int r = 0; r < dh; r++) {
      float sy = r * h_scale;
      int iy = (int) sy;
      float d = sy - iy;
      const float *a = s->part + ((size_t) k * sh + iy) * dw;
      float *out = dst + k * plane + (size_t) (r + dy) * dst_w + dx;
      if (r == dh - 1 || sh == 1) {
        for (int c = 0; c < dw; c++)
          out[c] = (1 - d) * a[c];
      } else {
        const float *b = a + dw;
        for (int c = 0; c < dw; c++)
          out[c] = (1 - d) * a[c] + d * b[c];
      }
    }
  }
  return true;
}

typedef struct {
  YoloInput pub;
  Scratch scratch;
} InputImpl;

YoloInput *
yolo_input_new (const YoloModel *model)
{
  InputImpl *impl = calloc (1, sizeof (*impl));
  if (impl == NULL)
    return NULL;
  impl->pub.width = yolo_model_input_width (model);
  impl->pub.height = yolo_model_input_height (model);
  impl->pub.data = calloc ((size_t) 3 * impl->pub.width * impl->pub.height,
      sizeof (float));
  if (impl->pub.data == NULL) {
    free (impl);
    return NULL;
  }
  return &impl->pub;
}

void
yolo_input_free (YoloInput *input)
{
  InputImpl *impl = (InputImpl *) input;
  if (impl == NULL)
    return;
  free (impl->pub.data);
  free (impl->scratch.row);
  free (impl->scratch.part);
  free (impl);
}

bool
yolo_input_fill (YoloInput *input, const YoloFrame *frame, bool letterbox,
    YoloStatus *status)
{
  InputImpl *impl = (InputImpl *) input;
  int nw = input->width, nh = input->height;
  int dw = nw, dh = nh;

  if (!check_frame (frame, status))
    return false;

  if (letterbox) {
    /* Darknet's letterbox_image(): fit inside, centre, grey (0.5) bars. */
    if ((float) nw / frame->width < (float) nh / frame->height) {
      dw = nw;
      dh = (frame->height * nw) / frame->width;
    } else {
      dh = nh;
      dw = (frame->width * nh) / frame->height;
    }
    if (dw < 1)
      dw = 1;
    if (dh < 1)
      dh = 1;
    for (size_t i = 0; i < (size_t) 3 * nw * nh; i++)
      input->data[i] = 0.5f;
  }
  if (!resize_into (frame, &impl->scratch, input->data, nw, nh, (nw - dw) / 2,
          (nh - dh) / 2, dw, dh))
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Out of memory preparing a %dx%d frame.", frame->width, frame->height);
  input->source_width = frame->width;
  input->source_height = frame->height;
  input->letterbox = letterbox;
  yolo_status_ok (status);
  return true;
}
