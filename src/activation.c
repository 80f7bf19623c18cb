/*
 * activation.c: what happens when the pool runs an actor. The runner takes
 * messages from the actor's mailbox one at a time, in order. An actor that
 * is not active is activated first: its lease acquire goes to the group
 * commit asynchronously and the actor is parked (no worker waits on the
 * disk); when the acquire completes the actor is queued again, the type's
 * activate hook runs, and turns follow. A HALT message deactivates it (hook,
 * cache) and queues the lease release the same way; the actor leaves the
 * table once the release is done, unless messages arrived meanwhile. An
 * actor is scheduled on the pool at most once at a time, which is what makes
 * its turns exclusive. After a bounded number of messages the runner
 * re-queues the actor so that one busy actor cannot hold a worker forever.
 * A turn that staged a write (actor_ctx_state_stage_*) ends with the actor
 * parked the same way while the write goes through the group commit; its
 * caller is answered and the actor goes on once the write is committed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Messages one actor may handle before it yields its worker. */
#define TURN_BUDGET 64

/* A lease acquire or release in flight for one actor. */
typedef struct actor__lease_req {
    actor__commit_req req; /* first: the callback gets it back */
    actor_store_op op;
    actor_store_op *opp;
    actor__actor *a;
    actor__msg *halt; /* release: the HALT to answer once done */
    int rc;
    char *msg; /* acquire failed: why (malloc'd) */
} lease_req;

static _Thread_local const actor__frame *tls_frame;

const actor__frame *actor__current_frame(void)
{
    return tls_frame;
}

/* What a turn keeps in thread-local variables: taken out of the thread's
 * way while the turn is parked or yields, since other turns run on the
 * thread meanwhile, and put back when it resumes (on the same thread). */
typedef struct turn_tls {
    const actor__frame *frame;
    actor__stage_tls stage;
} turn_tls;

static void turn_tls_swap(turn_tls *t)
{
    const actor__frame *f = tls_frame;

    tls_frame = t->frame;
    t->frame = f;
    actor__stage_swap(&t->stage);
}

/* actor__pool_park(arm, arg), or actor__pool_yield() when arm is NULL,
 * with the turn's thread-local state set aside meanwhile. */
static int set_aside(void (*arm)(actor__fiber *turn, void *arg), void *arg)
{
    turn_tls t;
    int rc;

    memset(&t, 0, sizeof(t));
    turn_tls_swap(&t);
    rc = arm ? actor__pool_park(arm, arg) : actor__pool_yield();
    turn_tls_swap(&t);
    return rc;
}

int actor__turn_park(void (*arm)(actor__fiber *turn, void *arg), void *arg)
{
    return set_aside(arm, arg);
}

