#include "status.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const error_names[] = {
  [YOLO_OK] = "ok",
  [YOLO_ERR_MODEL_NOT_FOUND] = "model-not-found",
  [YOLO_ERR_CFG_MISSING] = "cfg-missing",
  [YOLO_ERR_WEIGHTS_MISSING] = "weights-missing",
  [YOLO_ERR_LABELS_MISSING] = "labels-missing",
  [YOLO_ERR_CFG_INVALID] = "cfg-invalid",
  [YOLO_ERR_CFG_UNSUPPORTED] = "cfg-unsupported",
  [YOLO_ERR_WEIGHTS_SIZE] = "weights-size",
  [YOLO_ERR_LABELS_COUNT] = "labels-count",
  [YOLO_ERR_LOAD] = "load-failed",
  [YOLO_ERR_INPUT] = "bad-input",
};

const char *
yolo_error_name (YoloError code)
{
  if ((unsigned) code >= sizeof (error_names) / sizeof (error_names[0]))
    return "unknown";
  return error_names[code];
}

bool
yolo_fail (YoloStatus *status, YoloError code, const char *fmt, ...)
{
  va_list args;

  if (status == NULL)
    return false;
  status->code = code;
  va_start (args, fmt);
  vsnprintf (status->message, sizeof (status->message), fmt, args);
  va_end (args);
  return false;
}

void
yolo_status_ok (YoloStatus *status)
{
  if (status == NULL)
    return;
  status->code = YOLO_OK;
  status->message[0] = '\0';
}
