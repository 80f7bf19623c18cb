/*
 * json.c: the runtime half of the code actorgen generates. Decoding reads
 * the text with yajl's event (SAX) parser and stores every value straight
 * into the caller's struct, guided by the type descriptions actorgen emits;
 * there is no document tree. What yajl lets through but jansson refuses
 * (loose UTF-8, lone surrogates, NUL, out-of-range numbers, duplicate keys,
 * nesting deeper than 2048) is checked on each token, and a refused text is
 * read again by jansson so that the report carries jansson's message and
 * location; a value of the wrong shape is located in the text the same way.
 * Encoding writes JSON text straight into an actor_buf: escaped UTF-8
 * strings, integers, and doubles in their shortest exact form. Last, the
 * typed state client core built on state.h and the activation cache slot of
 * type.h.
 */
#include <actor/actor.h>
#include <actor/json.h>

#include <jansson.h>
#include <yajl/yajl_parse.h>

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

/* Render the n bytes at s for a message: at most 48 bytes, control bytes
 * as \xNN. */
static void quote(char *dst, size_t size, const char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
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

/* ---- UTF-8 ------------------------------------------------------------------ */

/* 1 when the n bytes at s are valid UTF-8 (as jansson requires: no
 * overlong forms, no surrogates, nothing past U+10FFFF), else 0. *four is
 * set when a 4-byte sequence occurs. */
static int utf8_valid(const unsigned char *s, size_t n, int *four)
{
    size_t i = 0;

    while (i < n) {
        if (s[i] < 0x80) {
            uint64_t w;
            while (i + 8 <= n) {
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            while (i < n && s[i] < 0x80)
                i++;
        } else {
            size_t k = actor__utf8_seq(s + i, n - i);
            if (k == 0)
                return 0;
            if (k == 4)
                *four = 1;
            i += k;
        }
    }
    return 1;
}

/* ---- numbers in the text --------------------------------------------------- */

/* Powers of ten that doubles hold exactly. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The value of a JSON integer token (yajl checked its grammar): 0, or -1
 * when it does not fit in 64 bits, where jansson says "too big integer". */
static int int_value(const char *s, size_t n, long long *out)
{
    size_t i = n > 0 && s[0] == '-';
    unsigned long long x = 0;
    unsigned long long lim = i ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;

    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (lim - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    if (n > 0 && s[0] == '-')
        *out = x == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)x;
    else
        *out = (long long)x;
    return 0;
}

/* The value of a JSON number token with a fraction or an exponent, as
 * strtod reads it in the C locale (that is what jansson stores): 0, or -1
 * when it overflows a double ("real number overflow"). Tokens of at most
 * 19 significant digits whose value is an integer up to 2^53 times or
 * divided by a power of ten up to 10^22 are computed directly: both
 * operands are exact, so the one rounding of the multiplication or division
 * is the correctly rounded result strtod would give. */
static int real_value(const char *s, size_t n, double *out)
{
    size_t i = 0;
    int neg = 0, digits = 0, inexact = 0;
    unsigned long long w = 0;
    long e10 = 0, ex = 0;
    char small[64], *buf;
    const char *dp;
    size_t dpn, o = 0;
    double v;

    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (digits < 19) {
            w = w * 10 + (unsigned)(s[i] - '0');
            digits += w != 0;
        } else {
            e10++;
            inexact |= s[i] != '0';
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (digits < 19) {
                w = w * 10 + (unsigned)(s[i] - '0');
                digits += w != 0;
                e10--;
            } else {
                inexact |= s[i] != '0';
            }
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (ex < 100000)
                ex = ex * 10 + (s[i] - '0');
        e10 += eneg ? -ex : ex;
    }
#if FLT_EVAL_METHOD == 0
    if (w == 0 && !inexact) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (!inexact && w <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
        v = (double)w;
        v = e10 >= 0 ? v * pow10_exact[e10] : v / pow10_exact[-e10];
        *out = neg ? -v : v;
        return 0;
    }
#endif
    /* strtod reads the locale's decimal separator: write the token with it. */
    dp = localeconv()->decimal_point;
    dpn = dp != NULL && dp[0] != '\0' ? strlen(dp) : 1;
    buf = n + dpn < sizeof(small) ? small : malloc(n + dpn + 1);
    if (buf == NULL)
        return -2;
    for (i = 0; i < n; i++) {
        if (s[i] == '.' && dpn > 0 && dp != NULL && dp[0] != '\0') {
            memcpy(buf + o, dp, dpn);
            o += dpn;
        } else {
            buf[o++] = s[i];
        }
    }
    buf[o] = '\0';
    errno = 0;
    v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* ---- decoding ---------------------------------------------------------------- */

/*
 * The decoder keeps one frame per open container. A struct frame knows
 * which field the next value goes to (set by its key), an array frame how
 * many elements have begun; frames for values nobody stores (unknown
 * fields, values after a failure) only check. When a value does not fit
 * its field, the first such failure is kept and the rest of the text is
 * still read to the end, so that a text jansson refuses is reported as such
 * (as it was when a tree was built first), and so that a fixed array with
 * too many elements is reported before a failure inside it (as the tree
 * walk checked the size first).
 */

/* jansson's JSON_PARSER_MAX_DEPTH: a value nested deeper is refused (jansson
 * counts the root value as level 1, scalars included). */
#define MAX_DEPTH 2048

enum { F_STRUCT, F_FIXED, F_DYN, F_SKIP_OBJ, F_SKIP_ARR };

typedef struct frame {
    int kind;
    int err_inside;              /* the failure kept happened inside this container */
    const actor_json_type *type; /* F_STRUCT: the struct; arrays: the array type */
    char *base;                  /* F_STRUCT: the struct; F_FIXED: element 0; F_DYN: the pointer */
    size_t *count;               /* F_DYN: the count member */
    size_t index;                /* arrays: elements begun */
    size_t cap;                  /* F_DYN: elements allocated */
    const actor_json_field *field; /* F_STRUCT: where the next value goes; NULL: nowhere */
    size_t hint;                   /* F_STRUCT: the field expected next */
    size_t bits;                   /* F_STRUCT: first word of its seen-field bits */
    size_t serial;                 /* objects: identity in the unknown-key set */
} frame;

/* Unknown keys seen, per object: an open-addressing set. */
typedef struct key_entry {
    size_t serial; /* 0: empty slot */
    size_t hash;
    const unsigned char *key;
    size_t len;
} key_entry;

typedef struct key_block {
    struct key_block *next;
    unsigned char data[];
} key_block;

typedef struct dec {
    yajl_handle h;
    const char *text;
    size_t len;
    void *out;
    const actor_json_type *root;
    actor_json_error *err;
    frame *frames;
    size_t depth, frames_cap;
    uint64_t *bits;
    size_t nbits, bits_cap;
    key_entry *keys;
    size_t nkeys, keys_cap;
    key_block *key_copies;
    size_t serials;
    int failed;      /* a value did not fit: err holds the first such failure */
    int syntax;      /* the text is refused: stop */
    int nomem;       /* out of memory: stop */
    int finishing;   /* in yajl_complete_parse: the text is all read */
    size_t root_end; /* where the root value ends in the text */
    const char *syntax_msg;
    size_t syntax_pos;
    frame frames0[16];
    uint64_t bits0[16];
} dec;

static int text_refused(dec *d, const char *msg)
{
    d->syntax = 1;
    d->syntax_msg = msg;
    d->syntax_pos = yajl_get_bytes_consumed(d->h);
    return 0;
}

static int out_of_memory(dec *d)
{
    d->nomem = 1;
    return 0;
}

/* Note where the root value ends (a scalar root, or the root container
 * just closed): yajl lets an unfinished token after it pass as the end of
 * the text, so the rest is checked once the parse is done. */
static void root_ended(dec *d)
{
    d->root_end = d->finishing ? d->len : yajl_get_bytes_consumed(d->h);
}

/* The JSON path of the value at the top of the first n frames. */
static void frames_path(dec *d, size_t n)
{
    d->err->path[0] = '\0';
    for (size_t i = n; i-- > 0;) {
        const frame *f = &d->frames[i];
        if (f->kind == F_STRUCT)
            actor_json_path_key(d->err, f->field->name);
        else
            actor_json_path_index(d->err, f->index - 1);
    }
}

/* Keep the first value that does not fit: message and path; every open
 * container holds it. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
value_failed(dec *d, const char *fmt, ...)
{
    va_list ap;

    if (d->failed)
        return;
    d->failed = 1;
    va_start(ap, fmt);
    vsnprintf(d->err->message, sizeof(d->err->message), fmt, ap);
    va_end(ap);
    frames_path(d, d->depth);
    for (size_t i = 0; i < d->depth; i++)
        d->frames[i].err_inside = 1;
}

static const char *want_name(int kind)
{
    switch (kind) {
    case ACTOR_JSON_C_BOOL:
        return "a boolean";
    case ACTOR_JSON_C_INT:
    case ACTOR_JSON_C_UINT:
        return "an integer";
    case ACTOR_JSON_C_FLOAT:
    case ACTOR_JSON_C_DOUBLE:
        return "a number";
    case ACTOR_JSON_C_STRUCT:
        return "an object";
    case ACTOR_JSON_C_FIXED:
    case ACTOR_JSON_C_DYN:
        return "an array";
    default:
        return "a string";
    }
}

static void type_failed(dec *d, const actor_json_type *t, const char *got)
{
    value_failed(d, "expected %s, got %s", want_name(t->kind), got);
}

static frame *push(dec *d)
{
    frame *f;

    if (d->depth == d->frames_cap) {
        size_t cap = d->frames_cap * 2;
        frame *p = d->frames == d->frames0 ? malloc(cap * sizeof(*p))
                                           : realloc(d->frames, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        if (d->frames == d->frames0)
            memcpy(p, d->frames0, sizeof(d->frames0));
        d->frames = p;
        d->frames_cap = cap;
    }
    f = &d->frames[d->depth++];
    f->err_inside = 0;
    f->index = 0;
    f->serial = 0;
    return f;
}

/* Zeroed bits for a struct of n fields; the offset of the first word. */
static int bits_push(dec *d, size_t n, size_t *at)
{
    size_t words = (n + 63) / 64;

    if (d->nbits + words > d->bits_cap) {
        size_t cap = (d->nbits + words) * 2;
        uint64_t *p =
            d->bits == d->bits0 ? malloc(cap * sizeof(*p)) : realloc(d->bits, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        if (d->bits == d->bits0)
            memcpy(p, d->bits0, d->nbits * sizeof(*p));
        d->bits = p;
        d->bits_cap = cap;
    }
    *at = d->nbits;
    memset(d->bits + d->nbits, 0, words * sizeof(*d->bits));
    d->nbits += words;
    return 0;
}

/* Make room for more elements of a dynamic array; new ones are zero. */
static int dyn_grow(frame *f)
{
    size_t esize = f->type->elem->size, cap = f->cap ? f->cap * 2 : 4;
    char *p;

    memcpy(&p, f->base, sizeof(p));
    if (cap > SIZE_MAX / esize)
        return -1;
    p = realloc(p, cap * esize);
    if (p == NULL)
        return -1;
    memset(p + f->cap * esize, 0, (cap - f->cap) * esize);
    memcpy(f->base, &p, sizeof(p));
    f->cap = cap;
    return 0;
}

/* Where the value that begins now goes: its C type, with its address in
 * *at, or NULL when it is only checked. Counts array elements. */
static const actor_json_type *slot(dec *d, char **at)
{
    frame *f;
    size_t i;
    char *p;

    if (d->depth == 0) {
        *at = (char *)d->out;
        return d->root;
    }
    f = &d->frames[d->depth - 1];
    switch (f->kind) {
    case F_STRUCT:
        if (f->field == NULL || d->failed)
            return NULL;
        *at = f->base + f->field->offset;
        return f->field->type;
    case F_FIXED:
        i = f->index++;
        if (d->failed)
            return NULL;
        if (i >= f->type->count) {
            /* The message needs the final count: see on_end_array. */
            value_failed(d, "too many elements");
            return NULL;
        }
        *at = f->base + i * f->type->elem->size;
        return f->type->elem;
    case F_DYN:
        i = f->index++;
        if (d->failed)
            return NULL;
        if (i == f->cap && dyn_grow(f) != 0) {
            d->nomem = 1;
            return NULL;
        }
        *f->count = i + 1;
        memcpy(&p, f->base, sizeof(p));
        *at = p + i * f->type->elem->size;
        return f->type->elem;
    default:
        f->index++;
        return NULL;
    }
}

static void store_int(char *at, size_t size, long long v)
{
    if (size == 1) {
        int8_t x = (int8_t)v;
        memcpy(at, &x, 1);
    } else if (size == 2) {
        int16_t x = (int16_t)v;
        memcpy(at, &x, 2);
    } else if (size == 4) {
        int32_t x = (int32_t)v;
        memcpy(at, &x, 4);
    } else {
        int64_t x = (int64_t)v;
        memcpy(at, &x, 8);
    }
}

static int on_null(void *ctx)
{
    dec *d = ctx;
    char *at;

    if (d->depth == 0)
        root_ended(d);
    if (d->depth >= MAX_DEPTH)
        return text_refused(d, "maximum parsing depth reached");
    slot(d, &at);
    return !d->nomem;
}

static int on_boolean(void *ctx, int v)
{
    dec *d = ctx;
    char *at;
    const actor_json_type *t;

    if (d->depth == 0)
        root_ended(d);
    if (d->depth >= MAX_DEPTH)
        return text_refused(d, "maximum parsing depth reached");
    t = slot(d, &at);
    if (t == NULL)
        return !d->nomem;
    if (t->kind == ACTOR_JSON_C_BOOL) {
        bool b = v != 0;
        memcpy(at, &b, sizeof(b));
    } else {
        type_failed(d, t, "a boolean");
    }
    return 1;
}

static int on_number(void *ctx, const char *s, size_t n)
{
    dec *d = ctx;
    char *at;
    const actor_json_type *t;
    long long iv = 0;
    double dv = 0;
    int real = 0, rc;

    if (d->depth == 0)
        root_ended(d);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
            real = 1;
    if (!real) {
        if (int_value(s, n, &iv) != 0)
            return text_refused(d, "too big integer");
    } else if ((rc = real_value(s, n, &dv)) != 0) {
        return rc == -2 ? out_of_memory(d) : text_refused(d, "real number overflow");
    }
    if (d->depth >= MAX_DEPTH)
        return text_refused(d, "maximum parsing depth reached");
    t = slot(d, &at);
    if (t == NULL)
        return !d->nomem;
    switch (t->kind) {
    case ACTOR_JSON_C_INT:
    case ACTOR_JSON_C_UINT:
        /* A number written with a fraction or an exponent may not denote an
         * integer even when its double does (1.0000000000000000001): it is
         * refused rather than rounded. */
        if (real)
            value_failed(d, "expected an integer, got %.17g", dv);
        else if (t->kind == ACTOR_JSON_C_INT && (iv < t->min || iv > (long long)t->max))
            value_failed(d, "%lld is out of range [%lld, %lld]", iv, t->min, (long long)t->max);
        else if (t->kind == ACTOR_JSON_C_UINT && iv < 0)
            value_failed(d, "%lld is out of range [0, %llu]", iv, t->max);
        else if (t->kind == ACTOR_JSON_C_UINT && (unsigned long long)iv > t->max)
            value_failed(d, "%llu is out of range [0, %llu]", (unsigned long long)iv, t->max);
        else
            store_int(at, t->size, iv);
        break;
    case ACTOR_JSON_C_FLOAT: {
        float f;
        if (!real)
            dv = (double)iv;
        f = (float)dv;
        /* Values that round to FLT_MAX are in range; beyond that, refuse. */
        if (fabs(dv) > (double)FLT_MAX && isinf(f))
            value_failed(d, "%.17g is out of range for a float", dv);
        else
            memcpy(at, &f, sizeof(f));
        break;
    }
    case ACTOR_JSON_C_DOUBLE:
        if (!real)
            dv = (double)iv;
        memcpy(at, &dv, sizeof(dv));
        break;
    default:
        type_failed(d, t, real ? "a number with a fraction or exponent" : "an integer");
        break;
    }
    return 1;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* yajl turns a lone surrogate escape into '?' or pairs it with whatever
 * escape follows; jansson refuses both. Check the escapes of the string
 * token that ends where yajl stopped (the closing quote). 0 if fine. */
static int escapes_bad(dec *d)
{
    size_t end = yajl_get_bytes_consumed(d->h), p, i;
    const char *s = d->text;

    if (end == 0 || end > d->len || s[end - 1] != '"')
        return 1;
    end--;
    /* The opening quote is the first one before that is not escaped: inside
     * a valid string every '"' follows an odd run of backslashes. */
    for (p = end; p > 0;) {
        size_t k;
        p--;
        if (s[p] != '"')
            continue;
        for (k = p; k > 0 && s[k - 1] == '\\'; k--)
            ;
        if (((p - k) & 1) == 0)
            break;
    }
    for (i = p + 1; i < end; i++) {
        int cp;
        if (s[i] != '\\')
            continue;
        if (s[i + 1] != 'u') {
            i++;
            continue;
        }
        cp = hex4(s + i + 2);
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return 1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo;
            if (i + 12 > end || s[i + 6] != '\\' || s[i + 7] != 'u')
                return 1;
            lo = hex4(s + i + 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return 1;
            i += 6;
        }
        i += 5;
    }
    return 0;
}

/* Refuse what jansson refuses in a string or key: invalid UTF-8, NUL, lone
 * surrogates. 0 if fine. */
static int string_bad(dec *d, const unsigned char *s, size_t n)
{
    int four = 0;

    if (!utf8_valid(s, n, &four))
        return text_refused(d, "invalid UTF-8"), 1;
    /* Not pointing into the text: yajl unescaped it. */
    if ((const char *)s < d->text || (const char *)s >= d->text + d->len) {
        if (memchr(s, '\0', n) != NULL)
            return text_refused(d, "\\u0000 is not allowed"), 1;
        if ((four || memchr(s, '?', n) != NULL) && escapes_bad(d))
            return text_refused(d, "invalid Unicode escape"), 1;
    }
    return 0;
}

static void digits_into_uint(dec *d, const actor_json_type *t, char *at, const char *s, size_t n)
{
    unsigned long long x = 0;

    if (n == 0 || n > 20) {
        value_failed(d, "expected an integer or a string of decimal digits");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned dg = (unsigned)(unsigned char)s[i] - '0';
        if (dg > 9) {
            value_failed(d, "expected an integer or a string of decimal digits");
            return;
        }
        if (x > (ULLONG_MAX - dg) / 10) {
            value_failed(d, "%.*s is out of range [0, %llu]", (int)n, s, t->max);
            return;
        }
        x = x * 10 + dg;
    }
    if (x > t->max)
        value_failed(d, "%llu is out of range [0, %llu]", x, t->max);
    else
        store_int(at, t->size, (long long)x);
}

static int on_string(void *ctx, const unsigned char *us, size_t n)
{
    dec *d = ctx;
    const char *s = (const char *)us;
    char *at, *p;
    const actor_json_type *t;

    if (d->depth == 0)
        root_ended(d);
    if (string_bad(d, us, n))
        return 0;
    if (d->depth >= MAX_DEPTH)
        return text_refused(d, "maximum parsing depth reached");
    t = slot(d, &at);
    if (t == NULL)
        return !d->nomem;
    switch (t->kind) {
    case ACTOR_JSON_C_STRING:
        if ((p = malloc(n + 1)) == NULL)
            return out_of_memory(d);
        memcpy(p, s, n);
        p[n] = '\0';
        memcpy(at, &p, sizeof(p));
        break;
    case ACTOR_JSON_C_CHARS:
        if (n >= t->size) {
            value_failed(d, "string of %zu bytes is too long for char[%zu] (at most %zu)", n,
                         t->size, t->size - 1);
        } else {
            memcpy(at, s, n);
            at[n] = '\0';
        }
        break;
    case ACTOR_JSON_C_ENUM: {
        const actor_json_enum *en = t->en;
        size_t i;
        for (i = 0; i < en->n; i++)
            if (en->items[i].len == n && memcmp(en->items[i].name, s, n) == 0)
                break;
        if (i < en->n) {
            store_int(at, t->size, en->items[i].value);
        } else {
            char q[64];
            quote(q, sizeof(q), s, n);
            value_failed(d, "unknown %s name \"%s\"", en->name, q);
        }
        break;
    }
    case ACTOR_JSON_C_UINT:
        if (t->max > (unsigned long long)LLONG_MAX) {
            digits_into_uint(d, t, at, s, n);
            break;
        }
        type_failed(d, t, "a string");
        break;
    default:
        type_failed(d, t, "a string");
        break;
    }
    return 1;
}

static size_t key_hash(size_t serial, const unsigned char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)serial;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

/* Add a key of the object `serial` to the set; 1 if it was there. */
static int key_seen(dec *d, size_t serial, const unsigned char *k, size_t n)
{
    size_t h = key_hash(serial, k, n), mask, i;

    if (2 * (d->nkeys + 1) > d->keys_cap) {
        size_t cap = d->keys_cap ? d->keys_cap * 2 : 64;
        key_entry *t = calloc(cap, sizeof(*t));
        if (t == NULL)
            return -1;
        for (size_t j = 0; j < d->keys_cap; j++) {
            if (d->keys[j].serial == 0)
                continue;
            for (i = d->keys[j].hash & (cap - 1); t[i].serial != 0; i = (i + 1) & (cap - 1))
                ;
            t[i] = d->keys[j];
        }
        free(d->keys);
        d->keys = t;
        d->keys_cap = cap;
    }
    mask = d->keys_cap - 1;
    for (i = h & mask; d->keys[i].serial != 0; i = (i + 1) & mask) {
        const key_entry *e = &d->keys[i];
        if (e->serial == serial && e->hash == h && e->len == n && memcmp(e->key, k, n) == 0)
            return 1;
    }
    if ((const char *)k < d->text || (const char *)k >= d->text + d->len) {
        /* Unescaped by yajl into a buffer it reuses: keep a copy. */
        key_block *b = malloc(sizeof(*b) + n + 1);
        if (b == NULL)
            return -1;
        memcpy(b->data, k, n);
        b->next = d->key_copies;
        d->key_copies = b;
        k = b->data;
    }
    d->keys[i].serial = serial;
    d->keys[i].hash = h;
    d->keys[i].key = k;
    d->keys[i].len = n;
    d->nkeys++;
    return 0;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    dec *d = ctx;
    frame *f = &d->frames[d->depth - 1];
    int rc;

    if (string_bad(d, k, n))
        return 0;
    if (f->kind == F_STRUCT) {
        const actor_json_struct *st = f->type->st;
        size_t i = f->hint;
        if (i >= st->n || st->fields[i].len != n || memcmp(st->fields[i].name, k, n) != 0) {
            for (i = 0; i < st->n; i++)
                if (st->fields[i].len == n && memcmp(st->fields[i].name, k, n) == 0)
                    break;
        }
        if (i < st->n) {
            uint64_t *w = &d->bits[f->bits + i / 64], bit = (uint64_t)1 << (i % 64);
            if (*w & bit)
                return text_refused(d, "duplicate object key");
            *w |= bit;
            f->field = &st->fields[i];
            f->hint = i + 1;
            return 1;
        }
        f->field = NULL;
    }
    rc = key_seen(d, f->serial, k, n);
    if (rc < 0)
        return out_of_memory(d);
    if (rc > 0)
        return text_refused(d, "duplicate object key");
    return 1;
}

static int on_start_map(void *ctx)
{
    dec *d = ctx;
    char *at = NULL;
    const actor_json_type *t;
    frame *f;

    if (d->depth >= MAX_DEPTH)
        return text_refused(d, "maximum parsing depth reached");
    t = slot(d, &at);
    if (d->nomem)
        return 0;
    if (t != NULL && t->kind != ACTOR_JSON_C_STRUCT) {
        type_failed(d, t, "an object");
        t = NULL;
    }
    if ((f = push(d)) == NULL)
        return out_of_memory(d);
    f->serial = ++d->serials;
    if (t == NULL) {
        f->kind = F_SKIP_OBJ;
        return 1;
    }
    f->kind = F_STRUCT;
    f->type = t;
    f->base = at;
    f->field = NULL;
    f->hint = 0;
    if (bits_push(d, t->st->n, &f->bits) != 0)
        return out_of_memory(d);
    return 1;
}

static int on_end_map(void *ctx)
{
    dec *d = ctx;
    frame *f = &d->frames[d->depth - 1];

    if (f->kind == F_STRUCT)
        d->nbits = f->bits;
    if (--d->depth == 0)
        root_ended(d);
    return 1;
}

static int on_start_array(void *ctx)
{
    dec *d = ctx;
    char *at = NULL;
    const actor_json_type *t;
    frame *f;
    size_t *count = NULL;

    if (d->depth >= MAX_DEPTH)
        return text_refused(d, "maximum parsing depth reached");
    t = slot(d, &at);
    if (d->nomem)
        return 0;
    if (t != NULL && t->kind != ACTOR_JSON_C_FIXED && t->kind != ACTOR_JSON_C_DYN) {
        type_failed(d, t, "an array");
        t = NULL;
    }
    if (t != NULL && t->kind == ACTOR_JSON_C_DYN) {
        /* A dynamic array is always a struct's member, next to its count. */
        const frame *parent = &d->frames[d->depth - 1];
        count = (size_t *)(void *)(parent->base + parent->field->count_offset);
    }
    if ((f = push(d)) == NULL)
        return out_of_memory(d);
    if (t == NULL) {
        f->kind = F_SKIP_ARR;
        return 1;
    }
    f->kind = t->kind == ACTOR_JSON_C_FIXED ? F_FIXED : F_DYN;
    f->type = t;
    f->base = at;
    f->count = count;
    f->cap = 0;
    return 1;
}

static int on_end_array(void *ctx)
{
    dec *d = ctx;
    frame *f = &d->frames[d->depth - 1];

    if (f->kind == F_FIXED && f->index > f->type->count && (!d->failed || f->err_inside)) {
        /* Too many elements: this outranks anything found inside. */
        d->failed = 0;
        d->depth--;
        value_failed(d, "%zu elements, at most %zu", f->index, f->type->count);
        if (d->depth == 0)
            root_ended(d);
        return 1;
    }
    if (f->kind == F_DYN && f->cap > f->index && f->index > 0) {
        /* Give back what the doubling left unused. */
        char *p, *q;
        memcpy(&p, f->base, sizeof(p));
        q = realloc(p, f->index * f->type->elem->size);
        if (q != NULL)
            memcpy(f->base, &q, sizeof(q));
    }
    if (--d->depth == 0)
        root_ended(d);
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null,      on_boolean, NULL,       NULL,           on_number,    on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array,
};

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

/* The text is refused (by yajl or by a check above): let jansson read it
 * for its message and location, and find the path of the value that does
 * not parse. */
static int text_error(dec *d, const char *json, size_t len, const char *what)
{
    actor_json_error *err = d->err;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);

    err_reset(err);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory) {
            actor_json_fail(err, ACTOR_ENOMEM, "out of memory");
            return actor__error_oom();
        }
        snprintf(err->message, sizeof(err->message), "%s", je.text);
        path_at_failure(json, len, err->path, sizeof(err->path));
        err->line = je.line > 0 ? je.line : 1;
        err->column = je.column > 0 ? je.column : 1;
        err->position = je.position > 0 ? (size_t)je.position : 0;
        return record_decode_error(ACTOR_EDECODE, what, err);
    }
    /* jansson takes what yajl refused: report yajl's reason. (jansson lets
     * a NUL byte after a number or a literal pass; it is refused.) */
    json_decref(root);
    if (memchr(json, '\0', len) != NULL) {
        snprintf(err->message, sizeof(err->message), "NUL byte outside a string");
        set_location(err, json, len, (size_t)((const char *)memchr(json, '\0', len) - json));
    } else if (d->syntax) {
        snprintf(err->message, sizeof(err->message), "%s", d->syntax_msg);
        set_location(err, json, len, d->syntax_pos);
    } else {
        unsigned char *msg = yajl_get_error(d->h, 0, (const unsigned char *)json, len);
        size_t n;
        snprintf(err->message, sizeof(err->message), "%s", msg ? (const char *)msg : "bad JSON");
        n = strlen(err->message);
        while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == ' '))
            err->message[--n] = '\0';
        if (msg != NULL)
            yajl_free_error(d->h, msg);
        set_location(err, json, len, yajl_get_bytes_consumed(d->h));
    }
    return record_decode_error(ACTOR_EDECODE, what, err);
}

