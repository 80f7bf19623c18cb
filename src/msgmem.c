/*
 * msgmem.c: memory for messages. A message is allocated by the sending
 * thread and freed by the worker that turned it, so with plain malloc every
 * message is a free into another thread's arena: the arena's lock bounces
 * between the sender's malloc and the worker's free, and the sender's heap
 * keeps growing and shrinking. Here each thread keeps its own blocks, of
 * three sizes (the smallest one cache line, aligned on one): a block freed
 * by its owner goes back on the owner's list; one freed by any other
 * thread is pushed on the owner's return stack (one
 * compare-and-swap), which the owner takes whole (one exchange) when its
 * list runs dry. Requests larger than a block use malloc.
 *
 * Blocks of the two smaller sizes (one and two cache lines) are carved in
 * turn out of slabs of 64 lines (one malloc per 63 or 31 blocks): a sender
 * that outruns its receivers, so that its lists are empty, then pays a
 * pointer bump per message instead of a malloc, and the receiver one
 * atomic decrement on the slab's own line instead of a free into the
 * sender's arena. Its messages also lie side by side, on whole lines,
 * with no allocator headers between them. A slab is given back to malloc
 * when the last of its blocks is.
 *
 * Bounded: a thread keeps at most KEEP blocks of each size on its list and
 * about as many on its return stack; beyond that, blocks go back to malloc. A thread's
 * blocks may outlive it (a message it sent is still queued when it exits):
 * its home then refuses returns (DEAD) and is freed by whoever frees its
 * last block. Under AddressSanitizer blocks are plain malloc, so a message
 * used after it was freed is still caught.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KEEP    1024 /* blocks of each size a thread keeps for reuse */
#define CLASSES 3
/* Bytes per block, header included. The smallest is one cache line, and
 * aligned on one: a message with a short method and no request or a short
 * one (see actor__msg) then costs one line moved between sender and runner
 * and back, where a block at malloc's 16-byte alignment straddles two or
 * three. The middle size, two lines, holds a message with a short request;
 * the large one holds most JSON requests, and comes from malloc. */
#define LINE 64
static const size_t block_size[CLASSES] = {LINE, 2 * LINE, 512};
/* Classes carved out of slabs (the first SLABBED). */
#define SLABBED 2
/* Lines per slab: the first holds the slab's header, the others are
 * blocks. malloc's 16-aligned pointer is at most 48 bytes short of a line
 * boundary, so a slab takes SLAB_LINES * LINE + 48 bytes. */
#define SLAB_LINES 64

#if defined(__SANITIZE_ADDRESS__)
#define MSGMEM_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSGMEM_PLAIN 1
#endif
#endif
#ifndef MSGMEM_PLAIN
#define MSGMEM_PLAIN 0
#endif

typedef struct home home;

/* Header of every block: 16 bytes, so the caller's memory that follows is
 * as aligned as malloc's. `owner` is the home's address (256-aligned) with,
 * in its low bits, the block's size class (bits 0-1) and, for a block
 * carved out of a slab, the index of its first line there (bits 2-7); 0
 * for plain malloc. */
typedef struct header {
    uintptr_t owner;
    struct header *next; /* on a list or return stack */
} header;

_Static_assert(sizeof(header) == 16, "message block header must stay 16 bytes");

/* The first line of a slab. Its other lines are touched by the owner only
 * when it carves them, so this line stays with whoever frees blocks. */
typedef struct slab {
    void *mem;     /* malloc's pointer */
    unsigned live; /* atomic: blocks not given back, counting those not yet carved */
} slab;

/* The owner's lists and the return stacks that other threads push on sit
 * on separate cache lines: on one line, every message a worker gives back
 * would take the line from the sender, whose next allocation would then
 * wait for it (measured: 12% of a fan-out sender's time, on that load). */
struct home {
    struct {
        header *list; /* owner only */
        size_t nlist; /* owner only: about the length of list (a bound) */
    } own[CLASSES];
    struct {
        slab *slab;   /* the slab blocks of this class are carved from */
        unsigned at;  /* its next free line; SLAB_LINES: none left */
    } carve[SLABBED]; /* owner only */
    struct {
        header *returned; /* atomic: pushed by others, taken whole by the owner */
        size_t nreturned; /* atomic, approximate: bounds the return stack */
    } ret[CLASSES] __attribute__((aligned(64)));
    /* atomic: larger blocks and slabs not given back to malloc, +1 while
     * the owner lives */
    size_t live;
};

