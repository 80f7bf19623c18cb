/*
 * activation.c: what happens when the pool runs an actor. The runner takes
 * messages from the actor's mailbox one at a time, in order, and for each:
 * activates the actor first if it is not active (lease, then the type's
 * activate hook), runs the turn (the invoke callback) or, for a HALT
 * message, deactivates it (hook, cache, lease). An actor is scheduled on the
 * pool at most once at a time, which is what makes its turns exclusive. After
 * a bounded number of messages the runner re-queues the actor so that one
 * busy actor cannot hold a worker forever. An actor deactivated with an
 * empty mailbox leaves the table; one that received messages meanwhile is
 * activated again on the next message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Messages one actor may handle before it yields its worker. */
#define TURN_BUDGET 64

static _Thread_local const actor__frame *tls_frame;

const actor__frame *actor__current_frame(void)
{
    return tls_frame;
}

int actor__ctx_check(const actor_ctx *ctx, const char *fn)
{
    if (ctx == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s: ctx is NULL", fn);
    if (tls_frame == NULL || (const actor_ctx *)tls_frame->actor != ctx)
        return actor_error_set(ACTOR_ESTATE,
                               "%s: called outside the turn of actor %s/%s (a ctx may only be "
                               "used by the thread running that actor's callbacks)",
                               fn, ((const actor__actor *)ctx)->type->name,
                               ((const actor__actor *)ctx)->id);
    return 0;
}

void actor__cache_drop(actor__actor *a)
{
    actor__cache *c = a->cache;

    if (c == NULL)
        return;
    if (c->value && c->free_fn)
        c->free_fn(c->value);
    c->value = NULL;
    c->tag = NULL;
    c->free_fn = NULL;
}

/* Take or release this actor's lease through the group commit. */
static int lease_op(actor__actor *a, actor_store_op_kind kind)
{
    actor_host *host = a->type->host;
    actor_store_op op;
    actor_store_op *ops[1] = {&op};
    int rc;

    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.type = a->type->name;
    op.id = a->id;
    op.fence_host = host->host_id;
    op.fence_epoch = a->epoch;
    rc = actor__commit_apply(host->commit, ops, 1);
    if (rc == 0) {
        rc = op.result;
        if (kind == ACTOR_STORE_LEASE_ACQUIRE && rc == 0)
            a->epoch = op.out_epoch;
        else if (rc == ACTOR_ELEASE)
            actor_error_set(ACTOR_ELEASE, "actor %s/%s is active on host %s (address \"%s\")",
                            a->type->name, a->id, op.holder_id.ptr ? op.holder_id.ptr : "?",
                            op.holder_addr.ptr ? op.holder_addr.ptr : "");
    }
    actor_store_op_dispose(&op);
    return rc;
}

static int activate(actor__actor *a, const actor__frame *frame)
{
    actor__type_entry *te = a->type;
    int rc;

    rc = lease_op(a, ACTOR_STORE_LEASE_ACQUIRE);
    if (rc != 0)
        return rc;
    a->instance = NULL;
    if (te->type.activate) {
        tls_frame = frame;
        actor_error_clear();
        rc = te->type.activate(&a->instance, (actor_ctx *)a, te->payload);
        tls_frame = NULL;
        if (rc != 0) {
            char msg[1024];
            snprintf(msg, sizeof(msg), "%s", actor_error_last());
            actor__cache_drop(a);
            (void)lease_op(a, ACTOR_STORE_LEASE_RELEASE);
            if (rc > 0)
                rc = ACTOR_ERROR;
            actor_error_set(rc, "activation of %s/%s failed: %s", te->name, a->id,
                            msg[0] ? msg : actor_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Run the deactivate hook and let go of the activation. When the lease was
 * lost (`lost`), the hook runs with state writes refused and the lease row,
 * which may be another host's by now, is left alone. */
static void deactivate(actor__actor *a, const actor__frame *frame, int lost)
{
    actor__type_entry *te = a->type;

    if (lost)
        a->status = ACTOR__DROPPING;
    if (te->type.deactivate) {
        tls_frame = frame;
        te->type.deactivate(a->instance, (actor_ctx *)a, te->payload);
        tls_frame = NULL;
    }
    a->instance = NULL;
    actor__cache_drop(a);
    free(a->cache);
    a->cache = NULL;
    /* A failed release leaves a row that take-over resolves later. */
    if (!lost)
        (void)lease_op(a, ACTOR_STORE_LEASE_RELEASE);
    a->status = ACTOR__NEW;
    actor_error_clear();
}

static void run_turn(actor__actor *a, actor__msg *m, const actor__frame *frame, actor_buf *response)
{
    actor__type_entry *te = a->type;
    int rc;

    actor_buf_clear(response);
    tls_frame = frame;
    actor_error_clear();
    rc = te->type.invoke(response, a->instance, (actor_ctx *)a, m->method, m->data, m->request_len,
                         te->payload);
    tls_frame = NULL;
    if (rc > 0)
        rc = actor_error_set(ACTOR_ERROR, "%s/%s %s returned %d", te->name, a->id, m->method, rc);
    if (rc != 0) {
        actor_buf_clear(response);
        if (actor_error_last()[0] == '\0')
            actor_error_set(rc, "%s/%s %s failed: %s", te->name, a->id, m->method,
                            actor_strerror(rc));
    }
    actor__msg_complete(m, rc, response, actor_error_last());
}

void actor__activation_run(actor__runnable *item, void *payload)
{
    actor__actor *a = (actor__actor *)item;
    actor_host *host = payload;
    pthread_mutex_t *mu = actor__table_lock_of(host->table, a);
    int budget = TURN_BUDGET;
    actor__msg *m;
    actor__frame frame;
    int lost;
    /* Responses of this run; one allocation serves the whole batch. */
    actor_buf response = ACTOR_BUF_INIT;

    pthread_mutex_lock(mu);
    for (;;) {
        m = a->mhead;
        if (m == NULL) {
            a->scheduled = 0;
            pthread_mutex_unlock(mu);
            actor_buf_dispose(&response);
            return;
        }
        if (budget-- == 0) {
            /* Yield: still scheduled, back to the end of the run queue. */
            pthread_mutex_unlock(mu);
            actor__pool_push(host->pool, &a->run);
            actor_buf_dispose(&response);
            return;
        }
        a->mhead = m->next;
        if (a->mhead == NULL)
            a->mtail = NULL;
        if (m->kind == ACTOR__MSG_HALT)
            a->halt_queued = 0;
        lost = a->lost;
        a->lost = 0;
        pthread_mutex_unlock(mu);

        frame.actor = a;
        frame.parent = m->chain;

        if (lost && a->status == ACTOR__ACTIVE && m->kind != ACTOR__MSG_HALT) {
            /* The lease is gone (a write was fenced or the heartbeat lapsed):
             * drop this activation without writing; the message below
             * activates the actor again if its lease can be had. */
            deactivate(a, &frame, 1);
        }

        if (m->kind == ACTOR__MSG_HALT) {
            if (a->status == ACTOR__ACTIVE)
                deactivate(a, &frame, lost);
            a->status = ACTOR__NEW;
            /* Answer the halt only once the actor is out of the table, so a
             * caller that waited sees it gone. */
            pthread_mutex_lock(mu);
            if (a->mhead == NULL) {
                actor__table_remove_locked(host->table, a);
                pthread_mutex_unlock(mu);
                free(a);
                actor__msg_complete(m, 0, NULL, NULL);
                actor_buf_dispose(&response);
                return;
            }
            pthread_mutex_unlock(mu);
            actor__msg_complete(m, 0, NULL, NULL);
            pthread_mutex_lock(mu);
            continue;
        }

        if (a->status != ACTOR__ACTIVE) {
            int rc = activate(a, &frame);
            if (rc != 0) {
                /* Fail this message and every one queued behind it; the
                 * next message tries to activate again. */
                char msg[1024];
                actor__msg *rest;
                snprintf(msg, sizeof(msg), "%s", actor_error_last());
                pthread_mutex_lock(mu);
                rest = a->mhead;
                a->mhead = a->mtail = NULL;
                a->halt_queued = 0;
                actor__table_remove_locked(host->table, a);
                pthread_mutex_unlock(mu);
                free(a->cache);
                free(a);
                actor__msg_complete(m, rc, NULL, msg);
                while (rest) {
                    actor__msg *next = rest->next;
                    actor__msg_complete(rest, rest->kind == ACTOR__MSG_HALT ? 0 : rc, NULL, msg);
                    rest = next;
                }
                actor_buf_dispose(&response);
                return;
            }
            a->status = ACTOR__ACTIVE;
        }

        run_turn(a, m, &frame, &response);
        pthread_mutex_lock(mu);
        a->last_used_ms = actor__mono_ms();
    }
}

void actor__actor_lost(actor__actor *a)
{
    pthread_mutex_t *mu = actor__table_lock_of(a->type->host->table, a);

    pthread_mutex_lock(mu);
    a->lost = 1;
    pthread_mutex_unlock(mu);
}
