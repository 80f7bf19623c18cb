/*
 * internal.h: declarations shared between the runtime's own files (and the
 * providers built into the library). Nothing here is public API. Each block
 * names the file that owns it.
 */
#ifndef ACTOR_INTERNAL_H
#define ACTOR_INTERNAL_H

#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>

/* ---- errors.c ---------------------------------------------------------- */
int actor__error_oom(void);

/* ---- util.c ------------------------------------------------------------ */
/* Validate a name (type, ID, method...): non-NULL, non-empty, at most `max`
 * bytes, valid UTF-8. `what` starts the message ("actor ID"). */
int actor__validate_name(const char *what, const char *s, size_t max);
/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80, `avail`
 * bytes readable), or 0 when invalid: bad lead, truncated, overlong,
 * surrogate, past U+10FFFF. The one decoder behind every UTF-8 check. */
size_t actor__utf8_seq(const unsigned char *s, size_t avail);
/* FNV-1a over the bytes of s, its offset basis xor-ed with `seed`: the
 * hash of the actor table and of the type index. Inline: every invoke by
 * name computes it twice. */
static inline uint32_t actor__fnv1a(uint32_t seed, const char *s)
{
    uint32_t h = 2166136261u ^ seed;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}
/* Initialise a mutex held for a few instructions at a time: a contender
 * spins briefly before it sleeps (glibc's adaptive mutex), sparing both
 * sides a system call. */
void actor__mutex_init_adaptive(pthread_mutex_t *mu);
/* Initialise a condition variable that times out on CLOCK_MONOTONIC. */
void actor__cond_init_mono(pthread_cond_t *cv);
/* A printable rendering of s for messages (escaped, shortened). */
void actor__quote(char *dst, size_t size, const char *s);
int64_t actor__mono_ms(void);
/* The same clock, read at the kernel's tick (a few ms coarse) for a
 * fraction of the cost: for idle times, stamped on every run of an actor. */
int64_t actor__coarse_ms(void);
/* A random hex ID (24 characters) in dst. */
void actor__random_id(char *dst, size_t size);
/* The pause a spin-wait loop makes between two reads of what it awaits. */
static inline void actor__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- msgmem.c: message memory (per-thread blocks, freed from anywhere) -- */
void *actor__msgmem_alloc(size_t size);
/* Any thread; NULL is ignored. */
void actor__msgmem_free(void *p);

/* ---- fiber.c: stacks for turns, switched in user space ------------------ */
typedef struct actor__fiber_ctx actor__fiber_ctx;
typedef struct actor__fiber {
    struct actor__fiber *next; /* the user's list link */
    void *owner;               /* the user's */
    actor__fiber_ctx *ctx;     /* fiber.c's */
} actor__fiber;

/* The calling thread's own stack as a fiber (made on first call). NULL when
 * out of memory. */
actor__fiber *actor__fiber_self(void);
/* A new stack of `stack_size` bytes (plus a guard page) on which the first
 * switch to it runs entry(arg). entry must never return: it ends by
 * switching away for good. NULL when out of memory. */
actor__fiber *actor__fiber_new(size_t stack_size, void (*entry)(void *arg), void *arg);
/* Save the running stack into `from`, go on with `to`; returns when some
 * switch goes back to `from`. from_ends: `from` is never resumed. Both must
 * belong to the calling thread. */
void actor__fiber_switch(actor__fiber *from, actor__fiber *to, int from_ends);
/* Free a fiber that is not running (or the thread's own record). */
void actor__fiber_free(actor__fiber *f);

/* ---- pool.c: the worker pool ------------------------------------------- */
/* Anything the pool runs embeds this link (intrusive FIFO, O(1) push/pop). */
typedef struct actor__runnable {
    struct actor__runnable *next;
} actor__runnable;

typedef struct actor__pool actor__pool;
typedef void (*actor__pool_run_fn)(actor__runnable *item, void *payload);

/* Start `workers` threads; at most `max_threads` exist at once, the extra
 * ones only while workers are blocked (see actor__pool_block_enter). */
int actor__pool_new(actor__pool **out, unsigned workers, unsigned max_threads,
                    actor__pool_run_fn run, void *payload);
/* Queue an item. Wakes a sleeping worker only when fewer than `workers`
 * threads are running items: no wake-up per message when busy. */
void actor__pool_push(actor__pool *pool, actor__runnable *item);
/* Queue an item made runnable by the item running on this thread: on a
 * worker of `pool` it goes to the worker's run-next slot and runs as soon as
 * the current item ends (no lock, no wake-up); elsewhere as _push. */
