/*
 * type.h: what an actor is to the runtime. An actor type is a versioned table
 * of callbacks plus per-type options; an activation is one live instance of a
 * type for one ID, seen by the callbacks through an actor_ctx.
 *
 * Turn model: the runtime calls activate, then invoke once per message in
 * arrival order, then deactivate, and never runs two of these at once for the
 * same actor. Callbacks of different actors run in parallel on the worker
 * pool, so code shared between actors must be thread-safe; an actor's own
 * instance needs no locks.
 */
#ifndef ACTOR_TYPE_H
#define ACTOR_TYPE_H

#include "common.h"
#include "buffer.h"

ACTOR_BEGIN_DECLS

typedef struct actor_host actor_host;

/*
 * The context of one activation, handed to every callback. Valid from the
 * start of activate until deactivate returns; the actor_ctx_* functions may
 * only be called on the thread that is running one of that actor's callbacks
 * (they return ACTOR_ESTATE elsewhere).
 */
typedef struct actor_ctx actor_ctx;

/* Version of struct actor_type; members are appended, never reordered. */
#define ACTOR_TYPE_VERSION 1

typedef struct actor_type {
    /* ACTOR_TYPE_VERSION. */
    unsigned int version;

    /* The type name actors are addressed by ("cart"). Copied at
     * registration. */
    const char *name;

    /*
     * Build the instance for a newly activated actor and store it in
     * *instance (it may stay NULL). The actor's state can be read and
     * written through ctx. Returning non-zero fails the messages waiting
     * for this activation with that code; the next message tries again.
     * Optional: NULL means the instance is NULL.
     */
    int (*activate)(void **instance, actor_ctx *ctx, void *payload);

    /*
     * Handle one message: `method` (a validated name) with `request_len`
     * bytes at `request`. Bytes appended to `response` are returned to the
     * caller. Return 0, or a negative code (ACTOR_E* or the type's own,
     * below -1000) which, with the message recorded by actor_error_set(),
     * is handed to the caller; the actor stays active and usable.
     * Required.
     */
    int (*invoke)(actor_buf *response, void *instance, actor_ctx *ctx, const char *method,
                  const void *request, size_t request_len, void *payload);

    /*
     * Release the instance. Called when the actor goes idle, is halted, or
     * the host stops. State may still be written here. Optional.
     */
    void (*deactivate)(void *instance, actor_ctx *ctx, void *payload);

    /*
     * Idle time in milliseconds after which an actor with no messages is
     * deactivated. 0 takes the host's default; a negative value disables
     * idle deactivation for this type.
     */
    int64_t idle_timeout_ms;

    /* Members above are valid for version 1. */
} actor_type;

#define ACTOR_TYPE_INIT                                                                            \
    {                                                                                              \
        ACTOR_TYPE_VERSION, NULL, NULL, NULL, NULL, 0                                              \
    }

/* Initialise a type structure to the current version. */
ACTOR_API void actor_type_init(actor_type *type);

/* The host running this activation. Borrowed; inside the actor's callbacks. */
ACTOR_API actor_host *actor_ctx_host(const actor_ctx *ctx);

/* The actor's type name. Borrowed; valid while the activation lives. */
ACTOR_API const char *actor_ctx_type(const actor_ctx *ctx);

/* The actor's ID. Borrowed; valid while the activation lives. */
ACTOR_API const char *actor_ctx_id(const actor_ctx *ctx);

/*
 * Ask for this actor to be deactivated once the current turn and the
 * messages already queued before this call have run. Inside a turn only.
 */
ACTOR_API int actor_ctx_halt(actor_ctx *ctx);

/*
 * A per-activation cache slot used by generated typed state clients (see
 * docs/codegen.md): one value tagged by `tag` (any unique address, usually a
 * static descriptor). The runtime drops it (calling free_fn) whenever the
 * actor's state is written or deleted through its ctx and when the actor is
 * deactivated. actor_ctx_cache_get returns NULL when the slot is empty or
 * holds a value with another tag. When actor_ctx_cache_set fails it does
 * not take `value`: the caller still owns it. Inside the actor's callbacks
 * only.
 */
ACTOR_API void *actor_ctx_cache_get(actor_ctx *ctx, const void *tag);
ACTOR_API int actor_ctx_cache_set(actor_ctx *ctx, const void *tag, void *value,
                                  void (*free_fn)(void *value));

ACTOR_END_DECLS

#endif