int actor__turn_yield(void)
{
    return set_aside(NULL, NULL);
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

void actor__actor_lost(actor__actor *a)
{
    pthread_mutex_t *mu = actor__table_lock_of(a->type->host->table, a);

    pthread_mutex_lock(mu);
    __atomic_store_n(&a->lost, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(mu);
}

static void set_status(actor__actor *a, int status)
{
    pthread_mutex_t *mu = actor__table_lock_of(a->type->host->table, a);

    pthread_mutex_lock(mu);
    a->status = (uint8_t)status;
    pthread_mutex_unlock(mu);
}

/* Keep a failure message for later (NULL when out of memory: the code then
 * stands alone). */
static char *msg_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *msg_dup(const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return strdup(tmp);
}

/* An op on actor a's row, carrying the lease its activation holds. */
static void fenced_op(actor_store_op *op, actor_store_op_kind kind, const actor__actor *a)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->type = a->type->name;
    op->id = a->id;
    op->fence_host = a->type->host->host_id;
    op->fence_epoch = a->epoch;
}

/* A one-op commit request: `req` commits *opp, which points at `op`. */
static void one_op_req(actor__commit_req *req, actor_store_op *op, actor_store_op **opp)
{
    *opp = op;
    req->ops = opp;
    req->n = 1;
}

static lease_req *lease_req_new(actor__actor *a, actor_store_op_kind kind)
{
    lease_req *lr = calloc(1, sizeof(*lr));

    if (lr == NULL)
        return NULL;
    fenced_op(&lr->op, kind, a);
    one_op_req(&lr->req, &lr->op, &lr->opp);
    lr->a = a;
    return lr;
}

/* A blocking lease release, for the rare paths that cannot wait for a
 * callback (activate hook failed, out of memory). */
static void release_now(actor__actor *a)
{
    actor_store_op op;
    actor_store_op *ops[1] = {&op};

    fenced_op(&op, ACTOR_STORE_LEASE_RELEASE, a);
    /* A failed release leaves a row that take-over resolves later. */
    (void)actor__commit_apply(a->type->host->commit, ops, 1);
    actor_store_op_dispose(&op);
}

/* ---- activation ------------------------------------------------------------ */

static void acquire_done(actor__commit_req *req, int rc, const char *msg)
{
    lease_req *lr = (lease_req *)req;
    actor__actor *a = lr->a;

    if (rc == 0)
        rc = lr->op.result;
    if (rc == 0)
        a->epoch = lr->op.out_epoch;
    else if (rc == ACTOR_ELEASE)
        lr->msg = msg_dup("actor %s/%s is active on host %s (address \"%s\")", a->type->name, a->id,
                          lr->op.holder_id.ptr ? lr->op.holder_id.ptr : "?",
                          lr->op.holder_addr.ptr ? lr->op.holder_addr.ptr : "");
    else
        lr->msg = msg_dup("activation of %s/%s: lease: %s", a->type->name, a->id,
                          msg && msg[0] ? msg : actor_strerror(rc));
    lr->rc = rc;
    actor_store_op_dispose(&lr->op);
    /* The actor is still scheduled (parked): queue it to continue. */
    set_status(a, ACTOR__ACQUIRED);
    actor__pool_push(a->type->host->pool, &a->run);
}

/* Start the lease acquire; the actor is parked until acquire_done. 0, or
 * ACTOR_ENOMEM when nothing was started. */
static int start_acquire(actor__actor *a)
{
    lease_req *lr = lease_req_new(a, ACTOR_STORE_LEASE_ACQUIRE);

    if (lr == NULL)
        return actor__error_oom();
    lr->req.cb = acquire_done;
    a->lease = lr;
    set_status(a, ACTOR__ACQUIRING);
    actor__commit_submit(a->type->host->commit, &lr->req);
    return 0;
}

/* Consume the acquire's result. 0 (the lease is held, a->epoch set), or its
 * error with the message recorded. */
static int take_lease_result(actor__actor *a)
{
    lease_req *lr = a->lease;
    int rc = lr->rc;

    if (rc != 0)
        actor_error_set(rc, "%s", lr->msg ? lr->msg : actor_strerror(rc));
    free(lr->msg);
    free(lr);
    a->lease = NULL;
    return rc;
}

/* Run the type's activate hook under the lease just taken. */
static int run_activate(actor__actor *a, const actor__frame *frame)
{
    actor__type_entry *te = a->type;
    int rc;

    a->instance = NULL;
    if (te->type.activate == NULL)
        return 0;
    tls_frame = frame;
    actor_error_clear();
    rc = te->type.activate(&a->instance, (actor_ctx *)a, te->payload);
    tls_frame = NULL;
    if (rc != 0) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", actor_error_last());
        actor__cache_drop(a);
        free(a->cache);
        a->cache = NULL;
        release_now(a);
        if (rc > 0)
            rc = ACTOR_ERROR;
        actor_error_set(rc, "activation of %s/%s failed: %s", te->name, a->id,
                        msg[0] ? msg : actor_strerror(rc));
    }
    return rc;
}

/* Activation failed: fail every queued message (a HALT is answered with 0),
 * take the actor out of the table and free it. */
static void fail_all(actor__actor *a, pthread_mutex_t *mu, int rc)
{
    actor_host *host = a->type->host;
    char msg[1024];
    actor__msg *rest, *next;
    int let_go;

    snprintf(msg, sizeof(msg), "%s", actor_error_last());
    free(a->cache);
    a->cache = NULL;
    pthread_mutex_lock(mu);
    actor__mailbox_fold(a);
    rest = a->mhead;
    a->mhead = a->mtail = NULL;
    a->halt_queued = 0;
    a->status = ACTOR__NEW;
    let_go = actor__table_let_go_locked(host->table, a);
    pthread_mutex_unlock(mu);
    if (let_go == ACTOR__LET_GO_REMOVED)
        free(a);
    else if (let_go == 0)
        actor__pool_push(host->pool, &a->run); /* sent to meanwhile: try again */
    for (; rest; rest = next) {
        next = rest->next;
        actor__msg_complete(rest, rest->kind == ACTOR__MSG_HALT ? 0 : rc, NULL, msg);
    }
}

