/*
 * host.c: the host's lifecycle and its registry of actor types: options and
 * their defaults, opening the store, start (workers, host row, background
 * thread), halt of one or all actors, and stop (refuse new calls, fail queued
 * ones, deactivate everything, release leases, end threads, remove the host
 * row). The background thread runs the idle scanner and the heartbeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_IDLE_TIMEOUT_MS  300000
#define DEFAULT_STORE_TIMEOUT_MS 5000
#define DEFAULT_POOL_SIZE        4
#define DEFAULT_HEARTBEAT_MS     1000
#define DEFAULT_DEADLINE_MS      10000
#define MAX_WORKERS              1024
#define COMMIT_MAX_BATCH         1000
#define DEFAULT_CLEANUP_MS       60000
#define DEFAULT_CLEANUP_BATCH    1000

void actor_host_options_init(actor_host_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof(*opts));
    opts->version = ACTOR_HOST_OPTIONS_VERSION;
}

void actor_type_init(actor_type *type)
{
    if (type == NULL)
        return;
    memset(type, 0, sizeof(*type));
    type->version = ACTOR_TYPE_VERSION;
}

static int valid_prefix(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n > 32)
        return 0;
    if (!((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static int resolve_options(actor_host_options *o, const actor_host_options *in)
{
    char q[300];
    long ncpu;

    if (in == NULL) {
        actor_host_options_init(o);
    } else {
        if (in->version < 1 || in->version > ACTOR_HOST_OPTIONS_VERSION)
            return actor_error_set(ACTOR_EINVAL,
                                   "host options version %u is not supported "
                                   "(this library knows 1..%d)",
                                   in->version, ACTOR_HOST_OPTIONS_VERSION);
        *o = *in;
    }
    if (o->workers > MAX_WORKERS)
        return actor_error_set(ACTOR_EINVAL, "workers = %u is more than %d", o->workers,
                               MAX_WORKERS);
    if (o->workers == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        o->workers = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    if (o->idle_timeout_ms == 0)
        o->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
    if (o->idle_scan_interval_ms < 0)
        return actor_error_set(ACTOR_EINVAL, "idle_scan_interval_ms = %lld is negative",
                               (long long)o->idle_scan_interval_ms);
    if (o->store_timeout_ms < 0)
        return actor_error_set(ACTOR_EINVAL, "store_timeout_ms = %lld is negative",
                               (long long)o->store_timeout_ms);
    if (o->store_timeout_ms == 0)
        o->store_timeout_ms = DEFAULT_STORE_TIMEOUT_MS;
    if (o->store_pool_size > 1000)
        return actor_error_set(ACTOR_EINVAL, "store_pool_size = %u is more than 1000",
                               o->store_pool_size);
    if (o->store_pool_size == 0)
        o->store_pool_size = DEFAULT_POOL_SIZE;
    if (o->heartbeat_interval_ms < 0 || o->lease_deadline_ms < 0)
        return actor_error_set(ACTOR_EINVAL, "heartbeat_interval_ms and lease_deadline_ms "
                                             "must not be negative");
    if (o->heartbeat_interval_ms == 0)
        o->heartbeat_interval_ms = DEFAULT_HEARTBEAT_MS;
    if (o->lease_deadline_ms == 0)
        o->lease_deadline_ms = DEFAULT_DEADLINE_MS;
    if (o->lease_deadline_ms <= o->heartbeat_interval_ms)
        return actor_error_set(ACTOR_EINVAL,
                               "lease_deadline_ms = %lld must be longer than "
                               "heartbeat_interval_ms = %lld",
                               (long long)o->lease_deadline_ms,
                               (long long)o->heartbeat_interval_ms);
    if (o->cleanup_interval_ms == 0)
        o->cleanup_interval_ms = DEFAULT_CLEANUP_MS;
    if (o->cleanup_batch == 0)
        o->cleanup_batch = DEFAULT_CLEANUP_BATCH;
    if (o->table_prefix == NULL)
        o->table_prefix = "actor_";
    if (!valid_prefix(o->table_prefix)) {
        actor__quote(q, sizeof(q), o->table_prefix);
        return actor_error_set(ACTOR_EINVAL,
                               "table prefix \"%s\" is invalid: use letters, digits and '_', "
                               "starting with a letter or '_', at most 32 bytes",
                               q);
    }
    return 0;
}

/* The last serial given to a host (see actor_host.serial). */
static uint64_t host_serials;

