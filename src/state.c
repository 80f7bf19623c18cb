/*
 * state.c: the state API of state.h and the per-activation cache slot of
 * type.h. Reads go straight to the provider; writes become store ops that
 * go through the group commit (commit.c). Writes made through an actor's
 * ctx carry the lease (host, epoch) the activation holds, so the provider
 * applies them only while that lease is still this host's (fencing).
 * Staged writes (actor_ctx_state_stage_*) are kept per thread for the turn
 * that stages them; activation.c commits them when the turn returns.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The write staged by the invoke turn running on this thread. */
static _Thread_local actor__stage_tls tls_stage;

void actor__stage_swap(actor__stage_tls *t)
{
    actor__stage_tls tmp = tls_stage;

    tls_stage = *t;
    *t = tmp;
}

void actor__stage_open(actor__actor *a)
{
    tls_stage.a = a;
    tls_stage.staged = 0;
}

int actor__stage_close(actor__staged *out)
{
    int staged = tls_stage.staged;

    if (staged)
        *out = tls_stage.w;
    tls_stage.a = NULL;
    tls_stage.staged = 0;
    tls_stage.w.value = NULL;
    return staged;
}

/* Forget what this turn staged (a blocking write replaces it). */
static void stage_drop(void)
{
    if (tls_stage.staged)
        free(tls_stage.w.value);
    tls_stage.staged = 0;
    tls_stage.w.value = NULL;
}

static int check_names(actor_host *host, const char *type, const char *id)
{
    int rc;

    if (host == NULL)
        return actor_error_set(ACTOR_EINVAL, "host is NULL");
    if ((rc = actor__validate_name("actor type", type, ACTOR_TYPE_NAME_MAX)) != 0)
        return rc;
    return actor__validate_name("actor ID", id, ACTOR_ID_MAX);
}

static int do_get(actor_buf *out, int64_t *ttl_ms, actor_host *host, const char *type,
                  const char *id)
{
    actor_provider *p = host->provider;
    int rc;

    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "state get: out buffer is NULL");
    if (ttl_ms)
        *ttl_ms = 0; /* also what a provider without state_get_ttl implies */
    actor__pool_block_enter();
    if (ttl_ms && p->state_get_ttl)
        rc = p->state_get_ttl(out, ttl_ms, p, type, id);
    else
        rc = p->state_get(out, p, type, id);
    actor__pool_block_leave();
    if (rc == ACTOR_ENOTFOUND)
        actor_error_set(rc, "no state stored for %s/%s", type, id);
    return rc;
}

/* The arguments of a set (blocking or staged); `what` starts the message. */
static int check_set(const char *what, const char *type, const char *id, const void *value,
                     size_t len, int64_t ttl_ms)
{
    if (value == NULL && len > 0)
        return actor_error_set(ACTOR_EINVAL, "%s of %s/%s: value is NULL but len is %zu", what,
                               type, id, len);
    if (ttl_ms < 0 || ttl_ms > ACTOR_TTL_MAX)
        return actor_error_set(ACTOR_EINVAL, "%s of %s/%s: TTL %lld ms is %s (0 means no expiry)",
                               what, type, id, (long long)ttl_ms,
                               ttl_ms < 0 ? "negative" : "longer than 100 years");
    return 0;
}

static int do_write(actor_host *host, actor_store_op_kind kind, const char *type, const char *id,
                    const void *value, size_t len, int64_t ttl_ms, const char *fence_host,
                    uint64_t fence_epoch)
{
    actor_store_op op;
    actor_store_op *ops[1] = {&op};
    int rc;

    if (kind == ACTOR_STORE_STATE_SET &&
        (rc = check_set("state set", type, id, value, len, ttl_ms)) != 0)
        return rc;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.type = type;
    op.id = id;
    op.value = value;
    op.value_len = len;
    op.ttl_ms = ttl_ms;
    op.fence_host = fence_host;
    op.fence_epoch = fence_epoch;
    rc = actor__commit_apply(host->commit, ops, 1);
    if (rc == 0) {
        rc = op.result;
        if (rc == ACTOR_ENOTFOUND)
            actor_error_set(rc, "no state stored for %s/%s", type, id);
        else if (rc == ACTOR_ELEASE)
            actor_error_set(rc,
                            "write to %s/%s fenced: host %s no longer holds its lease "
                            "(epoch %llu)",
                            type, id, fence_host ? fence_host : "?",
                            (unsigned long long)fence_epoch);
    }
    actor_store_op_dispose(&op);
    return rc;
}

/* Writes of an activation being dropped for a lost lease never reach the
 * store, even where the lease row would still match. */
static int check_lease(actor__actor *a)
{
    if (a->status == ACTOR__DROPPING)
        return actor_error_set(ACTOR_ELEASE,
                               "write to %s/%s refused: host %s lost the actor's lease (epoch "
                               "%llu) and is dropping it",
                               a->type->name, a->id, a->type->host->host_id,
                               (unsigned long long)a->epoch);
    return 0;
}

int actor_ctx_state_get_ttl(actor_buf *out, int64_t *ttl_ms, actor_ctx *ctx)
{
    actor__actor *a = (actor__actor *)ctx;
    int rc;

    if ((rc = actor__ctx_check(ctx, "actor_ctx_state_get")) != 0)
        return rc;
    if (tls_stage.a == a && tls_stage.staged) {
        /* This turn's own staged write, not yet committed. */
        if (out == NULL)
            return actor_error_set(ACTOR_EINVAL, "state get: out buffer is NULL");
        if (ttl_ms)
            *ttl_ms = tls_stage.w.ttl_ms;
        actor_buf_clear(out);
        if (tls_stage.w.kind == ACTOR_STORE_STATE_DELETE)
            return actor_error_set(ACTOR_ENOTFOUND,
                                   "no state stored for %s/%s (deleted in this turn)",
                                   a->type->name, a->id);
        return actor_buf_put(out, tls_stage.w.value, tls_stage.w.len);
    }
    return do_get(out, ttl_ms, a->type->host, a->type->name, a->id);
}

