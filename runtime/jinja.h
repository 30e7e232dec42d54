/*
 * runtime/jinja.h — a small Jinja interpreter for chat templates.
 *
 * Renders the subset of Jinja that the released chat templates of the seed
 * model families use, with the settings transformers renders them with
 * (trim_blocks, lstrip_blocks, loop controls, tojson without HTML escaping and
 * with ensure_ascii=False, raise_exception, strftime_now).  Values are None,
 * booleans, integers, floats, strings, lists and dicts (from JSON), plus
 * namespace(), macros and the loop object; everything lives in one arena that
 * is released when the render returns.
 *
 * Templates are hostile input: nesting (parse and evaluation, macro recursion
 * included) is bounded, so are the rendered size, the memory used and the
 * number of evaluation steps.  Anything outside the subset, and every runtime
 * error, is reported as "LINE: message" naming the feature; nothing crashes.
 */
#ifndef ARCHC_JINJA_H
#define ARCHC_JINJA_H

#include <stddef.h>
#include "json.h"

#define JINJA_MAX_DEPTH 256                   /* nesting of blocks and expressions in the source   */
#define JINJA_MAX_EVAL_DEPTH 1000             /* evaluation nesting, macro recursion included      */
#define JINJA_MAX_OUTPUT ((size_t)64 << 20)   /* bytes of rendered text, and of any one string     */
#define JINJA_MAX_MEMORY ((size_t)1 << 30)    /* bytes the arena may take                          */
#define JINJA_MAX_STEPS 20000000L             /* evaluation steps (nodes evaluated, loop iterations) */

/* A variable of the template's context: a JSON value, or (json == NULL) a plain
 * string (str == NULL too: None). */
typedef struct JinjaVar {
    const char *name;
    const JsonValue *json;
    const char *str;
    /* optional: the JSON text `json` was parsed from, so that numbers are
     * ints or floats as Python's json reads them (1 vs 1.0) */
    const char *json_text;
    size_t json_len;
} JinjaVar;

/* Render `src` (len bytes) with the given variables.  `now` is the time
 * strftime_now formats (seconds since the epoch, local time; < 0: the current
 * time).  On success returns 0 and a malloc'd, NUL-terminated *out of
 * *out_len bytes; on error -1 and "line L: message" in err. */
int jinja_render(const char *src, size_t len, const JinjaVar *vars, int nvars, long long now, char **out, size_t *out_len,
                 char *err, size_t errlen);

#endif
