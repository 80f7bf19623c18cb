/*
 * invoke.c: messages and their completion. Builds the message for an invoke
 * (one allocation: header, request bytes and method name), posts it to the
 * actor table, and hands the outcome back: to a blocking caller waiting on
 * its own stack (the response buffer is swapped in, not copied), or to an
 * asynchronous caller's callback on the worker thread. Also the deadlock
 * check of blocking invokes made from inside turns, and actor references
 * (an address resolved once, for callers that send to one actor often).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A message with a 3-byte method and no request fills one 64-byte block. */
_Static_assert(offsetof(actor__msg, data) == 44, "actor__msg's header must stay 44 bytes");

actor__msg *actor__msg_new(int kind, const char *method, const void *request, size_t len)
{
    size_t mlen = method ? strlen(method) : 0;
    actor__msg *m;

    if (len > SIZE_MAX - offsetof(actor__msg, data) - mlen - 1)
        return NULL;
    m = actor__msgmem_alloc(offsetof(actor__msg, data) + len + mlen + 1);
    if (m == NULL)
        return NULL;
    memset(m, 0, offsetof(actor__msg, data));
    m->kind = kind;
    m->request_len = len;
    if (len)
        memcpy(m->data, request, len);
    memcpy(m->data + len, method ? method : "", mlen + 1);
    return m;
}