int actor_json_decode(void *out, const void *json, size_t len, const actor_json_type *type,
                      const char *what, actor_json_error *err)
{
    actor_json_error local;
    yajl_status st;
    const char *ff, *vt;
    dec d;
    int rc = 0;

    if (err == NULL)
        err = &local;
    err_reset(err);
    if (what == NULL)
        what = "value";
    if (json == NULL && len > 0)
        return actor_error_set(ACTOR_EINVAL, "cannot decode %s: NULL input", what);
    if (out == NULL || type == NULL || type->kind != ACTOR_JSON_C_STRUCT)
        return actor_error_set(ACTOR_EINVAL, "cannot decode %s: bad arguments", what);
    if (json == NULL)
        json = "";
    memset(&d, 0, offsetof(dec, frames0));
    d.text = (const char *)json;
    d.len = len;
    d.out = out;
    d.root = type;
    d.err = err;
    d.frames = d.frames0;
    d.frames_cap = sizeof(d.frames0) / sizeof(d.frames0[0]);
    d.bits = d.bits0;
    d.bits_cap = sizeof(d.bits0) / sizeof(d.bits0[0]);
    d.h = yajl_alloc(&callbacks, NULL, &d);
    if (d.h == NULL) {
        actor_json_fail(err, ACTOR_ENOMEM, "out of memory");
        return actor__error_oom();
    }
    /* The strings are checked above, more strictly than yajl would. */
    yajl_config(d.h, yajl_dont_validate_strings, 1);
    /* yajl takes form feed and vertical tab for white space; JSON has no
     * place for them, raw, anywhere (a string takes them escaped). */
    ff = memchr(json, '\f', len);
    vt = memchr(json, '\v', len);
    if (ff != NULL || vt != NULL) {
        st = yajl_status_error;
        d.syntax = 1;
        d.syntax_msg = "invalid token";
        d.syntax_pos =
            (size_t)((ff != NULL && (vt == NULL || ff < vt) ? ff : vt) - (const char *)json);
    } else {
        st = yajl_parse(d.h, (const unsigned char *)json, len);
        d.finishing = 1;
        if (st == yajl_status_ok)
            st = yajl_complete_parse(d.h);
        for (size_t i = d.root_end; st == yajl_status_ok && i < len; i++) {
            char c = ((const char *)json)[i];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                st = yajl_status_error;
                d.syntax = 1;
                d.syntax_msg = "end of file expected";
                d.syntax_pos = i;
            }
        }
    }
    if (d.nomem) {
        actor_json_fail(err, ACTOR_ENOMEM, "out of memory");
        rc = actor__error_oom();
    } else if (st != yajl_status_ok) {
        rc = text_error(&d, (const char *)json, len, what);
    } else if (d.failed) {
        if (strncmp(err->path, "...", 3) != 0) {
            size_t pos = locate((const char *)json, len, err->path);
            if (pos != (size_t)-1)
                set_location(err, (const char *)json, len, pos);
        }
        rc = record_decode_error(ACTOR_EDECODE, what, err);
    }
    yajl_free(d.h);
    if (d.frames != d.frames0)
        free(d.frames);
    if (d.bits != d.bits0)
        free(d.bits);
    free(d.keys);
    while (d.key_copies != NULL) {
        key_block *b = d.key_copies;
        d.key_copies = b->next;
        free(b);
    }
    return rc;
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
    return v ? actor_json_put_raw(out, "true", 4) : actor_json_put_raw(out, "false", 5);
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

