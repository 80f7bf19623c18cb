/*
 * table.c: the table of actors this host knows, and their mailboxes. The
 * table is split into shards, each a chained hash table under its own mutex;
 * that mutex guards the chains and each actor's ordered mailbox
 * (mhead..mtail) and flags, which the runner of an active actor needs only
 * when something is queued there (see "the inbox word"): for plain invokes
 * the worker takes no lock. New invokes go to the actor's inbox, a stack
 * pushed with one compare-and-swap that also carries whether the actor is
 * scheduled (see "the inbox word" below), so posting by name is one lock
 * (find or create, push, queue the actor on the pool if it was idle) and
 * posting through a reference is no lock at all. The mailbox in arrival
 * order is mhead..mtail followed by the inbox reversed.
 * An actor's memory is one allocation holding its ID inline; the table adds
 * one or two bucket pointers per actor (it grows at half full). An entry is
 * removed once its actor is deactivated with nothing queued, unless
 * references (actor_ref) pin it: then it stays, dormant (not counted as
 * active), so that senders holding a reference can push to its inbox
 * without a lock or a lookup. What happens when an actor runs is in
 * activation.c.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SHARDS 64

typedef struct shard {
    pthread_mutex_t mu;
    actor__actor **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
} shard;

struct actor__table {
    shard shards[SHARDS];
    pthread_mutex_t count_mu;
    pthread_cond_t count_cv;
    size_t count;
};

uint32_t actor__table_hash(const actor__type_entry *type, const char *id)
{
    /* FNV-1a over the ID, seeded by the type entry's address. */
    uint32_t h = actor__fnv1a((uint32_t)((uintptr_t)type >> 4), id);
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static shard *shard_of(actor__table *t, uint32_t hash)
{
    return &t->shards[hash & (SHARDS - 1)];
}

int actor__table_new(actor__table **out)
{
    actor__table *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL)
        return actor__error_oom();
    for (int i = 0; i < SHARDS; i++)
        actor__mutex_init_adaptive(&t->shards[i].mu);
    pthread_mutex_init(&t->count_mu, NULL);
    pthread_cond_init(&t->count_cv, NULL);
    *out = t;
    return 0;
}

