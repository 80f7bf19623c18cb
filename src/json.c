/*
 * json.c: the runtime half of the code actorgen generates. Decoding parses
 * with jansson (duplicate keys refused) and lets the generated decoder walk
 * the tree once; when the walk fails, the offending value is located in the
 * text again (with jansson reading every token) so the report carries line,
 * column and byte offset as well as the JSON path. Encoding writes JSON text
 * straight into an actor_buf: escaped UTF-8 strings, integers, and doubles
 * in their shortest exact form. Last, the typed state client core built on
 * state.h and the activation cache slot of type.h.
 */
#include <actor/actor.h>
#include <actor/json.h>

#include <jansson.h>

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define J(v) ((json_t *)(v))

/* ---- errors and paths ----------------------------------------------------- */

static void err_reset(actor_json_error *err)
{
    err->line = 0;
    err->column = 0;
    err->position = 0;
    err->path[0] = '\0';
    err->message[0] = '\0';
}

int actor_json_fail(actor_json_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    err->path[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

/* Render s for a message: at most 48 bytes, control bytes as \xNN. */
static void quote(char *dst, size_t size, const char *s)
{
    size_t o = 0;

    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (o >= 48) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}

int actor_json_fail_name(actor_json_error *err, const char *enum_name, const char *name)
{
    char q[64];

    quote(q, sizeof(q), name);
    return actor_json_fail(err, ACTOR_EDECODE, "unknown %s name \"%s\"", enum_name, q);
}

static void path_prepend(actor_json_error *err, const char *step, size_t n)
{
    size_t len = strlen(err->path);

    if (len + n >= sizeof(err->path)) {
        /* Too deep to name in full: keep the tail, mark the cut. */
        if (strncmp(err->path, "...", 3) != 0 && len + 3 < sizeof(err->path)) {
            memmove(err->path + 3, err->path, len + 1);
            memcpy(err->path, "...", 3);
        }
        return;
    }
    memmove(err->path + n, err->path, len + 1);
    memcpy(err->path, step, n);
}

void actor_json_path_key(actor_json_error *err, const char *key)
{
    char step[ACTOR_JSON_PATH_MAX];
    int n = snprintf(step, sizeof(step), "/%s", key);

    if (n > 0 && (size_t)n < sizeof(step))
        path_prepend(err, step, (size_t)n);
}

void actor_json_path_index(actor_json_error *err, size_t index)
{
    char step[32];
    int n = snprintf(step, sizeof(step), "/%zu", index);

    path_prepend(err, step, (size_t)n);
}

static const char *kind_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int type_error(actor_json_error *err, const json_t *v, const char *want)
{
    return actor_json_fail(err, ACTOR_EDECODE, "expected %s, got %s", want, kind_name(v));
}

/* ---- locating a path in the text ------------------------------------------ */

static size_t skip_ws(const char *s, size_t len, size_t p)
{
    while (p < len && (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r'))
        p++;
    return p;
}

/* Let jansson read one value (any kind) at s[p]; returns the offset after
 * it, or 0 on failure. If `str` is given and the value is a string, a
 * copy-free compare with it is stored in *match. */
static size_t read_token(const char *s, size_t len, size_t p, const char *key, int *match)
{
    json_error_t je;
    json_t *v = json_loadb(s + p, len - p,
                           JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);

    if (v == NULL)
        return 0;
    if (match != NULL)
        *match = json_is_string(v) && strcmp(json_string_value(v), key) == 0;
    json_decref(v);
    return p + (size_t)je.position;
}

/* The byte offset of the value at `path` (a JSON Pointer of plain keys and
 * indices) in a text jansson has already accepted, or (size_t)-1. */
static size_t locate(const char *s, size_t len, const char *path)
{
    size_t p = skip_ws(s, len, 0);
    char step[ACTOR_JSON_PATH_MAX];

    while (*path == '/') {
        const char *end = strchr(path + 1, '/');
        size_t n = end ? (size_t)(end - path - 1) : strlen(path + 1);

        memcpy(step, path + 1, n);
        step[n] = '\0';
        path += 1 + n;
        if (p >= len)
            return (size_t)-1;
        if (s[p] == '{') {
            int found = 0;
            p = skip_ws(s, len, p + 1);
            while (p < len && s[p] != '}' && !found) {
                size_t q = read_token(s, len, p, step, &found);
                if (q == 0)
                    return (size_t)-1;
                p = skip_ws(s, len, q);
                if (p >= len || s[p] != ':')
                    return (size_t)-1;
                p = skip_ws(s, len, p + 1);
                if (found)
                    break;
                if ((q = read_token(s, len, p, NULL, NULL)) == 0)
                    return (size_t)-1;
                p = skip_ws(s, len, q);
                if (p < len && s[p] == ',')
                    p = skip_ws(s, len, p + 1);
            }
            if (!found)
                return (size_t)-1;
        } else if (s[p] == '[') {
            char *e;
            unsigned long idx = strtoul(step, &e, 10);
            if (*e != '\0')
                return (size_t)-1;
            p = skip_ws(s, len, p + 1);
            for (unsigned long i = 0; i < idx; i++) {
                size_t q = read_token(s, len, p, NULL, NULL);
                if (q == 0)
                    return (size_t)-1;
                p = skip_ws(s, len, q);
                if (p >= len || s[p] != ',')
                    return (size_t)-1;
                p = skip_ws(s, len, p + 1);
            }
        } else {
            return (size_t)-1;
        }
    }
    return p;
}

/* Append a step to a path being built front to back; "/..." once full. */
static int path_append(char *path, size_t size, const char *step)
{
    size_t len = strlen(path), n = strlen(step);

    if (len >= 4 && strcmp(path + len - 4, "/...") == 0)
        return -1;
    if (len + n + 5 > size) {
        if (len + 5 <= size)
            memcpy(path + len, "/...", 5);
        return -1;
    }
    memcpy(path + len, step, n + 1);
    return 0;
}

/* For a text jansson refused: the JSON Pointer of the innermost value that
 * does not parse on its own (a too-big number, a string with invalid UTF-8
 * or a lone surrogate, an unterminated container), written into path. */
static void path_at_failure(const char *s, size_t len, char *path, size_t size)
{
    size_t p = skip_ws(s, len, 0);
    char step[32];

    path[0] = '\0';
    for (;;) {
        if (p >= len || (s[p] != '{' && s[p] != '['))
            return;
        if (s[p] == '{') {
            p = skip_ws(s, len, p + 1);
            for (;;) {
                size_t q;
                json_error_t je;
                json_t *key;
                if (p >= len || s[p] != '"')
                    return;
                key = json_loadb(s + p, len - p, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
                if (key == NULL)
                    return;
                q = p + (size_t)je.position;
                p = skip_ws(s, len, q);
                if (p >= len || s[p] != ':') {
                    json_decref(key);
                    return;
                }
                p = skip_ws(s, len, p + 1);
                q = read_token(s, len, p, NULL, NULL);
                if (q == 0) {
                    char esc[ACTOR_JSON_PATH_MAX];
                    size_t o = 0;
                    int full;
                    esc[o++] = '/';
                    for (const char *c = json_string_value(key); *c && o + 3 < sizeof(esc); c++) {
                        if (*c == '~' || *c == '/') {
                            esc[o++] = '~';
                            esc[o++] = *c == '~' ? '0' : '1';
                        } else {
                            esc[o++] = *c;
                        }
                    }
                    esc[o] = '\0';
                    full = path_append(path, size, esc) != 0;
                    json_decref(key);
                    if (full)
                        return;
                    break; /* descend into the failing value */
                }
                json_decref(key);
                p = skip_ws(s, len, q);
                if (p < len && s[p] == ',') {
                    p = skip_ws(s, len, p + 1);
                    continue;
                }
                return;
            }
        } else {
            size_t idx = 0;
            p = skip_ws(s, len, p + 1);
            for (;; idx++) {
                size_t q = read_token(s, len, p, NULL, NULL);
                if (q == 0) {
                    snprintf(step, sizeof(step), "/%zu", idx);
                    if (path_append(path, size, step) != 0)
                        return;
                    break;
                }
                p = skip_ws(s, len, q);
                if (p < len && s[p] == ',') {
                    p = skip_ws(s, len, p + 1);
                    continue;
                }
                return;
            }
        }
    }
}

static void set_location(actor_json_error *err, const char *s, size_t len, size_t pos)
{
    int line = 1, col = 1;

    for (size_t i = 0; i < pos && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    err->line = line;
    err->column = col;
    err->position = pos;
}

/* ---- decoding -------------------------------------------------------------- */

static int record_decode_error(int rc, const char *what, const actor_json_error *err)
{
    if (rc == ACTOR_ENOMEM)
        return actor__error_oom();
    if (err->line > 0)
        return actor_error_set(rc, "cannot decode %s: %s%s%s (line %d, column %d, byte %zu)", what,
                               err->path, err->path[0] ? ": " : "", err->message, err->line,
                               err->column, err->position);
    return actor_error_set(rc, "cannot decode %s: %s%s%s", what, err->path,
                           err->path[0] ? ": " : "", err->message);
}

int actor_json_decode(void *out, const void *json, size_t len, actor_json_decode_fn fn,
                      const char *what, actor_json_error *err)
{
    actor_json_error local;
    json_error_t je;
    json_t *root;
    int rc;

    if (err == NULL)
        err = &local;
    err_reset(err);
    if (what == NULL)
        what = "value";
    if (json == NULL && len > 0)
        return actor_error_set(ACTOR_EINVAL, "cannot decode %s: NULL input", what);
    root = json_loadb(json ? (const char *)json : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory) {
            actor_json_fail(err, ACTOR_ENOMEM, "out of memory");
            return actor__error_oom();
        }
        snprintf(err->message, sizeof(err->message), "%s", je.text);
        path_at_failure((const char *)json, len, err->path, sizeof(err->path));
        err->line = je.line > 0 ? je.line : 1;
        err->column = je.column > 0 ? je.column : 1;
        err->position = je.position > 0 ? (size_t)je.position : 0;
        return record_decode_error(ACTOR_EDECODE, what, err);
    }
    rc = fn(out, (const actor_json_value *)root, err);
    json_decref(root);
    if (rc != 0) {
        if (rc == ACTOR_EDECODE && strncmp(err->path, "...", 3) != 0) {
            size_t pos = locate((const char *)json, len, err->path);
            if (pos != (size_t)-1)
                set_location(err, (const char *)json, len, pos);
        }
        return record_decode_error(rc, what, err);
    }
    return 0;
}

actor_json_kind actor_json_kind_of(const actor_json_value *v)
{
    switch (json_typeof(J(v))) {
    case JSON_OBJECT:
        return ACTOR_JSON_OBJECT;
    case JSON_ARRAY:
        return ACTOR_JSON_ARRAY;
    case JSON_STRING:
        return ACTOR_JSON_STRING;
    case JSON_INTEGER:
        return ACTOR_JSON_INTEGER;
    case JSON_REAL:
        return ACTOR_JSON_REAL;
    case JSON_TRUE:
    case JSON_FALSE:
        return ACTOR_JSON_BOOL;
    default:
        return ACTOR_JSON_NULL;
    }
}

int actor_json_expect(const actor_json_value *v, actor_json_kind want, actor_json_error *err)
{
    static const char *const names[] = {"null",     "a boolean", "an integer", "a number",
                                        "a string", "an array",  "an object"};
    actor_json_kind k = actor_json_kind_of(v);

    if (k == want)
        return 0;
    if (k == ACTOR_JSON_NULL)
        return 1;
    return type_error(err, J(v), names[want]);
}

const char *actor_json_object_next(const actor_json_value *obj, void **iter,
                                   const actor_json_value **value)
{
    void *it = *iter == NULL ? json_object_iter(J(obj)) : json_object_iter_next(J(obj), *iter);

    *iter = it;
    if (it == NULL)
        return NULL;
    *value = (const actor_json_value *)json_object_iter_value(it);
    return json_object_iter_key(it);
}

size_t actor_json_array_size(const actor_json_value *arr)
{
    return json_array_size(J(arr));
}

const actor_json_value *actor_json_array_at(const actor_json_value *arr, size_t i)
{
    return (const actor_json_value *)json_array_get(J(arr), i);
}

int actor_json_get_bool(bool *out, const actor_json_value *v, actor_json_error *err)
{
    if (json_is_boolean(J(v)) || json_is_null(J(v))) {
        *out = json_is_true(J(v));
        return 0;
    }
    return type_error(err, J(v), "a boolean");
}

/* Integer fields take JSON integers only: a number written with a fraction
 * or an exponent may not denote an integer even when its double does
 * (1.0000000000000000001), so it is refused rather than rounded. */
static int real_error(actor_json_error *err, const json_t *v)
{
    return actor_json_fail(err, ACTOR_EDECODE, "expected an integer, got %.17g",
                           json_real_value(v));
}

int actor_json_get_int(int64_t *out, const actor_json_value *v, int64_t min, int64_t max,
                       actor_json_error *err)
{
    int64_t x;

    if (json_is_integer(J(v))) {
        x = (int64_t)json_integer_value(J(v));
    } else if (json_is_real(J(v))) {
        return real_error(err, J(v));
    } else if (json_is_null(J(v))) {
        x = 0;
    } else {
        return type_error(err, J(v), "an integer");
    }
    if (x < min || x > max)
        return actor_json_fail(err, ACTOR_EDECODE, "%lld is out of range [%lld, %lld]",
                               (long long)x, (long long)min, (long long)max);
    *out = x;
    return 0;
}

int actor_json_get_uint(uint64_t *out, const actor_json_value *v, uint64_t max,
                        actor_json_error *err)
{
    uint64_t x;

    if (json_is_integer(J(v))) {
        json_int_t i = json_integer_value(J(v));
        if (i < 0)
            return actor_json_fail(err, ACTOR_EDECODE, "%lld is out of range [0, %llu]",
                                   (long long)i, (unsigned long long)max);
        x = (uint64_t)i;
    } else if (json_is_real(J(v))) {
        return real_error(err, J(v));
    } else if (json_is_string(J(v)) && max > (uint64_t)INT64_MAX) {
        const char *s = json_string_value(J(v));
        size_t n = json_string_length(J(v));
        x = 0;
        if (n == 0 || n > 20)
            return actor_json_fail(err, ACTOR_EDECODE,
                                   "expected an integer or a string of decimal digits");
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9)
                return actor_json_fail(err, ACTOR_EDECODE,
                                       "expected an integer or a string of decimal digits");
            if (x > (UINT64_MAX - d) / 10)
                return actor_json_fail(err, ACTOR_EDECODE, "%s is out of range [0, %llu]", s,
                                       (unsigned long long)max);
            x = x * 10 + d;
        }
    } else if (json_is_null(J(v))) {
        x = 0;
    } else {
        return type_error(err, J(v), "an integer");
    }
    if (x > max)
        return actor_json_fail(err, ACTOR_EDECODE, "%llu is out of range [0, %llu]",
                               (unsigned long long)x, (unsigned long long)max);
    *out = x;
    return 0;
}

int actor_json_get_double(double *out, const actor_json_value *v, actor_json_error *err)
{
    if (json_is_real(J(v)))
        *out = json_real_value(J(v));
    else if (json_is_integer(J(v)))
        *out = (double)json_integer_value(J(v));
    else if (json_is_null(J(v)))
        *out = 0.0;
    else
        return type_error(err, J(v), "a number");
    return 0;
}

int actor_json_get_float(float *out, const actor_json_value *v, actor_json_error *err)
{
    double d;
    int rc = actor_json_get_double(&d, v, err);

    if (rc != 0)
        return rc;
    if (fabs(d) > (double)FLT_MAX) {
        /* Values that round to FLT_MAX are in range; beyond that, refuse. */
        float f = (float)d;
        if (isinf(f))
            return actor_json_fail(err, ACTOR_EDECODE, "%.17g is out of range for a float", d);
    }
    *out = (float)d;
    return 0;
}

int actor_json_get_string(char **out, const actor_json_value *v, actor_json_error *err)
{
    if (json_is_string(J(v))) {
        size_t n = json_string_length(J(v));
        char *p = malloc(n + 1);
        if (p == NULL)
            return actor_json_fail(err, ACTOR_ENOMEM, "out of memory");
        memcpy(p, json_string_value(J(v)), n + 1);
        *out = p;
        return 0;
    }
    if (json_is_null(J(v))) {
        *out = NULL;
        return 0;
    }
    return type_error(err, J(v), "a string");
}

int actor_json_get_chars(char *out, size_t size, const actor_json_value *v, actor_json_error *err)
{
    if (json_is_string(J(v))) {
        size_t n = json_string_length(J(v));
        if (n >= size)
            return actor_json_fail(err, ACTOR_EDECODE,
                                   "string of %zu bytes is too long for char[%zu] (at most %zu)", n,
                                   size, size - 1);
        memcpy(out, json_string_value(J(v)), n + 1);
        return 0;
    }
    if (json_is_null(J(v))) {
        if (size > 0)
            out[0] = '\0';
        return 0;
    }
    return type_error(err, J(v), "a string");
}

int actor_json_get_name(const char **out, const actor_json_value *v, actor_json_error *err)
{
    if (json_is_string(J(v))) {
        *out = json_string_value(J(v));
        return 0;
    }
    if (json_is_null(J(v))) {
        *out = NULL;
        return 0;
    }
    return type_error(err, J(v), "a string");
}

/* ---- encoding -------------------------------------------------------------- */

/* Make room for n more bytes; the caller writes them and bumps size. */
static inline int reserve(actor_buf *out, size_t n)
{
    if (out->size + n < out->asize)
        return 0;
    if (n > SIZE_MAX - out->size - 1)
        return actor__error_oom();
    return actor_buf_grow(out, out->size + n);
}

int actor_json_put_bool(actor_buf *out, bool v)
{
    return v ? actor_buf_put(out, "true", 4) : actor_buf_put(out, "false", 5);
}

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *utoa_back(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

int actor_json_put_int(actor_buf *out, int64_t v)
{
    char tmp[24], *end = tmp + sizeof(tmp), *p;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    p = utoa_back(end, u);
    if (v < 0)
        *--p = '-';
    return actor_buf_put(out, p, (size_t)(end - p));
}

int actor_json_put_uint(actor_buf *out, uint64_t v)
{
    char tmp[24], *end = tmp + sizeof(tmp) - 1, *p;

    if (v <= (uint64_t)INT64_MAX) {
        p = utoa_back(end + 1, v);
        return actor_buf_put(out, p, (size_t)(end + 1 - p));
    }
    *end = '"';
    p = utoa_back(end, v);
    *--p = '"';
    return actor_buf_put(out, p, (size_t)(end + 1 - p));
}

/* Turn a locale's decimal separator into '.', in place. */
static void fix_decimal_point(char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E'))
            *s = '.';
    }
}

/* Shortest text that reads back (through strtod, as jansson reads it) as
 * exactly d. d is finite. Returns the length. */
static int format_double(char *buf, size_t size, double d)
{
    int n = 0;

    if (d == 0) {
        return snprintf(buf, size, signbit(d) ? "-0.0" : "0");
    }
    /* For a normal double, 15 digits that read back are also the shortest
     * digits that do; subnormals carry fewer bits, so start lower. */
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, d);
        if (prec == 17 || strtod(buf, NULL) == d)
            break;
    }
    fix_decimal_point(buf);
    return n;
}

static int format_float(char *buf, size_t size, float f)
{
    int n = 0;

    if (f == 0) {
        return snprintf(buf, size, signbit(f) ? "-0.0" : "0");
    }
    for (int prec = fabsf(f) < FLT_MIN ? 1 : 6; prec <= 10; prec++) {
        /* 6..9 digits as a float; 10 stands for the exact double. */
        n = snprintf(buf, size, "%.*g", prec <= 9 ? prec : 17, (double)f);
        if (prec == 10 || (float)strtod(buf, NULL) == f)
            break;
    }
    fix_decimal_point(buf);
    return n;
}

int actor_json_put_double(actor_buf *out, double v, actor_json_error *err)
{
    char buf[40];
    int n;

    if (!isfinite(v))
        return actor_json_fail(err, ACTOR_EINVAL, "%s cannot be written as JSON",
                               isnan(v) ? "NaN" : "an infinity");
    n = format_double(buf, sizeof(buf), v);
    return actor_buf_put(out, buf, (size_t)n);
}

int actor_json_put_float(actor_buf *out, float v, actor_json_error *err)
{
    char buf[40];
    int n;

    if (!isfinite(v))
        return actor_json_fail(err, ACTOR_EINVAL, "%s cannot be written as JSON",
                               isnan(v) ? "NaN" : "an infinity");
    n = format_float(buf, sizeof(buf), v);
    return actor_buf_put(out, buf, (size_t)n);
}

/* Length of the valid UTF-8 sequence starting at s (lead byte >= 0x80),
 * or 0 when it is invalid (bad lead, truncated, overlong, surrogate, past
 * U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp;
    size_t n;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Bytes that need a backslash escape: controls, '"' and '\\'. */
static inline int needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static int put_escaped(actor_buf *out, const char *str, size_t len, actor_json_error *err)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t mark = out->size, i = 0;
    int rc;

    /* Worst case is 6 bytes per input byte; reserve the common case (no
     * escapes) and grow when an escape shows up. */
    if ((rc = reserve(out, len + 2)) != 0)
        return rc;
    out->ptr[out->size++] = '"';
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] < 0x80 && !needs_escape(s[i]))
            i++;
        if (i > start) {
            if ((rc = reserve(out, i - start + 1)) != 0)
                goto fail;
            memcpy(out->ptr + out->size, s + start, i - start);
            out->size += i - start;
        }
        if (i >= len)
            break;
        if (s[i] >= 0x80) {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0) {
                rc = actor_json_fail(err, ACTOR_EINVAL, "invalid UTF-8 at byte %zu of a string", i);
                goto fail;
            }
            if ((rc = reserve(out, n + 1)) != 0)
                goto fail;
            memcpy(out->ptr + out->size, s + i, n);
            out->size += n;
            i += n;
        } else {
            char esc[6];
            size_t n = 2;
            unsigned char c = s[i++];
            esc[0] = '\\';
            switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
                break;
            }
            if ((rc = reserve(out, n + 1)) != 0)
                goto fail;
            memcpy(out->ptr + out->size, esc, n);
            out->size += n;
        }
    }
    if ((rc = reserve(out, 1)) != 0)
        goto fail;
    out->ptr[out->size++] = '"';
    out->ptr[out->size] = '\0';
    return 0;
