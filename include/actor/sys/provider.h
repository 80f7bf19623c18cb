/*
 * sys/provider.h: the interface between the runtime and a storage provider,
 * for provider authors. Not part of <actor/actor.h>; its stability promise is
 * the version number: members are appended at the end, each version boundary
 * is marked, and the runtime checks `version` before calling newer members.
 *
 * A provider stores three things: actor state, the hosts table and the lease
 * table (see docs/providers.md for the schema and docs/concepts.md for the
 * single-activation protocol). Every member may be called from any thread,
 * concurrently; the provider does its own locking and connection pooling.
 * Every fallible member returns 0 or a negative ACTOR_E* code and records a
 * message with actor_error_set() that names what failed.
 *
 * Times: the provider reads the clock (its own process clock for an embedded
 * store, the server's clock for a server); the runtime passes durations only.
 */
#ifndef ACTOR_SYS_PROVIDER_H
#define ACTOR_SYS_PROVIDER_H

#include "../common.h"
#include "../buffer.h"
#include "../errors.h"
#include "../host.h"

ACTOR_BEGIN_DECLS

/* Version of struct actor_provider_config. */
#define ACTOR_PROVIDER_CONFIG_VERSION 1

typedef struct actor_provider_config {
    unsigned int version;
    /* The store URL the host was created with ("sqlite:/var/lib/x.db"). */
    const char *url;
    /* Prefix of every table name; already validated ([A-Za-z_][A-Za-z0-9_]*,
     * at most 32 bytes). Never NULL. */
    const char *table_prefix;
    /* How long a call may wait for a lock, a connection or the server. */
    int64_t timeout_ms;
    /* Connections the provider may open for concurrent calls (SQLite:
     * reader connections beside its writer; 0 there means reads share the
     * writer). */
    unsigned int pool_size;
    /* A host whose last heartbeat is older than this is dead: its leases
     * may be taken over. */
    int64_t lease_deadline_ms;
    /* Members above are valid for version 1. */
} actor_provider_config;

/* The kinds of write an actor_store_op carries. */
typedef enum actor_store_op_kind {
    /* Upsert the state of (type, id) with value/value_len and ttl_ms. */
    ACTOR_STORE_STATE_SET = 1,
    /* Delete the state of (type, id); result ACTOR_ENOTFOUND if absent or
     * expired (an expired row is removed all the same). */
    ACTOR_STORE_STATE_DELETE = 2,
    /* Take the lease of (type, id) for host_id: succeeds when no lease row
     * exists (epoch 1), or when the row's host is host_id itself or is dead:
     * in both of these cases the row gets host_id and its epoch + 1. Sets
     * out_epoch. (A released row is deleted, so a later acquire starts at 1
     * again; fencing stays sound because a host starts a new activation of
     * an actor only after every write of its previous one has completed,
     * and another host's (host, epoch) never matches.) When a
     * live other host holds it: result ACTOR_ELEASE, holder_id and
     * holder_address filled, nothing written. */
    ACTOR_STORE_LEASE_ACQUIRE = 3,
    /* Delete the lease row of (type, id) only if it still belongs to
     * (host_id, epoch); result ACTOR_ENOTFOUND when it does not. */
    ACTOR_STORE_LEASE_RELEASE = 4
} actor_store_op_kind;

/*
 * One write in a batch. The runtime fills the inputs; the provider fills
 * `result` (and the outputs of its kind) for every op of a batch that it
 * committed.
 */
typedef struct actor_store_op {
    /* Inputs. */
    actor_store_op_kind kind;
    const char *type;
    const char *id;
    const void *value; /* STATE_SET: the bytes (may be NULL when len 0) */
    size_t value_len;
    int64_t ttl_ms; /* STATE_SET: > 0 expire after; 0 never */
    /*
     * STATE_SET / STATE_DELETE: when fence_host is not NULL the write is
     * fenced: applied only if the lease row of (type, id) exists with
     * host_id = fence_host and epoch = fence_epoch, checked in the same
     * transaction; otherwise result is ACTOR_ELEASE and nothing is written.
     * LEASE_*: fence_host is the acquiring/releasing host and fence_epoch
     * the epoch being released.
     */
    const char *fence_host;
    uint64_t fence_epoch;

    /* Outputs. */
    int result;            /* 0, ACTOR_ENOTFOUND or ACTOR_ELEASE */
    uint64_t out_epoch;    /* LEASE_ACQUIRE: the epoch now held */
    actor_buf holder_id;   /* LEASE_ACQUIRE conflict: holding host */
    actor_buf holder_addr; /* LEASE_ACQUIRE conflict: its address */
} actor_store_op;

/* A lease row, as read back by lease_get. */
typedef struct actor_lease_info {
    actor_buf host_id;
    actor_buf address; /* the holder's address, "" if its host row is gone */
    uint64_t epoch;
    int holder_alive; /* 1 if the holder's heartbeat is within the deadline */
} actor_lease_info;

/* Counts returned by the cleanup member: actor_cleanup_counts, in host.h. */

/* Version of struct actor_provider. */
#define ACTOR_PROVIDER_VERSION 2

typedef struct actor_provider actor_provider;

/*
 * Where apply_stream takes its ops from: sets *ops and *n to the next chunk
 * (the array is valid until the next call), or *n = 0 when the transaction
 * is complete. It may wait, for more writes to arrive. Returns 0, or a
 * negative ACTOR_E* code (with the message set) that ends the stream.
 */
typedef int (*actor_store_next_fn)(void *arg, actor_store_op ***ops, size_t *n);

struct actor_provider {
    unsigned int version;
    /* Short provider name: "sqlite", "postgres". */
    const char *name;

    /* Close every connection and free the provider. Called once, when no
     * other member is running. */
    void (*free)(actor_provider *provider);