/* ---- deactivation ------------------------------------------------------------ */

/* Run the deactivate hook and let go of the instance and cache. When the
 * lease was lost the hook runs with state writes refused. */
static void run_deactivate(actor__actor *a, const actor__frame *frame, int lost)
{
    actor__type_entry *te = a->type;

    if (lost)
        set_status(a, ACTOR__DROPPING);
    if (te->type.deactivate) {
        tls_frame = frame;
        te->type.deactivate(a->instance, (actor_ctx *)a, te->payload);
        tls_frame = NULL;
    }
    a->instance = NULL;
    actor__cache_drop(a);
    free(a->cache);
    a->cache = NULL;
    actor_error_clear();
}

/* The actor is deactivated and its lease let go: answer the HALT, and leave
 * the table unless messages came in meanwhile (then queue it again to
 * activate anew). `requeue`: whether this thread must push it (callbacks)
 * or is the runner that goes on with it (returns 1 then). */
static int halt_finished(actor__actor *a, actor__msg *halt, int requeue)
{
    actor_host *host = a->type->host;
    pthread_mutex_t *mu = actor__table_lock_of(host->table, a);
    int let_go = 0;

    pthread_mutex_lock(mu);
    a->status = ACTOR__NEW;
    if (a->mhead == NULL)
        let_go = actor__table_let_go_locked(host->table, a);
    pthread_mutex_unlock(mu);
    if (let_go == ACTOR__LET_GO_REMOVED)
        free(a);
    /* Answered only once the actor is out of the table (or dormant), so a
     * caller that waited sees it gone. */
    actor__msg_complete(halt, 0, NULL, NULL);
    if (let_go != 0)
        return 0;
    if (requeue)
        actor__pool_push(host->pool, &a->run);
    return 1;
}

static void release_done(actor__commit_req *req, int rc, const char *msg)
{
    lease_req *lr = (lease_req *)req;
    actor__actor *a = lr->a;
    actor__msg *halt = lr->halt;

    /* A failed release leaves a row that take-over resolves later. */
    actor_store_op_dispose(&lr->op);
    free(lr);
    a->lease = NULL;
    (void)halt_finished(a, halt, 1);
}

/* Queue the lease release of a deactivated actor; `halt` is answered when it
 * is done. 1 when the release is in flight (the actor is parked), 0 when it
 * was done here (out of memory: blocking fallback) and the runner goes on. */
static int start_release(actor__actor *a, actor__msg *halt)
{
    lease_req *lr = lease_req_new(a, ACTOR_STORE_LEASE_RELEASE);

    if (lr == NULL) {
        release_now(a);
        return 0;
    }
    lr->req.cb = release_done;
    lr->halt = halt;
    a->lease = lr;
    set_status(a, ACTOR__RELEASING);
    actor__commit_submit(a->type->host->commit, &lr->req);
    return 1;
}

/* ---- staged writes ------------------------------------------------------------- */

/* The write a turn staged, on its way through the group commit; the turn's
 * message is answered, and the actor (parked: scheduled, not queued) goes
 * on, once it is committed. */
typedef struct save_req {
    actor__commit_req req; /* first: the callback gets it back */
    actor_store_op op;
    actor_store_op *opp; /* op.value: the staged bytes, owned */
    actor__actor *a;
    actor__msg *m;
    actor_buf response;
} save_req;