int actor_host_new(actor_host **out, const char *store_url, const actor_host_options *opts)
{
    actor_host *h;
    actor_provider_config cfg;
    int rc;

    if (out == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_host_new: out is NULL");
    *out = NULL;
    if (store_url == NULL)
        return actor_error_set(ACTOR_EINVAL, "store URL is NULL");
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return actor__error_oom();
    h->serial = __atomic_add_fetch(&host_serials, 1, __ATOMIC_RELAXED);
    pthread_mutex_init(&h->bg_mu, NULL);
    actor__cond_init_mono(&h->bg_cv);
    if ((rc = resolve_options(&h->opts, opts)) != 0)
        goto fail;
    if (h->opts.host_id) {
        if ((rc = actor__validate_name("host ID", h->opts.host_id, ACTOR_HOST_ID_MAX)) != 0)
            goto fail;
        snprintf(h->host_id, sizeof(h->host_id), "%s", h->opts.host_id);
    } else {
        actor__random_id(h->host_id, sizeof(h->host_id));
    }
    if (h->opts.address && h->opts.address[0] &&
        (rc = actor__validate_name("host address", h->opts.address, ACTOR_HOST_ADDRESS_MAX)) != 0)
        goto fail;
    h->address = strdup(h->opts.address ? h->opts.address : "");
    if (h->address == NULL) {
        rc = actor__error_oom();
        goto fail;
    }
    /* The strings in opts are the caller's: keep only what we copied. */
    h->opts.host_id = h->host_id;
    h->opts.address = h->address;

    memset(&cfg, 0, sizeof(cfg));
    cfg.version = ACTOR_PROVIDER_CONFIG_VERSION;
    cfg.url = store_url;
    cfg.table_prefix = h->opts.table_prefix;
    cfg.timeout_ms = h->opts.store_timeout_ms;
    cfg.pool_size = h->opts.store_pool_size;
    cfg.lease_deadline_ms = h->opts.lease_deadline_ms;
    if ((rc = actor_provider_open(&h->provider, &cfg)) != 0)
        goto fail;
    h->opts.table_prefix = NULL; /* borrowed from the caller; the provider has it */
    if ((rc = actor__commit_new(&h->commit, h->provider, COMMIT_MAX_BATCH)) != 0 ||
        (rc = actor__table_new(&h->table)) != 0)
        goto fail;
    *out = h;
    return 0;
fail : {
    /* Keep the message of the failure across the clean-up. */
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", actor_error_last());
    actor_host_free(h);
    return actor_error_set(rc, "%s", msg);
}
}

/* Every invoke by name looks its type up here: one hash of the name and,
 * mostly, one comparison, however many types the host has (it used to
 * compare the name with each registered type in turn). */
actor__type_entry *actor__host_find_type(actor_host *host, const char *name)
{
    uint32_t h;
    size_t mask = host->type_slots - 1;

    if (host->type_slots == 0)
        return NULL;
    h = actor__fnv1a(0, name);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        actor__type_entry *te = host->type_index[i];
        if (te == NULL)
            return NULL;
        if (te->name_hash == h && strcmp(te->name, name) == 0)
            return te;
    }
}

static void type_index_put(actor__type_entry **index, size_t slots, actor__type_entry *te)
{
    size_t i = te->name_hash & (slots - 1);

    while (index[i] != NULL)
        i = (i + 1) & (slots - 1);
    index[i] = te;
}

/* Make room in the type index for one more type (at most half full). */
static int type_index_reserve(actor_host *host)
{
    actor__type_entry **index;
    size_t slots = host->type_slots ? host->type_slots : 8;

    while ((host->ntypes + 1) * 2 > slots)
        slots *= 2;
    if (slots == host->type_slots)
        return 0;
    if ((index = calloc(slots, sizeof(*index))) == NULL)
        return actor__error_oom();
    for (size_t i = 0; i < host->ntypes; i++)
        type_index_put(index, slots, host->types[i]);
    free(host->type_index);
    host->type_index = index;
    host->type_slots = slots;
    return 0;
}

