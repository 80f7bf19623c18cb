/*
 * pool.c: the worker pool that runs actors. One FIFO run queue (intrusive,
 * O(1) push and pop, no stealing to walk) guarded by one mutex, a one-item
 * run-next slot per thread, and a set of threads of which at most `target`
 * run items at once.
 *
 * Wake-ups are rationed. A thread is woken only when the queue holds more
 * than BACKLOG items per running thread (or nothing runs at all): a thread
 * woken for a queue the running ones drain anyway costs a context switch on
 * both sides and a core taken from whoever produces the work. A thread that
 * finishes an item goes on while anything is queued; an idle one polls
 * briefly (SPIN_NS; longer, across the usual idle gap, while a thread is
 * blocked in a store call: see spin_budget) before it sleeps, yielding its
 * core between looks so that a thread with work (the producer, when threads
 * outnumber cores) is not kept waiting behind the poll; one idle thread
 * watches a queued head that nobody was woken for and takes it if it is
 * still there WATCH_NS later, so long turns cannot leave an item waiting
 * beside an idle core.
 *
 * Run-next slot: an actor made runnable by a turn (a message sent from
 * inside an actor) goes to the slot of the thread running that turn, which
 * runs it as soon as its current item ends: no lock, no wake-up, warm
 * caches, so a chain of messages between actors costs no cross-core
 * hand-off. A newer item pushes the older one to the queue. So that the
 * slot starves nothing: a thread runs at most STREAK_MAX slot items in a
 * row; a thread about to block empties its slot into the queue; and an idle
 * thread takes an item that has sat in a slot while the slot's owner stayed
 * in the same item (a long turn): it polls the slots briefly, then sleeps
 * and looks again every WATCH_NS while they are in use (a push to a slot
 * wakes a thread only when none does either).
 *
 * Managed blocking: a worker about to block (a blocking invoke, a store
 * commit) leaves the count of running threads, and if work is queued
 * another thread, woken or newly started (up to max_threads), takes its
 * place. This keeps turns that wait on each other or on the store from
 * starving the pool, and lets many actors wait on one group commit at the
 * same time.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* One per thread the pool may start; fixed array, so a polling worker can
 * look at every slot without the lock. */
typedef struct worker {
    actor__pool *pool;
    actor__runnable *next; /* run-next slot (atomic) */
    uint64_t runs;         /* items run so far (atomic; read by thieves) */
    uint64_t nexts;        /* items put in the slot so far (same) */
    int active;            /* in run_items (own thread only) */
    int blocked;           /* inside block_enter/leave (own thread only) */
    /* Parked turns (see actor__pool_park). Owner thread only, but `ready`
     * (pushed by whoever ends a wait) and `idle` (read by them). */
    actor__fiber *self;                /* the thread's own stack, once a turn parked */
    actor__fiber *cur;                 /* the stack running now */
    actor__fiber *ready;               /* atomic, newest first: turns whose wait ended */
    actor__fiber *rhead, *rtail;       /* ready turns taken from `ready`, oldest first */
    actor__fiber *spare;               /* stacks waiting between items to go on */
    unsigned nparked;                  /* turns parked or ready */
    int idle;                          /* atomic: in the idle wait (an unpark wakes it) */
} __attribute__((aligned(64))) worker; /* no cache line shared between two workers */

struct actor__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    actor__runnable *head, *tail;
    unsigned target;      /* threads that may run items at once */
    unsigned max_threads; /* threads that may exist at once */
    unsigned nthreads;    /* threads started */
    unsigned nidle;       /* threads waiting on cv (written under mu) */
    unsigned nwaking;     /* signalled, not yet awake */
    unsigned nstarting;   /* started, not yet in their loop */
    unsigned nspinning;   /* idle but polling the queue (written under mu) */
    unsigned nwatching;   /* idle in a timed wait on a queued head (WATCH_NS) */
    unsigned nslotwatch;  /* idle in a timed wait on run-next slots (written under mu) */
    size_t qlen;          /* items in the queue (written under mu, read by pollers) */
    unsigned nrunning;    /* threads running an item and not blocked (same) */
    int stopping;
    actor__pool_run_fn run;
    void *payload;
    pthread_t *threads;
    worker *workers; /* max_threads of them */
    pthread_attr_t attr;
    /* Last: placed before nrunning, these two moved the fields above
     * across cache lines and cost fan-out through references 12%. */
    int64_t idle_gap_ns; /* moving average of how long workers stay idle (under mu) */
    unsigned nblocked;   /* threads inside block_enter/leave (under mu) */
};