void actor__pool_push_next(actor__pool *pool, actor__runnable *item);
/* Bracket a blocking wait on a worker thread (a blocking invoke, a store
 * call): while blocked the thread does not count as running, and another
 * thread takes queued work, so blocking turns cannot starve the pool.
 * No-ops on threads that are not pool workers. */
void actor__pool_block_enter(void);
void actor__pool_block_leave(void);
/* Park the calling turn: its stack is set aside and the thread goes on
 * with other items until actor__pool_unpark(turn) is called (from any
 * thread); then the turn resumes on this same thread, between two items.
 * arm(turn, arg) runs just before the switch and must publish `turn` where
 * the waker will find it (and may release the waker's lock: the turn cannot
 * resume before the switch). Returns 0 once resumed, or -1 without calling
 * arm when this thread cannot park (not a worker, inside block_enter, out
 * of memory): the caller then blocks the thread instead. */
int actor__pool_park(void (*arm)(actor__fiber *turn, void *arg), void *arg);
void actor__pool_unpark(actor__fiber *turn);
/* 1 when parked turns of this worker are ready to resume. */
int actor__pool_has_ready(void);
/* Let this worker's ready turns run first; the caller resumes after them.
 * 0 once resumed, -1 (at once) when nothing is ready or it cannot park. */
int actor__pool_yield(void);
/* 1 on a pool worker thread. */
int actor__pool_is_worker(void);
/* Number of threads the pool has started (for tests and metrics). */
unsigned actor__pool_threads(actor__pool *pool);
/* Stop the threads once the queue is empty, join them, free. */
void actor__pool_free(actor__pool *pool);

/* ---- commit.c: group commit -------------------------------------------- */
typedef struct actor__commit actor__commit;

/* One request: `n` ops committed together with whatever else is queued. */
typedef struct actor__commit_req {
    struct actor__commit_req *next;
    actor_store_op **ops;
    size_t n;
    int done; /* blocking requests (atomic: read without the lock) */
    int rc;
    sem_t *sem; /* blocking requests: posted when done or made leader */
    /* A blocking caller waits on `sem` (sem_waiting) or parked (its turn
     * in `parked`), each set under the commit lock before it waits and
     * cleared by the one wake that ends the wait: it is woken once per
     * wait, and never while it is not waiting (when it could see `done`
     * and return, its stack gone). */
    int sem_waiting;
    actor__fiber *parked;
    int yielded; /* the caller let its worker's ready turns go first once */
    /* Asynchronous requests: called once with the transaction's outcome
     * (per-op outcomes are in the ops) and its error message, on whichever
     * thread led the commit, without locks held. It may free `req`. */
    void (*cb)(struct actor__commit_req *req, int rc, const char *msg);
    char *msg; /* blocking requests: where the error message goes */
    size_t msg_size;
} actor__commit_req;

int actor__commit_new(actor__commit **out, actor_provider *provider, size_t max_batch);
/* Queue an asynchronous request (req->ops, req->n and req->cb set; the
 * request must stay valid until its callback). The callback may run before
 * this returns, on this thread, if it becomes the leader. */
void actor__commit_submit(actor__commit *commit, actor__commit_req *req);
/* Apply `n` ops durably. Concurrent callers are folded into one provider
 * apply() (one transaction): the first waiting caller commits everything
 * queued behind it. Returns the transaction's outcome; per-op outcomes are
 * in each op's result. */
int actor__commit_apply(actor__commit *commit, actor_store_op **ops, size_t n);
void actor__commit_free(actor__commit *commit);

/* ---- host.c / table.c / activation.c / invoke.c: the runtime ----------- */
typedef struct actor__type_entry {
    actor_type type;
    char *name;
    uint32_t name_hash; /* see actor__host_find_type */
    void *payload;
    int64_t idle_timeout_ms; /* resolved: > 0, or < 0 for never */
    actor_host *host;
} actor__type_entry;

enum { ACTOR__MSG_INVOKE = 1, ACTOR__MSG_HALT = 2 };

/* A blocking caller waits on this, on its own stack. */
typedef struct actor__waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    actor__fiber *parked; /* the caller's turn, when parked (under mu) */
    int done;
    int rc;
    actor_buf *response; /* where the response goes; may be NULL */
    char msg[1024];      /* the error message when rc != 0 */
} actor__waiter;

/* One frame of the chain of blocking calls a turn runs in: the actor, and
 * the frame of the turn that is blocked waiting for it (NULL if none). */
