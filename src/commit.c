/*
 * commit.c: group commit. Every durable write of the runtime (state set and
 * delete, lease acquire and release) goes through actor__commit_apply(). The
 * callers queue up; the one at the front becomes the leader, takes every op
 * queued behind it (up to max_batch), hands them to the provider's apply()
 * as one transaction, and wakes the others with the outcome. While the
 * leader waits on the disk, new callers queue behind it and form the next
 * batch, so the number of transactions follows the disk's speed, not the
 * number of writers, and no caller returns before its write is durable.
 * No thread of its own: the leader is always a caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct creq {
    struct creq *next;
    actor_store_op **ops;
    size_t n;
    int done;
    int rc;
    pthread_cond_t cv;
    char msg[512];
} creq;

struct actor__commit {
    pthread_mutex_t mu;
    creq *head, *tail;
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
    c->provider = provider;
    c->max_batch = max_batch ? max_batch : 1000;
    *out = c;
    return 0;
}

void actor__commit_free(actor__commit *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->batch);
    free(c);
}

static int gather(actor__commit *c, creq *first, creq **last_out, size_t *total_out)
{
    size_t total = 0;
    creq *r, *last = first;

    for (r = first; r; r = r->next) {
        if (r != first && total + r->n > c->max_batch)
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
    for (r = first;; r = r->next) {
        memcpy(c->batch + total, r->ops, r->n * sizeof(*r->ops));
        total += r->n;
        if (r == last)
            break;
    }
    *last_out = last;
    *total_out = total;
    return 0;
}

int actor__commit_apply(actor__commit *c, actor_store_op **ops, size_t n)
{
    creq self;
    creq *r, *last = NULL, *next;
    size_t total = 0;
    int rc;

    if (n == 0)
        return 0;
    memset(&self, 0, sizeof(self));
    self.ops = ops;
    self.n = n;
    pthread_cond_init(&self.cv, NULL);

    pthread_mutex_lock(&c->mu);
    if (c->tail)
        c->tail->next = &self;
    else
        c->head = &self;
    c->tail = &self;
    if (!self.done && (c->leader_active || c->head != &self)) {
        actor__pool_block_enter();
        while (!self.done && (c->leader_active || c->head != &self))
            pthread_cond_wait(&self.cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        actor__pool_block_leave();
        pthread_mutex_lock(&c->mu);
    }
    if (self.done) {
        pthread_mutex_unlock(&c->mu);
        pthread_cond_destroy(&self.cv);
        if (self.rc != 0)
            actor_error_set(self.rc, "%s", self.msg);
        return self.rc;
    }

    /* Leader: commit everything from the head (us) onwards. */
    c->leader_active = 1;
    rc = gather(c, &self, &last, &total);
    pthread_mutex_unlock(&c->mu);

    if (rc == 0) {
        actor__pool_block_enter();
        rc = c->provider->apply(c->provider, c->batch, total);
        actor__pool_block_leave();
    }

    pthread_mutex_lock(&c->mu);
    for (r = &self;; r = next) {
        next = r->next;
        r->rc = rc;
        r->done = 1;
        if (rc != 0 && r != &self)
            snprintf(r->msg, sizeof(r->msg), "%s", actor_error_last());
        if (r != &self)
            pthread_cond_signal(&r->cv);
        if (r == last)
            break;
    }
    c->head = last->next;
    if (c->head == NULL)
        c->tail = NULL;
    c->leader_active = 0;
    if (c->head)
        pthread_cond_signal(&c->head->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&self.cv);
    return rc;
}