fail:
    out->size = mark;
    if (out->ptr != NULL)
        out->ptr[mark] = '\0';
    if (rc == ACTOR_ENOMEM)
        actor_json_fail(err, ACTOR_ENOMEM, "out of memory");
    return rc;
}

int actor_json_put_string(actor_buf *out, const char *s, actor_json_error *err)
{
    if (s == NULL)
        return actor_buf_put(out, "null", 4);
    return put_escaped(out, s, strlen(s), err);
}

int actor_json_put_chars(actor_buf *out, const char *s, size_t size, actor_json_error *err)
{
    const char *nul = memchr(s, '\0', size);

    if (nul == NULL)
        return actor_json_fail(err, ACTOR_EINVAL,
                               "char[%zu] holds no NUL: its value is too long (at most %zu "
                               "bytes)",
                               size, size ? size - 1 : 0);
    return put_escaped(out, s, (size_t)(nul - s), err);
}

int actor_json_encode_end(actor_buf *out, size_t mark, int rc, const char *what,
                          const actor_json_error *err)
{
    if (rc == 0)
        return 0;
    if (out->size > mark) {
        out->size = mark;
        out->ptr[mark] = '\0';
    }
    if (rc == ACTOR_ENOMEM)
        return actor__error_oom();
    return actor_error_set(rc, "cannot encode %s: %s%s%s", what, err->path,
                           err->path[0] ? ": " : "", err->message);
}

