#include "config.h"
#include "test_images.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <string.h>

/* From ../shared/models/README.md: stock libdarknet, plain resize,
 * threshold 0.5; boxes x, y, w, h in pixels of the original image. */
static const TestReference references[] = {
  { "yolo-fastest-1.1-xl", "dog.jpg", "dog", 0.93f, 114, 189, 272, 347 },
  { "yolo-fastest-1.1-xl", "dog.jpg", "car", 0.80f, 446, 80, 239, 82 },
  { "yolo-fastest-1.1-xl", "dog.jpg", "bicycle", 0.90f, 114, 127, 459, 372 },
  { "yolo-fastest-1.1-xl", "person.jpg", "cow", 0.98f, 389, 143, 221, 191 },
  { "yolo-fastest-1.1-xl", "person.jpg", "dog", 0.98f, 58, 252, 148, 102 },
  { "yolo-fastest-1.1-xl", "person.jpg", "person", 0.99f, 187, 103, 85, 260 },
  { "yolo-fastest-1.1", "dog.jpg", "dog", 0.65f, 122, 222, 243, 295 },
  { "yolo-fastest-1.1", "dog.jpg", "cat", 0.55f, 112, 213, 258, 304 },
  { "yolo-fastest-1.1", "dog.jpg", "car", 0.88f, 454, 78, 230, 102 },
  { "yolo-fastest-1.1", "dog.jpg", "bicycle", 0.55f, 246, 187, 341, 233 },
  { "yolo-fastest-1.1", "person.jpg", "sheep", 0.80f, 420, 141, 163, 179 },
  { "yolo-fastest-1.1", "person.jpg", "dog", 0.83f, 72, 259, 142, 96 },
  { "yolo-fastest-1.1", "person.jpg", "person", 0.99f, 182, 86, 89, 298 },
};

int
test_references (const char *model, const char *image,
    const TestReference **refs)
{
  int first = -1, n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (references); i++) {
    if (strcmp (references[i].model, model) == 0
        && strcmp (references[i].image, image) == 0) {
      if (first < 0)
        first = (int) i;
      n++;
    }
  }
  *refs = first >= 0 ? &references[first] : NULL;
  return n;
}

const char *
test_models_dir (void)
{
  static char dir[4096];
  const char *shared = g_getenv ("YOLOSWITCH_SHARED_DIR");

  g_snprintf (dir, sizeof (dir), "%s/models",
      shared ? shared : YOLOSWITCH_SOURCE_DIR "/../shared");
  return dir;
}

static guint8
clamp_u8 (double v)
{
  return v < 0 ? 0 : (v > 255 ? 255 : (guint8) (v + 0.5));
}