int actor_host_register(actor_host *host, const actor_type *type, void *payload)
{
    actor__type_entry *te, **types;
    int rc;

    if (host == NULL || type == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_host_register: %s is NULL",
                               host == NULL ? "host" : "type");
    if (host->started)
        return actor_error_set(ACTOR_ESTATE,
                               "actor_host_register: host %s has already "
                               "started; register types before actor_host_start",
                               host->host_id);
    if (type->version < 1 || type->version > ACTOR_TYPE_VERSION)
        return actor_error_set(ACTOR_EINVAL,
                               "actor type version %u is not supported (this library knows "
                               "1..%d; use ACTOR_TYPE_INIT)",
                               type->version, ACTOR_TYPE_VERSION);
    if ((rc = actor__validate_name("actor type name", type->name, ACTOR_TYPE_NAME_MAX)) != 0)
        return rc;
    if (type->invoke == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor type \"%s\" has no invoke callback",
                               type->name);
    if (actor__host_find_type(host, type->name))
        return actor_error_set(ACTOR_EEXISTS, "actor type \"%s\" is already registered",
                               type->name);
    if ((rc = type_index_reserve(host)) != 0)
        return rc;
    te = calloc(1, sizeof(*te));
    types = realloc(host->types, (host->ntypes + 1) * sizeof(*types));
    if (types)
        host->types = types;
    if (te == NULL || types == NULL || (te->name = strdup(type->name)) == NULL) {
        free(te);
        return actor__error_oom();
    }
    te->type = *type;
    te->type.name = te->name;
    te->name_hash = actor__fnv1a(0, te->name);
    type_index_put(host->type_index, host->type_slots, te);
    te->payload = payload;
    te->host = host;
    te->idle_timeout_ms =
        type->idle_timeout_ms ? type->idle_timeout_ms : host->opts.idle_timeout_ms;
    host->types[host->ntypes++] = te;
    return 0;
}

/* ---- background thread: idle scan and heartbeat ------------------------- */

struct scan_arg {
    actor_host *host;
    int64_t now;
};

static void scan_one(actor__actor *a, void *arg)
{
    struct scan_arg *sa = arg;
    int64_t timeout = a->type->idle_timeout_ms;
    actor__msg *m;

    /* Idle first: only an actor no worker runs has a stable status. */
    if (!actor__inbox_is_idle(a) || a->mhead || a->status != ACTOR__ACTIVE || timeout <= 0 ||
        sa->now - __atomic_load_n(&a->last_used_ms, __ATOMIC_RELAXED) < timeout)
        return;
    m = actor__msg_new(ACTOR__MSG_HALT, NULL, NULL, 0);
    if (m)
        (void)actor__table_post_locked(sa->host, a, m);
}

/* The heartbeat lapsed: every activation's lease may be another host's by
 * now. Mark them all lost and queue their deactivation (hooks run, nothing
 * is written); messages after that activate them again under new leases. */
static void lapse_one(actor__actor *a, void *arg)
{
    actor__msg *m;

    if (actor__table_inactive(a))
        return; /* not active: kept only for references */
    __atomic_store_n(&a->lost, 1, __ATOMIC_RELEASE);
    if (a->halt_queued)
        return;
    m = actor__msg_new(ACTOR__MSG_HALT, NULL, NULL, 0);
    if (m)
        (void)actor__table_post_locked((actor_host *)arg, a, m);
}

static void heartbeat(actor_host *h, int64_t now)
{
    /* Judged by our own clock first: a host that could not beat for a whole
     * deadline (paused, cut off) may already be dead to the others, whatever
     * the store says now. */
    int stale = now - h->last_beat_ms > h->opts.lease_deadline_ms;
    int rc = h->provider->host_heartbeat(h->provider, h->host_id);

    if (rc == 0 && !stale && !h->lapsed) {
        h->last_beat_ms = now;
        return;
    }
    if (rc != 0 && rc != ACTOR_ENOTFOUND && !stale && !h->lapsed)
        return; /* a failed beat, still within the deadline: keep serving */
    if (!h->lapsed) {
        /* Dead to the others (row gone or stale), or unable to say otherwise
         * for a whole deadline: stop serving what we hold. */
        h->lapsed = 1;
        __atomic_add_fetch(&h->lapses, 1, __ATOMIC_RELAXED);
        actor__table_each_locked(h->table, lapse_one, h);
    }
    /* Register anew; until that works, activations fail at their lease. */
    if (h->provider->host_register(h->provider, h->host_id, h->address) == 0) {
        h->lapsed = 0;
        h->last_beat_ms = now;
    }
}

