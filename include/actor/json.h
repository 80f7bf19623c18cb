/*
 * json.h: JSON support for the code that actorgen generates (see
 * docs/codegen.md). It holds the decode error report users see
 * (actor_json_error), and what the generated encoders, decoders and typed
 * state clients call: appending JSON values to an actor_buf, decoding a
 * text into a struct described by static tables, and the state client
 * core.
 *
 * Users normally only meet actor_json_error; the rest is called by generated
 * code and may change between minor versions together with actorgen. All
 * functions are safe on any thread unless they say otherwise (none of them
 * share state); the state functions follow the rules of state.h.
 */
#ifndef ACTOR_JSON_H
#define ACTOR_JSON_H

#include <stdbool.h>
#include <string.h>

#include "common.h"
#include "buffer.h"
#include "type.h"

ACTOR_BEGIN_DECLS

#define ACTOR_JSON_PATH_MAX    256
#define ACTOR_JSON_MESSAGE_MAX 256

/*
 * Where and why a document failed to decode (or a value failed to encode).
 * For a syntax error, line/column/position are where the parser stopped and
 * path is "". For a value of the wrong shape (wrong type, out of range,
 * unknown enum name, ...) path is the JSON Pointer of the value
 * ("/items/3/qty") and line/column/position point at its first byte.
 * line and column are 1-based (column counts UTF-8 characters); position is
 * a 0-based byte offset. line is 0 when no location is known (encoding).
 */
typedef struct actor_json_error {
    int line;
    int column;
    size_t position;
    char path[ACTOR_JSON_PATH_MAX];
    char message[ACTOR_JSON_MESSAGE_MAX];
} actor_json_error;

/* ---- decoding: for generated code ---------------------------------------- */

/*
 * Decoding is driven by descriptions of the C types that actorgen emits as
 * static tables: the runtime parses the text with an event parser and
 * stores every value straight into the caller's struct, with no document
 * tree in between. The descriptions are plain data; their layout may change
 * together with actorgen (ACTOR_JSON_CODEC_VERSION).
 */
typedef enum actor_json_ckind {
    ACTOR_JSON_C_BOOL,   /* bool */
    ACTOR_JSON_C_INT,    /* signed integer of `size` bytes in [min, max] */
    ACTOR_JSON_C_UINT,   /* unsigned integer of `size` bytes in [0, max] */
    ACTOR_JSON_C_FLOAT,  /* float */
    ACTOR_JSON_C_DOUBLE, /* double */
    ACTOR_JSON_C_STRING, /* char *, malloc'ed, NULL for null */
    ACTOR_JSON_C_CHARS,  /* char[size] */
    ACTOR_JSON_C_ENUM,   /* enum of `size` bytes, named by `en` */
    ACTOR_JSON_C_STRUCT, /* struct described by `st` */
    ACTOR_JSON_C_FIXED,  /* elem[count], `size` bytes in all */
    ACTOR_JSON_C_DYN     /* elem *p with a size_t count: see actor_json_field */
} actor_json_ckind;

typedef struct actor_json_type actor_json_type;

typedef struct actor_json_enumerator {
    const char *name; /* JSON name */
    size_t len;       /* strlen(name) */
    long long value;
} actor_json_enumerator;

typedef struct actor_json_enum {
    const char *name; /* for messages */
    const actor_json_enumerator *items;
    size_t n;
} actor_json_enum;

typedef struct actor_json_field {
    const char *name;    /* JSON name */
    size_t len;          /* strlen(name) */
    size_t offset;       /* offsetof the member */
    size_t count_offset; /* ACTOR_JSON_C_DYN: offsetof the size_t count member */
    const actor_json_type *type;
} actor_json_field;

typedef struct actor_json_struct {
    const char *name;
    const actor_json_field *fields; /* encoded fields, in declaration order */
    size_t n;
} actor_json_struct;

struct actor_json_type {
    int kind;                    /* actor_json_ckind */
    size_t size;                 /* sizeof the C object (an element's size for arrays' elem) */
    size_t count;                /* ACTOR_JSON_C_FIXED: number of elements */
    long long min;               /* ACTOR_JSON_C_INT */
    unsigned long long max;      /* ACTOR_JSON_C_INT, ACTOR_JSON_C_UINT */
    const actor_json_type *elem; /* ACTOR_JSON_C_FIXED, ACTOR_JSON_C_DYN */
    const actor_json_struct *st; /* ACTOR_JSON_C_STRUCT */
    const actor_json_enum *en;   /* ACTOR_JSON_C_ENUM */
};