static void save_done(actor__commit_req *req, int rc, const char *msg)
{
    save_req *s = (save_req *)req;
    actor__actor *a = s->a;
    actor_host *host = a->type->host;
    pthread_mutex_t *mu = actor__table_lock_of(host->table, a);
    char err[1024];
    int requeue;

    if (rc == 0)
        rc = s->op.result;
    if (rc == ACTOR_ENOTFOUND && s->op.kind == ACTOR_STORE_STATE_DELETE)
        rc = 0; /* deleting nothing is fine for a staged delete */
    if (rc == ACTOR_ELEASE) {
        snprintf(err, sizeof(err),
                 "%s/%s %s: staged write fenced: host %s no longer holds the actor's lease "
                 "(epoch %llu)",
                 a->type->name, a->id, actor__msg_method(s->m), host->host_id,
                 (unsigned long long)a->epoch);
        actor__actor_lost(a);
    } else if (rc != 0) {
        snprintf(err, sizeof(err), "%s/%s %s: committing the staged write: %s", a->type->name,
                 a->id, actor__msg_method(s->m), msg && msg[0] ? msg : actor_strerror(rc));
    }
    actor_store_op_dispose(&s->op);
    free((void *)s->op.value);
    actor__msg_complete(s->m, rc, rc == 0 ? &s->response : NULL, rc ? err : NULL);
    actor_buf_dispose(&s->response);
    free(s);
    /* Unpark: become idle, without the lock when nothing is queued and no
     * inbox flag is set (see table.c), or go on with the mailbox. */
    if (actor__inbox_idle_unlocked(a))
        return;
    pthread_mutex_lock(mu);
    requeue = a->mhead != NULL || !actor__inbox_go_idle(a);
    pthread_mutex_unlock(mu);
    if (requeue)
        actor__pool_push(host->pool, &a->run);
}

/* Turn what a turn staged into a save request (not yet submitted: the
 * runner parks the actor first). NULL with the message answered with an
 * error when out of memory. */
static save_req *save_new(actor__actor *a, actor__msg *m, actor__staged *st, actor_buf *response)
{
    save_req *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        free(st->value);
        actor__msg_complete(m, ACTOR_ENOMEM, NULL, "out of memory committing a staged write");
        return NULL;
    }
    fenced_op(&s->op, st->kind, a);
    s->op.value = st->value;
    s->op.value_len = st->len;
    s->op.ttl_ms = st->ttl_ms;
    one_op_req(&s->req, &s->op, &s->opp);
    s->req.cb = save_done;
    s->a = a;
    s->m = m;
    /* The response waits with the request; the runner gets a fresh buffer. */
    s->response = *response;
    *response = (actor_buf)ACTOR_BUF_INIT;
    return s;
}

/* ---- turns -------------------------------------------------------------------- */

/* Run one invoke turn. Returns NULL once the message is answered, or the
 * save request of a write the turn staged (the message is answered when it
 * is committed; the caller parks the actor and submits it). `te` and
 * `instance` are a->type and a->instance, read by the caller once per run:
 * they share a cache line with the inbox, which senders keep writing. */
static save_req *run_turn(actor__actor *a, actor__type_entry *te, void *instance, actor__msg *m,
                          const actor__frame *frame, actor_buf *response)
{
    actor__staged st;
    int rc, staged;

    actor_buf_clear(response);
    tls_frame = frame;
    actor_error_clear();
    actor__stage_open(a);
    rc = te->type.invoke(response, instance, (actor_ctx *)a, actor__msg_method(m), m->data,
                         m->request_len, te->payload);
    staged = actor__stage_close(&st);
    tls_frame = NULL;
    if (staged) {
        if (rc == 0)
            return save_new(a, m, &st, response);
        /* A failed turn writes nothing it staged, and keeps nothing cached
         * that was read from it. */
        free(st.value);
        actor__cache_drop(a);
    }
    if (rc > 0)
        rc = actor_error_set(ACTOR_ERROR, "%s/%s %s returned %d", te->name, a->id,
                             actor__msg_method(m), rc);
    if (rc != 0) {
        actor_buf_clear(response);
        if (actor_error_last()[0] == '\0')
            actor_error_set(rc, "%s/%s %s failed: %s", te->name, a->id, actor__msg_method(m),
                            actor_strerror(rc));
    }
    actor__msg_complete(m, rc, response, actor_error_last());
    return NULL;
}

/* Turn a chain of invokes the runner took (run..end, oldest first), without
 * the shard lock, up to the budget; a staged write or a lost lease ends it
 * early. Invokes that arrive meanwhile are taken and turned the same way
 * while no inbox flag is set. Then: idle without the lock when nothing is
 * left (1); parked for the staged write (1); or the shard lock taken, with
 * whatever was not turned put back in order at mhead, for the runner's loop
 * to go on (0). */