static _Thread_local actor__pool *tls_pool;
static _Thread_local worker *tls_worker;

/* How long an idle worker polls the queue before it sleeps. A wake-up
 * through the kernel costs both sides a context switch; a new item that
 * arrives within this window is taken without one. Only one worker polls
 * at a time, so an idle pool keeps at most one core busy, briefly. The
 * window adapts (see spin_budget): SPIN_NS, or up to SPIN_MAX_NS while
 * work has been coming back after idle gaps short enough to bridge. */
#define SPIN_NS     20000
#define SPIN_MAX_NS 200000
/* How long an item may wait in the run-next slot of a worker that is still
 * in the same item before the polling worker takes it. */
#define STEAL_NS 5000
/* Queued items per running thread before another thread is woken. */
#define BACKLOG 128
/* How long an idle thread lets an item it did not wake for wait at the head
 * of the queue before it takes it anyway (the running threads are busy
 * with long turns). */
#define WATCH_NS 500000
/* Slot items a worker runs in a row before it turns to the shared queue. */
#define STREAK_MAX 64

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t wanted_for(const actor__pool *p, size_t qlen);

/* How long to poll before sleeping (p->mu held). While a worker is blocked
 * in a store call (the group commit's leader), the work it will release
 * (its writers answered, writing again) comes back after idle gaps of about
 * one commit: polled for across the gap, 1.5 times the usual gap, no side
 * pays a kernel wake-up per commit. Otherwise, or when the gaps are too
 * long to bridge (an fsync, sporadic work, an idle host), the short poll:
 * a poll that runs longer takes a core from whoever has work when threads
 * outnumber cores (an outside sender). */
static int64_t spin_budget(const actor__pool *p)
{
    int64_t g = p->idle_gap_ns, b = g + g / 2;

    if (p->nblocked == 0 || g > SPIN_MAX_NS || b < SPIN_NS)
        return SPIN_NS;
    return b > SPIN_MAX_NS ? SPIN_MAX_NS : b;
}

/* A worker found work after `gap` ns idle (p->mu held). */
static void note_idle_gap(actor__pool *p, int64_t gap)
{
    p->idle_gap_ns += (gap - p->idle_gap_ns) / 8;
}

static int ready_here(worker *w);

/* Wait on p->cv (p->mu held) for at most WATCH_NS; 1 when the time ran out. */
static int watch_wait(actor__pool *p)
{
    int64_t t = mono_ns() + WATCH_NS;
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};

    return pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT;
}

/* Take another worker's run-next item if it has waited there STEAL_NS while
 * its owner stayed in the same item. `seen` tracks the candidate across
 * calls. Returns the item, or NULL; *busy is set when some slot is in use,
 * *nexts to the sum of the slot-use counters. */
struct steal_watch {
    worker *w;
    actor__runnable *item;
    uint64_t runs;
    int64_t since;
};

static actor__runnable *steal_stale(actor__pool *p, worker *self, struct steal_watch *seen,
                                    int64_t now, int *busy, uint64_t *nexts)
{
    unsigned n = __atomic_load_n(&p->nthreads, __ATOMIC_ACQUIRE);

    *nexts = 0;
    for (unsigned i = 0; i < n; i++) {
        worker *w = &p->workers[i];
        actor__runnable *item;
        uint64_t runs;

        *nexts += __atomic_load_n(&w->nexts, __ATOMIC_RELAXED);
        if (w == self || (item = __atomic_load_n(&w->next, __ATOMIC_RELAXED)) == NULL)
            continue;
        *busy = 1;
        runs = __atomic_load_n(&w->runs, __ATOMIC_RELAXED);
        if (seen->w != w || seen->item != item || seen->runs != runs) {
            seen->w = w;
            seen->item = item;
            seen->runs = runs;
            seen->since = now;
        } else if (now - seen->since >= STEAL_NS) {
            seen->w = NULL;
            return __atomic_exchange_n(&w->next, NULL, __ATOMIC_ACQ_REL);
        }
    }
    return NULL;
}