typedef struct actor__frame {
    struct actor__actor *actor;
    const struct actor__frame *parent;
} actor__frame;

/* 44 bytes before the data: with the message block's 16-byte header and a
 * short method name ("inc") and no request, a message is one 64-byte block,
 * one cache line between sender and runner (see msgmem.c). */
typedef struct actor__msg {
    struct actor__msg *next;
    actor_invoke_cb cb; /* asynchronous caller, or NULL */
    union {
        actor__waiter *waiter; /* blocking caller (cb NULL), or NULL */
        void *cb_payload;      /* with cb */
    };
    const actor__frame *chain;
    size_t request_len;
    int kind;
    char data[]; /* request bytes, then the method name and its NUL */
} actor__msg;

/* The method name of a message: stored right after the request. */
static inline const char *actor__msg_method(const actor__msg *m)
{
    return m->data + m->request_len;
}

/* Per-activation cache slot (actor_ctx_cache_*), allocated on first use. */
typedef struct actor__cache {
    const void *tag;
    void *value;
    void (*free_fn)(void *);
} actor__cache;

/* An actor's activation state ([shard] for writes; see activation.c):
 * NEW        not activated; the next message starts the lease acquire
 * ACQUIRING  lease acquire queued in the group commit; parked (scheduled but
 *            not in the run queue) until it completes
 * ACQUIRED   the acquire completed; its result waits in `lease`
 * ACTIVE     activated: turns run
 * DROPPING   deactivating after the lease was lost; state writes refused
 * RELEASING  deactivated; lease release queued; parked until it completes */
enum {
    ACTOR__NEW = 0,
    ACTOR__ACQUIRING,
    ACTOR__ACQUIRED,
    ACTOR__ACTIVE,
    ACTOR__DROPPING,
    ACTOR__RELEASING
};

/* Flags in the low bits of actor__actor.inbox (see table.c). */
#define ACTOR__INBOX_IDLE    ((uintptr_t)1) /* not scheduled; nothing queued */
#define ACTOR__INBOX_CLOSED  ((uintptr_t)2) /* host stopping: invokes refused */
#define ACTOR__INBOX_ORDERED ((uintptr_t)4) /* mhead may hold messages: runner locks */
#define ACTOR__INBOX_FLAGS   ((uintptr_t)7)

/* An actor known to this host: in the table from its first message (or
 * reference) until it is deactivated with an empty mailbox and no
 * reference. Fields marked [shard] are guarded by its table shard's lock;
 * [turn] ones are touched only by the thread that runs the actor (the pool
 * runs an actor on one thread at a time). Laid out for the two paths that
 * touch an actor on every message: the fields senders and runners write
 * (pool link, inbox, mailbox, last use) come first; those a lookup by name
 * reads (chain, type, hash, ID) come last, behind the ones written only on
 * activation, so that a lookup does not pull in a cache line another core
 * is writing. */
typedef struct actor__actor {
    actor__runnable run;       /* pool link [scheduled: see inbox]; first: the pool's item */
    uintptr_t inbox;           /* atomic: newest-first messages | INBOX flags */
    actor__msg *mhead, *mtail; /* mailbox, oldest first [shard] */
    int64_t last_used_ms;      /* monotonic; atomic: the runner stores it unlocked */
    void *instance;            /* [turn] */
    union {
        actor__cache *cache;            /* [turn] while ACTIVE */
        struct actor__lease_req *lease; /* [turn] while a lease op is out */
    };
    uint64_t epoch;             /* lease epoch [turn] */
    struct actor__actor *hnext; /* hash chain [shard] */
    actor__type_entry *type;    /* immutable */
    uint32_t hash;              /* immutable */
    uint32_t refs;              /* references pinning the entry [shard] */
    uint8_t status;             /* ACTOR__NEW ... [shard] */
    uint8_t halt_queued;        /* a HALT message is in the mailbox [shard] */
    uint8_t lost;               /* lease lost: drop, re-activate [shard] */
    uint8_t dormant;            /* kept only for references; not counted [shard] */
    uint8_t orphan;             /* the host was freed with references left */
    char id[];                  /* NUL-terminated */
} actor__actor;

typedef struct actor__table actor__table;

