/*
 * host.h: the host, one per process. It owns the worker pool, the table of
 * active actors, the store connection and the background jobs (heartbeat,
 * idle scan). Lifecycle: actor_host_new -> actor_host_register (each type)
 * -> actor_host_start -> ... invoke ... -> actor_host_stop -> actor_host_free.
 */
#ifndef ACTOR_HOST_H
#define ACTOR_HOST_H

#include "common.h"
#include "type.h"

ACTOR_BEGIN_DECLS

/* Version of struct actor_host_options; members are appended only. */
#define ACTOR_HOST_OPTIONS_VERSION 1

typedef struct actor_host_options {
    /* ACTOR_HOST_OPTIONS_VERSION. */
    unsigned int version;

    /* Worker threads that run turns. 0: one per online CPU. */
    unsigned int workers;

    /* Default idle timeout for types that leave theirs at 0, in ms.
     * 0: 300000 (5 minutes). Negative: never deactivate idle actors. */
    int64_t idle_timeout_ms;

    /* How often the idle scanner looks for idle actors, in ms.
     * 0: a quarter of the smallest idle timeout, clamped to 10..10000 ms. */
    int64_t idle_scan_interval_ms;

    /* This host's ID in the hosts and lease tables. NULL: a random ID.
     * At most ACTOR_HOST_ID_MAX bytes. */
    const char *host_id;

    /* The address other hosts and operators see for this host
     * ("node-7:3500"). NULL: "". At most ACTOR_HOST_ADDRESS_MAX bytes. */
    const char *address;

    /* Prefix of every table the store creates. NULL: "actor_". Letters,
     * digits and '_', starting with a letter or '_', at most 32 bytes. */
    const char *table_prefix;

    /* How long a store call waits for a lock or a connection, in ms.
     * 0: 5000. */
    int64_t store_timeout_ms;

    /* Connections the store may open (PostgreSQL; SQLite uses this many
     * reader connections beside its one writer). 0: 4. */
    unsigned int store_pool_size;

    /* Heartbeat interval and the deadline after which a host whose
     * heartbeat is older counts as dead, in ms. 0: 1000 and 10000. */
    int64_t heartbeat_interval_ms;
    int64_t lease_deadline_ms;

    /* How often the cleanup job runs (at most one host of all sharing the
     * store does the work per interval), in ms. 0: 60000. Negative: this
     * host never runs it (actor_host_cleanup still works). */
    int64_t cleanup_interval_ms;

    /* Rows the cleanup removes per statement, so no statement holds locks
     * for long. 0: 1000. */
    unsigned int cleanup_batch;

    /* Members above are valid for version 1. */
} actor_host_options;

#define ACTOR_HOST_OPTIONS_INIT                                                                    \
    {                                                                                              \
        ACTOR_HOST_OPTIONS_VERSION                                                                 \
    }

/* Initialise an options structure to the current version and defaults. */
ACTOR_API void actor_host_options_init(actor_host_options *opts);

/*
 * Create a host on the store named by `store_url`:
 *   "sqlite:PATH"          a SQLite file (created if missing),
 *   "sqlite::memory:"      a private in-memory SQLite database,
 *   "postgres://..." or "postgresql://..."  a PostgreSQL server.
 * The store is opened and its schema created or migrated here. `opts` may be
 * NULL for the defaults. On success *out owns the host; free it with
 * actor_host_free(). Errors: ACTOR_EINVAL (bad URL or option, named in the
 * message), ACTOR_ESTORE (cannot open), ACTOR_ESCHEMA (newer schema).
 * Set-up only.
 */
ACTOR_API int actor_host_new(actor_host **out, const char *store_url,
                             const actor_host_options *opts);

/*
 * Register an actor type. The table is copied; `payload` is passed to every
 * callback of the type. Before actor_host_start only. Errors: ACTOR_EINVAL
 * (NULL invoke, bad name, unknown version), ACTOR_EEXISTS (name taken),
 * ACTOR_ESTATE (host already started). Set-up only.
 */
ACTOR_API int actor_host_register(actor_host *host, const actor_type *type, void *payload);

/* Start the workers and background jobs and record the host in the store.
 * Set-up only. */
ACTOR_API int actor_host_start(actor_host *host);

/*
 * Stop the host: new calls fail with ACTOR_ESHUTDOWN; turns already running
 * finish; messages still queued fail with ACTOR_ESHUTDOWN; every active actor
 * is deactivated (its hook runs) and its lease released; the workers and
 * background jobs end; the host is removed from the store's host table.
 * Idempotent. Must not be called from inside a turn (ACTOR_ESTATE).
 * Tear-down only.
 */
ACTOR_API int actor_host_stop(actor_host *host);

/* Stop (if needed) and release the host. NULL-safe. Tear-down only. */
ACTOR_API void actor_host_free(actor_host *host);

/* This host's ID. Borrowed; valid until actor_host_free. Any thread. */
ACTOR_API const char *actor_host_id(const actor_host *host);

/*
 * Deactivate one actor after the messages already queued for it. From outside
 * a turn this waits until the deactivation has run; from inside a turn it
 * only schedules it. ACTOR_ENOTFOUND if the actor is not active here.
 * Any thread.
 */
ACTOR_API int actor_host_halt(actor_host *host, const char *type, const char *id);

/* Deactivate every active actor and wait for it. Outside turns only. */
ACTOR_API int actor_host_halt_all(actor_host *host);

/* Number of activations currently in the host's table. Any thread. */
ACTOR_API size_t actor_host_active_count(actor_host *host);

/* What a cleanup removed. */
typedef struct actor_cleanup_counts {
    size_t expired_state; /* rows of expired state */
    size_t dead_hosts;    /* rows of hosts whose heartbeat is past the deadline */
    size_t dead_leases;   /* lease rows of those hosts */
} actor_cleanup_counts;

/*
 * Run the cleanup job once, now, whether or not another host ran it lately:
 * purge expired state, dead hosts and their leases, in batches of
 * opts.cleanup_batch rows, until nothing is left. Adds what it removed to
 * *out (may be NULL). Works on a host that was never started (an operator
 * tool can create a host just for this). Any thread outside turns.
 */
ACTOR_API int actor_host_cleanup(actor_cleanup_counts *out, actor_host *host);

ACTOR_END_DECLS

#endif
