/*
 * errors.h: the error codes every fallible libactor function returns, and the
 * thread-local record that holds the message of the last failure.
 *
 * Convention: a function that can fail returns int, 0 on success or one of
 * the negative ACTOR_E* codes below. On failure it also leaves a message in a
 * record private to the calling thread, read with actor_error_last().
 */
#ifndef ACTOR_ERRORS_H
#define ACTOR_ERRORS_H

#include "common.h"

ACTOR_BEGIN_DECLS

typedef enum actor_error_code {
    ACTOR_OK = 0,
    /* Unclassified failure; the message says what happened. */
    ACTOR_ERROR = -1,
    /* An argument is invalid: NULL where a value is needed, an empty,
     * oversized or non-UTF-8 name, an unknown store URL, a bad option. */
    ACTOR_EINVAL = -2,
    /* Out of memory. */
    ACTOR_ENOMEM = -3,
    /* Nothing stored under that key, or no such actor type / activation. */
    ACTOR_ENOTFOUND = -4,
    /* Already there: an actor type registered twice. */
    ACTOR_EEXISTS = -5,
    /* The store failed: I/O, SQL, connection or server error. */
    ACTOR_ESTORE = -6,
    /* The store's schema is newer than this library understands. */
    ACTOR_ESCHEMA = -7,
    /* The host is stopping or stopped; the call was not carried out. */
    ACTOR_ESHUTDOWN = -8,
    /* A blocking call would wait on itself: a turn invoking, with the
     * blocking form, an actor that is already waiting in the call chain. */
    ACTOR_EDEADLK = -9,
    /* The call is not allowed in the object's current lifecycle state,
     * e.g. registering a type after start, or a turn-only call outside it. */
    ACTOR_ESTATE = -10,
    /* The actor's lease is held by another live host, or a write was
     * fenced because this host no longer holds the lease it ran under. */
    ACTOR_ELEASE = -11,
    /* A deadline passed before the operation could complete. */
    ACTOR_ETIMEOUT = -12,
    /* Stored or received bytes do not decode as the expected type. */
    ACTOR_EDECODE = -13
} actor_error_code;

/*
 * The message of the last failure on the calling thread. Never NULL: "" when
 * no failure was recorded. The string is owned by the thread-local record and
 * stays valid until the next libactor call on the same thread. Any thread.
 */
ACTOR_API const char *actor_error_last(void);

/* The code of the last failure on the calling thread (0 if none). Any thread. */
ACTOR_API int actor_error_last_code(void);

/*
 * Record a failure on the calling thread and return `code`, so that actor
 * callbacks can write `return actor_error_set(ACTOR_EINVAL, "bad qty %d", q);`.
 * The message is formatted like printf and truncated to 1 KiB. Any thread.
 */
ACTOR_API int actor_error_set(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Forget the last failure on the calling thread. Any thread. */
ACTOR_API void actor_error_clear(void);

/* A constant description of an error code ("not found", ...). Never NULL. */
ACTOR_API const char *actor_strerror(int code);

ACTOR_END_DECLS

#endif
