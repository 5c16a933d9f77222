/* Finding a model's three files from its name.
 *
 * Search order for model dirs: the caller's dir, $YOLOSWITCH_MODEL_DIR,
 * ../shared/models beside the source tree (where tests and CI find the
 * shipped models), the user's data dir (where scripts/fetch-models.sh puts
 * them: $XDG_DATA_HOME or ~/.local/share, then yoloswitch/models), then the
 * installed data dir. */
#include "yolo.h"

#include "config.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DIRS 5

/* Models whose labels file is not <name>.names (the shared models use
 * dataset-wide files such as coco.names). */
static const struct {
  const char *model;
  const char *labels;
} label_catalog[] = {
  { "yolo-fastest-1.1", "coco.names" },
  { "yolo-fastest-1.1-xl", "coco.names" },
  { "MobileNetV2-YOLOv3-Nano-coco", "coco.names" },
  { "yolo-lite-coco", "coco.names" },
  { "yolo-lite-voc", "voc.names" },
  { "yolo-fastest-1.1_body", "body.names" },
  { "yoloface-500k", "face.names" },
  { "yolov3", "coco.names" },
  { "yolov3-tiny", "coco.names" },
  { "yolov2-tiny", "coco.names" },
  { "yolov2-tiny-voc", "voc.names" },
};

/* The user's model dir; built per call because the environment can
 * change (tests set HOME).  Thread-local so concurrent callers don't race. */
static const char *
user_model_dir (void)
{
  static _Thread_local char dir[4096];
  const char *xdg = getenv ("XDG_DATA_HOME");
  const char *home = getenv ("HOME");

  if (xdg != NULL && *xdg != '\0')
    snprintf (dir, sizeof (dir), "%s/yoloswitch/models", xdg);
  else if (home != NULL && *home != '\0')
    snprintf (dir, sizeof (dir), "%s/.local/share/yoloswitch/models", home);
  else
    return NULL;
  return dir;
}

static int
model_dirs (const char *model_dir, const char *dirs[MAX_DIRS])
{
  int n = 0;
  const char *env = getenv ("YOLOSWITCH_MODEL_DIR");
  const char *user = user_model_dir ();

  if (model_dir != NULL && *model_dir != '\0')
    dirs[n++] = model_dir;
  if (env != NULL && *env != '\0')
    dirs[n++] = env;
  dirs[n++] = YOLOSWITCH_SOURCE_DIR "/../shared/models";
  if (user != NULL)
    dirs[n++] = user;
  dirs[n++] = YOLOSWITCH_MODEL_INSTALL_DIR;
  return n;
}

void
yolo_model_search_path (const char *model_dir, char *out, size_t outlen)
{
  const char *dirs[MAX_DIRS];
  int n = model_dirs (model_dir, dirs);
  size_t used = 0;

  if (outlen == 0)
    return;
  out[0] = '\0';
  for (int i = 0; i < n && used < outlen; i++)
    used += snprintf (out + used, outlen - used, "%s%s", i ? ":" : "", dirs[i]);
}

static bool
readable (const char *path)
{
  return access (path, R_OK) == 0;
}

static bool
path_join (char *out, size_t outlen, const char *dir, const char *name,
    const char *ext)
{
  return (size_t) snprintf (out, outlen, "%s/%s%s", dir, name, ext) < outlen;
}

/* Picks the labels file for a model found in dir. */
static void
find_labels (const char *dir, const char *name, char *out, size_t outlen)
{
  path_join (out, outlen, dir, name, ".names");
  if (readable (out))
    return;
  for (size_t i = 0; i < sizeof (label_catalog) / sizeof (label_catalog[0]);
       i++) {
    if (strcmp (label_catalog[i].model, name) == 0) {
      path_join (out, outlen, dir, label_catalog[i].labels, "");
      if (readable (out))
        return;
      /* Darknet's own data dir has coco.names and voc.names. */
      path_join (out, outlen, "/usr/share/darknet/data",
          label_catalog[i].labels, "");
      if (readable (out))
        return;
    }
  }
  /* Leave <dir>/<name>.names as the path so the error names a real place. */
  path_join (out, outlen, dir, name, ".names");
}