int actor_json_copy_string(char **dst, const char *src)
{
    size_t n;

    if (src == NULL) {
        *dst = NULL;
        return 0;
    }
    n = strlen(src) + 1;
    *dst = malloc(n);
    if (*dst == NULL)
        return ACTOR_ENOMEM;
    memcpy(*dst, src, n);
    return 0;
}

/* ---- typed state client core ---------------------------------------------- */

static int check_codec(const actor_json_codec *codec)
{
    if (codec == NULL || codec->version != ACTOR_JSON_CODEC_VERSION)
        return actor_error_set(ACTOR_EINVAL,
                               "state client: codec version %u, this library speaks %d "
                               "(regenerate with this version's actorgen)",
                               codec ? codec->version : 0, ACTOR_JSON_CODEC_VERSION);
    return 0;
}

/* Prefix the thread's error message with which state failed. */
static int state_error(int rc, const char *type, const char *id)
{
    return actor_error_set(rc, "state of %s/%s: %s", type ? type : "?", id ? id : "?",
                           actor_error_last());
}

/* What the activation's cache slot holds: the decoded value, and when the
 * value has a TTL (read with it, or written by this client with one), the
 * monotonic time it expires: the store stops returning it then, so the
 * cache must too. */
typedef struct box {
    const actor_json_codec *codec;
    int64_t expires_ms; /* monotonic; 0: never */
    max_align_t value[];
} box;