/* Poll for work without the lock for SPIN_NS: the shared queue, and other
 * workers' run-next slots (see steal_stale). Called and returns with p->mu
 * held; returns a stolen item to run, or NULL (the caller re-checks the
 * queue either way). *slots is set when it saw run-next slots in use;
 * span[0] and span[1] get the times the poll started and ended. */
static actor__runnable *spin_for_work(actor__pool *p, worker *self, struct steal_watch *seen,
                                      int *slots, int64_t span[2])
{
    uint64_t nexts = 0, last_nexts = 0;
    actor__runnable *stolen = NULL;
    int64_t until, budget = spin_budget(p);

    *slots = 0;
    __atomic_store_n(&p->nspinning, p->nspinning + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->mu);
    span[0] = mono_ns();
    until = span[0] + budget;
    for (int i = 0;; i++) {
        /* Queued work the running threads are keeping up with is not
         * this thread's to take (see wanted_for). */
        if ((__atomic_load_n(&p->head, __ATOMIC_RELAXED) != NULL &&
             wanted_for(p, __atomic_load_n(&p->qlen, __ATOMIC_RELAXED)) >
                 __atomic_load_n(&p->nrunning, __ATOMIC_RELAXED)) ||
            __atomic_load_n(&p->stopping, __ATOMIC_RELAXED) || ready_here(self))
            break;
        actor__cpu_relax();
        if ((i & 15) == 15) {
            int64_t now;
            int busy = 0;
            /* More threads than cores (an outside sender, the
             * application's threads): whoever waits for this core has
             * work, this poll has none. */
            sched_yield();
            now = mono_ns();
            if ((stolen = steal_stale(p, self, seen, now, &busy, &nexts)) != NULL)
                break;
            /* Slots used since the last look count as in use too. */
            if (i > 15 && nexts != last_nexts)
                busy = 1;
            last_nexts = nexts;
            *slots |= busy;
            if (now > until)
                break;
        }
    }
    span[1] = mono_ns(); /* outside the lock, which senders are waiting for */
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->nspinning, p->nspinning - 1, __ATOMIC_RELAXED);
    return stolen;
}

static void wake_locked(actor__pool *p);

/* How many threads should be running items for the queue as it is: one
 * per BACKLOG queued items (at least one when anything is queued), up to
 * `target`. A thread woken for a queue that the running ones drain anyway
 * costs more (a context switch on each side, a core taken from whoever
 * produces the work) than the items it would run. Called with p->mu held. */
static size_t wanted_for(const actor__pool *p, size_t qlen)
{
    size_t want = (qlen + BACKLOG - 1) / BACKLOG;

    return want > p->target ? p->target : want;
}

static size_t wanted(const actor__pool *p)
{
    return wanted_for(p, p->qlen);
}

/* Queue an item at the tail. Called with p->mu held. */
static void enqueue_locked(actor__pool *p, actor__runnable *item)
{
    item->next = NULL;
    if (p->tail)
        p->tail->next = item;
    else
        __atomic_store_n(&p->head, item, __ATOMIC_RELAXED);
    p->tail = item;
    __atomic_store_n(&p->qlen, p->qlen + 1, __ATOMIC_RELAXED);
}

/* Run an item, then whatever this worker's run-next slot holds, up to
 * STREAK_MAX in a row. Returns what is left in the slot (to be queued). */
