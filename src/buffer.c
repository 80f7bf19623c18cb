/*
 * buffer.c: actor_buf, the owned byte buffer used for responses, state values
 * and encoded JSON. Grows geometrically and keeps a NUL after the contents.
 */
#include <actor/buffer.h>
#include <actor/errors.h>

#include <stdlib.h>
#include <string.h>

#include "internal.h"

void actor_buf_dispose(actor_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->ptr);
    buf->ptr = NULL;
    buf->size = 0;
    buf->asize = 0;
}

int actor_buf_grow(actor_buf *buf, size_t size)
{
    size_t want, n;
    char *p;

    if (buf == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_buf_grow: buf is NULL");
    if (size >= SIZE_MAX - 1)
        return actor__error_oom();
    want = size + 1;
    if (want <= buf->asize)
        return 0;
    n = buf->asize ? buf->asize : 64;
    while (n < want)
        n = n > SIZE_MAX / 2 ? want : n * 2;
    p = realloc(buf->ptr, n);
    if (p == NULL)
        return actor__error_oom();
    if (buf->ptr == NULL)
        p[0] = '\0';
    buf->ptr = p;
    buf->asize = n;
    return 0;
}

int actor_buf_set(actor_buf *buf, const void *data, size_t len)
{
    int rc;

    if (buf == NULL || (data == NULL && len > 0))
        return actor_error_set(ACTOR_EINVAL, "actor_buf_set: NULL buffer or data");
    if ((rc = actor_buf_grow(buf, len)) != 0)
        return rc;
    if (len)
        memmove(buf->ptr, data, len);
    buf->size = len;
    buf->ptr[len] = '\0';
    return 0;
}

int actor_buf_put(actor_buf *buf, const void *data, size_t len)
{
    int rc;

    if (buf == NULL || (data == NULL && len > 0))
        return actor_error_set(ACTOR_EINVAL, "actor_buf_put: NULL buffer or data");
    if (len > SIZE_MAX - 2 - buf->size)
        return actor__error_oom();
    if ((rc = actor_buf_grow(buf, buf->size + len)) != 0)
        return rc;
    if (len)
        memcpy(buf->ptr + buf->size, data, len);
    buf->size += len;
    buf->ptr[buf->size] = '\0';
    return 0;
}

int actor_buf_puts(actor_buf *buf, const char *s)
{
    if (s == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_buf_puts: NULL string");
    return actor_buf_put(buf, s, strlen(s));
}

void actor_buf_clear(actor_buf *buf)
{
    if (buf == NULL)
        return;
    buf->size = 0;
    if (buf->ptr)
        buf->ptr[0] = '\0';
}