/* Write the decimal digits of v (and a '-' when neg) at p; the length. */
static size_t write_uint(char *p, uint64_t v, int neg)
{
    char tmp[24], *end = tmp + sizeof(tmp), *s = utoa_back(end, v);
    size_t n;

    if (neg)
        *--s = '-';
    n = (size_t)(end - s);
    memcpy(p, s, n);
    return n;
}

int actor_json_put_int(actor_buf *out, int64_t v)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int rc = reserve(out, 24);

    if (rc != 0)
        return rc;
    out->size += write_uint(out->ptr + out->size, u, v < 0);
    return 0;
}

int actor_json_put_uint(actor_buf *out, uint64_t v)
{
    int rc = reserve(out, 24);
    char *p;

    if (rc != 0)
        return rc;
    p = out->ptr + out->size;
    if (v <= (uint64_t)INT64_MAX) {
        out->size += write_uint(p, v, 0);
        return 0;
    }
    p[0] = '"';
    out->size += write_uint(p + 1, v, 0) + 2;
    out->ptr[out->size - 1] = '"';
    return 0;
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

/*
 * Shortest round-trip text, the fast way. The text of a double is what
 * printf's "%.15g", "%.16g" or "%.17g" writes, the first that strtod reads
 * back as the same double (floats: "%.6g" to "%.9g", read back through a
 * double). printf and strtod are exact but slow; for most values the
 * digits can be had with one multiplication by an exact power of ten and
 * checked with one exact operation:
 *
 * - scale |d| by 10^k so that its integer part has `prec` digits and round
 *   to the nearest integer r: with |k| <= 22 the power is exact and the
 *   product carries one rounding, so r is at most one off printf's digits;
 * - r * 10^-k (r < 2^53, |k| <= 22) read back by strtod is exactly the one
 *   IEEE multiplication or division of two exact doubles, so computing it
 *   is the read-back check;
 * - at 15 digits at most one 15-digit decimal lies in a double's rounding
 *   interval (decimals are at least 10^-15 apart relative to the value,
 *   doubles at most 2^-52), so a candidate that reads back is printf's; if
 *   neither r nor its neighbours read back, no 15 digits do;
 * - floats (6 to 9 digits) have the scaled value accurate to 10^-7, so away
 *   from a tie (fraction within 10^-6 of one half) r is printf's rounding.
 *
 * Everything else (subnormals, exponents past the table, ties, doubles
 * needing 16 or 17 digits) goes through printf and strtod as before.
 */
static const uint64_t pow10_int[] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL};

