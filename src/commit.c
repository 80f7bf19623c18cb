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
 * than the last batch had waits a little (at most half the last commit's
 * duration, at most 2 ms) for them. Without it, W concurrent writers settle
 * into two alternating batches of W/2 and twice the commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct actor__commit {
    pthread_mutex_t mu;
    pthread_cond_t arrive_cv; /* a leader waiting for more requests */
    actor__commit_req *head, *tail;
    size_t queued_ops;  /* ops of the queued requests */
    size_t last_batch;  /* ops of the last batch committed */
    int64_t last_us;    /* how long the last commit took */
    int leader_waiting; /* the leader sleeps on arrive_cv */
    int leader_active;
    actor_provider *provider;
    size_t max_batch;
    /* The leader's gather array; only the active leader touches it. */
    actor_store_op **batch;
    size_t batch_cap;
};

int actor__commit_new(actor__commit **out, actor_provider *provider, size_t max_batch)
{
    actor__commit *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL)
        return actor__error_oom();
    pthread_mutex_init(&c->mu, NULL);
    actor__cond_init_mono(&c->arrive_cv);
    c->provider = provider;
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

/* Gather the ops of the requests from the head on into c->batch, up to
 * max_batch (at least the head's). Called with c->mu held, by the leader. */
static int gather(actor__commit *c, actor__commit_req **last_out, size_t *total_out)
{
    size_t total = 0;
    actor__commit_req *r, *last = c->head;

    for (r = c->head; r; r = r->next) {
        if (r != c->head && total + r->n > c->max_batch)
            break;
        total += r->n;
        last = r;
    }
    if (total > c->batch_cap) {
        size_t cap = total < 64 ? 64 : total;
        actor_store_op **b = realloc(c->batch, cap * sizeof(*b));
        if (b == NULL)
            return actor__error_oom();
        c->batch = b;
        c->batch_cap = cap;
    }
    total = 0;
    for (r = c->head;; r = r->next) {
        memcpy(c->batch + total, r->ops, r->n * sizeof(*r->ops));
        total += r->n;
        if (r == last)
            break;
    }
    *last_out = last;
    *total_out = total;
    return 0;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Before a batch: if fewer ops are queued than the last batch carried, give
 * the writers the last batch completed a moment to send their next writes.
 * Called with c->mu held. */
static void wait_for_more(actor__commit *c)
{
    int64_t budget = c->last_us < 2000 ? c->last_us : 2000;
    int64_t deadline;
    struct timespec ts;

    if (c->queued_ops >= c->last_batch || budget <= 0)
        return;
    deadline = now_us() + budget;
    ts.tv_sec = (time_t)(deadline / 1000000);
    ts.tv_nsec = (long)(deadline % 1000000) * 1000;
    c->leader_waiting = 1;
    /* A waiting leader is not running: the pool lets another thread run
     * the actors whose writes it waits for (lock order commit -> pool). */
    actor__pool_block_enter();
    while (c->queued_ops < c->last_batch && c->queued_ops < c->max_batch) {
        if (pthread_cond_timedwait(&c->arrive_cv, &c->mu, &ts) != 0)
            break; /* time is up: commit what there is */
    }
    actor__pool_block_leave();
    c->leader_waiting = 0;
}

/* Wake the caller of a blocking request (done, or made leader): unpark its
 * turn, or post its semaphore. Called with c->mu held; once the caller runs
 * again `r` may be gone. */
static void wake(actor__commit_req *r)
{
    actor__fiber *turn = r->parked;

    r->parked = NULL;
    if (turn != NULL)
        actor__pool_unpark(turn);
    else
        sem_post(r->sem);
}

/* Lead: commit batches until the queue is empty or a blocking request is at
 * its head (it takes over). Called with c->mu held and leader_active set;
 * returns with c->mu held and leader_active clear. Asynchronous completions
 * run with the lock released. */
static void lead(actor__commit *c)
{
    actor__commit_req *r, *last, *next, *async_done;
    size_t total;
    int rc;
    char msg[512];

    for (;;) {
        int64_t t0;
        wait_for_more(c);
        /* On failure to gather, the head request alone fails. */
        last = c->head;
        total = 0;
        rc = gather(c, &last, &total);
        c->queued_ops -= total;
        pthread_mutex_unlock(&c->mu);
        t0 = now_us();
        if (rc == 0) {
            actor__pool_block_enter();
            rc = c->provider->apply(c->provider, c->batch, total);
            actor__pool_block_leave();
        }
        snprintf(msg, sizeof(msg), "%s", rc ? actor_error_last() : "");
        pthread_mutex_lock(&c->mu);
        c->last_us = now_us() - t0;
        c->last_batch = total;

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
                __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
                wake(r);
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
            wake(c->head);
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
    c->queued_ops += r->n;
    /* Wake a leader waiting for more only once there is what it waits
     * for (see wait_for_more), not on every arrival. */
    if (c->leader_waiting && (c->queued_ops >= c->last_batch || c->queued_ops >= c->max_batch))
        pthread_cond_signal(&c->arrive_cv);
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
    /* A hand-over post may be left over once done: harmless, the semaphore
     * dies here. */
    sem_destroy(&sem);
    if (self.rc != 0)
        actor_error_set(self.rc, "%s", msg[0] ? msg : actor_strerror(self.rc));
    return self.rc;
}