static actor__runnable *run_items(actor__pool *p, worker *w, actor__runnable *item)
{
    w->active = 1;
    for (int streak = 0;; streak++) {
        p->run(item, p->payload);
        __atomic_store_n(&w->runs, w->runs + 1, __ATOMIC_RELAXED);
        if (streak == STREAK_MAX)
            break;
        if ((item = __atomic_exchange_n(&w->next, NULL, __ATOMIC_ACQ_REL)) == NULL)
            break;
    }
    w->active = 0;
    return __atomic_exchange_n(&w->next, NULL, __ATOMIC_ACQ_REL);
}

/* The calling worker leaves the count of running threads (it blocks, or
 * its turn parks) and what its run-next slot holds goes to the queue:
 * nothing may wait there while the thread is not in an item. `blocks`:
 * the thread blocks (block_enter), so it counts in nblocked, and a thread
 * is woken or started for queued work, as this one will not take it. */
static void leave_running(actor__pool *p, worker *w, int blocks)
{
    actor__runnable *left = __atomic_exchange_n(&w->next, NULL, __ATOMIC_ACQ_REL);

    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->nrunning, p->nrunning - 1, __ATOMIC_RELAXED);
    if (blocks)
        p->nblocked++;
    if (left)
        enqueue_locked(p, left);
    if (left || blocks)
        wake_locked(p);
    pthread_mutex_unlock(&p->mu);
}

/* ---- parked turns ---------------------------------------------------------
 *
 * A turn that must wait (for the group commit) parks instead of blocking its
 * thread: its stack is set aside and the thread goes on with the worker loop
 * on another stack (a spare one, or a new fiber), running other actors. When
 * the wait ends, whoever ended it pushes the turn onto its worker's `ready`
 * stack; the worker resumes it between two items, and the stack it was
 * looping on becomes a spare. A turn always resumes on the thread it parked
 * on. Every stack of a worker is, at any time, either running, parked (a
 * waiting or ready turn), or spare (the loop, stopped between items). */

/* How large a stack of our own is: what a worker thread gets. */
#define STACK_SIZE (1024 * 1024)

static void worker_loop(actor__pool *p, worker *w);

/* Entry of a new loop stack. */
static void loop_entry(void *arg)
{
    worker *w = arg;

    worker_loop(w->pool, w);
}

/* A turn is ready to resume (owner, or anyone for the atomic stack). */
static int ready_here(worker *w)
{
    return w->rhead != NULL || __atomic_load_n(&w->ready, __ATOMIC_SEQ_CST) != NULL;
}

/* Append the turns pushed on `ready` to the ordered list, oldest first. */
static void collect_ready(worker *w)
{
    actor__fiber *s = __atomic_exchange_n(&w->ready, NULL, __ATOMIC_ACQUIRE);
    actor__fiber *rev = NULL, *tail = s, *next;

    if (s == NULL)
        return;
    for (; s; s = next) {
        next = s->next;
        s->next = rev;
        rev = s;
    }
    if (w->rtail)
        w->rtail->next = rev;
    else
        w->rhead = rev;
    w->rtail = tail;
}

static actor__fiber *pop_ready(worker *w)
{
    actor__fiber *f;

    if (w->rhead == NULL)
        collect_ready(w);
    if ((f = w->rhead) != NULL) {
        w->rhead = f->next;
        if (w->rhead == NULL)
            w->rtail = NULL;
    }
    return f;
}

/* Can the calling thread park its turn? Sets up its own stack's record. */
static worker *parking_worker(void)
{
    worker *w = tls_worker;

    if (tls_pool == NULL || w == NULL || !w->active || w->blocked)
        return NULL;
    if (w->self == NULL) {
        if ((w->self = actor__fiber_self()) == NULL)
            return NULL;
        w->self->owner = w;
        w->cur = w->self;
    }
    return w;
}