void actor__table_free(actor__table *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &t->shards[i];
        /* The host empties the table before freeing it; free leftovers of a
         * host that never started, and leave entries still referenced to
         * their references (actor_ref_free frees them). */
        for (size_t b = 0; b < s->nbuckets; b++) {
            actor__actor *a = s->buckets[b], *next;
            for (; a; a = next) {
                next = a->hnext;
                if (a->refs > 0)
                    a->orphan = 1;
                else
                    free(a);
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    pthread_cond_destroy(&t->count_cv);
    pthread_mutex_destroy(&t->count_mu);
    free(t);
}

/* Bucket index of a hash among n buckets: the bits above the shard bits. */
static size_t bucket_index(uint32_t hash, size_t n)
{
    return (hash >> 6) & (n - 1);
}

static size_t bucket_of(const shard *s, uint32_t hash)
{
    return bucket_index(hash, s->nbuckets);
}

static int grow(shard *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : 16;
    actor__actor **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return -1;
    for (size_t i = 0; i < s->nbuckets; i++) {
        actor__actor *a = s->buckets[i], *next;
        for (; a; a = next) {
            size_t k = bucket_index(a->hash, n);
            next = a->hnext;
            a->hnext = b[k];
            b[k] = a;
        }
    }
    free(s->buckets);
    /* Atomic: actor__table_prefetch reads them without the lock. */
    __atomic_store_n(&s->buckets, b, __ATOMIC_RELAXED);
    __atomic_store_n(&s->nbuckets, n, __ATOMIC_RELAXED);
    return 0;
}

void actor__table_prefetch(actor__table *t, uint32_t hash)
{
    shard *s = shard_of(t, hash);
    /* Read without the lock: the two may be from before and after a grow,
     * which only makes the prefetch miss (a prefetch never faults). */
    actor__actor **b = __atomic_load_n(&s->buckets, __ATOMIC_RELAXED);
    size_t n = __atomic_load_n(&s->nbuckets, __ATOMIC_RELAXED);

    __builtin_prefetch(&s->mu, 1);
    if (b != NULL && n != 0)
        __builtin_prefetch(&b[bucket_index(hash, n)]);
}

static actor__actor *find(shard *s, const actor__type_entry *type, const char *id, uint32_t h)
{
    if (s->nbuckets == 0)
        return NULL;
    for (actor__actor *a = s->buckets[bucket_of(s, h)]; a; a = a->hnext) {
        /* The inbox word, which a post writes next, is on another line
         * than the fields compared here: ask for both at once. */
        __builtin_prefetch(&a->inbox, 1);
        if (a->hash == h && a->type == type && strcmp(a->id, id) == 0)
            return a;
    }
    return NULL;
}

/* ---- the inbox word -----------------------------------------------------------
 * a->inbox holds the messages not yet taken by the runner, newest first (a
 * pointer; messages are 16-aligned), and three flags in the low bits:
 * INBOX_IDLE: the actor is not scheduled (neither queued on the pool nor
 * running nor parked), which implies an empty inbox and mailbox;
 * INBOX_CLOSED: the host is stopping and refuses new invokes; and
 * INBOX_ORDERED: the ordered mailbox (mhead..mtail) may hold messages, a
 * halt say, which the runner must take under the shard lock. A sender
 * pushes with one compare-and-swap and, when that push cleared INBOX_IDLE,
 * it is the one that queues the actor on the pool. Pushing on the front
 * writes only the actor: appending at the tail would write the previous
 * message, whose cache line sits with whoever sent it. Senders by name
 * push under the shard lock; senders through a reference (which pins the
 * entry) push without any lock.
 *
 * INBOX_ORDERED is set, in the same atomic step, by whatever moves the
 * inbox to mhead or puts a message there (always under the shard lock), and
 * cleared under the lock once mhead is empty. While it is clear, the inbox
 * holds the oldest messages there are, so the runner of an active actor
 * takes them, and goes idle once they are turned, with one
 * compare-and-swap each and no lock (actor__inbox_take_unlocked,
 * actor__inbox_idle_unlocked): on a message to an idle actor, the common
 * case, the shard lock's line stays with the senders. Any flag sends the
 * runner the locked way. */

static actor__msg *inbox_msgs(uintptr_t w)
{
    return (actor__msg *)(w & ~ACTOR__INBOX_FLAGS);
}

int actor__inbox_push(actor__actor *a, actor__msg *msg)
{
    uintptr_t old = __atomic_load_n(&a->inbox, __ATOMIC_RELAXED);

    for (;;) {
        if (old & ACTOR__INBOX_CLOSED)
            return -1;
        msg->next = inbox_msgs(old);
        /* Release: the runner that takes it sees the message's bytes. */
        if (__atomic_compare_exchange_n(&a->inbox, &old,
                                        (uintptr_t)msg | (old & ACTOR__INBOX_ORDERED), 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return (old & ACTOR__INBOX_IDLE) != 0;
    }
}

/* Take the inbox, keeping its flags but `clear`, and adding `set` when
 * there were messages; no store when that changes nothing (an empty inbox
 * keeps its line clean). */
static actor__msg *inbox_take(actor__actor *a, uintptr_t set, uintptr_t clear)
{
    uintptr_t old = __atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE), new;

    do {
        new = (old & ACTOR__INBOX_FLAGS & ~clear) | (inbox_msgs(old) != NULL ? set : 0);
        if (new == old)
            return NULL;
    } while (
        !__atomic_compare_exchange_n(&a->inbox, &old, new, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return inbox_msgs(old);
}

actor__msg *actor__inbox_take_all(actor__actor *a)
{
    return inbox_take(a, 0, ACTOR__INBOX_ORDERED);
}

int actor__inbox_take_unlocked(actor__actor *a, actor__msg **newest)
{
    uintptr_t old = __atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE);

    /* No flag: not ORDERED, not CLOSED (IDLE is never set while the actor
     * runs), so 0 is what is left. */
    while ((old & ACTOR__INBOX_FLAGS) == 0) {
        if (__atomic_compare_exchange_n(&a->inbox, &old, 0, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            *newest = inbox_msgs(old);
            return 1;
        }
    }
    return 0;
}

int actor__inbox_idle_unlocked(actor__actor *a)
{
    uintptr_t old = 0;

    /* Only from an empty inbox with no flag; a weak CAS may fail spuriously
     * and leave `old` 0, so it tries again then. */
    while (!__atomic_compare_exchange_n(&a->inbox, &old, ACTOR__INBOX_IDLE, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
        if (old != 0)
            return 0;
    }
    return 1;
}

int actor__inbox_has(const actor__actor *a)
{
    return inbox_msgs(__atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE)) != NULL;
}

int actor__inbox_is_idle(const actor__actor *a)
{
    return (__atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE) & ACTOR__INBOX_IDLE) != 0;
}

int actor__inbox_go_idle(actor__actor *a)
{
    uintptr_t old = __atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE);

    /* mhead is empty (the caller's condition): ORDERED goes. */
    while (inbox_msgs(old) == NULL) {
        if (__atomic_compare_exchange_n(&a->inbox, &old,
                                        (old & ~ACTOR__INBOX_ORDERED) | ACTOR__INBOX_IDLE, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 1;
    }
    return 0;
}

/* A message was put at mhead (lock held): mark the actor ORDERED and, if it
 * was idle, scheduled; 1 when it was idle (the caller queues it). */
static int inbox_claim_ordered(actor__actor *a)
{
    uintptr_t old = __atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE);

    while (!__atomic_compare_exchange_n(&a->inbox, &old,
                                        (old & ~ACTOR__INBOX_IDLE) | ACTOR__INBOX_ORDERED, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    return (old & ACTOR__INBOX_IDLE) != 0;
}

void actor__mailbox_mark(actor__actor *a)
{
    __atomic_fetch_or(&a->inbox, ACTOR__INBOX_ORDERED, __ATOMIC_ACQ_REL);
}

actor__msg *actor__mailbox_reverse(actor__msg *newest, actor__msg **oldest)
{
    actor__msg *head = NULL, *next;

    *oldest = newest;
    for (; newest; newest = next) {
        next = newest->next;
        newest->next = head;
        head = newest;
    }
    return head;
}

/* Put a newest-first chain behind mhead..mtail, in order. Lock held. */
static void mailbox_append_chain(actor__actor *a, actor__msg *newest)
{
    actor__msg *head, *tail;

    if (newest == NULL)
        return;
    head = actor__mailbox_reverse(newest, &tail);
    if (a->mtail)
        a->mtail->next = head;
    else
        a->mhead = head;
    a->mtail = tail;
}

void actor__mailbox_fold(actor__actor *a)
{
    /* ORDERED in the same step: the messages are never out of the inbox
     * without the flag that tells an unlocked runner to look at mhead. */
    mailbox_append_chain(a, inbox_take(a, ACTOR__INBOX_ORDERED, 0));
}

void actor__mailbox_close(actor__actor *a)
{
    uintptr_t old = __atomic_load_n(&a->inbox, __ATOMIC_ACQUIRE);

    while (!__atomic_compare_exchange_n(&a->inbox, &old,
                                        (old & (ACTOR__INBOX_IDLE | ACTOR__INBOX_ORDERED)) |
                                            ACTOR__INBOX_CLOSED |
                                            (inbox_msgs(old) != NULL ? ACTOR__INBOX_ORDERED : 0),
                                        1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    mailbox_append_chain(a, inbox_msgs(old));
}

/* ---- posting -------------------------------------------------------------------- */

static int refuse_stopping(const actor_host *host, const char *type, const char *id)
{
    return actor_error_set(ACTOR_ESHUTDOWN, "host %s is stopping: %s/%s not invoked", host->host_id,
                           type, id);
}

int actor__table_post_locked(actor_host *host, actor__actor *a, actor__msg *msg)
{
    int was_idle;

    if (msg->kind == ACTOR__MSG_HALT) {
        /* A halt goes to the ordered mailbox, behind everything sent so
         * far: rare, so the walk over the inbox does not matter. */
        actor__mailbox_fold(a);
        msg->next = NULL;
        if (a->mtail)
            a->mtail->next = msg;
        else
            a->mhead = msg;
        a->mtail = msg;
        a->halt_queued = 1;
        was_idle = inbox_claim_ordered(a);
    } else if ((was_idle = actor__inbox_push(a, msg)) < 0) {
        return ACTOR_ESHUTDOWN;
    }
    if (was_idle)
        actor__pool_push_next(host->pool, &a->run);
    return 0;
}

/* Count an entry in or out of the live ones (those actor__table_count
 * reports and actor__table_wait_empty waits for). */
static void count_add(actor__table *t, int delta)
{
    pthread_mutex_lock(&t->count_mu);
    t->count += (size_t)(ssize_t)delta;
    if (t->count == 0)
        pthread_cond_broadcast(&t->count_cv);
    pthread_mutex_unlock(&t->count_mu);
}

void actor__table_wake_locked(actor__table *t, actor__actor *a)
{
    if (a->dormant) {
        a->dormant = 0;
        count_add(t, 1);
    }
}

void actor__table_sleep_locked(actor__table *t, actor__actor *a)
{
    if (!a->dormant) {
        a->dormant = 1;
        count_add(t, -1);
    }
}

int actor__table_inactive(const actor__actor *a)
{
    return a->dormant && actor__inbox_is_idle(a);
}

int actor__table_let_go_locked(actor__table *t, actor__actor *a)
{
    if (a->refs == 0 && !actor__inbox_has(a)) {
        /* No reference, so nobody pushes without the lock held here. */
        actor__table_remove_locked(t, a);
        return ACTOR__LET_GO_REMOVED;
    }
    if (a->refs > 0 && actor__inbox_go_idle(a)) {
        actor__table_sleep_locked(t, a);
        return ACTOR__LET_GO_DORMANT;
    }
    return 0;
}

/* Find actor (type, id) in its shard (locked), or create it (idle, NEW;
 * dormant when `dormant`, else counted live). NULL when out of memory. */
static actor__actor *find_or_create(actor__table *t, shard *s, actor__type_entry *type,
                                    const char *id, uint32_t h, int dormant)
{
    actor__actor *a = find(s, type, id, h);
    size_t idlen;

    if (a != NULL)
        return a;
    /* Grown at half full: a lookup then seldom walks past an entry that is
     * not the one it wants, and each such entry is a cache miss (on
     * 100,000 actors, 9% less sender CPU in fan-out by name, for 8 more
     * bytes per actor). */
    if (s->count >= s->nbuckets / 2 && grow(s) != 0)
        return NULL;
    idlen = strlen(id);
    a = calloc(1, sizeof(*a) + idlen + 1);
    if (a == NULL)
        return NULL;
    a->type = type;
    a->hash = h;
    a->inbox = ACTOR__INBOX_IDLE;
    a->dormant = (uint8_t)dormant;
    memcpy(a->id, id, idlen + 1);
    a->hnext = s->buckets[bucket_of(s, h)];
    s->buckets[bucket_of(s, h)] = a;
    s->count++;
    if (!dormant)
        count_add(t, 1);
    return a;
}

int actor__table_post(actor_host *host, actor__type_entry *type, const char *id, uint32_t h,
                      actor__msg *msg, int create)
{
    actor__table *t = host->table;
    shard *s = shard_of(t, h);
    actor__actor *a;
    int rc;

    pthread_mutex_lock(&s->mu);
    if (msg->kind == ACTOR__MSG_INVOKE && __atomic_load_n(&host->stopping, __ATOMIC_ACQUIRE)) {
        pthread_mutex_unlock(&s->mu);
        return refuse_stopping(host, type->name, id);
    }
    a = create ? find_or_create(t, s, type, id, h, 0) : find(s, type, id, h);
    if (a == NULL || (!create && actor__table_inactive(a))) {
        pthread_mutex_unlock(&s->mu);
        if (create)
            return actor__error_oom();
        return actor_error_set(ACTOR_ENOTFOUND, "actor %s/%s is not active on this host",
                               type->name, id);
    }
    rc = actor__table_post_locked(host, a, msg);
    pthread_mutex_unlock(&s->mu);
    return rc != 0 ? refuse_stopping(host, type->name, id) : 0;
}

int actor__table_post_pinned(actor_host *host, actor__actor *a, actor__msg *msg)
{
    /* An invoke needs no lock: only the inbox word is touched. */
    if (actor__table_post_locked(host, a, msg) != 0)
        return refuse_stopping(host, a->type->name, a->id);
    return 0;
}

int actor__table_pin(actor_host *host, actor__type_entry *type, const char *id, uint32_t h,
                     actor__actor **out)
{
    shard *s = shard_of(host->table, h);
    actor__actor *a;

    pthread_mutex_lock(&s->mu);
    a = find_or_create(host->table, s, type, id, h, 1);
    if (a != NULL)
        a->refs++;
    pthread_mutex_unlock(&s->mu);
    *out = a;
    return a ? 0 : actor__error_oom();
}

void actor__table_unpin(actor__actor *a)
{
    actor__table *t;
    shard *s;
    int gone = 0;

    if (a->orphan) {
        /* The host is gone (actor_host_free ran): only this entry is left. */
        if (--a->refs == 0)
            free(a);
        return;
    }
    t = a->type->host->table;
    s = shard_of(t, a->hash);
    pthread_mutex_lock(&s->mu);
    if (--a->refs == 0 && actor__table_inactive(a)) {
        /* Nothing else holds it: a dormant entry is only kept for its
         * references. */
        actor__table_remove_locked(t, a);
        gone = 1;
    }
    pthread_mutex_unlock(&s->mu);
    if (gone)
        free(a);
}

pthread_mutex_t *actor__table_lock_of(actor__table *t, actor__actor *a)
{
    return &shard_of(t, a->hash)->mu;
}

void actor__table_remove_locked(actor__table *t, actor__actor *a)
{
    shard *s = shard_of(t, a->hash);
    actor__actor **pp = &s->buckets[bucket_of(s, a->hash)];

    while (*pp && *pp != a)
        pp = &(*pp)->hnext;
    if (*pp == a) {
        *pp = a->hnext;
        s->count--;
        if (!a->dormant)
            count_add(t, -1);
    }
}

size_t actor__table_count(actor__table *t)
{
    size_t n;

    pthread_mutex_lock(&t->count_mu);
    n = t->count;
    pthread_mutex_unlock(&t->count_mu);
    return n;
}

void actor__table_wait_empty(actor__table *t)
{
    pthread_mutex_lock(&t->count_mu);
    while (t->count > 0)
        pthread_cond_wait(&t->count_cv, &t->count_mu);
    pthread_mutex_unlock(&t->count_mu);
}

void actor__table_each_locked(actor__table *t, void (*fn)(actor__actor *a, void *arg), void *arg)
{
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &t->shards[i];
        pthread_mutex_lock(&s->mu);
        for (size_t b = 0; b < s->nbuckets; b++) {
            for (actor__actor *a = s->buckets[b]; a; a = a->hnext)
                fn(a, arg);
        }
        pthread_mutex_unlock(&s->mu);
    }
}