/* For a > 0: r with `prec` digits and the decimal exponent x of its first
 * digit, a ~ r * 10^(x - prec + 1); *frac is the scaled value's fraction
 * before rounding. 0 when the scale is past the exact powers. */
static int scale_digits(double a, int prec, uint64_t *r, int *x, double *frac)
{
    uint64_t bits;
    int e2, xx;

    /* a = 1.f * 2^e2 (a is normal); floor(e2 * log10(2)) is the decimal
     * exponent of a or one less. No libm: static users need not link it. */
    memcpy(&bits, &a, sizeof(bits));
    e2 = (int)((bits >> 52) & 0x7FF) - 1023;
    xx = e2 >= 0 ? (e2 * 78913) >> 18 : -((-e2 * 78913 + (1 << 18) - 1) >> 18);
    for (int tries = 0; tries < 3; tries++) {
        int k = prec - 1 - xx;
        double p;
        uint64_t v;

        if (k > 22 || k < -22)
            return 0;
        p = k >= 0 ? a * pow10_exact[k] : a / pow10_exact[-k];
        if (p >= (double)pow10_int[prec]) {
            xx++;
            continue;
        }
        if (p < (double)pow10_int[prec - 1]) {
            xx--;
            continue;
        }
        v = (uint64_t)(p + 0.5);
        *frac = p - (double)(uint64_t)p;
        if (v >= pow10_int[prec]) {
            /* Rounded up into the next decade: 9.99...5 -> 10. */
            v = pow10_int[prec - 1];
            xx++;
        }
        *r = v;
        *x = xx;
        return 1;
    }
    return 0;
}

