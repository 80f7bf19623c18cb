/*
 * pool.c: the worker pool that runs actors. One FIFO run queue (intrusive,
 * O(1) push and pop, no stealing to walk) guarded by one mutex, and a set of
 * threads of which at most `target` run items at once.
 *
 * Wake-ups are rationed: a push signals a sleeping thread only when fewer
 * than `target` threads are running and none is already on its way, so a
 * busy pool takes new work without any futex traffic. Managed blocking: a
 * worker about to block (a blocking invoke, a store commit) leaves the count
 * of running threads, and if work is queued another thread, woken or newly
 * started (up to max_threads), takes its place. This keeps turns that wait
 * on each other or on the store from starving the pool, and lets many actors
 * wait on one group commit at the same time.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct actor__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    actor__runnable *head, *tail;
    unsigned target;      /* threads that may run items at once */
    unsigned max_threads; /* threads that may exist at once */
    unsigned nthreads;    /* threads started */
    unsigned nidle;       /* threads waiting on cv */
    unsigned nwaking;     /* signalled, not yet awake */
    unsigned nspinning;   /* idle but polling the queue before sleeping */
    size_t qlen;          /* items in the queue */
    unsigned nrunning;    /* threads running an item and not blocked */
    int stopping;
    actor__pool_run_fn run;
    void *payload;
    pthread_t *threads;
    size_t threads_cap;
    pthread_attr_t attr;
};

static _Thread_local actor__pool *tls_pool;

/* How long an idle worker polls the queue before it sleeps. A wake-up
 * through the kernel costs both sides a context switch; a new item that
 * arrives within this window is taken without one. Only one worker polls
 * at a time, so an idle pool keeps at most one core busy, briefly. */
#define SPIN_NS 20000

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Poll for work for up to SPIN_NS without the lock. Called and returns with
 * p->mu held; 1 if work may be there (the caller re-checks either way). */
static int spin_for_work(actor__pool *p)
{
    int64_t until;
    int seen = 0;

    p->nspinning++;
    pthread_mutex_unlock(&p->mu);
    until = mono_ns() + SPIN_NS;
    for (int i = 0;; i++) {
        if (__atomic_load_n(&p->head, __ATOMIC_RELAXED) != NULL ||
            __atomic_load_n(&p->stopping, __ATOMIC_RELAXED)) {
            seen = 1;
            break;
        }
        cpu_relax();
        if ((i & 63) == 63 && mono_ns() > until)
            break;
    }
    pthread_mutex_lock(&p->mu);
    p->nspinning--;
    return seen;
}

static void *worker_main(void *arg)
{
    actor__pool *p = arg;
    actor__runnable *item;

    tls_pool = p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int spun = 0;
        while (!p->stopping && (p->head == NULL || p->nrunning >= p->target)) {
            if (!spun && p->head == NULL && p->nspinning == 0 && p->nrunning < p->target) {
                /* Poll a little first; then look again under the lock, as
                 * a push seen polling did not signal anyone. */
                spun = 1;
                (void)spin_for_work(p);
                continue;
            }
            p->nidle++;
            pthread_cond_wait(&p->cv, &p->mu);
            spun = 0;
            p->nidle--;
            if (p->nwaking > 0)
                p->nwaking--;
        }
        if (p->head == NULL)
            break; /* stopping and drained */
        item = p->head;
        __atomic_store_n(&p->head, item->next, __ATOMIC_RELAXED);
        if (p->head == NULL)
            p->tail = NULL;
        p->qlen--;
        item->next = NULL;
        p->nrunning++;
        pthread_mutex_unlock(&p->mu);

        p->run(item, p->payload);

        pthread_mutex_lock(&p->mu);
        p->nrunning--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Start one more thread. Called with p->mu held. */
static int spawn_locked(actor__pool *p)
{
    if (p->nthreads == p->threads_cap) {
        size_t cap = p->threads_cap ? p->threads_cap * 2 : 8;
        pthread_t *t = realloc(p->threads, cap * sizeof(*t));
        if (t == NULL)
            return ACTOR_ENOMEM;
        p->threads = t;
        p->threads_cap = cap;
    }
    if (pthread_create(&p->threads[p->nthreads], &p->attr, worker_main, p) != 0)
        return ACTOR_ERROR;
    p->nthreads++;
    return 0;
}

int actor__pool_new(actor__pool **out, unsigned workers, unsigned max_threads,
                    actor__pool_run_fn run, void *payload)
{
    actor__pool *p;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return actor__error_oom();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_attr_init(&p->attr);
    pthread_attr_setstacksize(&p->attr, 1024 * 1024);
    p->target = workers ? workers : 1;
    p->max_threads = max_threads < p->target ? p->target : max_threads;
    p->run = run;
    p->payload = payload;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->target; i++) {
        if (spawn_locked(p) != 0) {
            pthread_mutex_unlock(&p->mu);
            actor__pool_free(p);
            return actor_error_set(ACTOR_ERROR, "cannot start worker thread %u of %u", i + 1,
                                   workers);
        }
    }
    pthread_mutex_unlock(&p->mu);
    *out = p;
    return 0;
}

/* Called with p->mu held: make sure queued work has a thread coming. */
static void wake_locked(actor__pool *p)
{
    /* Threads wanted for the queue: one per item, up to the free slots;
     * threads coming: woken ones and the polling one. */
    size_t want = p->nrunning >= p->target ? 0 : p->target - p->nrunning;

    if (want > p->qlen)
        want = p->qlen;
    if (want <= (size_t)p->nwaking + p->nspinning)
        return;
    if (p->nidle > p->nwaking) {
        p->nwaking++;
        pthread_cond_signal(&p->cv);
    } else if (p->nthreads < p->max_threads && !p->stopping) {
        /* Every thread is busy or blocked: add one (managed blocking). */
        (void)spawn_locked(p);
    }
}

void actor__pool_push(actor__pool *p, actor__runnable *item)
{
    item->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = item;
    else
        __atomic_store_n(&p->head, item, __ATOMIC_RELAXED);
    p->tail = item;
    p->qlen++;
    wake_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void actor__pool_block_enter(void)
{
    actor__pool *p = tls_pool;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->nrunning--;
    wake_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void actor__pool_block_leave(void)
{
    actor__pool *p = tls_pool;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->nrunning++;
    pthread_mutex_unlock(&p->mu);
}

int actor__pool_is_worker(void)
{
    return tls_pool != NULL;
}

unsigned actor__pool_threads(actor__pool *p)
{
    unsigned n;

    pthread_mutex_lock(&p->mu);
    n = p->nthreads;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void actor__pool_free(actor__pool *p)
{
    unsigned n;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&p->cv);
    n = p->nthreads;
    pthread_mutex_unlock(&p->mu);
    /* Threads are only added while not stopping, so n is final. */
    for (unsigned i = 0; i < n; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_attr_destroy(&p->attr);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
