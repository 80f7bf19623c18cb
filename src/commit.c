/*
 * commit.c: group commit. Every durable write of the runtime (state set and
 * delete, lease acquire and release) goes through here. Requests queue up;
 * whoever finds no leader at work becomes the leader, takes every op queued
 * (up to max_batch), hands them to the provider's apply() as one
 * transaction, and completes them with the outcome. While the leader waits
 * on the disk, new requests queue behind it and form the next batch, so the
 * number of transactions follows the disk's speed, not the number of
 * writers, and no caller is told "done" before its write is durable.
 *
 * Two kinds of request: blocking (actor__commit_apply: the caller waits on
 * its own stack) and asynchronous (actor__commit_submit: a callback runs
 * when it is done, so a worker can go on with other actors; used for lease
 * acquire and release around activations). The leader keeps leading while
 * asynchronous requests are queued and hands over to a blocking caller at
 * the head of the queue. No thread of its own: the leader is always a caller.
 *
 * Batch smoothing: writers that were just completed need a moment to wake
 * up and send their next write, so a new leader that finds fewer ops queued
 * than the last batch had waits a little (at most the last commit's
 * duration, at most 2 ms) for them. Without it, W concurrent writers settle
 * into two alternating batches of W/2 and twice the commits.
 *
 * Streaming: with a provider that has apply_stream, the leader opens the
 * transaction at once and the provider runs the statements of the writes
 * queued so far while the rest are still arriving; the wait above then
 * overlaps with that work instead of preceding it, and only the commit
 * itself is left when the last write arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct actor__commit {
    pthread_mutex_t mu;
    pthread_cond_t arrive_cv; /* a leader waiting for more requests */
    actor__commit_req *head, *tail;
    size_t queued_ops;  /* ops of the queued requests not yet in a batch
                         * (changed under mu with atomic stores, so that a
                         * polling leader may read it without the lock) */
    size_t last_batch;  /* ops of the last batch committed */
    int64_t last_us;    /* how long the last commit took, from its last op */
    int leader_waiting; /* the leader sleeps on arrive_cv... */
    size_t wake_at;     /* ...until queued_ops reaches this */
    int leader_active;
    actor_provider *provider;
    int stream; /* the provider has apply_stream */
    size_t max_batch;
    /* The batch being formed, only touched by the active leader: the
     * requests from the head to `taken`, their `total` ops gathered in
     * `batch`. */
    actor_store_op **batch;
    size_t batch_cap;
    actor__commit_req *taken;
    size_t total;
    int64_t deadline_us; /* stop waiting for more requests at this time */
    int64_t commit_us;   /* when the stream gave its last op */
};

/* How long a streaming leader that caught up polls for the next request
 * before it sleeps: writers arrive microseconds apart while a batch forms,
 * and a poll that sees one costs neither side a system call. */
#define STREAM_SPIN_US 10

/* Ops a streaming leader that caught up waits for before it goes on: it
 * runs the writes that arrived while it slept, and is woken once per few
 * arrivals rather than for each. */
#define STREAM_CHUNK 8

int actor__commit_new(actor__commit **out, actor_provider *provider, size_t max_batch)
{
    actor__commit *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL)
        return actor__error_oom();
    pthread_mutex_init(&c->mu, NULL);
    actor__cond_init_mono(&c->arrive_cv);
    c->provider = provider;
    c->stream = provider->version >= 2 && provider->apply_stream != NULL;
    c->max_batch = max_batch ? max_batch : 1000;
    *out = c;
    return 0;
}

void actor__commit_free(actor__commit *c)
{
    if (c == NULL)
        return;
    pthread_cond_destroy(&c->arrive_cv);
    pthread_mutex_destroy(&c->mu);
    free(c->batch);
    free(c);
}

/* Set c->queued_ops (c->mu held). */
static void set_queued(actor__commit *c, size_t ops)
{
    __atomic_store_n(&c->queued_ops, ops, __ATOMIC_RELAXED);
}

/* Add the queued requests after `taken` (from the head when nothing is
 * taken yet) to the batch, up to max_batch ops (at least one request).
 * Called with c->mu held, by the leader. On failure to allocate with
 * nothing taken yet, the head request is taken without its ops: the batch
 * fails, and that request with it. */
