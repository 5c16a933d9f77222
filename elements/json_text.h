/* JSON text pieces shared by every element that writes JSON (yolojson,
 * yoloswitch's results log), so escaping and number formatting live in
 * one place. */
#ifndef YOLOSWITCH_JSON_TEXT_H
#define YOLOSWITCH_JSON_TEXT_H

#include <glib.h>

G_BEGIN_DECLS

/* A quoted, escaped JSON string. */
void ys_json_append_string (GString *s, const char *str);

/* A number in printf `format` ("%.1f"), always with a '.' decimal point:
 * gst-launch-1.0 sets the user's locale, under which "%f" may write 0,95
 * and break every JSON reader. */
void ys_json_append_double (GString *s, const char *format, double v);

G_END_DECLS

#endif