/* r * 10^q as strtod reads "r e q" (r < 2^53, |q| <= 22). */
static double digits_value(uint64_t r, int q)
{
    return q >= 0 ? (double)r * pow10_exact[q] : (double)r / pow10_exact[-q];
}

/* Write r (prec digits, decimal exponent x) as printf's %.{prec}g does:
 * trailing zeros dropped, exponent form when x < -4 or x >= prec. */
static size_t format_g(char *buf, int neg, uint64_t r, int x, int prec)
{
    char dg[20];
    size_t o = 0;
    int len = prec;

    for (int i = prec - 1; i >= 0; i--) {
        dg[i] = (char)('0' + r % 10);
        r /= 10;
    }
    while (len > 1 && dg[len - 1] == '0')
        len--;
    if (neg)
        buf[o++] = '-';
    if (x < -4 || x >= prec) {
        unsigned ax = (unsigned)(x < 0 ? -x : x);
        buf[o++] = dg[0];
        if (len > 1) {
            buf[o++] = '.';
            memcpy(buf + o, dg + 1, (size_t)len - 1);
            o += (size_t)len - 1;
        }
        buf[o++] = 'e';
        buf[o++] = x < 0 ? '-' : '+';
        if (ax >= 100)
            buf[o++] = (char)('0' + ax / 100);
        buf[o++] = (char)('0' + ax / 10 % 10);
        buf[o++] = (char)('0' + ax % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            buf[o++] = i < len ? dg[i] : '0';
        if (len > x + 1) {
            buf[o++] = '.';
            memcpy(buf + o, dg + x + 1, (size_t)(len - x - 1));
            o += (size_t)(len - x - 1);
        }
    } else {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = 0; i < -x - 1; i++)
            buf[o++] = '0';
        memcpy(buf + o, dg, (size_t)len);
        o += (size_t)len;
    }
    buf[o] = '\0';
    return o;
}