/* Run the cleanup until a round removes less than a full batch of each. */
static int cleanup_all(actor_cleanup_counts *out, actor_host *h)
{
    actor_cleanup_counts total = {0, 0, 0};
    int rc = 0;

    for (int round = 0; round < 10000; round++) {
        actor_cleanup_counts c = {0, 0, 0};
        rc = h->provider->cleanup(&c, h->provider, h->opts.cleanup_batch);
        total.expired_state += c.expired_state;
        total.dead_hosts += c.dead_hosts;
        total.dead_leases += c.dead_leases;
        if (rc != 0 ||
            (c.expired_state < h->opts.cleanup_batch && c.dead_hosts < h->opts.cleanup_batch &&
             c.dead_leases < h->opts.cleanup_batch))
            break;
    }
    if (out) {
        out->expired_state += total.expired_state;
        out->dead_hosts += total.dead_hosts;
        out->dead_leases += total.dead_leases;
    }
    return rc;
}

int actor_host_cleanup(actor_cleanup_counts *out, actor_host *h)
{
    if (h == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_host_cleanup: host is NULL");
    if (h->provider->cleanup == NULL)
        return actor_error_set(ACTOR_ERROR, "the %s provider has no cleanup", h->provider->name);
    return cleanup_all(out, h);
}

static void *bg_main(void *arg)
{
    actor_host *h = arg;
    int64_t now = actor__mono_ms();
    int64_t next_scan = now + h->scan_interval_ms;
    int64_t next_beat = now + h->opts.heartbeat_interval_ms;
    int64_t cleanup_iv = h->opts.cleanup_interval_ms;
    /* Far in the future when disabled. */
    int64_t next_cleanup = cleanup_iv > 0 ? now + cleanup_iv : INT64_MAX;

    h->last_beat_ms = now;
    pthread_mutex_lock(&h->bg_mu);
    while (!h->bg_quit) {
        int64_t wake = next_scan < next_beat ? next_scan : next_beat;
        if (next_cleanup < wake)
            wake = next_cleanup;
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        pthread_cond_timedwait(&h->bg_cv, &h->bg_mu, &ts);
        if (h->bg_quit)
            break;
        pthread_mutex_unlock(&h->bg_mu);
        now = actor__mono_ms();
        if (now >= next_scan) {
            /* Idle times are stamped with the coarse clock: compare alike. */
            struct scan_arg sa = {h, actor__coarse_ms()};
            actor__table_each_locked(h->table, scan_one, &sa);
            next_scan = now + h->scan_interval_ms;
        }
        if (now >= next_beat) {
            heartbeat(h, now);
            next_beat = now + h->opts.heartbeat_interval_ms;
        }
        if (now >= next_cleanup) {
            /* At most one host of all does the work per interval. */
            int claimed = h->provider->job_claim ? h->provider->job_claim(h->provider, "cleanup",
                                                                          h->host_id, cleanup_iv)
                                                 : 1;
            if (claimed == 1 && h->provider->cleanup)
                (void)cleanup_all(NULL, h);
            next_cleanup = now + cleanup_iv;
        }
        pthread_mutex_lock(&h->bg_mu);
    }
    pthread_mutex_unlock(&h->bg_mu);
    return NULL;
}

static int64_t scan_interval(actor_host *h)
{
    int64_t smallest = -1, iv;

    if (h->opts.idle_scan_interval_ms > 0)
        return h->opts.idle_scan_interval_ms;
    for (size_t i = 0; i < h->ntypes; i++) {
        int64_t t = h->types[i]->idle_timeout_ms;
        if (t > 0 && (smallest < 0 || t < smallest))
            smallest = t;
    }
    iv = smallest > 0 ? smallest / 4 : 10000;
    return iv < 10 ? 10 : iv > 10000 ? 10000 : iv;
}

int actor_host_start(actor_host *h)
{
    int rc;

    if (h == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_host_start: host is NULL");
    if (h->started)
        return actor_error_set(ACTOR_ESTATE, "host %s has already been started", h->host_id);
    if ((rc = h->provider->host_register(h->provider, h->host_id, h->address)) != 0)
        return rc;
    rc = actor__pool_new(&h->pool, h->opts.workers, h->opts.workers * 4 + 256,
                         actor__activation_run, h);
    if (rc != 0) {
        (void)h->provider->host_remove(h->provider, h->host_id);
        return rc;
    }
    h->scan_interval_ms = scan_interval(h);
    if (pthread_create(&h->bg_thread, NULL, bg_main, h) != 0) {
        actor__pool_free(h->pool);
        h->pool = NULL;
        (void)h->provider->host_remove(h->provider, h->host_id);
        return actor_error_set(ACTOR_ERROR, "cannot start the host's background thread");
    }
    h->bg_running = 1;
    h->started = 1;
    return 0;
}

/* ---- halt and stop ------------------------------------------------------- */

struct countdown {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t left;
};

static void countdown_done(int error, const void *resp, size_t len, void *payload)
{
    struct countdown *c = payload;

    pthread_mutex_lock(&c->mu);
    if (--c->left == 0)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int halt_post(actor_host *h, const char *type, const char *id, struct countdown *wait_on)
{
    actor__type_entry *te;
    actor__msg *m;
    int rc;

    if (h == NULL)
        return actor_error_set(ACTOR_EINVAL, "host is NULL");
    if ((rc = actor__validate_name("actor type", type, ACTOR_TYPE_NAME_MAX)) != 0 ||
        (rc = actor__validate_name("actor ID", id, ACTOR_ID_MAX)) != 0)
        return rc;
    if (!h->started)
        return actor_error_set(ACTOR_ENOTFOUND, "host %s is not started: %s/%s is not active",
                               h->host_id, type, id);
    te = actor__host_find_type(h, type);
    if (te == NULL)
        return actor_error_set(ACTOR_ENOTFOUND, "actor type \"%s\" is not registered", type);
    m = actor__msg_new(ACTOR__MSG_HALT, NULL, NULL, 0);
    if (m == NULL)
        return actor__error_oom();
    if (wait_on) {
        m->cb = countdown_done;
        m->cb_payload = wait_on;
    }
    rc = actor__table_post(h, te, id, actor__table_hash(te, id), m, 0);
    if (rc != 0)
        actor__msgmem_free(m);
    return rc;
}

static void countdown_wait(struct countdown *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->left > 0) {
        pthread_mutex_unlock(&c->mu);
        actor__pool_block_enter();
        pthread_mutex_lock(&c->mu);
        while (c->left > 0)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        actor__pool_block_leave();
        return;
    }
    pthread_mutex_unlock(&c->mu);
}

int actor_host_halt(actor_host *h, const char *type, const char *id)
{
    struct countdown c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1};
    int rc;

    if (actor__current_frame() != NULL)
        return halt_post(h, type, id, NULL);
    rc = halt_post(h, type, id, &c);
    if (rc == 0)
        countdown_wait(&c);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
    return rc;
}

int actor_ctx_halt(actor_ctx *ctx)
{
    actor__actor *a = (actor__actor *)ctx;
    int rc;

    if ((rc = actor__ctx_check(ctx, "actor_ctx_halt")) != 0)
        return rc;
    return halt_post(a->type->host, a->type->name, a->id, NULL);
}

struct halt_all_arg {
    actor_host *host;
    struct countdown *c;
    actor__msg *failed; /* queued invokes taken out by stop */
    int fail_queued;
};

static void halt_all_one(actor__actor *a, void *arg)
{
    struct halt_all_arg *ha = arg;
    actor__msg *m, **pp;

    if (ha->fail_queued) {
        /* Refuse further invokes, even through references, and take the
         * queued ones out (they are completed after the lock). */
        actor__mailbox_close(a);
        pp = &a->mhead;
        a->mtail = NULL;
        while ((m = *pp) != NULL) {
            if (m->kind == ACTOR__MSG_INVOKE) {
                *pp = m->next;
                m->next = ha->failed;
                ha->failed = m;
            } else {
                a->mtail = m;
                pp = &m->next;
            }
        }
    }
    if (actor__table_inactive(a))
        return; /* not active: kept only for references */
    /* A dormant entry sent to through a reference is about to run: count
     * it now, so that stop waits for its halt. */
    actor__table_wake_locked(ha->host->table, a);
    m = actor__msg_new(ACTOR__MSG_HALT, NULL, NULL, 0);
    if (m == NULL)
        return; /* stop still waits for the table to empty */
    if (ha->c) {
        ha->c->left++;
        m->cb = countdown_done;
        m->cb_payload = ha->c;
    }
    (void)actor__table_post_locked(ha->host, a, m);
}

int actor_host_halt_all(actor_host *h)
{
    struct countdown c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1};
    struct halt_all_arg ha = {h, &c, NULL, 0};

    if (h == NULL)
        return actor_error_set(ACTOR_EINVAL, "host is NULL");
    if (actor__current_frame() != NULL || actor__pool_is_worker())
        return actor_error_set(ACTOR_ESTATE, "actor_host_halt_all cannot be called from a "
                                             "worker thread");
    if (!h->started)
        return 0;
    /* c.left starts at 1 so no completion can reach 0 before the walk ends;
     * the counter is updated under c.mu by completions, and by the walk. */
    pthread_mutex_lock(&c.mu);
    actor__table_each_locked(h->table, halt_all_one, &ha);
    c.left--;
    pthread_mutex_unlock(&c.mu);
    countdown_wait(&c);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
    return 0;
}