void actor__msg_complete(actor__msg *m, int rc, actor_buf *response, const char *errmsg)
{
    actor__waiter *w = m->cb == NULL ? m->waiter : NULL;

    if (w) {
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        if (rc != 0)
            snprintf(w->msg, sizeof(w->msg), "%s", errmsg ? errmsg : "");
        else if (w->response && response) {
            /* Hand the bytes over without copying; the runner keeps the
             * caller's old allocation as its scratch buffer. */
            actor_buf tmp = *w->response;
            *w->response = *response;
            *response = tmp;
            actor_buf_clear(response);
        } else if (w->response) {
            actor_buf_clear(w->response);
        }
        w->done = 1;
        if (w->parked != NULL) {
            /* A parked turn resumes only once unparked, on its own
             * thread: `w` stays valid until then. */
            actor__fiber *turn = w->parked;
            w->parked = NULL;
            pthread_mutex_unlock(&w->mu);
            actor__pool_unpark(turn);
        } else {
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
    } else if (m->cb) {
        if (rc != 0)
            actor_error_set(rc, "%s", errmsg ? errmsg : "");
        m->cb(rc, rc == 0 && response ? response->ptr : NULL,
              rc == 0 && response ? response->size : 0, m->cb_payload);
    }
    actor__msgmem_free(m);
}

/* An actor's address resolved once: its table entry, pinned (kept in the
 * table while referenced, dormant when the actor is not active), so a send
 * pushes on its inbox without a lookup or a lock. Immutable, so any thread
 * may use it; the actor still activates and deactivates on its own. */
struct actor_ref {
    actor_host *host;
    actor__actor *actor;
};

/* Where an invoke goes: by name (looked up in the table) or pinned. */
typedef struct target {
    actor_host *host;
    actor__type_entry *type;
    const char *id;
    uint32_t hash;
    actor__actor *pinned; /* through a reference, else NULL */
} target;

static int post(const target *t, actor__msg *m)
{
    if (t->pinned != NULL)
        return actor__table_post_pinned(t->host, t->pinned, m);
    return actor__table_post(t->host, t->type, t->id, t->hash, m, 1);
}

/* Check the host and the type and ID names, and find the type (*te is
 * NULL, with no error yet, when it is not registered). */
static int resolve(actor__type_entry **te, actor_host *host, const char *type, const char *id)
{
    int rc;

    *te = NULL;
    if (host == NULL)
        return actor_error_set(ACTOR_EINVAL, "host is NULL");
    /* A registered type name was validated at registration: look it up
     * first and validate only what is not found, for the message. */
    *te = type ? actor__host_find_type(host, type) : NULL;
    if ((*te == NULL &&
         (rc = actor__validate_name("actor type", type, ACTOR_TYPE_NAME_MAX)) != 0) ||
        (rc = actor__validate_name("actor ID", id, ACTOR_ID_MAX)) != 0)
        return rc;
    return 0;
}

static int not_registered(const actor_host *host, const char *type)
{
    char q[300];

    actor__quote(q, sizeof(q), type);
    return actor_error_set(ACTOR_ENOTFOUND, "actor type \"%s\" is not registered on host %s", q,
                           host->host_id);
}

/* The checks of every invoke, by name or by reference, once the names are
 * valid; `te` NULL: the type named `type` is not registered. */
static int check_call(const actor_host *host, const actor__type_entry *te, const char *type,
                      const char *id, const char *method, const void *request, size_t request_len)
{
    int rc;

    if ((rc = actor__validate_name("method name", method, ACTOR_METHOD_MAX)) != 0)
        return rc;
    if (!host->started || __atomic_load_n(&host->stopping, __ATOMIC_ACQUIRE))
        return actor_error_set(host->started ? ACTOR_ESHUTDOWN : ACTOR_ESTATE,
                               "host %s is %s: %s/%s not invoked", host->host_id,
                               host->started ? "stopping" : "not started", type, id);
    if (te == NULL)
        return not_registered(host, type);
    if (request == NULL && request_len > 0)
        return actor_error_set(ACTOR_EINVAL, "request is NULL but request_len is %zu", request_len);
    return 0;
}

/* ---- the repeat reference -------------------------------------------------
 * A thread that sends by name to the same actor twice in a row gets a
 * reference to it, which it keeps until it sends by name to another actor
 * or exits. A hot actor fed by name (a counter, a session, a queue) then
 * costs what a reference costs: no table lookup and no shard lock per
 * message, which senders contending for one actor would otherwise queue
 * on. A thread that fans out over many actors pays one comparison per
 * send. Like any reference, it keeps the actor's table entry (dormant once
 * the actor is deactivated), not the actor, active. */
typedef struct repeat {
    uint64_t serial; /* the host's (actor_host.serial); 0: empty */
    const actor__type_entry *type;
    uint32_t hash;
    actor__actor *pinned; /* NULL until sent to twice in a row */
    char id[ACTOR_ID_MAX + 1];
} repeat;

static _Thread_local repeat tls_repeat;
static pthread_key_t repeat_key;
static pthread_once_t repeat_once = PTHREAD_ONCE_INIT;

static void repeat_drop(repeat *r)
{
    if (r->pinned != NULL)
        actor__table_unpin(r->pinned);
    r->pinned = NULL;
    r->serial = 0;
}

static void repeat_exit(void *arg)
{
    repeat_drop(arg);
}

static void repeat_key_init(void)
{
    (void)pthread_key_create(&repeat_key, repeat_exit);
}

/* Whether this thread's last send by name went to the same host and type
 * and an ID of the same hash: likely the same actor (repeat_find checks
 * the ID itself). */
static int repeat_likely(const actor_host *host, const actor__type_entry *te, uint32_t hash)
{
    const repeat *r = &tls_repeat;

    return r->serial == host->serial && r->type == te && r->hash == hash;
}

/* The pinned entry of (type, id) when this thread sent to it last time,
 * else NULL (and this send is remembered). Names already checked. */
static actor__actor *repeat_find(actor_host *host, actor__type_entry *te, const char *id,
                                 uint32_t hash)
{
    repeat *r = &tls_repeat;

    if (repeat_likely(host, te, hash) && strcmp(r->id, id) == 0) {
        /* The second send in a row: pin, and unpin when the thread exits.
         * A failure (no memory) only means the lookup by name. */
        if (r->pinned == NULL && (pthread_once(&repeat_once, repeat_key_init) != 0 ||
                                  pthread_setspecific(repeat_key, r) != 0 ||
                                  actor__table_pin(host, te, id, hash, &r->pinned) != 0))
            r->pinned = NULL;
        return r->pinned;
    }
    repeat_drop(r);
    memcpy(r->id, id, strlen(id) + 1); /* at most ACTOR_ID_MAX bytes: checked */
    r->serial = host->serial;
    r->type = te;
    r->hash = hash;
    return NULL;
}

/* An invoke by name: its checks, and where it goes. */
static int by_name(target *t, actor_host *host, const char *type, const char *id,
                   const char *method, const void *request, size_t request_len)
{
    int rc;

    t->host = host;
    t->id = id;
    t->pinned = NULL;
    if ((rc = resolve(&t->type, host, type, id)) != 0)
        return rc;
    if (t->type != NULL) {
        /* Start loading the lines the lookup will need (the shard's lock,
         * the bucket) while the rest of the checks and the message are
         * made: on many actors they are cache misses. Not for a likely
         * repeat (see repeat_find), which needs no lookup: the lock's line
         * would be taken from whoever uses it for nothing. */
        t->hash = actor__table_hash(t->type, id);
        if (!repeat_likely(host, t->type, t->hash))
            actor__table_prefetch(host->table, t->hash);
    }
    if ((rc = check_call(host, t->type, type, id, method, request, request_len)) != 0)
        return rc;
    t->pinned = repeat_find(host, t->type, id, t->hash);
    return 0;
}

/* An invoke through a reference: its checks, and where it goes. */
static int by_ref(target *t, const actor_ref *ref, const char *fn, const char *method,
                  const void *request, size_t request_len)
{
    actor__actor *a;

    if (ref == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s: ref is NULL", fn);
    a = ref->actor;
    *t = (target){ref->host, a->type, a->id, a->hash, a};
    return check_call(ref->host, a->type, a->type->name, a->id, method, request, request_len);
}

/* A blocking caller's turn parks: publish it for actor__msg_complete. */
static void arm_waiter(actor__fiber *turn, void *arg)
{
    actor__waiter *w = arg;

    w->parked = turn;
    pthread_mutex_unlock(&w->mu);
}

/* The invokes themselves, on checked arguments. */
static int invoke_blocking(actor_buf *response, const target *t, const char *method,
                           const void *request, size_t request_len)
{
    const actor__type_entry *te = t->type;
    const char *id = t->id;
    actor__waiter w;
    actor__msg *m;
    const actor__frame *chain = actor__current_frame();
    int rc;

    for (const actor__frame *f = chain; f; f = f->parent) {
        if (f->actor->type == te && strcmp(f->actor->id, id) == 0)
            return actor_error_set(
                ACTOR_EDEADLK,
                "blocking invoke of %s/%s %s from %s: %s/%s is waiting in this call chain; "
                "use actor_invoke_async",
                te->name, id, method, f == chain ? "its own turn" : "a turn it is waiting on",
                te->name, id);
    }
    m = actor__msg_new(ACTOR__MSG_INVOKE, method, request, request_len);
    if (m == NULL)
        return actor__error_oom();
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.response = response;
    m->waiter = &w;
    m->chain = chain;

    rc = post(t, m);
    if (rc != 0) {
        actor__msgmem_free(m);
    } else {
        pthread_mutex_lock(&w.mu);
        if (!w.done && actor__turn_park(arm_waiter, &w) == 0) {
            /* Parked (w.mu released by arm_waiter); resumed once done. */
        } else if (!w.done) {
            /* Not a turn that can park: block the thread. */
            pthread_mutex_unlock(&w.mu);
            actor__pool_block_enter();
            pthread_mutex_lock(&w.mu);
            while (!w.done)
                pthread_cond_wait(&w.cv, &w.mu);
            pthread_mutex_unlock(&w.mu);
            actor__pool_block_leave();
        } else {
            pthread_mutex_unlock(&w.mu);
        }
        rc = w.rc;
        if (rc != 0)
            actor_error_set(rc, "%s", w.msg);
        else
            actor_error_clear();
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

static int invoke_async(const target *t, const char *method, const void *request,
                        size_t request_len, actor_invoke_cb done, void *payload)
{
    actor__msg *m;
    int rc;

    m = actor__msg_new(ACTOR__MSG_INVOKE, method, request, request_len);
    if (m == NULL)
        return actor__error_oom();
    m->cb = done;
    if (done != NULL)
        m->cb_payload = payload; /* shares its place with the waiter */
    rc = post(t, m);
    if (rc != 0)
        actor__msgmem_free(m);
    return rc;
}

int actor_invoke(actor_buf *response, actor_host *host, const char *type, const char *id,
                 const char *method, const void *request, size_t request_len)
{
    target t = {0};
    int rc = by_name(&t, host, type, id, method, request, request_len);

    return rc != 0 ? rc : invoke_blocking(response, &t, method, request, request_len);
}

int actor_invoke_async(actor_host *host, const char *type, const char *id, const char *method,
                       const void *request, size_t request_len, actor_invoke_cb done, void *payload)
{
    target t = {0};
    int rc = by_name(&t, host, type, id, method, request, request_len);

    return rc != 0 ? rc : invoke_async(&t, method, request, request_len, done, payload);
}

/* ---- references ------------------------------------------------------------- */

int actor_ref_new(actor_ref **out, actor_host *host, const char *type, const char *id)
{
    actor__type_entry *te;
    actor_ref *ref;
    int rc;

    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_ref_new: out is NULL");
    *out = NULL;
    if ((rc = resolve(&te, host, type, id)) != 0)
        return rc;
    if (te == NULL)
        return not_registered(host, type);
    ref = malloc(sizeof(*ref));
    if (ref == NULL)
        return actor__error_oom();
    ref->host = host;
    if ((rc = actor__table_pin(host, te, id, actor__table_hash(te, id), &ref->actor)) != 0) {
        free(ref);
        return rc;
    }
    *out = ref;
    return 0;
}

void actor_ref_free(actor_ref *ref)
{
    if (ref == NULL)
        return;
    actor__table_unpin(ref->actor);
    free(ref);
}

const char *actor_ref_type(const actor_ref *ref)
{
    return ref ? ref->actor->type->name : NULL;
}

const char *actor_ref_id(const actor_ref *ref)
{
    return ref ? ref->actor->id : NULL;
}

int actor_ref_invoke(actor_buf *response, const actor_ref *ref, const char *method,
                     const void *request, size_t request_len)
{
    target t = {0};
    int rc = by_ref(&t, ref, "actor_ref_invoke", method, request, request_len);

    return rc != 0 ? rc : invoke_blocking(response, &t, method, request, request_len);
}

int actor_ref_invoke_async(const actor_ref *ref, const char *method, const void *request,
                           size_t request_len, actor_invoke_cb done, void *payload)
{
    target t = {0};
    int rc = by_ref(&t, ref, "actor_ref_invoke_async", method, request, request_len);

    return rc != 0 ? rc : invoke_async(&t, method, request, request_len, done, payload);
}