/* The 15-digit text of d (finite, not 0) when it reads back: its length;
 * -1 when no 15 digits read back; 0 when this cannot tell. */
static int fast_double(char *buf, double d)
{
    double a = fabs(d), frac;
    uint64_t r;
    int x, q;

    if (a < 1e15 && a == (double)(int64_t)a)
        return (int)write_uint(buf, (uint64_t)a, d < 0);
    if (!scale_digits(a, 15, &r, &x, &frac))
        return 0;
    q = x - 14;
    if (q > 22 || q < -22)
        return 0;
    if (digits_value(r, q) == a)
        return (int)format_g(buf, d < 0, r, x, 15);
    if (r > pow10_int[14] && digits_value(r - 1, q) == a)
        return (int)format_g(buf, d < 0, r - 1, x, 15);
    if (r + 1 < pow10_int[15] && digits_value(r + 1, q) == a)
        return (int)format_g(buf, d < 0, r + 1, x, 15);
    /* At the edge of a decade a neighbour has another exponent. */
    if (r <= pow10_int[14] || r + 1 >= pow10_int[15])
        return 0;
    return -1;
}

/* The shortest text of f (finite, normal, not 0) from 6 to 9 digits: its
 * length; 0 when this cannot tell. */
static int fast_float(char *buf, float f)
{
    double a = fabs((double)f), frac;

    if (a < 1e6 && a == (double)(int64_t)a)
        return (int)write_uint(buf, (uint64_t)a, f < 0);
    for (int prec = 6; prec <= 9; prec++) {
        uint64_t r;
        int x, q;
        if (!scale_digits(a, prec, &r, &x, &frac) || fabs(frac - 0.5) < 1e-6)
            return 0;
        q = x - (prec - 1);
        if (q > 22 || q < -22)
            return 0;
        if ((float)digits_value(r, q) == (float)a)
            return (int)format_g(buf, f < 0, r, x, prec);
    }
    return 0;
}