/*
 * Parse `len` bytes of JSON into `out`, a value of the struct type `type`
 * that the caller has set to all bits zero, following the rules of
 * docs/codegen.md. On failure `out` may hold values already decoded (the
 * caller releases them with T_free), err (may be NULL) is filled and located
 * in the text, and the thread's error record says "cannot decode <what>:
 * <path>: <message> (line L, column C, byte B)". Returns 0, ACTOR_EDECODE,
 * ACTOR_ENOMEM or ACTOR_EINVAL.
 */
ACTOR_API int actor_json_decode(void *out, const void *json, size_t len,
                                const actor_json_type *type, const char *what,
                                actor_json_error *err);

/* Record a failure in err (message formatted like printf, path cleared) and
 * return `code`. */
ACTOR_API int actor_json_fail(actor_json_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prepend one step to err->path while a failure unwinds: "/key", "/3". */
ACTOR_API void actor_json_path_key(actor_json_error *err, const char *key);
ACTOR_API void actor_json_path_index(actor_json_error *err, size_t index);

/* ---- encoding: for generated code ---------------------------------------- */

/* Append n bytes of JSON text that need no checking (punctuation, quoted
 * member names). 0 or ACTOR_ENOMEM. The text is not NUL-terminated until
 * actor_json_encode_end. */
static inline int actor_json_put_raw(actor_buf *out, const char *text, size_t n)
{
    if (out->asize - out->size > n) {
        memcpy(out->ptr + out->size, text, n);
        out->size += n;
        return 0;
    }
    return actor_buf_put(out, text, n);
}

/* Append one JSON value to out. 0, ACTOR_ENOMEM, or ACTOR_EINVAL with err
 * filled (non-finite number, invalid UTF-8, char[N] without a NUL). Doubles
 * and floats are written in the shortest form that reads back exactly;
 * -0.0 is written as -0.0. Unsigned values above INT64_MAX are written as a
 * string of decimal digits. A NULL string is written as null. */
ACTOR_API int actor_json_put_bool(actor_buf *out, bool v);
ACTOR_API int actor_json_put_int(actor_buf *out, int64_t v);
ACTOR_API int actor_json_put_uint(actor_buf *out, uint64_t v);
ACTOR_API int actor_json_put_double(actor_buf *out, double v, actor_json_error *err);
ACTOR_API int actor_json_put_float(actor_buf *out, float v, actor_json_error *err);
ACTOR_API int actor_json_put_string(actor_buf *out, const char *s, actor_json_error *err);
ACTOR_API int actor_json_put_chars(actor_buf *out, const char *s, size_t size,
                                   actor_json_error *err);

/* End an encode that started at out->size == mark: on success NUL-terminate
 * the text; on failure (rc != 0) cut out back to mark and record "cannot encode <what>: <path>:
 * <message>" in the thread's error record. Returns rc. */
ACTOR_API int actor_json_encode_end(actor_buf *out, size_t mark, int rc, const char *what,
                                    const actor_json_error *err);

/* A new copy of s (malloc) in *dst; NULL for NULL. 0 or ACTOR_ENOMEM. */
ACTOR_API int actor_json_copy_string(char **dst, const char *src);

/* ---- typed state client core: for generated code ------------------------- */

#define ACTOR_JSON_CODEC_VERSION 1

/* What the state client needs to know about one generated type T. The
 * generated .c holds one static codec per type; its address is also the tag
 * of the type's value in the activation's cache slot. */
typedef struct actor_json_codec {
    unsigned int version;
    const char *name;
    size_t size;
    void (*init)(void *v);
    void (*free)(void *v); /* T_free */
    int (*copy)(void *dst, const void *src);
    int (*encode)(actor_buf *out, const void *v);
    int (*decode)(void *out, const void *json, size_t len, actor_json_error *err);
} actor_json_codec;

/* The bodies of T_state_get/set/delete and their _at forms (see
 * docs/codegen.md for the contracts). */
ACTOR_API int actor_json_state_get(void *out, actor_ctx *ctx, const actor_json_codec *codec);
ACTOR_API int actor_json_state_set(actor_ctx *ctx, const void *v, int64_t ttl_ms,
                                   const actor_json_codec *codec);
ACTOR_API int actor_json_state_delete(actor_ctx *ctx, const actor_json_codec *codec);
/* The body of T_state_stage: encode, then actor_ctx_state_stage_set. */
ACTOR_API int actor_json_state_stage(actor_ctx *ctx, const void *v, int64_t ttl_ms,
                                     const actor_json_codec *codec);
ACTOR_API int actor_json_state_get_at(void *out, actor_host *host, const char *type, const char *id,
                                      const actor_json_codec *codec);
ACTOR_API int actor_json_state_set_at(actor_host *host, const char *type, const char *id,
                                      const void *v, int64_t ttl_ms, const actor_json_codec *codec);
ACTOR_API int actor_json_state_delete_at(actor_host *host, const char *type, const char *id);

ACTOR_END_DECLS

#endif