#define DEAD ((header *)1)

static pthread_key_t home_key;
static pthread_once_t home_once = PTHREAD_ONCE_INIT;
static _Thread_local home *tls_home;

static void home_release(home *hm, size_t n)
{
    if (__atomic_sub_fetch(&hm->live, n, __ATOMIC_ACQ_REL) == 0)
        free(hm);
}

/* The low bits of `owner` (see header). */
#define OWNER_CLASS      ((uintptr_t)3) /* bits 0-1: size class */
#define OWNER_LINE_SHIFT 2              /* bits 2-7: line in the slab */
#define OWNER_BITS       ((uintptr_t)255)
#define HOME_ALIGN       256
_Static_assert(SLAB_LINES - 1 <= (OWNER_BITS >> OWNER_LINE_SHIFT), "a slab line must fit owner");

/* Drop n of a slab's blocks; returns 1 if that was the last of them and
 * the slab went back to malloc, else 0. */
static size_t slab_drop(slab *s, unsigned n)
{
    if (__atomic_sub_fetch(&s->live, n, __ATOMIC_ACQ_REL) != 0)
        return 0;
    free(s->mem);
    return 1;
}

/* Give a block of a home back to malloc (a slabbed one to its slab);
 * returns how many of the home's references (its `live`) that released. */
static size_t block_free(header *b)
{
    if ((b->owner & OWNER_CLASS) < SLABBED)
        return slab_drop((slab *)((char *)b - ((b->owner & OWNER_BITS) >> OWNER_LINE_SHIFT) * LINE),
                         1);
    free(b);
    return 1;
}

/* Cache lines per block of a slabbed class k. */
static unsigned block_lines(int k)
{
    return (unsigned)(block_size[k] / LINE);
}

/* The next block of slabbed class k for home hm: the next lines of the
 * slab being carved, or of a new slab when too few are left. */
static header *block_carve(home *hm, int k)
{
    unsigned lines = block_lines(k);
    header *b;

    if (hm->carve[k].at + lines > SLAB_LINES) {
        /* The old slab is not touched again: its carved blocks may all
         * have been given back, and it freed, already. */
        char *p = malloc(SLAB_LINES * LINE + 48);
        slab *sl;
        if (p == NULL)
            return NULL;
        sl = (slab *)(p + (LINE - (uintptr_t)p % LINE) % LINE);
        sl->mem = p;
        sl->live = (SLAB_LINES - 1) / lines;
        hm->carve[k].slab = sl;
        hm->carve[k].at = 1;
        __atomic_add_fetch(&hm->live, 1, __ATOMIC_RELAXED);
    }
    b = (header *)((char *)hm->carve[k].slab + (size_t)hm->carve[k].at * LINE);
    b->owner = (uintptr_t)hm | (uintptr_t)k | (uintptr_t)hm->carve[k].at << OWNER_LINE_SHIFT;
    hm->carve[k].at += lines;
    return b;
}

/* A new block of class k for home hm. */
static header *block_new(home *hm, int k)
{
    header *b;

    if (k < SLABBED)
        return block_carve(hm, k);
    if ((b = malloc(block_size[k])) == NULL)
        return NULL;
    b->owner = (uintptr_t)hm | (uintptr_t)k;
    __atomic_add_fetch(&hm->live, 1, __ATOMIC_RELAXED);
    return b;
}

/* Give a chain of blocks back; returns how many of the home's references
 * that released. */
static size_t free_chain(header *b)
{
    header *next;
    size_t n = 0;

    for (; b; b = next) {
        next = b->next;
        n += block_free(b);
    }
    return n;
}

/* Thread exit: give back every block at hand and refuse returns from now. */
static void home_exit(void *arg)
{
    home *hm = arg;
    size_t n = 0;

    for (int k = 0; k < CLASSES; k++) {
        n += free_chain(__atomic_exchange_n(&hm->ret[k].returned, DEAD, __ATOMIC_ACQ_REL));
        n += free_chain(hm->own[k].list);
        hm->own[k].list = NULL;
    }
    for (int k = 0; k < SLABBED; k++) {
        /* The blocks never carved. */
        unsigned left = (SLAB_LINES - hm->carve[k].at) / block_lines(k);
        if (left > 0)
            n += slab_drop(hm->carve[k].slab, left);
    }
    tls_home = NULL;
    home_release(hm, n + 1);
}