/* Shortest text that reads back (through strtod, as jansson reads it) as
 * exactly d. d is finite. Returns the length. */
static int format_double(char *buf, size_t size, double d)
{
    int n = 0, start;

    if (d == 0) {
        return snprintf(buf, size, signbit(d) ? "-0.0" : "0");
    }
    /* For a normal double, 15 digits that read back are also the shortest
     * digits that do; subnormals carry fewer bits, so start lower. */
    start = fabs(d) < DBL_MIN ? 1 : 15;
#if FLT_EVAL_METHOD == 0
    if (start == 15) {
        n = fast_double(buf, d);
        if (n > 0)
            return n;
        if (n < 0)
            start = 16;
    }
#endif
    for (int prec = start; prec <= 17; prec++) {
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
#if FLT_EVAL_METHOD == 0
    if (fabsf(f) >= FLT_MIN && (n = fast_float(buf, f)) > 0)
        return n;
#endif
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
    int n, rc;

    if (!isfinite(v))
        return actor_json_fail(err, ACTOR_EINVAL, "%s cannot be written as JSON",
                               isnan(v) ? "NaN" : "an infinity");
    if ((rc = reserve(out, 40)) != 0)
        return rc;
    n = format_double(out->ptr + out->size, 40, v);
    out->size += (size_t)n;
    return 0;
}

int actor_json_put_float(actor_buf *out, float v, actor_json_error *err)
{
    int n, rc;

    if (!isfinite(v))
        return actor_json_fail(err, ACTOR_EINVAL, "%s cannot be written as JSON",
                               isnan(v) ? "NaN" : "an infinity");
    if ((rc = reserve(out, 40)) != 0)
        return rc;
    n = format_float(out->ptr + out->size, 40, v);
    out->size += (size_t)n;
    return 0;
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
            size_t n = actor__utf8_seq(s + i, len - i);
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
            /* The characters with a short escape, and their escapes. */
            static const char shorts[] = "\"\\\n\r\t\b\f", letters[] = "\"\\nrtbf";
            char esc[6];
            size_t n = 2;
            unsigned char c = s[i++];
            const char *k = c ? memchr(shorts, c, sizeof(shorts) - 1) : NULL;
            esc[0] = '\\';
            if (k) {
                esc[1] = letters[k - shorts];
            } else {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
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
    if (rc == 0) {
        if (out->ptr != NULL)
            out->ptr[out->size] = '\0';
        return 0;
    }
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

/* The store judges expiry by its clock in whole milliseconds, the cache by
 * the monotonic clock in whole milliseconds: each rounding can make one of
 * them see the TTL run out up to a millisecond before the other. The cache
 * gives a value up this much earlier, so it never serves one the store
 * already stopped returning (a get then reads the store again). */
#define CACHE_MARGIN_MS 2

/* Monotonic expiry of a value that expires in `ttl_ms` (> 0). */
static int64_t cache_expiry(int64_t ttl_ms)
{
    int64_t now = actor__mono_ms();
    return ttl_ms > CACHE_MARGIN_MS ? now + ttl_ms - CACHE_MARGIN_MS : now;
}

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
    b = box_new(codec, rc == 0 && ttl > 0 ? cache_expiry(ttl) : 0);
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

/* Encode `v` and hand the bytes to `write` (actor_ctx_state_set or
 * actor_ctx_state_stage_set); `fn` names the caller in messages. */
static int encode_write(actor_ctx *ctx, const void *v, int64_t ttl_ms,
                        const actor_json_codec *codec, const char *fn,
                        int (*write)(actor_ctx *, const void *, size_t, int64_t))
{
    actor_buf raw = ACTOR_BUF_INIT;
    int rc;

    if ((rc = check_codec(codec)) != 0)
        return rc;
    if (v == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s_%s: value is NULL", codec->name, fn);
    rc = codec->encode(&raw, v);
    if (rc == 0)
        rc = write(ctx, raw.ptr, raw.size, ttl_ms);
    actor_buf_dispose(&raw);
    return rc;
}

int actor_json_state_set(actor_ctx *ctx, const void *v, int64_t ttl_ms,
                         const actor_json_codec *codec)
{
    int64_t expires = ttl_ms > 0 ? cache_expiry(ttl_ms) : 0;
    box *b;
    int rc;

    if ((rc = encode_write(ctx, v, ttl_ms, codec, "state_set", actor_ctx_state_set)) != 0)
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

int actor_json_state_stage(actor_ctx *ctx, const void *v, int64_t ttl_ms,
                           const actor_json_codec *codec)
{
    /* Staging drops the cache: a get later in the turn decodes the staged
     * bytes, and a failed turn leaves no uncommitted value cached. */
    return encode_write(ctx, v, ttl_ms, codec, "state_stage", actor_ctx_state_stage_set);
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
