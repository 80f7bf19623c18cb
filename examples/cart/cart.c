/*
 * cart.c: the shopping cart example. A "cart" actor keeps its items in a
 * typed state (cart_state, generated from cart_state.h) written with a TTL,
 * so abandoned carts expire; its methods are add, remove, list and checkout
 * (which deletes the state). main() runs a host on SQLite (in memory, or
 * the file given as argv[1]), drives two carts, prints what happened and
 * checks it.
 *
 * Run: ./cart [sqlite-file]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actor/actor.h>
#include <actor/sys/provider.h>

#include "cart_state.gen.h"

/* Carts nobody touched for a day disappear. */
#define CART_TTL_MS (24 * 60 * 60 * 1000)

static int add(actor_ctx *ctx, const void *request, size_t len)
{
    cart_add req;
    cart_state cart;
    cart_item *grown;
    int rc;

    if ((rc = cart_add_decode(&req, request, len, NULL)) != 0)
        return rc; /* ACTOR_EDECODE, the message names the bad field */
    if (req.quantity == 0 || req.price_cents < 0)
        return actor_error_set(ACTOR_EINVAL, "add: quantity must be > 0 and price >= 0");
    if ((rc = cart_state_state_get(&cart, ctx)) != 0)
        return rc;
    for (size_t i = 0; i < cart.items_count; i++) {
        if (strcmp(cart.items[i].name, req.name) == 0) {
            cart.items[i].quantity += req.quantity;
            cart.items[i].price_cents = req.price_cents;
            goto save;
        }
    }
    grown = realloc(cart.items, (cart.items_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        cart_state_free(&cart);
        return actor_error_set(ACTOR_ENOMEM, "add: out of memory");
    }
    cart.items = grown;
    memcpy(cart.items[cart.items_count].name, req.name, sizeof(req.name));
    cart.items[cart.items_count].quantity = req.quantity;
    cart.items[cart.items_count].price_cents = req.price_cents;
    cart.items_count++;
save:
    cart.updated_ms = actor_time_now_ms();
    rc = cart_state_state_set(ctx, &cart, CART_TTL_MS);
    cart_state_free(&cart);
    return rc;
}

static int remove_item(actor_ctx *ctx, const void *request, size_t len)
{
    cart_state cart;
    int rc;

    if ((rc = cart_state_state_get(&cart, ctx)) != 0)
        return rc;
    for (size_t i = 0; i < cart.items_count; i++) {
        if (strlen(cart.items[i].name) == len && memcmp(cart.items[i].name, request, len) == 0) {
            memmove(&cart.items[i], &cart.items[i + 1],
                    (cart.items_count - i - 1) * sizeof(cart.items[0]));
            cart.items_count--;
            cart.updated_ms = actor_time_now_ms();
            rc = cart_state_state_set(ctx, &cart, CART_TTL_MS);
            cart_state_free(&cart);
            return rc;
        }
    }
    cart_state_free(&cart);
    return actor_error_set(ACTOR_ENOTFOUND, "remove: no item named %.*s", (int)len,
                           (const char *)request);
}

static int list(actor_buf *response, actor_ctx *ctx)
{
    cart_state cart;
    int rc;

    if ((rc = cart_state_state_get(&cart, ctx)) != 0)
        return rc;
    rc = cart_state_encode(response, &cart);
    cart_state_free(&cart);
    return rc;
}

static int checkout(actor_buf *response, actor_ctx *ctx)
{
    cart_state cart;
    cart_receipt receipt = {0, 0};
    int rc;

    if ((rc = cart_state_state_get(&cart, ctx)) != 0)
        return rc;
    if (cart.items_count == 0) {
        cart_state_free(&cart);
        return actor_error_set(ACTOR_EINVAL, "checkout: the cart is empty");
    }
    for (size_t i = 0; i < cart.items_count; i++) {
        receipt.items += cart.items[i].quantity;
        receipt.total_cents += (int64_t)cart.items[i].quantity * cart.items[i].price_cents;
    }
    cart_state_free(&cart);
    /* Paid: the cart is gone. Deleting is idempotent. */
    if ((rc = cart_state_state_delete(ctx)) != 0)
        return rc;
    return cart_receipt_encode(response, &receipt);
}

static int cart_invoke(actor_buf *response, void *instance, actor_ctx *ctx, const char *method,
                       const void *request, size_t request_len, void *payload)
{
    (void)instance;
    (void)payload;
    if (strcmp(method, "add") == 0)
        return add(ctx, request, request_len);
    if (strcmp(method, "remove") == 0)
        return remove_item(ctx, request, request_len);
    if (strcmp(method, "list") == 0)
        return list(response, ctx);
    if (strcmp(method, "checkout") == 0)
        return checkout(response, ctx);
    return actor_error_set(ACTOR_EINVAL, "cart has no method %s", method);
}

/* Invoke and print; returns the call's result. */
static int call(actor_host *host, const char *id, const char *method, const char *request,
                actor_buf *out)
{
    int rc = actor_invoke(out, host, "cart", id, method, request, request ? strlen(request) : 0);
    if (rc == 0)
        printf("%s.%s -> %s\n", id, method, out->size ? out->ptr : "ok");
    else
        printf("%s.%s -> error %d: %s\n", id, method, rc, actor_error_last());
    return rc;
}

int main(int argc, char **argv)
{
    char url[1024] = "sqlite::memory:";
    actor_type type = ACTOR_TYPE_INIT;
    actor_host *host = NULL;
    actor_buf out = ACTOR_BUF_INIT;
    cart_state stored;
    int failures = 0;
    const char *want_list = "{\"items\":[{\"name\":\"book\",\"quantity\":1,\"price\":1250},"
                            "{\"name\":\"pen\",\"quantity\":4,\"price\":199}],\"updated_ms\":";

    if (argc > 1)
        snprintf(url, sizeof(url), "sqlite:%s", argv[1]);
    type.name = "cart";
    type.invoke = cart_invoke;
    if (actor_host_new(&host, url, NULL) != 0 || actor_host_register(host, &type, NULL) != 0 ||
        actor_host_start(host) != 0) {
        fprintf(stderr, "cart: %s\n", actor_error_last());
        actor_host_free(host);
        return 1;
    }

    failures +=
        call(host, "alice", "add", "{\"name\":\"book\",\"quantity\":1,\"price\":1250}", &out) != 0;
    failures +=
        call(host, "alice", "add", "{\"name\":\"pen\",\"quantity\":3,\"price\":199}", &out) != 0;
    failures +=
        call(host, "alice", "add", "{\"name\":\"pen\",\"quantity\":1,\"price\":199}", &out) != 0;
    failures +=
        call(host, "bob", "add", "{\"name\":\"lamp\",\"quantity\":1,\"price\":4500}", &out) != 0;
    failures += call(host, "alice", "list", NULL, &out) != 0;
    failures += strncmp(out.ptr, want_list, strlen(want_list)) != 0;
    /* Bad requests are refused with the path of the bad value. */
    failures +=
        call(host, "bob", "add", "{\"name\":\"lamp\",\"quantity\":-1}", &out) != ACTOR_EDECODE;
    failures += call(host, "bob", "remove", "lamp", &out) != 0;
    failures += call(host, "bob", "checkout", NULL, &out) != ACTOR_EINVAL;
    failures += call(host, "alice", "checkout", NULL, &out) != 0;
    failures += strcmp(out.ptr, "{\"items\":5,\"total\":2046}") != 0;
    /* After checkout the state is gone: the typed read gives the zero value. */
    failures += cart_state_state_get_at(&stored, host, "cart", "alice") != 0;
    failures += stored.items_count != 0;
    cart_state_free(&stored);
    failures += actor_state_get(&out, host, "cart", "alice") != ACTOR_ENOTFOUND;

    actor_buf_dispose(&out);
    actor_host_free(host);
    printf("%s\n", failures ? "cart example: FAILED" : "cart example: ok");
    return failures ? 1 : 0;
}