int actor__pool_park(void (*arm)(actor__fiber *turn, void *arg), void *arg)
{
    worker *w = parking_worker();
    actor__pool *p = tls_pool;
    actor__fiber *me, *loop;

    if (w == NULL)
        return -1;
    if ((loop = w->spare) != NULL) {
        w->spare = loop->next;
    } else {
        if ((loop = actor__fiber_new(STACK_SIZE, loop_entry, w)) == NULL)
            return -1;
        loop->owner = w;
    }
    me = w->cur;
    w->nparked++;
    w->active = 0;
    /* The thread goes on with the loop itself: no other is needed. */
    leave_running(p, w, 0);
    /* From here on the wait may end and push `me`: only this thread
     * resumes it, after the switch below. */
    arm(me, arg);
    w->cur = loop;
    actor__fiber_switch(me, loop, 0);
    return 0;
}

void actor__pool_unpark(actor__fiber *turn)
{
    worker *w = turn->owner;
    actor__fiber *head = __atomic_load_n(&w->ready, __ATOMIC_RELAXED);

    do {
        turn->next = head;
    } while (!__atomic_compare_exchange_n(&w->ready, &head, turn, 1, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    /* Pairs with the worker's store of `idle` before it looks at `ready`:
     * either it sees the turn, or this sees it idle and wakes it. */
    if (__atomic_load_n(&w->idle, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&w->pool->mu);
        pthread_cond_broadcast(&w->pool->cv);
        pthread_mutex_unlock(&w->pool->mu);
    }
}

int actor__pool_has_ready(void)
{
    worker *w = tls_worker;

    return tls_pool != NULL && w != NULL && w->self != NULL && ready_here(w);
}

int actor__pool_yield(void)
{
    worker *w = parking_worker();
    actor__fiber *me, *r;

    if (w == NULL || (r = pop_ready(w)) == NULL)
        return -1;
    /* `me` takes r's place among the ready: counts and slot stay as are. */
    me = w->cur;
    me->next = NULL;
    if (w->rtail)
        w->rtail->next = me;
    else
        w->rhead = me;
    w->rtail = me;
    w->cur = r;
    actor__fiber_switch(me, r, 0);
    return 0;
}

/* The worker loop: take items and run them until the pool stops. Runs on
 * the thread's own stack and on the fibers that go on with it while turns
 * are parked; always returns on the thread's own stack. */
static void worker_loop(actor__pool *p, worker *w)
{
    actor__runnable *item, *left;
    int ran = 0, idle;
    int64_t idle_since = 0, idle_end = 0;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        int spun = 0, stale = 0, slots = 0, waited = 0;
        struct steal_watch seen = {NULL, NULL, 0, 0};
        if (ready_here(w)) {
            /* A parked turn's wait ended: resume it; this stack waits as a
             * spare until a turn parks and wants the loop to go on. */
            actor__fiber *r = pop_ready(w), *me = w->cur;
            __atomic_store_n(&p->nrunning, p->nrunning + 1, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&p->mu);
            me->next = w->spare;
            w->spare = me;
            w->nparked--;
            w->active = 1;
            w->cur = r;
            actor__fiber_switch(me, r, 0);
            pthread_mutex_lock(&p->mu);
            ran = 0;
            continue;
        }
        item = NULL;
        idle = 0;
        /* A thread that just ran an item goes on while anything is queued;
         * an idle one joins only when wanted (or the head went stale). A
         * stopping pool is left once drained and no turn of this thread
         * is parked. */
        while (!ready_here(w) && !(p->stopping && (p->head != NULL || w->nparked == 0)) &&
               (p->head == NULL || p->nrunning >= p->target ||
                (p->nrunning >= wanted(p) && !stale && !ran))) {
            const actor__runnable *watched = p->head;
            if (!idle) {
                /* About to wait: announce it, then look at `ready` again
                 * (see actor__pool_unpark). A thread that goes straight
                 * on to the next item pays nothing for this. */
                idle = 1;
                __atomic_store_n(&w->idle, 1, __ATOMIC_SEQ_CST);
                continue;
            }
            ran = 0;
            if (!spun && p->head == NULL && p->nspinning == 0 && p->nrunning < p->target) {
                /* Poll a little first; then look again under the lock, as
                 * a push seen polling did not signal anyone. */
                int64_t span[2];
                spun = 1;
                item = spin_for_work(p, w, &seen, &slots, span);
                if (!waited)
                    idle_since = span[0];
                waited = 1;
                idle_end = span[1];
                if (item)
                    break;
                continue;
            }
            if (!waited)
                idle_since = mono_ns();
            waited = 1;
            __atomic_store_n(&p->nidle, p->nidle + 1, __ATOMIC_RELAXED);
            if (watched != NULL) {
                /* Work is queued that the running threads should take;
                 * take it anyway if it is still at the head WATCH_NS on. */
                p->nwatching++;
                stale = watch_wait(p) && p->head == watched;
                p->nwatching--;
            } else if (slots) {
                /* Run-next slots are in use: sleep, but look at them again
                 * WATCH_NS on, and take an item whose owner is still in the
                 * same turn (a long one). Meanwhile pushes to slots need not
                 * wake anyone (see actor__pool_push_next). */
                uint64_t nexts;
                __atomic_store_n(&p->nslotwatch, p->nslotwatch + 1, __ATOMIC_RELAXED);
                (void)watch_wait(p);
                __atomic_store_n(&p->nslotwatch, p->nslotwatch - 1, __ATOMIC_RELAXED);
                slots = 0;
                if (p->head == NULL)
                    item = steal_stale(p, w, &seen, mono_ns(), &slots, &nexts);
            } else {
                pthread_cond_wait(&p->cv, &p->mu);
            }
            spun = 0;
            idle_end = mono_ns();
            __atomic_store_n(&p->nidle, p->nidle - 1, __ATOMIC_RELAXED);
            if (p->nwaking > 0)
                p->nwaking--;
            if (item)
                break;
        }
        if (idle) {
            __atomic_store_n(&w->idle, 0, __ATOMIC_RELAXED);
            if (waited) /* polled or slept, not just looked again */
                note_idle_gap(p, idle_end - idle_since);
        }
        if (item == NULL) {
            if (ready_here(w))
                continue;
            if (p->head == NULL)
                break; /* stopping and drained */
            item = p->head;
            __atomic_store_n(&p->head, item->next, __ATOMIC_RELAXED);
            if (p->head == NULL)
                p->tail = NULL;
            __atomic_store_n(&p->qlen, p->qlen - 1, __ATOMIC_RELAXED);
            item->next = NULL;
        }
        __atomic_store_n(&p->nrunning, p->nrunning + 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&p->mu);

        left = run_items(p, w, item);

        pthread_mutex_lock(&p->mu);
        __atomic_store_n(&p->nrunning, p->nrunning - 1, __ATOMIC_RELAXED);
        if (left) {
            enqueue_locked(p, left);
            wake_locked(p);
        }
        ran = 1;
    }
    pthread_mutex_unlock(&p->mu);
    if (w->self != NULL && w->cur != w->self) {
        /* Leave on the thread's own stack, a spare now (nothing is
         * parked): it goes round its loop once more and returns. */
        actor__fiber *me = w->cur, **pp = &w->spare;
        while (*pp != w->self)
            pp = &(*pp)->next;
        *pp = w->self->next;
        me->next = w->spare;
        w->spare = me;
        w->cur = w->self;
        actor__fiber_switch(me, w->self, 1);
        abort(); /* never resumed */
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    actor__fiber *f;

    tls_pool = w->pool;
    tls_worker = w;
    pthread_mutex_lock(&w->pool->mu);
    w->pool->nstarting--;
    pthread_mutex_unlock(&w->pool->mu);
    worker_loop(w->pool, w);
    /* Back on the thread's own stack: every other stack is a spare. */
    while ((f = w->spare) != NULL) {
        w->spare = f->next;
        actor__fiber_free(f);
    }
    actor__fiber_free(w->self);
    w->self = w->cur = NULL;
    return NULL;
}

/* Start one more thread. Called with p->mu held. */
static int spawn_locked(actor__pool *p)
{
    worker *w;

    if (p->nthreads == p->max_threads)
        return ACTOR_ERROR;
    w = &p->workers[p->nthreads];
    w->pool = p;
    if (pthread_create(&p->threads[p->nthreads], &p->attr, worker_main, w) != 0)
        return ACTOR_ERROR;
    /* Release: a polling worker that sees the count sees the slot's init. */
    __atomic_store_n(&p->nthreads, p->nthreads + 1, __ATOMIC_RELEASE);
    /* Coming: until it is in its loop, pushes wake or start no other. */
    p->nstarting++;
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
    /* Every push and pop holds it for a few instructions. */
    actor__mutex_init_adaptive(&p->mu);
    actor__cond_init_mono(&p->cv);
    pthread_attr_init(&p->attr);
    pthread_attr_setstacksize(&p->attr, 1024 * 1024);
    p->target = workers ? workers : 1;
    p->max_threads = max_threads < p->target ? p->target : max_threads;
    p->threads = calloc(p->max_threads, sizeof(*p->threads));
    p->workers = aligned_alloc(64, p->max_threads * sizeof(*p->workers));
    if (p->workers != NULL)
        memset(p->workers, 0, p->max_threads * sizeof(*p->workers));
    if (p->threads == NULL || p->workers == NULL) {
        free(p->threads);
        free(p->workers);
        free(p);
        return actor__error_oom();
    }
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
    /* Threads wanted for the queue beyond those running (see wanted);
     * threads coming: woken ones and the polling one. */
    size_t want = wanted(p);

    want = want > p->nrunning ? want - p->nrunning : 0;
    if (want == 0) {
        /* Queued work the running threads should take; if nobody watches
         * it (WATCH_NS), wake an idle thread to, never start one. */
        if (p->qlen > 0 && p->nrunning < p->target && p->nidle > p->nwaking &&
            p->nwatching + p->nwaking + p->nspinning == 0) {
            p->nwaking++;
            pthread_cond_signal(&p->cv);
        }
        return;
    }
    if (want <= (size_t)p->nwaking + p->nspinning + p->nstarting)
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
    pthread_mutex_lock(&p->mu);
    enqueue_locked(p, item);
    wake_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void actor__pool_push_next(actor__pool *p, actor__runnable *item)
{
    worker *w = tls_worker;
    actor__runnable *old;

    if (tls_pool != p || w == NULL || !w->active || w->blocked) {
        actor__pool_push(p, item);
        return;
    }
    item->next = NULL;
    __atomic_store_n(&w->nexts, w->nexts + 1, __ATOMIC_RELAXED);
    old = __atomic_exchange_n(&w->next, item, __ATOMIC_ACQ_REL);
    if (old) {
        actor__pool_push(p, old);
    } else if (__atomic_load_n(&p->nspinning, __ATOMIC_RELAXED) == 0 &&
               __atomic_load_n(&p->nslotwatch, __ATOMIC_RELAXED) == 0 &&
               __atomic_load_n(&p->nidle, __ATOMIC_RELAXED) > 0) {
        /* Nobody watches the slots: wake a sleeping thread to, in case
         * this turn runs long (it then polls, and sleeps watching, so a
         * chain of short turns pays this once, not per message). */
        pthread_mutex_lock(&p->mu);
        if (p->nspinning == 0 && p->nslotwatch == 0 && p->nidle > p->nwaking) {
            p->nwaking++;
            pthread_cond_signal(&p->cv);
        }
        pthread_mutex_unlock(&p->mu);
    }
}

void actor__pool_block_enter(void)
{
    actor__pool *p = tls_pool;

    if (p == NULL)
        return;
    tls_worker->blocked++;
    /* Queued work needs another thread while this one is blocked. */
    leave_running(p, tls_worker, 1);
}

void actor__pool_block_leave(void)
{
    actor__pool *p = tls_pool;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->nrunning, p->nrunning + 1, __ATOMIC_RELAXED);
    p->nblocked--;
    pthread_mutex_unlock(&p->mu);
    tls_worker->blocked--;
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
    free(p->workers);
    pthread_attr_destroy(&p->attr);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
