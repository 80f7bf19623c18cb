/*
 * invoke.h: sending a message to an actor and getting its response. The
 * actor is activated on this host if it is not active yet; messages to one
 * actor run one at a time in the order they were accepted.
 */
#ifndef ACTOR_INVOKE_H
#define ACTOR_INVOKE_H

#include "common.h"
#include "buffer.h"
#include "type.h"

ACTOR_BEGIN_DECLS

/*
 * Invoke `method` on actor (type, id) with `request_len` bytes at `request`
 * and wait for the response, which is written to `response` (may be NULL to
 * discard it). Returns 0 or the error of the turn (its code and message),
 * ACTOR_EINVAL for bad names, ACTOR_ENOTFOUND for an unregistered type,
 * ACTOR_ESHUTDOWN when the host is stopping, ACTOR_ELEASE when another live
 * host holds the actor (the message names its address).
 *
 * From inside a turn, the turn is parked while it waits: its worker runs
 * other actors meanwhile and the turn resumes on the same thread (hold no
 * lock across the call; see docs/concepts.md). A blocking invoke of an
 * actor that is already waiting in the current chain of blocking calls (the
 * actor itself, or one that called it) returns ACTOR_EDEADLK at once
 * instead of hanging.
 * Any thread.
 */
ACTOR_API int actor_invoke(actor_buf *response, actor_host *host, const char *type, const char *id,
                           const char *method, const void *request, size_t request_len);

/*
 * Completion of an asynchronous invoke. `error` is 0 or the failure code;
 * on failure actor_error_last() on this thread holds the message during the
 * call. `response` is borrowed for the duration of the call. Runs on a
 * worker thread: keep it short and do not block in it.
 */
typedef void (*actor_invoke_cb)(int error, const void *response, size_t response_len,
                                void *payload);

/*
 * Queue `method` for actor (type, id) and return at once. `done` (may be
 * NULL) is called exactly once with the outcome when this returns 0. When
 * it returns an error (bad names, unknown type, host stopping) the message
 * was not queued and `done` is never called. Safe inside turns. Any thread.
 */
ACTOR_API int actor_invoke_async(actor_host *host, const char *type, const char *id,
                                 const char *method, const void *request, size_t request_len,
                                 actor_invoke_cb done, void *payload);

/*
 * A reference to actor (type, id) on a host: its address resolved once (the
 * type looked up, the ID validated, the actor's entry in the host's table
 * found or made), for callers that send to the same actor many times. A
 * send through it goes straight to the actor's mailbox, without a lookup or
 * a lock. It does not keep the actor active: the actor activates on a
 * message and deactivates when idle exactly as when invoked by name; only
 * its small table entry (about 100 bytes) stays while references to it
 * exist. A reference is immutable, so any number of threads may use one at
 * the same time. Free it with actor_ref_free, before or after
 * actor_host_free but not at the same time; after actor_host_free a
 * reference may only be freed.
 *
 * actor_ref_new errors: ACTOR_EINVAL (NULL out or host, bad type or ID),
 * ACTOR_ENOTFOUND (type not registered), ACTOR_ENOMEM. Once the types are
 * registered; any thread.
 */
typedef struct actor_ref actor_ref;

ACTOR_API int actor_ref_new(actor_ref **out, actor_host *host, const char *type, const char *id);
/* NULL-safe. */
ACTOR_API void actor_ref_free(actor_ref *ref);
/* The type name and ID (borrowed, valid as long as the reference). */
ACTOR_API const char *actor_ref_type(const actor_ref *ref);
ACTOR_API const char *actor_ref_id(const actor_ref *ref);

/* actor_invoke and actor_invoke_async through a reference: the same
 * outcomes, order and errors (ACTOR_EINVAL also for a NULL ref). Messages
 * sent by reference and by name to one actor share its one mailbox. */
ACTOR_API int actor_ref_invoke(actor_buf *response, const actor_ref *ref, const char *method,
                               const void *request, size_t request_len);
ACTOR_API int actor_ref_invoke_async(const actor_ref *ref, const char *method, const void *request,
                                     size_t request_len, actor_invoke_cb done, void *payload);

ACTOR_END_DECLS

#endif
