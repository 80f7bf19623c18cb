/*
 * errors.c: the thread-local error record behind actor_error_last(), and the
 * descriptions of the ACTOR_E* codes. Every other file records failures
 * through actor_error_set() (or actor__error_oom()), never by hand.
 */
#include <actor/errors.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ERROR_MSG_MAX 1024

static _Thread_local struct {
    int code;
    char msg[ERROR_MSG_MAX];
} tls_error;

const char *actor_error_last(void)
{
    return tls_error.msg;
}

int actor_error_last_code(void)
{
    return tls_error.code;
}

int actor_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    char tmp[ERROR_MSG_MAX];

    /* Format into a copy first: the arguments may point at the record
     * itself (passing actor_error_last() on with a prefix). */
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt ? fmt : "", ap);
    va_end(ap);
    memcpy(tls_error.msg, tmp, sizeof(tmp));
    tls_error.code = code;
    return code;
}

void actor_error_clear(void)
{
    tls_error.code = 0;
    tls_error.msg[0] = '\0';
}

int actor__error_oom(void)
{
    return actor_error_set(ACTOR_ENOMEM, "out of memory");
}

const char *actor_strerror(int code)
{
    switch (code) {
    case ACTOR_OK:
        return "success";
    case ACTOR_ERROR:
        return "error";
    case ACTOR_EINVAL:
        return "invalid argument";
    case ACTOR_ENOMEM:
        return "out of memory";
    case ACTOR_ENOTFOUND:
        return "not found";
    case ACTOR_EEXISTS:
        return "already exists";
    case ACTOR_ESTORE:
        return "store failure";
    case ACTOR_ESCHEMA:
        return "store schema is newer than this library";
    case ACTOR_ESHUTDOWN:
        return "host is shutting down";
    case ACTOR_EDEADLK:
        return "blocking call would deadlock";
    case ACTOR_ESTATE:
        return "call not allowed in this state";
    case ACTOR_ELEASE:
        return "actor lease held by another host";
    case ACTOR_ETIMEOUT:
        return "timed out";
    case ACTOR_EDECODE:
        return "cannot decode";
    default:
        return code < -1000 ? "application error" : "unknown error";
    }
}