static void box_release(void *p)
{
    box *b = p;
    b->codec->free(b->value);
    free(b);
}

static box *box_new(const actor_json_codec *codec, int64_t expires_ms)
{
    box *b = malloc(sizeof(box) + codec->size);
    if (b == NULL)
        return NULL;
    b->codec = codec;
    b->expires_ms = expires_ms;
    codec->init(b->value);
    return b;
}

/* Read and decode the stored value into a new box (the zero value when
 * nothing is stored). */
static int load_box(box **out, actor_ctx *ctx, const actor_json_codec *codec)
{
    actor_buf raw = ACTOR_BUF_INIT;
    box *b;
    int64_t ttl = 0;
    int rc = actor_ctx_state_get_ttl(&raw, &ttl, ctx);

    if (rc != 0 && rc != ACTOR_ENOTFOUND) {
        actor_buf_dispose(&raw);
        return rc;
    }
    b = box_new(codec, rc == 0 && ttl > 0 ? actor__mono_ms() + ttl : 0);
    if (b == NULL) {
        actor_buf_dispose(&raw);
        return actor__error_oom();
    }
    if (rc == 0) {
        rc = codec->decode(b->value, raw.ptr, raw.size, NULL);
        if (rc != 0) {
            free(b);
            actor_buf_dispose(&raw);
            return state_error(rc, actor_ctx_type(ctx), actor_ctx_id(ctx));
        }
    }
    actor_buf_dispose(&raw);
    *out = b;
    return 0;
}