static int turn_invokes(actor__actor *a, actor__msg *run, actor__msg *end, int *budget,
                        actor__frame *frame, actor_buf *response)
{
    actor_host *host = a->type->host;
    pthread_mutex_t *mu = actor__table_lock_of(host->table, a);
    actor__type_entry *te = a->type;
    void *instance = a->instance;
    actor__msg *m, *rest = NULL;
    save_req *save = NULL;

    for (;;) {
        int turns = 0;
        for (m = run; m; m = rest) {
            rest = m->next;
            /* The next message's line, while this one turns (a prefetch
             * of NULL is harmless). */
            __builtin_prefetch(rest);
            frame->actor = a;
            frame->parent = m->chain;
            turns++;
            if ((save = run_turn(a, te, instance, m, frame, response)) != NULL)
                break;
            if (rest && (turns > *budget || __atomic_load_n(&a->lost, __ATOMIC_ACQUIRE)))
                break;
        }
        if (turns > 0) {
            *budget -= turns - 1; /* the first was counted before */
            __atomic_store_n(&a->last_used_ms, actor__coarse_ms(), __ATOMIC_RELAXED);
        }
        if (rest != NULL || save != NULL)
            break;
        if (actor__inbox_idle_unlocked(a))
            return 1;
        /* More came meanwhile: go on while the budget lasts. */
        if (*budget <= 0 || __atomic_load_n(&a->lost, __ATOMIC_ACQUIRE) ||
            !actor__inbox_take_unlocked(a, &run))
            break;
        run = actor__mailbox_reverse(run, &end);
        (*budget)--;
    }
    pthread_mutex_lock(mu);
    if (rest) {
        /* Lost the lease, or a write to commit first, or the budget: the
         * rest go back, in order, and an unlocked runner must see them. */
        end->next = a->mhead;
        if (a->mhead == NULL)
            a->mtail = end;
        a->mhead = rest;
        actor__mailbox_mark(a);
    }
    if (save) {
        /* Parked (still scheduled) until the write is committed;
         * save_done may run on this thread before submit returns. */
        pthread_mutex_unlock(mu);
        actor__commit_submit(host->commit, &save->req);
        return 1;
    }
    return 0;
}