static void home_key_init(void)
{
    (void)pthread_key_create(&home_key, home_exit);
}

static home *home_get(void)
{
    home *hm = tls_home;

    if (hm != NULL)
        return hm;
    if (pthread_once(&home_once, home_key_init) != 0)
        return NULL;
    /* The low bits of its address are free for a block's owner word. */
    hm = aligned_alloc(HOME_ALIGN, (sizeof(*hm) + HOME_ALIGN - 1) / HOME_ALIGN * HOME_ALIGN);
    if (hm == NULL)
        return NULL;
    memset(hm, 0, sizeof(*hm));
    hm->live = 1;
    for (int k = 0; k < SLABBED; k++)
        hm->carve[k].at = SLAB_LINES;
    if (pthread_setspecific(home_key, hm) != 0) {
        free(hm);
        return NULL;
    }
    tls_home = hm;
    return hm;
}

void *actor__msgmem_alloc(size_t size)
{
    header *b;
    home *hm;
    int k = 0;

    while (k < CLASSES - 1 && size > block_size[k] - sizeof(header))
        k++; /* the smallest class that holds it (the largest may not) */

    if (!MSGMEM_PLAIN && size <= block_size[k] - sizeof(header) && (hm = home_get()) != NULL) {
        if (hm->own[k].list == NULL) {
            /* Not walked to count it: each block's line was last written
             * by the thread that gave it back, and a walk is a chain of
             * such misses, one after the other. Returners count a block
             * before they push it, so the count taken here may include a
             * few still on their way: nlist is a bound, not a tally. */
            hm->own[k].list = __atomic_exchange_n(&hm->ret[k].returned, NULL, __ATOMIC_ACQUIRE);
            hm->own[k].nlist = __atomic_exchange_n(&hm->ret[k].nreturned, 0, __ATOMIC_RELAXED);
        }
        if ((b = hm->own[k].list) != NULL) {
            hm->own[k].list = b->next;
            if (hm->own[k].nlist > 0)
                hm->own[k].nlist--;
            /* The next allocation will read the next block's link: start
             * fetching its line now, while this message is built (a
             * prefetch of NULL is harmless). */
            __builtin_prefetch(b->next, 1);
            return b + 1;
        }
        if ((b = block_new(hm, k)) == NULL)
            return NULL;
        return b + 1;
    }
    if (size > SIZE_MAX - sizeof(header) || (b = malloc(sizeof(header) + size)) == NULL)
        return NULL;
    b->owner = 0;
    return b + 1;
}

void actor__msgmem_free(void *p)
{
    header *b, *old;
    home *hm;
    int k;

    if (p == NULL)
        return;
    b = (header *)p - 1;
    hm = (home *)(b->owner & ~OWNER_BITS);
    if (hm == NULL) {
        free(b);
        return;
    }
    k = (int)(b->owner & OWNER_CLASS);
    if (hm == tls_home) {
        if (hm->own[k].nlist < KEEP) {
            b->next = hm->own[k].list;
            hm->own[k].list = b;
            hm->own[k].nlist++;
            return;
        }
    } else if (__atomic_load_n(&hm->ret[k].nreturned, __ATOMIC_RELAXED) < KEEP) {
        /* Count it first: once the block is on the stack, its owner may
         * take it, exit and free `hm`, so nothing of hm may be touched
         * after a successful push. */
        __atomic_add_fetch(&hm->ret[k].nreturned, 1, __ATOMIC_RELAXED);
        old = __atomic_load_n(&hm->ret[k].returned, __ATOMIC_RELAXED);
        while (old != DEAD) {
            b->next = old;
            if (__atomic_compare_exchange_n(&hm->ret[k].returned, &old, b, 1, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED))
                return;
        }
    }
    /* Too many kept, or the owner is gone: back to malloc. */
    if (block_free(b) != 0)
        home_release(hm, 1);
}