/* Put a box in the activation's cache slot; on failure forget it. */
static void cache_put(actor_ctx *ctx, const actor_json_codec *codec, box *b)
{
    if (actor_ctx_cache_set(ctx, codec, b, box_release) != 0)
        box_release(b);
    actor_error_clear();
}

int actor_json_state_get(void *out, actor_ctx *ctx, const actor_json_codec *codec)
{
    box *b;
    int rc;

    if ((rc = check_codec(codec)) != 0)
        return rc;
    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s_state_get: out is NULL", codec->name);
    codec->init(out);
    b = actor_ctx_cache_get(ctx, codec);
    if (b != NULL && b->expires_ms > 0 && actor__mono_ms() >= b->expires_ms)
        b = NULL; /* expired: ask the store, which no longer returns it */
    if (b == NULL) {
        if ((rc = load_box(&b, ctx, codec)) != 0)
            return rc;
        rc = codec->copy(out, b->value);
        cache_put(ctx, codec, b);
    } else {
        rc = codec->copy(out, b->value);
    }
    return rc == 0 ? 0 : actor__error_oom();
}

int actor_json_state_set(actor_ctx *ctx, const void *v, int64_t ttl_ms,
                         const actor_json_codec *codec)
{
    actor_buf raw = ACTOR_BUF_INIT;
    int64_t expires = ttl_ms > 0 ? actor__mono_ms() + ttl_ms : 0;
    box *b;
    int rc;

    if ((rc = check_codec(codec)) != 0)
        return rc;
    if (v == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s_state_set: value is NULL", codec->name);
    rc = codec->encode(&raw, v);
    if (rc == 0)
        rc = actor_ctx_state_set(ctx, raw.ptr, raw.size, ttl_ms);
    actor_buf_dispose(&raw);
    if (rc != 0)
        return rc;
    /* The write dropped the cache; keep the value just written instead, so
     * the next get needs no read. Failing to cache is not an error. */
    b = box_new(codec, expires);
    if (b != NULL) {
        codec->free(b->value);
        if (codec->copy(b->value, v) == 0)
            cache_put(ctx, codec, b);
        else
            free(b);
    }
    actor_error_clear();
    return 0;
}

int actor_json_state_delete(actor_ctx *ctx, const actor_json_codec *codec)
{
    box *b;
    int rc;

    if ((rc = check_codec(codec)) != 0)
        return rc;
    rc = actor_ctx_state_delete(ctx);
    if (rc != 0 && rc != ACTOR_ENOTFOUND)
        return rc;
    if ((b = box_new(codec, 0)) != NULL)
        cache_put(ctx, codec, b);
    actor_error_clear();
    return 0;
}

int actor_json_state_get_at(void *out, actor_host *host, const char *type, const char *id,
                            const actor_json_codec *codec)
{
    actor_buf raw = ACTOR_BUF_INIT;
    int rc;

    if ((rc = check_codec(codec)) != 0)
        return rc;
    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s_state_get_at: out is NULL", codec->name);
    codec->init(out);
    rc = actor_state_get(&raw, host, type, id);
    if (rc == ACTOR_ENOTFOUND) {
        actor_buf_dispose(&raw);
        actor_error_clear();
        return 0;
    }
    if (rc == 0) {
        rc = codec->decode(out, raw.ptr, raw.size, NULL);
        if (rc != 0)
            rc = state_error(rc, type, id);
    }
    actor_buf_dispose(&raw);
    return rc;
}

int actor_json_state_set_at(actor_host *host, const char *type, const char *id, const void *v,
                            int64_t ttl_ms, const actor_json_codec *codec)
{
    actor_buf raw = ACTOR_BUF_INIT;
    int rc;

    if ((rc = check_codec(codec)) != 0)
        return rc;
    if (v == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s_state_set_at: value is NULL", codec->name);
    rc = codec->encode(&raw, v);
    if (rc == 0)
        rc = actor_state_set(host, type, id, raw.ptr, raw.size, ttl_ms);
    actor_buf_dispose(&raw);
    return rc;
}

int actor_json_state_delete_at(actor_host *host, const char *type, const char *id)
{
    int rc = actor_state_delete(host, type, id);

    if (rc == ACTOR_ENOTFOUND) {
        actor_error_clear();
        return 0;
    }
    return rc;
}