void actor__activation_run(actor__runnable *item, void *payload)
{
    actor__actor *a = (actor__actor *)item;
    actor_host *host = payload;
    pthread_mutex_t *mu = actor__table_lock_of(host->table, a);
    int budget = TURN_BUDGET;
    actor__msg *m;
    actor__frame frame;
    int lost, rc;
    /* Responses of this run; one allocation serves the whole batch. */
    actor_buf response = ACTOR_BUF_INIT;

    /* The common case without the lock: an active actor whose ordered
     * mailbox is empty (no inbox flag) takes the inbox, and goes idle once
     * it is turned, with one compare-and-swap each (see table.c). Anything
     * else (activation, a halt, a lost lease, stop) goes the locked way.
     * status is written only by whoever runs the actor, as this thread does
     * now. */
    if (a->status == ACTOR__ACTIVE && !__atomic_load_n(&a->lost, __ATOMIC_ACQUIRE) &&
        actor__inbox_take_unlocked(a, &m)) {
        actor__msg *end;
        m = actor__mailbox_reverse(m, &end);
        budget--;
        if (turn_invokes(a, m, end, &budget, &frame, &response))
            goto out;
    } else {
        pthread_mutex_lock(mu);
    }
    for (;;) {
        /* Everything but the common case below reads the mailbox in order
         * at mhead; the common case takes the inbox without a walk. */
        if (a->dormant)
            actor__table_wake_locked(host->table, a); /* sent to through a reference */
        if (a->halt_queued || a->status != ACTOR__ACTIVE || a->lost)
            actor__mailbox_fold(a);
        m = a->mhead;
        if (m == NULL && !actor__inbox_has(a)) {
            if (actor__inbox_go_idle(a))
                break;
            continue; /* pushed meanwhile */
        }
        if (budget-- == 0) {
            /* Yield: still scheduled, back to the end of the run queue. */
            pthread_mutex_unlock(mu);
            actor__pool_push(host->pool, &a->run);
            goto out;
        }
        /* Hooks run in the call chain of the message that caused them
         * (m is NULL only in the common case, which sets its own). */
        frame.actor = a;
        frame.parent = m ? m->chain : NULL;

        if (a->status == ACTOR__ACQUIRED) {
            pthread_mutex_unlock(mu);
            rc = take_lease_result(a);
            if (rc == 0 && m->kind == ACTOR__MSG_HALT) {
                /* Halted before it ever ran: give the lease back, no hooks. */
                pthread_mutex_lock(mu);
                a->mhead = m->next;
                if (a->mhead == NULL)
                    a->mtail = NULL;
                a->halt_queued = 0;
                pthread_mutex_unlock(mu);
                if (start_release(a, m) || !halt_finished(a, m, 0))
                    goto out;
                pthread_mutex_lock(mu);
                continue;
            }
            if (rc == 0)
                rc = run_activate(a, &frame);
            if (rc != 0) {
                fail_all(a, mu, rc);
                goto out;
            }
            set_status(a, ACTOR__ACTIVE);
            pthread_mutex_lock(mu);
            continue;
        }
        if (a->status == ACTOR__NEW && m->kind == ACTOR__MSG_INVOKE) {
            /* Activate: the lease first, asynchronously. The actor stays
             * scheduled, so nothing else runs it meanwhile. */
            pthread_mutex_unlock(mu);
            rc = start_acquire(a);
            if (rc != 0)
                fail_all(a, mu, rc);
            goto out;
        }
        if (a->status == ACTOR__ACTIVE && !a->lost && (m == NULL || m->kind == ACTOR__MSG_INVOKE)) {
            /* The common case: take the run of invokes at the head of the
             * mailbox in one go (up to the budget) and turn them without the
             * lock. */
            actor__msg *run = m, *end = m;
            if (!a->halt_queued) {
                /* Only invokes queued: take the whole mailbox in O(1), so
                 * senders never wait on a walk over messages whose cache
                 * lines sit on other cores; the inbox is put in order
                 * after the lock; the budget applies below. */
                actor__msg *newest = actor__inbox_take_all(a), *oldest;
                end = a->mtail;
                if (run != NULL) { /* no store when empty: keep the line clean */
                    a->mhead = NULL;
                    a->mtail = NULL;
                }
                pthread_mutex_unlock(mu);
                newest = actor__mailbox_reverse(newest, &oldest);
                if (run == NULL) {
                    run = newest;
                    end = oldest;
                } else if (newest != NULL) {
                    end->next = newest;
                    end = oldest;
                }
            } else {
                for (int n = 0; n < budget && end->next && end->next->kind == ACTOR__MSG_INVOKE;
                     n++)
                    end = end->next;
                a->mhead = end->next;
                if (a->mhead == NULL)
                    a->mtail = NULL;
                end->next = NULL;
                pthread_mutex_unlock(mu);
            }
            if (turn_invokes(a, run, end, &budget, &frame, &response))
                goto out;
            continue;
        }
        if (a->lost && a->status == ACTOR__ACTIVE && m->kind == ACTOR__MSG_INVOKE) {
            /* The lease is gone (a write was fenced, or the heartbeat
             * lapsed): drop this activation without writing; the message
             * then activates the actor again if its lease can be had. */
            __atomic_store_n(&a->lost, 0, __ATOMIC_RELAXED);
            pthread_mutex_unlock(mu);
            run_deactivate(a, &frame, 1);
            set_status(a, ACTOR__NEW);
            pthread_mutex_lock(mu);
            continue;
        }

        a->mhead = m->next;
        if (a->mhead == NULL)
            a->mtail = NULL;
        if (m->kind == ACTOR__MSG_HALT)
            a->halt_queued = 0;
        lost = a->lost;
        __atomic_store_n(&a->lost, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(mu);

        if (m->kind == ACTOR__MSG_HALT) {
            if (a->status == ACTOR__ACTIVE) {
                run_deactivate(a, &frame, lost);
                if (!lost && start_release(a, m))
                    goto out; /* release_done finishes the halt */
            }
            if (!halt_finished(a, m, 0))
                goto out;
            pthread_mutex_lock(mu);
            continue;
        }

        save_req *save = run_turn(a, a->type, a->instance, m, &frame, &response);
        __atomic_store_n(&a->last_used_ms, actor__coarse_ms(), __ATOMIC_RELAXED);
        pthread_mutex_lock(mu);
        if (save) {
            pthread_mutex_unlock(mu);
            actor__commit_submit(host->commit, &save->req);
            goto out;
        }
    }
    pthread_mutex_unlock(mu);
out:
    actor_buf_dispose(&response);
}
