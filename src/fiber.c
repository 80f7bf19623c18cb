/*
 * fiber.c: stacks to run turns on, and the switch between them. A fiber is
 * a stack of its own (mmap'd, with a guard page; its pages are committed
 * only as they are touched) or the calling thread's own stack; switching
 * saves the callee-saved registers of one and restores those of the other,
 * all in user space. The pool (pool.c) uses it to park a turn that waits on
 * the group commit and run other actors on the same thread meanwhile.
 *
 * Fibers never move between threads: each is created, switched to and
 * freed by one thread, so thread-local variables stay the thread's own.
 *
 * On x86-64 the switch is a few instructions of assembly; elsewhere (or
 * with ACTOR_FIBER_UCONTEXT defined) it is swapcontext(), which also saves
 * and restores the signal mask at the price of a system call or two.
 * Under AddressSanitizer and ThreadSanitizer every switch is announced to
 * the sanitizer, and Valgrind is told where each stack is, so they follow
 * the stacks.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FIBER_TSAN 1
#endif
#endif

#ifdef FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Valgrind is told where each stack is (its client requests cost nothing
 * outside Valgrind); the header comes with Debian's valgrind package. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FIBER_VALGRIND 1
#endif
#endif

#if defined(__x86_64__) && !defined(ACTOR_FIBER_UCONTEXT)
#define FIBER_ASM 1
#else
#include <ucontext.h>
#endif

struct actor__fiber_ctx {
#ifdef FIBER_ASM
    void *sp; /* saved stack pointer; the registers are on the stack */
#else
    ucontext_t uc;
#endif
    void (*entry)(void *arg);
    void *arg;
    void *map; /* the mapping (guard page included); NULL: a thread's own stack */
    size_t map_size;
    const void *bottom; /* lowest address of the usable stack */
    size_t size;
#ifdef FIBER_ASAN
    void *fake; /* AddressSanitizer's fake stack while switched away */
#endif
#ifdef FIBER_TSAN
    void *tsan;
#endif
#ifdef FIBER_VALGRIND
    unsigned vg_stack;
#endif
};

/* The fiber running on this thread (set by every switch). */
static _Thread_local actor__fiber *tls_current;

#ifdef FIBER_ASM
/* fiber_jump(&from_sp, to_sp): push the callee-saved registers and the
 * floating-point control words, save the stack pointer in *from_sp, load
 * to_sp, pop the same from there and return into the other stack. */
void actor__fiber_jump(void **from_sp, void *to_sp);
__asm__(".text\n"
        ".globl actor__fiber_jump\n"
        ".hidden actor__fiber_jump\n"
        ".type actor__fiber_jump, @function\n"
        "actor__fiber_jump:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size actor__fiber_jump, .-actor__fiber_jump\n");
#endif

/* Every fiber of our own starts here, on its new stack. */
static void trampoline(void)
{
    actor__fiber *f = tls_current;

#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    f->ctx->entry(f->ctx->arg);
    abort(); /* an entry never returns: it switches away for good */
}

/* A fiber and its context in one allocation, freed with free(f). */
static actor__fiber *fiber_alloc(void)
{
    struct block {
        actor__fiber f;
        actor__fiber_ctx x;
    } *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->f.ctx = &b->x;
    return &b->f;
}

actor__fiber *actor__fiber_self(void)
{
    actor__fiber *f;
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;

    if (tls_current != NULL)
        return tls_current;
    if ((f = fiber_alloc()) == NULL)
        return NULL;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        (void)pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    f->ctx->bottom = addr;
    f->ctx->size = size;
#ifdef FIBER_TSAN
    f->ctx->tsan = __tsan_get_current_fiber();
#endif
    tls_current = f;
    return f;
}

actor__fiber *actor__fiber_new(size_t stack_size, void (*entry)(void *arg), void *arg)
{
    long page = sysconf(_SC_PAGESIZE);
    actor__fiber *f;
    actor__fiber_ctx *x;
    char *map;
    size_t ps = page > 0 ? (size_t)page : 4096;

    stack_size = (stack_size + ps - 1) / ps * ps;
    if ((f = fiber_alloc()) == NULL)
        return NULL;
    x = f->ctx;
    map = mmap(NULL, stack_size + ps, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        free(f);
        return NULL;
    }
    /* The lowest page stays unmapped for access: an overflow faults. */
    if (mprotect(map, ps, PROT_NONE) != 0)
        goto fail;
    x->map = map;
    x->map_size = stack_size + ps;
    x->bottom = map + ps;
    x->size = stack_size;
    x->entry = entry;
    x->arg = arg;
#ifdef FIBER_ASM
    {
        /* The first jump pops these and returns into trampoline with the
         * stack aligned as if it had been called. */
        uintptr_t top = ((uintptr_t)map + x->map_size) & ~(uintptr_t)15;
        uint64_t *sp = (uint64_t *)top;
        *--sp = 0; /* trampoline's return address */
        *--sp = (uint64_t)(uintptr_t)trampoline;
        for (int i = 0; i < 6; i++)
            *--sp = 0;                      /* rbp rbx r12 r13 r14 r15 */
        *--sp = 0x1F80 | (0x037FULL << 32); /* MXCSR, x87 control word */
        x->sp = sp;
    }
#else
    if (getcontext(&x->uc) != 0)
        goto fail;
    x->uc.uc_stack.ss_sp = (void *)x->bottom;
    x->uc.uc_stack.ss_size = x->size;
    x->uc.uc_link = NULL;
    makecontext(&x->uc, trampoline, 0);
#endif
#ifdef FIBER_TSAN
    x->tsan = __tsan_create_fiber(0);
#endif
#ifdef FIBER_VALGRIND
    x->vg_stack = VALGRIND_STACK_REGISTER(x->bottom, (const char *)x->bottom + x->size);
#endif
    return f;
fail:
    munmap(map, stack_size + ps);
    free(f);
    return NULL;
}

void actor__fiber_switch(actor__fiber *from, actor__fiber *to, int from_ends)
{
    actor__fiber_ctx *a = from->ctx, *b = to->ctx;

    tls_current = to;
#ifdef FIBER_TSAN
    __tsan_switch_to_fiber(b->tsan, 0);
#endif
#ifdef FIBER_ASAN
    __sanitizer_start_switch_fiber(from_ends ? NULL : &a->fake, b->bottom, b->size);
#else
    (void)from_ends;
#endif
#ifdef FIBER_ASM
    actor__fiber_jump(&a->sp, b->sp);
#else
    (void)swapcontext(&a->uc, &b->uc);
#endif
#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(a->fake, NULL, NULL);
#endif
}

void actor__fiber_free(actor__fiber *f)
{
    if (f == NULL)
        return;
    if (f->ctx->map != NULL) {
#ifdef FIBER_ASAN
        /* Frames left on the stack leave poisoned shadow behind; memory
         * mapped here later must not inherit it. */
        __asan_unpoison_memory_region(f->ctx->map, f->ctx->map_size);
#endif
#ifdef FIBER_TSAN
        __tsan_destroy_fiber(f->ctx->tsan);
#endif
#ifdef FIBER_VALGRIND
        VALGRIND_STACK_DEREGISTER(f->ctx->vg_stack);
#endif
        munmap(f->ctx->map, f->ctx->map_size);
    } else if (tls_current == f) {
        tls_current = NULL;
    }
    free(f);
}