static bool
valid_name (const char *name)
{
  /* A name is a file stem, never a path: "../x" must not escape the dirs. */
  return *name != '\0' && strchr (name, '/') == NULL && strcmp (name, ".")
      && strcmp (name, "..");
}

bool
yolo_model_resolve (const YoloModelSpec *spec, YoloModelFiles *files,
    YoloStatus *status)
{
  const char *dirs[MAX_DIRS];
  const char *found_dir = NULL;
  int n;

  memset (files, 0, sizeof (*files));
  yolo_status_ok (status);

  if (spec->name != NULL && *spec->name != '\0') {
    if (!valid_name (spec->name))
      return yolo_fail (status, YOLO_ERR_MODEL_NOT_FOUND,
          "Model name \"%s\" is not a name: give a file stem such as "
          "yolo-fastest-1.1, or explicit config/weights/labels paths.",
          spec->name);
    snprintf (files->name, sizeof (files->name), "%s", spec->name);
    n = model_dirs (spec->model_dir, dirs);
    for (int i = 0; i < n && found_dir == NULL; i++) {
      char cfg[sizeof (files->cfg_path)];
      if (path_join (cfg, sizeof (cfg), dirs[i], spec->name, ".cfg")
          && readable (cfg))
        found_dir = dirs[i];
    }
    if (found_dir == NULL && spec->cfg_path == NULL) {
      char search[4096];
      yolo_model_search_path (spec->model_dir, search, sizeof (search));
      return yolo_fail (status, YOLO_ERR_MODEL_NOT_FOUND,
          "Model \"%s\" not found: no %s.cfg in %s. Set model-dir (or "
          "YOLOSWITCH_MODEL_DIR) to a folder holding it, or run "
          "scripts/fetch-models.sh.",
          spec->name, spec->name, search);
    }
    if (found_dir != NULL) {
      path_join (files->cfg_path, sizeof (files->cfg_path), found_dir,
          spec->name, ".cfg");
      path_join (files->weights_path, sizeof (files->weights_path), found_dir,
          spec->name, ".weights");
      find_labels (found_dir, spec->name, files->labels_path,
          sizeof (files->labels_path));
    }
  } else if (spec->cfg_path == NULL) {
    return yolo_fail (status, YOLO_ERR_MODEL_NOT_FOUND,
        "No model given: set a model name or a config path.");
  }

  if (spec->cfg_path != NULL && *spec->cfg_path != '\0')
    snprintf (files->cfg_path, sizeof (files->cfg_path), "%s", spec->cfg_path);
  if (spec->weights_path != NULL && *spec->weights_path != '\0')
    snprintf (files->weights_path, sizeof (files->weights_path), "%s",
        spec->weights_path);
  if (spec->labels_path != NULL && *spec->labels_path != '\0')
    snprintf (files->labels_path, sizeof (files->labels_path), "%s",
        spec->labels_path);

  if (files->name[0] == '\0') {
    /* Name an explicitly given model after its cfg's file stem. */
    const char *base = strrchr (files->cfg_path, '/');
    const char *dot;
    base = base ? base + 1 : files->cfg_path;
    dot = strrchr (base, '.');
    snprintf (files->name, sizeof (files->name), "%.*s",
        dot ? (int) (dot - base) : (int) strlen (base), base);
  }
  if (files->weights_path[0] == '\0')
    return yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Model \"%s\": a config path was given without a weights path.",
        files->name);
  if (files->labels_path[0] == '\0')
    return yolo_fail (status, YOLO_ERR_LABELS_MISSING,
        "Model \"%s\": a config path was given without a labels path.",
        files->name);
  return true;
}