static int take(actor__commit *c)
{
    actor__commit_req *first = c->taken ? c->taken->next : c->head, *r, *last = NULL;
    size_t total = c->total;

    for (r = first; r; r = r->next) {
        if (total > 0 && total + r->n > c->max_batch)
            break;
        total += r->n;
        last = r;
    }
    if (last == NULL)
        return 0;
    if (total > c->batch_cap) {
        size_t cap = c->batch_cap ? c->batch_cap : 64;
        actor_store_op **b;
        while (cap < total)
            cap *= 2;
        if ((b = realloc(c->batch, cap * sizeof(*b))) == NULL) {
            if (c->taken == NULL) {
                c->taken = c->head;
                set_queued(c, c->queued_ops - c->head->n);
            }
            return actor__error_oom();
        }
        c->batch = b;
        c->batch_cap = cap;
    }
    for (r = first;; r = r->next) {
        memcpy(c->batch + c->total, r->ops, r->n * sizeof(*r->ops));
        c->total += r->n;
        set_queued(c, c->queued_ops - r->n);
        if (r == last)
            break;
    }
    c->taken = last;
    return 0;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wait until `want` ops are queued or the deadline passes. Called by the
 * leader with c->mu held. A waiting leader is not running: the pool lets
 * another thread run the actors whose writes it waits for (lock order
 * commit -> pool); `blocked` says the caller already told it so. A
 * streaming leader (blocked) first polls for STREAM_SPIN_US without the
 * lock and goes back to its statements as soon as anything arrived. */
static void await_ops(actor__commit *c, size_t want, int blocked)
{
    struct timespec ts;

    /* Called with nothing queued (stream_next) when blocked. */
    if (blocked) {
        int64_t until = now_us() + STREAM_SPIN_US;
        if (until > c->deadline_us)
            until = c->deadline_us;
        pthread_mutex_unlock(&c->mu);
        while (__atomic_load_n(&c->queued_ops, __ATOMIC_RELAXED) == 0 && now_us() < until)
            actor__cpu_relax();
        pthread_mutex_lock(&c->mu);
        if (c->queued_ops > 0)
            return;
    }
    ts.tv_sec = (time_t)(c->deadline_us / 1000000);
    ts.tv_nsec = (long)(c->deadline_us % 1000000) * 1000;
    c->wake_at = want;
    c->leader_waiting = 1;
    if (!blocked)
        actor__pool_block_enter();
    while (c->queued_ops < want) {
        if (pthread_cond_timedwait(&c->arrive_cv, &c->mu, &ts) != 0)
            break; /* time is up: commit what there is */
    }
    if (!blocked)
        actor__pool_block_leave();
    c->leader_waiting = 0;
}

/* The stream of a streaming leader (actor_store_next_fn): the requests
 * queued when it starts, then those that arrive while the provider runs
 * the statements of the earlier ones, until the batch is as large as the
 * last one or the deadline passes. Called by the provider on the leader's
 * thread, inside its transaction. */
static int stream_next(void *arg, actor_store_op ***ops, size_t *n)
{
    actor__commit *c = arg;
    size_t start, target;
    int rc;

    pthread_mutex_lock(&c->mu);
    start = c->total;
    if (c->taken != NULL) {
        target = c->last_batch < c->max_batch ? c->last_batch : c->max_batch;
        if (c->total < target && c->queued_ops == 0 && now_us() < c->deadline_us)
            await_ops(c, target - c->total < STREAM_CHUNK ? target - c->total : STREAM_CHUNK, 1);
    }
    rc = take(c);
    *ops = c->batch + start;
    *n = rc == 0 ? c->total - start : 0;
    if (*n == 0)
        c->commit_us = now_us();
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Wake the caller of a blocking request (done, or made leader), if it is
 * waiting: unpark its turn, or post its semaphore; one that is not waiting
 * (it is on its way back to the lock, or already has its wake) sees the
 * change when it takes the lock or is resumed. Called with c->mu held.
 * With `done`, the request is marked done, after the caller's waiting
 * state is read: a caller that is not waiting may see `done` and return at
 * once, so nothing of `r` is touched after that store, and one that is
 * waiting cannot run until it is woken here. */
static void wake(actor__commit_req *r, int done)
{
    actor__fiber *turn = r->parked;
    sem_t *sem = r->sem_waiting ? r->sem : NULL;

    r->parked = NULL;
    r->sem_waiting = 0;
    if (done)
        __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    if (turn != NULL)
        actor__pool_unpark(turn);
    else if (sem != NULL)
        sem_post(sem);
}

/* Form one batch from the head of the queue and commit it: streamed (the
 * statements of the first requests run while later ones arrive), or
 * gathered whole and applied. Called with c->mu held; returns with it held,
 * the batch's requests being those from the head to c->taken. Batch
 * smoothing: writers that were just completed need a moment to send their
 * next writes, so while fewer ops than the last batch had are in, the
 * leader waits a little for them (at most the last commit's duration, at
 * most 2 ms). For a streamed batch the commit's duration is counted from
 * its last op on: a larger batch saves commits, not statements, which
 * cost the same per op either way. (Counting the statements too made
 * synchronous=normal SQLite, whose commits are cheap, wait longer for
 * larger batches: 0.83x-0.95x the writes/s with 64 writers.) */
static int commit_batch(actor__commit *c)
{
    int64_t budget = c->last_us < 2000 ? c->last_us : 2000, t0;
    size_t target = c->last_batch < c->max_batch ? c->last_batch : c->max_batch;
    int rc;

    c->taken = NULL;
    c->total = 0;
    c->deadline_us = now_us() + budget;
    if (c->stream) {
        c->commit_us = 0;
        pthread_mutex_unlock(&c->mu);
        actor__pool_block_enter();
        rc = c->provider->apply_stream(c->provider, stream_next, c);
        actor__pool_block_leave();
        t0 = c->commit_us;
        pthread_mutex_lock(&c->mu);
        /* Ended before it took anything: the queued requests fail. */
        if (c->taken == NULL) {
            (void)take(c);
            if (rc == 0)
                rc = actor_error_set(ACTOR_ESTORE, "%s apply_stream ended without reading a write",
                                     c->provider->name);
        }
    } else {
        if (c->queued_ops < target && budget > 0)
            await_ops(c, target, 0);
        rc = take(c);
        pthread_mutex_unlock(&c->mu);
        t0 = now_us();
        if (rc == 0) {
            actor__pool_block_enter();
            rc = c->provider->apply(c->provider, c->batch, c->total);
            actor__pool_block_leave();
        }
        pthread_mutex_lock(&c->mu);
    }
    c->last_us = t0 > 0 ? now_us() - t0 : 0;
    c->last_batch = c->total;
    return rc;
}

/* Lead: commit batches until the queue is empty or a blocking request is at
 * its head (it takes over). Called with c->mu held and leader_active set;
 * returns with c->mu held and leader_active clear. Asynchronous completions
 * run with the lock released. */
static void lead(actor__commit *c)
{
    actor__commit_req *r, *last, *next, *async_done;
    int rc;
    char msg[512];

    for (;;) {
        rc = commit_batch(c);
        snprintf(msg, sizeof(msg), "%s", rc ? actor_error_last() : "");
        last = c->taken;

        async_done = NULL;
        for (r = c->head;; r = next) {
            next = r->next;
            r->rc = rc;
            if (r->cb) {
                r->next = async_done; /* completed below, unlocked */
                async_done = r;
            } else {
                if (rc != 0)
                    snprintf(r->msg, r->msg_size, "%s", msg);
                /* The caller wakes without taking c->mu: no wake-up that
                 * only queues on the lock the leader holds. */
                wake(r, 1);
            }
            if (r == last)
                break;
        }
        c->head = next;
        if (c->head == NULL)
            c->tail = NULL;
        if (async_done) {
            pthread_mutex_unlock(&c->mu);
            for (r = async_done; r; r = next) {
                next = r->next; /* the callback may free r */
                r->cb(r, rc, msg);
            }
            pthread_mutex_lock(&c->mu);
        }
        if (c->head == NULL)
            break;
        if (c->head->cb == NULL) {
            /* A blocking caller is next: let it lead its own batch. */
            c->leader_active = 0;
            wake(c->head, 0);
            return;
        }
    }
    c->leader_active = 0;
}

static void enqueue(actor__commit *c, actor__commit_req *r)
{
    r->next = NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    set_queued(c, c->queued_ops + r->n);
    /* Wake a leader waiting for more only once there is what it waits
     * for (see await_ops), not on every arrival. */
    if (c->leader_waiting && c->queued_ops >= c->wake_at) {
        c->leader_waiting = 0;
        pthread_cond_signal(&c->arrive_cv);
    }
}

void actor__commit_submit(actor__commit *c, actor__commit_req *r)
{
    r->done = 0;
    r->rc = 0;
    pthread_mutex_lock(&c->mu);
    enqueue(c, r);
    if (!c->leader_active) {
        c->leader_active = 1;
        lead(c);
    }
    pthread_mutex_unlock(&c->mu);
}

struct park_arg {
    actor__commit *c;
    actor__commit_req *r;
};

static void arm(actor__fiber *turn, void *arg)
{
    struct park_arg *pa = arg;

    pa->r->parked = turn;
    pthread_mutex_unlock(&pa->c->mu);
}

/* Park the calling turn until its request is done or it is made leader, so
 * that its thread runs other actors meanwhile. Called with c->mu held;
 * returns 0 with it released once resumed, or -1 with it still held when
 * this thread cannot park (the caller then blocks the thread). */
static int park(actor__commit *c, actor__commit_req *r)
{
    struct park_arg pa = {c, r};

    return actor__turn_park(arm, &pa);
}

/* Let the turns of this worker that a batch completed (they are ready, not
 * yet resumed) send their next writes before this caller leads a batch.
 * Called and returns with c->mu held. */
static void yield(actor__commit *c)
{
    pthread_mutex_unlock(&c->mu);
    (void)actor__turn_yield();
    pthread_mutex_lock(&c->mu);
}

int actor__commit_apply(actor__commit *c, actor_store_op **ops, size_t n)
{
    actor__commit_req self;
    sem_t sem;
    char msg[512] = "";

    if (n == 0)
        return 0;
    memset(&self, 0, sizeof(self));
    self.ops = ops;
    self.n = n;
    self.msg = msg;
    self.msg_size = sizeof(msg);
    sem_init(&sem, 0, 0);
    self.sem = &sem;

    pthread_mutex_lock(&c->mu);
    enqueue(c, &self);
    for (;;) {
        if (__atomic_load_n(&self.done, __ATOMIC_ACQUIRE))
            break;
        if (c->leader_active) {
            /* Wait for the leader to finish our request or to hand over
             * to us: parked if this is a worker, so that the worker runs
             * other actors (and their writes join the batch). */
            if (park(c, &self) == 0) {
                if (__atomic_load_n(&self.done, __ATOMIC_ACQUIRE))
                    goto out;
                pthread_mutex_lock(&c->mu);
                continue;
            }
            /* Or blocked. Lock order commit -> pool: the pool never calls
             * in here, and the lock is released before the pool is told. */
            self.sem_waiting = 1;
            pthread_mutex_unlock(&c->mu);
            actor__pool_block_enter();
            while (sem_wait(&sem) != 0)
                ; /* EINTR */
            actor__pool_block_leave();
            if (__atomic_load_n(&self.done, __ATOMIC_ACQUIRE))
                goto out;
            pthread_mutex_lock(&c->mu);
        } else if (!self.yielded && actor__pool_has_ready()) {
            /* Turns of this worker that a batch completed have not sent
             * their next writes yet: they go first, once (only this
             * thread can resume them, and a caller that leads again and
             * again would starve them). */
            self.yielded = 1;
            yield(c);
        } else {
            /* No leader at work: lead. The batch starts at the head, which
             * is us or a request queued before us; if a leader hands over
             * to us before reaching our request, we lead again. */
            c->leader_active = 1;
            lead(c);
        }
    }
    pthread_mutex_unlock(&c->mu);
out:
    /* Nothing is posted but to a wait (see wake), and every wait took its
     * post: nobody touches `self` or `sem` once done was seen. */
    sem_destroy(&sem);
    if (self.rc != 0)
        actor_error_set(self.rc, "%s", msg[0] ? msg : actor_strerror(self.rc));
    return self.rc;
}
