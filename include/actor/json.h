/*
 * json.h: JSON support for the code that actorgen generates (see
 * docs/codegen.md). It holds the decode error report users see
 * (actor_json_error), and the primitives the generated encoders, decoders
 * and typed state clients call: appending JSON values to an actor_buf,
 * reading values out of a parsed document, and the state client core.
 *
 * Users normally only meet actor_json_error; the rest is called by generated
 * code and may change between minor versions together with actorgen. All
 * functions are safe on any thread unless they say otherwise (none of them
 * share state); the state functions follow the rules of state.h.
 */
#ifndef ACTOR_JSON_H
#define ACTOR_JSON_H

#include <stdbool.h>

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

/* A node of a parsed document. Borrowed from the document being decoded;
 * valid only during the decode callback. */
typedef struct actor_json_value actor_json_value;

typedef enum actor_json_kind {
    ACTOR_JSON_NULL,
    ACTOR_JSON_BOOL,
    ACTOR_JSON_INTEGER,
    ACTOR_JSON_REAL,
    ACTOR_JSON_STRING,
    ACTOR_JSON_ARRAY,
    ACTOR_JSON_OBJECT
} actor_json_kind;

/* Decode callback: fill `out` from `root`; 0 or a negative code with err
 * filled by the primitives below. */
typedef int (*actor_json_decode_fn)(void *out, const actor_json_value *root, actor_json_error *err);

/*
 * Parse `len` bytes of JSON and hand the root to `fn`. Duplicate object keys
 * are a syntax error. On failure err (may be NULL) is filled, located in the
 * text, and the thread's error record says "cannot decode <what>: <path>:
 * <message> (line L, column C, byte B)". Returns 0, ACTOR_EDECODE or
 * ACTOR_ENOMEM (or whatever fn returns).
 */
ACTOR_API int actor_json_decode(void *out, const void *json, size_t len, actor_json_decode_fn fn,
                                const char *what, actor_json_error *err);

ACTOR_API actor_json_kind actor_json_kind_of(const actor_json_value *v);

/* Check that v is of kind `want`: 0 if so, 1 if v is null, or ACTOR_EDECODE
 * ("expected an object, got a string"). */
ACTOR_API int actor_json_expect(const actor_json_value *v, actor_json_kind want,
                                actor_json_error *err);

/* Iterate an object's members in document order: start with *iter = NULL;
 * returns the key and sets *value, or NULL after the last member. */
ACTOR_API const char *actor_json_object_next(const actor_json_value *obj, void **iter,
                                             const actor_json_value **value);

ACTOR_API size_t actor_json_array_size(const actor_json_value *arr);
ACTOR_API const actor_json_value *actor_json_array_at(const actor_json_value *arr, size_t i);

/* Scalar readers. null reads as the zero value. 0 or ACTOR_EDECODE (or
 * ACTOR_ENOMEM for strings). Integers must lie in [min, max]; a number with
 * a fraction is refused, an integral real up to 2^53 is accepted. Unsigned
 * fields whose max exceeds INT64_MAX also accept a string of decimal digits
 * (that is how actor_json_put_uint writes values above INT64_MAX). */
ACTOR_API int actor_json_get_bool(bool *out, const actor_json_value *v, actor_json_error *err);
ACTOR_API int actor_json_get_int(int64_t *out, const actor_json_value *v, int64_t min, int64_t max,
                                 actor_json_error *err);
ACTOR_API int actor_json_get_uint(uint64_t *out, const actor_json_value *v, uint64_t max,
                                  actor_json_error *err);
ACTOR_API int actor_json_get_double(double *out, const actor_json_value *v, actor_json_error *err);
ACTOR_API int actor_json_get_float(float *out, const actor_json_value *v, actor_json_error *err);
/* A new NUL-terminated copy (malloc) in *out, or NULL for null. */
ACTOR_API int actor_json_get_string(char **out, const actor_json_value *v, actor_json_error *err);
/* Into a char[size]: at most size-1 bytes, else ACTOR_EDECODE. */
ACTOR_API int actor_json_get_chars(char *out, size_t size, const actor_json_value *v,
                                   actor_json_error *err);
/* A borrowed string (enum names), NULL for null. */
ACTOR_API int actor_json_get_name(const char **out, const actor_json_value *v,
                                  actor_json_error *err);

/* Record a failure in err (message formatted like printf, path cleared) and
 * return `code`. */
ACTOR_API int actor_json_fail(actor_json_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* "unknown <enum> name "<name>"" as ACTOR_EDECODE. */
ACTOR_API int actor_json_fail_name(actor_json_error *err, const char *enum_name, const char *name);

/* Prepend one step to err->path while a failure unwinds: "/key", "/3". */
ACTOR_API void actor_json_path_key(actor_json_error *err, const char *key);
ACTOR_API void actor_json_path_index(actor_json_error *err, size_t index);

/* ---- encoding: for generated code ---------------------------------------- */

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

/* End an encode that started at out->size == mark: on failure (rc != 0)
 * cut out back to mark and record "cannot encode <what>: <path>: <message>"
 * in the thread's error record. Returns rc. */
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
ACTOR_API int actor_json_state_get_at(void *out, actor_host *host, const char *type, const char *id,
                                      const actor_json_codec *codec);
ACTOR_API int actor_json_state_set_at(actor_host *host, const char *type, const char *id,
                                      const void *v, int64_t ttl_ms, const actor_json_codec *codec);
ACTOR_API int actor_json_state_delete_at(actor_host *host, const char *type, const char *id);

ACTOR_END_DECLS

#endif