int actor_host_stop(actor_host *h)
{
    struct halt_all_arg ha;
    actor__msg *m, *next;
    int rc = 0;

    if (h == NULL)
        return actor_error_set(ACTOR_EINVAL, "host is NULL");
    if (actor__current_frame() != NULL || actor__pool_is_worker())
        return actor_error_set(ACTOR_ESTATE, "actor_host_stop cannot be called from a worker "
                                             "thread (inside a turn or a completion callback)");
    if (h->stopped || !h->started) {
        h->stopped = 1;
        return 0;
    }
    __atomic_store_n(&h->stopping, 1, __ATOMIC_RELEASE);

    /* Fail what is queued, deactivate everything, wait until all is gone. */
    memset(&ha, 0, sizeof(ha));
    ha.host = h;
    ha.fail_queued = 1;
    actor__table_each_locked(h->table, halt_all_one, &ha);
    for (m = ha.failed; m; m = next) {
        next = m->next;
        actor__msg_complete(m, ACTOR_ESHUTDOWN, NULL,
                            "host is stopping: the message was "
                            "queued but not started");
    }
    actor__table_wait_empty(h->table);

    pthread_mutex_lock(&h->bg_mu);
    h->bg_quit = 1;
    pthread_cond_broadcast(&h->bg_cv);
    pthread_mutex_unlock(&h->bg_mu);
    if (h->bg_running)
        pthread_join(h->bg_thread, NULL);
    h->bg_running = 0;
    actor__pool_free(h->pool);
    h->pool = NULL;
    rc = h->provider->host_remove(h->provider, h->host_id);
    h->stopped = 1;
    return rc;
}

void actor_host_free(actor_host *h)
{
    if (h == NULL)
        return;
    if (h->started && !h->stopped)
        (void)actor_host_stop(h);
    actor__table_free(h->table);
    actor__commit_free(h->commit);
    actor_provider_free(h->provider);
    for (size_t i = 0; i < h->ntypes; i++) {
        free(h->types[i]->name);
        free(h->types[i]);
    }
    free(h->types);
    free(h->type_index);
    free(h->address);
    pthread_cond_destroy(&h->bg_cv);
    pthread_mutex_destroy(&h->bg_mu);
    free(h);
}

const char *actor_host_id(const actor_host *h)
{
    return h ? h->host_id : "";
}

size_t actor_host_active_count(actor_host *h)
{
    return h ? actor__table_count(h->table) : 0;
}

actor_host *actor_ctx_host(const actor_ctx *ctx)
{
    return ctx ? ((const actor__actor *)ctx)->type->host : NULL;
}

const char *actor_ctx_type(const actor_ctx *ctx)
{
    return ctx ? ((const actor__actor *)ctx)->type->name : "";
}

const char *actor_ctx_id(const actor_ctx *ctx)
{
    return ctx ? ((const actor__actor *)ctx)->id : "";
}