struct actor_host {
    uint64_t serial; /* unique in the process: told apart from a later host at this address */
    actor_host_options opts;
    char host_id[ACTOR_HOST_ID_MAX + 1];
    char *address;
    actor_provider *provider;
    actor__commit *commit;
    actor__pool *pool;
    actor__table *table;
    actor__type_entry **types;
    size_t ntypes;
    /* The types by name: open addressing, type_slots (a power of two, at
     * least twice ntypes) entries, NULL where free. Written only by
     * actor_host_register, before the host starts. */
    actor__type_entry **type_index;
    size_t type_slots;
    int started;
    int stopped;
    int stopping; /* atomic: set once stop begins */
    /* background jobs */
    pthread_t bg_thread;
    int bg_running;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    int bg_quit;
    int64_t scan_interval_ms;
    /* heartbeat state (background thread only, but lapses is atomic) */
    int64_t last_beat_ms; /* monotonic time of the last successful beat */
    int lapsed;
    int lapses;
};

/* table.c */
int actor__table_new(actor__table **out);
void actor__table_free(actor__table *table);
/* The hash of actor (type, id) in the table (see actor__table_post). */
uint32_t actor__table_hash(const actor__type_entry *type, const char *id);
/* Start loading what posting to `hash` will touch first (a hint: no lock,
 * no effect on the table). */
void actor__table_prefetch(actor__table *table, uint32_t hash);
/* Append `msg` to actor (type, id)'s mailbox, creating the actor when
 * `create` and it is absent, and schedule it on the pool if it was idle.
 * `hash` is actor__table_hash(type, id). ACTOR_ENOTFOUND when absent and
 * !create; ACTOR_ESHUTDOWN when the host is stopping and msg is an invoke. */
int actor__table_post(actor_host *host, actor__type_entry *type, const char *id, uint32_t hash,
                      actor__msg *msg, int create);
/* Called by the actor's runner when it finishes; see activation.c. */
size_t actor__table_count(actor__table *table);
/* Visit every actor under its shard lock; `fn` may queue messages on it
 * (through actor__table_post_locked) and must not block. */
void actor__table_each_locked(actor__table *table, void (*fn)(actor__actor *a, void *arg),
                              void *arg);
/* Queue msg for an actor whose shard lock the caller holds, and queue the
 * actor on the pool if it was idle. 0, or ACTOR_ESHUTDOWN (no message set)
 * when an invoke meets a closed inbox. */
int actor__table_post_locked(actor_host *host, actor__actor *a, actor__msg *msg);
/* Find or create actor (type, id) and pin it for a reference (dormant if
 * new: not counted until it runs). 0, or ACTOR_ENOMEM. */
int actor__table_pin(actor_host *host, actor__type_entry *type, const char *id, uint32_t hash,
                     actor__actor **out);
/* Drop a reference's pin; frees a dormant entry nobody else holds. */
void actor__table_unpin(actor__actor *a);
/* Post an invoke through a pinned entry, without the lock: as
 * actor__table_post (ACTOR_ESHUTDOWN once the inbox is closed). */
int actor__table_post_pinned(actor_host *host, actor__actor *a, actor__msg *msg);
/* A dormant entry starts running (counted again) / stops (uncounted).
 * Shard lock held. */
void actor__table_wake_locked(actor__table *table, actor__actor *a);
void actor__table_sleep_locked(actor__table *table, actor__actor *a);
/* 1 when the entry is kept only for references: dormant and idle. */
int actor__table_inactive(const actor__actor *a);
/* The runner lets go of an actor whose ordered mailbox is empty, after a
 * deactivation (shard lock held): ACTOR__LET_GO_REMOVED (out of the table;
 * the caller frees it after the lock), ACTOR__LET_GO_DORMANT (kept for its
 * references, idle), or 0 when messages came in (it stays scheduled: the
 * caller queues it again). */
enum { ACTOR__LET_GO_REMOVED = 1, ACTOR__LET_GO_DORMANT = 2 };
int actor__table_let_go_locked(actor__table *table, actor__actor *a);
/* The inbox (see table.c). push (no lock): 1 when the actor was idle (the
 * caller queues it on the pool), 0 when not, -1 when closed. go_idle (shard
 * lock held, mhead empty): the runner gives the actor up; 0 when messages
 * came in (it stays scheduled). take_all: the messages, newest first. */
int actor__inbox_push(actor__actor *a, actor__msg *msg);
/* Take the inbox under the shard lock, the caller having emptied mhead
 * (clears INBOX_ORDERED). */
actor__msg *actor__inbox_take_all(actor__actor *a);
/* The runner's path without the shard lock (see "the inbox word" in
 * table.c): take the inbox, or go idle, only while no flag is set; 0 when
 * one is (the runner then locks). */
