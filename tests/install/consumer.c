/*
 * consumer.c: a program built outside the tree against an installed
 * libactor with nothing but `cc $(pkg-config --cflags --libs actor)`.
 */
#include <actor/actor.h>

#include <stdio.h>
#include <string.h>

static int echo(actor_buf *response, void *instance, actor_ctx *ctx, const char *method,
                const void *request, size_t request_len, void *payload)
{
    int rc = actor_ctx_state_set(ctx, request, request_len, 0);
    return rc ? rc : actor_buf_put(response, request, request_len);
}

int main(void)
{
    actor_host *host = NULL;
    actor_type t = ACTOR_TYPE_INIT;
    actor_buf out = ACTOR_BUF_INIT;
    int ok;

    t.name = "echo";
    t.invoke = echo;
    if (actor_host_new(&host, "sqlite::memory:", NULL) != 0 ||
        actor_host_register(host, &t, NULL) != 0 || actor_host_start(host) != 0 ||
        actor_invoke(&out, host, "echo", "e1", "say", "hello", 5) != 0) {
        fprintf(stderr, "consumer: %s\n", actor_error_last());
        return 1;
    }
    ok = out.size == 5 && memcmp(out.ptr, "hello", 5) == 0;
    printf("%d passed, %d failed\n", ok, !ok);
    actor_buf_dispose(&out);
    actor_host_free(host);
    return ok ? 0 : 1;
}