TestImage *
test_image_load (const char *name, double scale, YoloPixelFormat format,
    int extra_stride)
{
  const char *data_dir = g_getenv ("YOLOSWITCH_TEST_DATA");
  gchar *path = g_path_is_absolute (name)
      ? g_strdup (name)
      : g_build_filename (data_dir ? data_dir : "/usr/share/darknet/data", name,
          NULL);
  GError *error = NULL;
  GdkPixbuf *orig = gdk_pixbuf_new_from_file (path, &error);
  GdkPixbuf *pix;
  TestImage *img;
  int w, h, cw, ch, ys, cs;
  const guint8 *src;
  int src_stride, src_step;

  g_assert_no_error (error);
  g_free (path);
  if (scale != 1.0) {
    pix = gdk_pixbuf_scale_simple (orig,
        (int) (gdk_pixbuf_get_width (orig) * scale + 0.5),
        (int) (gdk_pixbuf_get_height (orig) * scale + 0.5),
        GDK_INTERP_BILINEAR);
    g_object_unref (orig);
  } else {
    pix = orig;
  }
  w = gdk_pixbuf_get_width (pix);
  h = gdk_pixbuf_get_height (pix);
  src = gdk_pixbuf_read_pixels (pix);
  src_stride = gdk_pixbuf_get_rowstride (pix);
  src_step = gdk_pixbuf_get_n_channels (pix);

  img = g_new0 (TestImage, 1);
  img->frame.format = format;
  img->frame.width = w;
  img->frame.height = h;
  cw = (w + 1) / 2;
  ch = (h + 1) / 2;

  switch (format) {
    case YOLO_PIXEL_I420:
    case YOLO_PIXEL_NV12: {
      guint8 *y_plane, *u_plane, *v_plane = NULL;
      ys = w + extra_stride;
      cs = (format == YOLO_PIXEL_I420 ? cw : cw * 2) + extra_stride;
      img->size = (gsize) ys * h
          + (gsize) cs * ch * (format == YOLO_PIXEL_I420 ? 2 : 1);
      img->data = g_malloc0 (img->size);
      y_plane = img->data;
      u_plane = y_plane + (gsize) ys * h;
      if (format == YOLO_PIXEL_I420)
        v_plane = u_plane + (gsize) cs * ch;
      /* BT.601 limited range, the inverse of the library's conversion. */
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          const guint8 *p = src + (gsize) y * src_stride + x * src_step;
          y_plane[y * ys + x] = clamp_u8 (
              16 + 0.256788 * p[0] + 0.504129 * p[1] + 0.097906 * p[2]);
        }
      for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
          /* Average the 2x2 block, as video encoders do. */
          double r = 0, g = 0, b = 0;
          int n = 0;
          for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
              int sx = 2 * x + dx, sy = 2 * y + dy;
              const guint8 *p;
              if (sx >= w || sy >= h)
                continue;
              p = src + (gsize) sy * src_stride + sx * src_step;
              r += p[0];
              g += p[1];
              b += p[2];
              n++;
            }
          r /= n;
          g /= n;
          b /= n;
          if (format == YOLO_PIXEL_I420) {
            u_plane[y * cs + x]
                = clamp_u8 (128 - 0.148223 * r - 0.290993 * g + 0.439216 * b);
            v_plane[y * cs + x]
                = clamp_u8 (128 + 0.439216 * r - 0.367788 * g - 0.071427 * b);
          } else {
            u_plane[y * cs + 2 * x]
                = clamp_u8 (128 - 0.148223 * r - 0.290993 * g + 0.439216 * b);
            u_plane[y * cs + 2 * x + 1]
                = clamp_u8 (128 + 0.439216 * r - 0.367788 * g - 0.071427 * b);
          }
        }
      img->frame.planes[0] = y_plane;
      img->frame.strides[0] = ys;
      img->frame.planes[1] = u_plane;
      img->frame.strides[1] = cs;
      if (v_plane != NULL) {
        img->frame.planes[2] = v_plane;
        img->frame.strides[2] = cs;
      }
      break;
    }
    default: {
      int bpp = (format == YOLO_PIXEL_RGB || format == YOLO_PIXEL_BGR) ? 3 : 4;
      /* Byte positions of R, G, B in a pixel of this format. */
      int pos[3] = { 0, 1, 2 };
      if (format == YOLO_PIXEL_BGR || format == YOLO_PIXEL_BGRX) {
        pos[0] = 2;
        pos[2] = 0;
      } else if (format == YOLO_PIXEL_XRGB) {
        pos[0] = 1;
        pos[1] = 2;
        pos[2] = 3;
      } else if (format == YOLO_PIXEL_XBGR) {
        pos[0] = 3;
        pos[1] = 2;
        pos[2] = 1;
      }
      ys = w * bpp + extra_stride;
      img->size = (gsize) ys * h;
      img->data = g_malloc0 (img->size);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          const guint8 *p = src + (gsize) y * src_stride + x * src_step;
          guint8 *q = img->data + (gsize) y * ys + x * bpp;
          if (bpp == 4)
            memset (q, 0xff, 4);
          q[pos[0]] = p[0];
          q[pos[1]] = p[1];
          q[pos[2]] = p[2];
        }
      img->frame.planes[0] = img->data;
      img->frame.strides[0] = ys;
      break;
    }
  }
  g_object_unref (pix);
  return img;
}

void
test_image_free (TestImage *image)
{
  if (image == NULL)
    return;
  g_free (image->data);
  g_free (image);
}