int actor__inbox_take_unlocked(actor__actor *a, actor__msg **newest);
int actor__inbox_idle_unlocked(actor__actor *a);
/* Messages were put back at mhead (shard lock held): set INBOX_ORDERED. */
void actor__mailbox_mark(actor__actor *a);
int actor__inbox_has(const actor__actor *a);
int actor__inbox_is_idle(const actor__actor *a);
int actor__inbox_go_idle(actor__actor *a);
/* Stop: refuse further invokes and fold what the inbox holds into the
 * mailbox. Shard lock held. */
void actor__mailbox_close(actor__actor *a);
/* Move the inbox (newest first) behind mhead..mtail, in order. Shard lock
 * held; O(messages in the inbox). */
void actor__mailbox_fold(actor__actor *a);
/* Reverse a chain of messages; returns the new head, *oldest the new tail
 * (NULL for an empty chain). No lock: the chain must be the caller's. */
actor__msg *actor__mailbox_reverse(actor__msg *newest, actor__msg **oldest);
/* The runner's side (activation.c): */
pthread_mutex_t *actor__table_lock_of(actor__table *table, actor__actor *a);
/* Unlink `a` (shard lock held), wake waiters of actor__table_wait_empty. */
void actor__table_remove_locked(actor__table *table, actor__actor *a);
/* Wait until the table holds no actors. */
void actor__table_wait_empty(actor__table *table);

/* activation.c: the pool's run function for actors. */
void actor__activation_run(actor__runnable *item, void *payload);
/* The frame of the turn running on this thread, or NULL. */
const actor__frame *actor__current_frame(void);
/* actor__pool_park and actor__pool_yield for the turn running on this
 * thread: what it keeps in thread-local variables (its frame, its staged
 * write) is set aside while other turns run on the thread, and restored. */
int actor__turn_park(void (*arm)(actor__fiber *turn, void *arg), void *arg);
int actor__turn_yield(void);
/* 0 if ctx is the actor running on this thread, else ACTOR_ESTATE. */
int actor__ctx_check(const actor_ctx *ctx, const char *fn);
/* Drop the activation's cache slot. */
void actor__cache_drop(actor__actor *a);
/* Mark an actor whose lease is gone: its next message drops the activation
 * (hook runs, no writes) and activates it again if the lease can be had. */
void actor__actor_lost(actor__actor *a);

/* state.c: the write staged by the invoke turn running on this thread. */
typedef struct actor__staged {
    actor_store_op_kind kind; /* ACTOR_STORE_STATE_SET or _DELETE */
    void *value;              /* malloc'd copy (SET) */
    size_t len;
    int64_t ttl_ms;
} actor__staged;
/* What staging keeps per thread. */
typedef struct actor__stage_tls {
    actor__actor *a; /* the turn's actor while staging is open, else NULL */
    int staged;      /* a write is staged */
    actor__staged w;
} actor__stage_tls;
/* Exchange the thread's staging with *t: a turn that parks takes its own
 * out of the thread's way and puts it back when it resumes. */
void actor__stage_swap(actor__stage_tls *t);
/* Open staging for an invoke turn of `a` on this thread. */
void actor__stage_open(actor__actor *a);
/* Close it: 1 and the staged write in *out (the caller owns out->value)
 * when the turn staged one, else 0. */
int actor__stage_close(actor__staged *out);

/* invoke.c */
actor__msg *actor__msg_new(int kind, const char *method, const void *request, size_t len);
/* Complete a message: hand rc/response/message to its waiter or callback,
 * then free it. `errmsg` is used when rc != 0. */
void actor__msg_complete(actor__msg *msg, int rc, actor_buf *response, const char *errmsg);
actor__type_entry *actor__host_find_type(actor_host *host, const char *name);

/* ---- providers ---------------------------------------------------------- */
int actor__sqlite_provider_open(actor_provider **out, const actor_provider_config *config);
#ifdef ACTOR_WITH_POSTGRES
int actor__postgres_provider_open(actor_provider **out, const actor_provider_config *config);
#endif

/* fences.c: fences a provider saw hold (see there). Zero-initialised. */
typedef struct actor__fences {
    struct actor__fence_slot *slots; /* allocated on first remember */
} actor__fences;
/* 1 when op's fence (host and epoch of its actor) was remembered. */
int actor__fences_known(const actor__fences *f, const actor_store_op *op);
/* Remember that op's fence held (out of memory: not remembered). */
void actor__fences_remember(actor__fences *f, const actor_store_op *op);
/* Forget the fence of (type, id): its lease row is about to change. */
void actor__fences_forget(actor__fences *f, const char *type, const char *id);
void actor__fences_forget_all(actor__fences *f);
void actor__fences_dispose(actor__fences *f);

#endif
