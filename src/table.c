/*
 * table.c: the table of actors this host knows, and their mailboxes. The
 * table is split into shards, each a chained hash table under its own mutex;
 * that mutex also guards the mailbox and scheduling flags of every actor in
 * the shard, so posting a message is one lock: find or create the actor,
 * push the message on its inbox, and mark it scheduled if it was idle
 * (then push it to the pool). The mailbox proper (FIFO) is the inbox
 * reversed behind what is already in mhead..mtail.
 * An actor's memory is one allocation holding its ID inline; the table adds
 * one bucket pointer per actor. What happens when an actor runs is in
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
    uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)type >> 4);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
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
         * host that never started. */
        for (size_t b = 0; b < s->nbuckets; b++) {
            actor__actor *a = s->buckets[b], *next;
            for (; a; a = next) {
                next = a->hnext;
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

/* Bucket index of a hash: the bits above the shard bits. */
static size_t bucket_of(const shard *s, uint32_t hash)
{
    return (hash >> 6) & (s->nbuckets - 1);
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
            size_t k = (a->hash >> 6) & (n - 1);
            next = a->hnext;
            a->hnext = b[k];
            b[k] = a;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
    return 0;
}

static actor__actor *find(shard *s, const actor__type_entry *type, const char *id, uint32_t h)
{
    if (s->nbuckets == 0)
        return NULL;
    for (actor__actor *a = s->buckets[bucket_of(s, h)]; a; a = a->hnext) {
        if (a->hash == h && a->type == type && strcmp(a->id, id) == 0)
            return a;
    }
    return NULL;
}

/* Senders push on the inbox, newest first: nothing but the actor's own
 * fields is written under the lock (appending at the tail would write the
 * previous message, whose cache line sits with whoever sent it). */
static void mailbox_append(actor__actor *a, actor__msg *msg)
{
    msg->next = a->inbox;
    a->inbox = msg;
    if (msg->kind == ACTOR__MSG_HALT)
        a->halt_queued = 1;
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

void actor__mailbox_fold(actor__actor *a)
{
    actor__msg *head, *tail;

    if (a->inbox == NULL)
        return;
    head = actor__mailbox_reverse(a->inbox, &tail);
    a->inbox = NULL;
    if (a->mtail)
        a->mtail->next = head;
    else
        a->mhead = head;
    a->mtail = tail;
}

void actor__table_post_locked(actor_host *host, actor__actor *a, actor__msg *msg)
{
    mailbox_append(a, msg);
    if (!a->scheduled) {
        a->scheduled = 1;
        actor__pool_push_next(host->pool, &a->run);
    }
}

int actor__table_post(actor_host *host, actor__type_entry *type, const char *id, uint32_t h,
                      actor__msg *msg, int create)
{
    actor__table *t = host->table;
    shard *s = shard_of(t, h);
    actor__actor *a;

    pthread_mutex_lock(&s->mu);
    if (msg->kind == ACTOR__MSG_INVOKE && __atomic_load_n(&host->stopping, __ATOMIC_ACQUIRE)) {
        pthread_mutex_unlock(&s->mu);
        return actor_error_set(ACTOR_ESHUTDOWN, "host %s is stopping: %s/%s not invoked",
                               host->host_id, type->name, id);
    }
    a = find(s, type, id, h);
    if (a == NULL) {
        size_t idlen = strlen(id);
        if (!create) {
            pthread_mutex_unlock(&s->mu);
            return actor_error_set(ACTOR_ENOTFOUND, "actor %s/%s is not active on this host",
                                   type->name, id);
        }
        if (s->count >= s->nbuckets && grow(s) != 0) {
            pthread_mutex_unlock(&s->mu);
            return actor__error_oom();
        }
        a = calloc(1, sizeof(*a) + idlen + 1);
        if (a == NULL) {
            pthread_mutex_unlock(&s->mu);
            return actor__error_oom();
        }
        a->type = type;
        a->hash = h;
        memcpy(a->id, id, idlen + 1);
        a->hnext = s->buckets[bucket_of(s, h)];
        s->buckets[bucket_of(s, h)] = a;
        s->count++;
        pthread_mutex_lock(&t->count_mu);
        t->count++;
        pthread_mutex_unlock(&t->count_mu);
    }
    actor__table_post_locked(host, a, msg);
    pthread_mutex_unlock(&s->mu);
    return 0;
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
        pthread_mutex_lock(&t->count_mu);
        if (--t->count == 0)
            pthread_cond_broadcast(&t->count_cv);
        pthread_mutex_unlock(&t->count_mu);
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
