/*
 * main.c: the outside project's program. Round-trips a profile through the
 * generated codec, then counts visits in an actor's typed state on an
 * in-memory SQLite host. Exits 0 when everything matched.
 */
#include <stdio.h>
#include <string.h>

#include "profile.gen.h"

static int visit(actor_buf *response, void *instance, actor_ctx *ctx, const char *method,
                 const void *request, size_t request_len, void *payload)
{
    profile p;
    int rc;

    (void)instance, (void)method, (void)request, (void)request_len, (void)payload;
    if ((rc = profile_state_get(&p, ctx)) != 0)
        return rc;
    p.visits++;
    rc = profile_state_set(ctx, &p, 0);
    if (rc == 0)
        rc = profile_encode(response, &p);
    profile_free(&p);
    return rc;
}

int main(void)
{
    char *tags[] = {"a", "b"};
    profile in = {"ada", 7, tags, 2}, out;
    actor_buf buf = ACTOR_BUF_INIT;
    actor_type type = ACTOR_TYPE_INIT;
    actor_host *host = NULL;
    int ok;

    if (profile_encode(&buf, &in) != 0 || profile_decode(&out, buf.ptr, buf.size, NULL) != 0) {
        fprintf(stderr, "codec: %s\n", actor_error_last());
        return 1;
    }
    ok = profile_equal(&in, &out);
    profile_free(&out);
    if (!ok)
        return 1;

    type.name = "visitor";
    type.invoke = visit;
    if (actor_host_new(&host, "sqlite::memory:", NULL) != 0 ||
        actor_host_register(host, &type, NULL) != 0 || actor_host_start(host) != 0) {
        fprintf(stderr, "host: %s\n", actor_error_last());
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        if (actor_invoke(&buf, host, "visitor", "v1", "visit", NULL, 0) != 0) {
            fprintf(stderr, "invoke: %s\n", actor_error_last());
            return 1;
        }
    }
    printf("%s\n", buf.ptr);
    ok = strcmp(buf.ptr, "{\"name\":null,\"visits\":3,\"tags\":[]}") == 0;
    actor_buf_dispose(&buf);
    actor_host_free(host);
    return ok ? 0 : 1;
}