    /* Read the state of (type, id) into out. 0, or ACTOR_ENOTFOUND when
     * absent or expired. */
    int (*state_get)(actor_buf *out, actor_provider *provider, const char *type, const char *id);

    /*
     * Apply `n` writes in ONE transaction, in order, and fill each op's
     * result. Per-op outcomes (ACTOR_ENOTFOUND, ACTOR_ELEASE) do not abort
     * the others. Return 0 only when the transaction committed durably (as
     * durably as the store is configured to: e.g. a SQLite store opened with
     * synchronous=normal survives a crash of the process, not of the OS). Any
     * other return means the batch was not committed, or, for a server whose
     * connection broke after the commit was sent, that its outcome is
     * unknown; results are then ignored and every caller gets the error.
     * Every op is an overwrite, a delete or a conditional lease change, so a
     * caller retrying after an unknown outcome cannot corrupt anything. The runtime groups
     * concurrent writes of many actors into one call (group commit); within one batch a (type, id)
     * may appear several times and later ops see earlier ones.
     */
    int (*apply)(actor_provider *provider, actor_store_op **ops, size_t n);

    /* Insert or refresh the host row (host_id, address, heartbeat now). */
    int (*host_register)(actor_provider *provider, const char *host_id, const char *address);

    /* Refresh the heartbeat of host_id, only if the host is still alive:
     * ACTOR_ENOTFOUND if its row is gone or its last heartbeat is already
     * older than the lease deadline (others may have taken its leases). A
     * dead host cannot revive its row this way; it must stop serving and
     * call host_register again. */
    int (*host_heartbeat)(actor_provider *provider, const char *host_id);

    /* Remove host_id's row and every lease it holds (0 also when there was
     * no such row). */
    int (*host_remove)(actor_provider *provider, const char *host_id);

    /* Read the lease row of (type, id). ACTOR_ENOTFOUND when none. */
    int (*lease_get)(actor_lease_info *out, actor_provider *provider, const char *type,
                     const char *id);

    /*
     * Remove expired state, the leases of hosts that are dead (heartbeat
     * older than the lease deadline, or no host row), and dead hosts that
     * hold no lease any more: at most `limit` rows of each of the three
     * kinds per call, each kind in its own short transaction. Adds what it
     * removed to *out. The runtime calls it again while a kind comes back
     * full. Concurrent calls never count one row twice (count what a delete
     * removed, not what a select saw). limit 0 removes nothing.
     */
    int (*cleanup)(actor_cleanup_counts *out, actor_provider *provider, size_t limit);

    /*
     * Claim the periodic job `job` ("cleanup"; a name of at most
     * ACTOR_TYPE_NAME_MAX bytes) for host_id: atomically, if
     * nobody claimed it within the last `interval_ms` (by the store's
     * clock), record (host_id, now) and return 1; otherwise return 0, also
     * to the host that holds the current claim. So among any number of
     * hosts at most one runs the job per interval.
     * Negative on error. Optional: NULL means every host runs its jobs.
     */
    int (*job_claim)(actor_provider *provider, const char *job, const char *host_id,
                     int64_t interval_ms);

    /*
     * Like state_get, and also the value's remaining lifetime by the store's
     * clock at the read: *ttl_ms = 0 when it never expires, else the
     * milliseconds left (at least 1). Lets an activation stop serving a
     * cached value when it expires. Optional: NULL means the runtime falls
     * back on state_get and treats values it reads as never expiring.
     */
    int (*state_get_ttl)(actor_buf *out, int64_t *ttl_ms, actor_provider *provider,
                         const char *type, const char *id);

    /* Members above are valid for version 1. */

    /*
     * Like apply, with the ops arriving while the transaction is open: begin
     * ONE transaction, then call next(arg, ...) again and again and apply
     * each chunk in order, as apply would, until next gives n = 0; then
     * commit. Results, durability and the return value are apply's: 0 only
     * when everything the stream gave is committed; on any failure (a
     * chunk's op is invalid, next returns an error, the store fails)
     * nothing of it is committed and the error is returned. Other writers
     * of the store wait while the stream is open, so the caller keeps it
     * short. The runtime's group commit uses it to run the statements of
     * the writes that have arrived while the rest of a batch is still
     * coming. Optional: NULL means the runtime gathers whole batches for
     * apply.
     */
    int (*apply_stream)(actor_provider *provider, actor_store_next_fn next, void *arg);

    /* Members above are valid for version 2. */
};

/*
 * Opening a provider: each provider exports one function of this shape,
 * `actor_<name>_provider_open`, which the runtime calls for the URL schemes
 * it owns. The config and its strings are only borrowed for the call.
 */
typedef int (*actor_provider_open_fn)(actor_provider **out, const actor_provider_config *config);

/* Open the provider for config->url, choosing it by the URL's scheme.
 * ACTOR_EINVAL naming the URL when no provider owns the scheme. */
ACTOR_API int actor_provider_open(actor_provider **out, const actor_provider_config *config);

/* Free a provider. NULL-safe. */
ACTOR_API void actor_provider_free(actor_provider *provider);

/* Release the buffers of a lease info / an op's outputs. */
ACTOR_API void actor_lease_info_dispose(actor_lease_info *info);
ACTOR_API void actor_store_op_dispose(actor_store_op *op);

/* Check that a string is valid UTF-8 with no NUL inside its `len` bytes.
 * Useful to providers and the runtime alike. Returns 1 when valid. */
ACTOR_API int actor_utf8_valid(const char *s, size_t len);

/* Milliseconds since the Unix epoch from the process's real-time clock. */
ACTOR_API int64_t actor_time_now_ms(void);

ACTOR_END_DECLS

#endif
