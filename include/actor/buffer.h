/*
 * buffer.h: actor_buf, the owned byte buffer in which libactor returns bytes
 * (responses, state values, encoded JSON). The side that receives a filled
 * buffer owns it and releases it with actor_buf_dispose().
 */
#ifndef ACTOR_BUFFER_H
#define ACTOR_BUFFER_H

#include "common.h"

ACTOR_BEGIN_DECLS

typedef struct actor_buf {
    /* The bytes; always followed by a NUL byte (not counted in size) once
     * the buffer holds anything, so text can be used as a C string. */
    char *ptr;
    /* Number of bytes in use. */
    size_t size;
    /* Bytes allocated (0 when ptr is NULL). */
    size_t asize;
} actor_buf;

#define ACTOR_BUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Release the memory and reset the buffer to empty. NULL-safe. */
ACTOR_API void actor_buf_dispose(actor_buf *buf);

/* Ensure room for at least `size` bytes plus the NUL. 0 or ACTOR_ENOMEM. */
ACTOR_API int actor_buf_grow(actor_buf *buf, size_t size);

/* Replace the contents with `len` bytes from `data` (data may be NULL when
 * len is 0). 0 or ACTOR_ENOMEM; on failure the buffer is unchanged. */
ACTOR_API int actor_buf_set(actor_buf *buf, const void *data, size_t len);

/* Append `len` bytes. 0 or ACTOR_ENOMEM; on failure the buffer is unchanged. */
ACTOR_API int actor_buf_put(actor_buf *buf, const void *data, size_t len);

/* Append a NUL-terminated string. */
ACTOR_API int actor_buf_puts(actor_buf *buf, const char *s);

/* Keep the allocation, forget the contents. */
ACTOR_API void actor_buf_clear(actor_buf *buf);

ACTOR_END_DECLS

#endif
