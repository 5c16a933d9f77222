#include "json_text.h"

void
ys_json_append_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (; *str; str++) {
    unsigned char c = (unsigned char) *str;
    if (c == '"' || c == '\\')
      g_string_append_printf (s, "\\%c", c);
    else if (c < 0x20)
      g_string_append_printf (s, "\\u%04x", c);
    else
      g_string_append_c (s, c);
  }
  g_string_append_c (s, '"');
}

void
ys_json_append_double (GString *s, const char *format, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append (s, g_ascii_formatd (buf, sizeof (buf), format, v));
}
