/*
 * state.h: durable per-actor state. Each actor (type, id) has at most one
 * stored value: bytes (JSON by convention; generated typed clients store
 * JSON) with an optional expiry. Two forms:
 *
 *  - the actor's own state through its ctx, inside its callbacks: writes are
 *    fenced by the lease the activation holds, so a host that lost the actor
 *    cannot overwrite the new owner's state;
 *  - service-level access to any actor by (type, id), from any thread:
 *    administrative reads and writes that are not fenced.
 *
 * Durability: when a set or delete returns 0 the change is committed in the
 * store; a staged write (actor_ctx_state_stage_*) is committed before the
 * turn that staged it is answered. Writes from many actors are committed together (group commit),
 * but no caller sees success before its own write is durable. Expiry: a value whose TTL has passed
 * is invisible to every read at once; the store's cleanup removes the row later.
 */
#ifndef ACTOR_STATE_H
#define ACTOR_STATE_H

#include "common.h"
#include "buffer.h"
#include "type.h"

ACTOR_BEGIN_DECLS

/* Read the actor's state into `out` (replacing its contents).
 * 0, or ACTOR_ENOTFOUND when nothing is stored or it has expired. */
ACTOR_API int actor_ctx_state_get(actor_buf *out, actor_ctx *ctx);

/* Longest TTL accepted: 100 years, in milliseconds. */
#define ACTOR_TTL_MAX ((int64_t)3153600000000)

/* Store `len` bytes as the actor's state. `ttl_ms` > 0 expires it that many
 * milliseconds from now (at most ACTOR_TTL_MAX); 0 means it never expires;
 * every write replaces the previous expiry. ACTOR_ELEASE if this host no longer holds the actor's
 * lease (the write is not applied). Returns once the write is committed;
 * meanwhile the turn is parked and its worker runs other actors (hold no
 * lock across the call). */
ACTOR_API int actor_ctx_state_set(actor_ctx *ctx, const void *value, size_t len, int64_t ttl_ms);

/* Delete the actor's state. ACTOR_ENOTFOUND when nothing was stored. */
ACTOR_API int actor_ctx_state_delete(actor_ctx *ctx);

/* Stage a write of the actor's state, to be committed when the turn ends:
 * from inside an invoke callback only (ACTOR_ESTATE elsewhere). The call
 * returns at once; the value is copied. When the invoke returns 0 the
 * runtime commits the staged write (fenced like actor_ctx_state_set,
 * grouped with other actors' writes) and only then answers the caller and
 * starts the actor's next turn; if the commit fails the caller gets that
 * error instead of the response (ACTOR_ELEASE when the lease was lost).
 * When the invoke returns an error the staged write is dropped. The last
 * write staged in a turn wins; reads through the ctx later in the same turn
 * see it; a blocking actor_ctx_state_set or _delete later in the turn
 * replaces it. The worker is not held while the store commits, which is
 * what makes many writing actors cheap (see docs/concepts.md). */
ACTOR_API int actor_ctx_state_stage_set(actor_ctx *ctx, const void *value, size_t len,
                                        int64_t ttl_ms);

/* Stage a delete of the actor's state (as actor_ctx_state_stage_set). Deleting
 * nothing is not an error here: the caller is answered as usual. */
ACTOR_API int actor_ctx_state_stage_delete(actor_ctx *ctx);

/* Like actor_ctx_state_get, and also how long the value has left: *ttl_ms
 * is 0 when it never expires, else the milliseconds until it does (at least
 * 1), by the store's clock at the read. For caches that must stop serving a
 * value when it expires. */
ACTOR_API int actor_ctx_state_get_ttl(actor_buf *out, int64_t *ttl_ms, actor_ctx *ctx);

/* Service-level read of any actor's state. Same results as the ctx form.
 * Any thread (blocking). */
ACTOR_API int actor_state_get(actor_buf *out, actor_host *host, const char *type, const char *id);

/* Service-level form of actor_ctx_state_get_ttl. Any thread (blocking). */
ACTOR_API int actor_state_get_ttl(actor_buf *out, int64_t *ttl_ms, actor_host *host,
                                  const char *type, const char *id);

/* Service-level write (administrative: not fenced). Any thread (blocking). */
ACTOR_API int actor_state_set(actor_host *host, const char *type, const char *id, const void *value,
                              size_t len, int64_t ttl_ms);

/* Service-level delete. ACTOR_ENOTFOUND when absent. Any thread. */
ACTOR_API int actor_state_delete(actor_host *host, const char *type, const char *id);

ACTOR_END_DECLS

#endif