int actor_ctx_state_get(actor_buf *out, actor_ctx *ctx)
{
    return actor_ctx_state_get_ttl(out, NULL, ctx);
}

int actor_ctx_state_set(actor_ctx *ctx, const void *value, size_t len, int64_t ttl_ms)
{
    actor__actor *a = (actor__actor *)ctx;
    int rc;

    if ((rc = actor__ctx_check(ctx, "actor_ctx_state_set")) != 0)
        return rc;
    if (tls_stage.a == a)
        stage_drop();
    actor__cache_drop(a);
    if ((rc = check_lease(a)) != 0)
        return rc;
    rc = do_write(a->type->host, ACTOR_STORE_STATE_SET, a->type->name, a->id, value, len, ttl_ms,
                  a->type->host->host_id, a->epoch);
    if (rc == ACTOR_ELEASE)
        actor__actor_lost(a);
    return rc;
}

int actor_ctx_state_delete(actor_ctx *ctx)
{
    actor__actor *a = (actor__actor *)ctx;
    int rc;

    if ((rc = actor__ctx_check(ctx, "actor_ctx_state_delete")) != 0)
        return rc;
    if (tls_stage.a == a)
        stage_drop();
    actor__cache_drop(a);
    if ((rc = check_lease(a)) != 0)
        return rc;
    rc = do_write(a->type->host, ACTOR_STORE_STATE_DELETE, a->type->name, a->id, NULL, 0, 0,
                  a->type->host->host_id, a->epoch);
    if (rc == ACTOR_ELEASE)
        actor__actor_lost(a);
    return rc;
}

static int stage(actor_ctx *ctx, const char *fn, actor_store_op_kind kind, const void *value,
                 size_t len, int64_t ttl_ms)
{
    actor__actor *a = (actor__actor *)ctx;
    void *copy = NULL;
    int rc;

    if ((rc = actor__ctx_check(ctx, fn)) != 0)
        return rc;
    if (tls_stage.a != a)
        return actor_error_set(ACTOR_ESTATE,
                               "%s: %s/%s: writes can be staged only from an invoke callback "
                               "(not from the activate or deactivate hook)",
                               fn, a->type->name, a->id);
    if ((rc = check_lease(a)) != 0)
        return rc;
    if (kind == ACTOR_STORE_STATE_SET) {
        if ((rc = check_set(fn, a->type->name, a->id, value, len, ttl_ms)) != 0)
            return rc;
        if ((copy = malloc(len ? len : 1)) == NULL)
            return actor__error_oom();
        if (len)
            memcpy(copy, value, len);
    }
    stage_drop();
    actor__cache_drop(a);
    tls_stage.w.kind = kind;
    tls_stage.w.value = copy;
    tls_stage.w.len = len;
    tls_stage.w.ttl_ms = ttl_ms;
    tls_stage.staged = 1;
    return 0;
}

int actor_ctx_state_stage_set(actor_ctx *ctx, const void *value, size_t len, int64_t ttl_ms)
{
    return stage(ctx, "actor_ctx_state_stage_set", ACTOR_STORE_STATE_SET, value, len, ttl_ms);
}

int actor_ctx_state_stage_delete(actor_ctx *ctx)
{
    return stage(ctx, "actor_ctx_state_stage_delete", ACTOR_STORE_STATE_DELETE, NULL, 0, 0);
}

int actor_state_get_ttl(actor_buf *out, int64_t *ttl_ms, actor_host *host, const char *type,
                        const char *id)
{
    int rc;

    if ((rc = check_names(host, type, id)) != 0)
        return rc;
    return do_get(out, ttl_ms, host, type, id);
}

int actor_state_get(actor_buf *out, actor_host *host, const char *type, const char *id)
{
    return actor_state_get_ttl(out, NULL, host, type, id);
}

int actor_state_set(actor_host *host, const char *type, const char *id, const void *value,
                    size_t len, int64_t ttl_ms)
{
    int rc;

    if ((rc = check_names(host, type, id)) != 0)
        return rc;
    return do_write(host, ACTOR_STORE_STATE_SET, type, id, value, len, ttl_ms, NULL, 0);
}

int actor_state_delete(actor_host *host, const char *type, const char *id)
{
    int rc;

    if ((rc = check_names(host, type, id)) != 0)
        return rc;
    return do_write(host, ACTOR_STORE_STATE_DELETE, type, id, NULL, 0, 0, NULL, 0);
}

void *actor_ctx_cache_get(actor_ctx *ctx, const void *tag)
{
    actor__actor *a = (actor__actor *)ctx;

    if (tag == NULL || actor__ctx_check(ctx, "actor_ctx_cache_get") != 0)
        return NULL;
    if (a->cache == NULL || a->cache->tag != tag)
        return NULL;
    return a->cache->value;
}

int actor_ctx_cache_set(actor_ctx *ctx, const void *tag, void *value, void (*free_fn)(void *))
{
    actor__actor *a = (actor__actor *)ctx;
    int rc;

    if ((rc = actor__ctx_check(ctx, "actor_ctx_cache_set")) != 0)
        return rc;
    if (tag == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_ctx_cache_set: tag is NULL");
    if (a->cache == NULL) {
        a->cache = calloc(1, sizeof(*a->cache));
        if (a->cache == NULL)
            return actor__error_oom();
    }
    actor__cache_drop(a);
    a->cache->tag = tag;
    a->cache->value = value;
    a->cache->free_fn = free_fn;
    return 0;
}
