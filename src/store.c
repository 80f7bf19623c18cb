/*
 * store.c: choosing and opening a storage provider from a store URL, and the
 * small lifecycle helpers of the provider interface (sys/provider.h). The
 * runtime never calls a provider member directly without going through a
 * provider opened here.
 */
#include <actor/sys/provider.h>

#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct scheme {
    const char *prefix;
    actor_provider_open_fn open;
};

static const struct scheme schemes[] = {
    {"sqlite:", actor__sqlite_provider_open},
#ifdef ACTOR_WITH_POSTGRES
    {"postgres://", actor__postgres_provider_open},
    {"postgresql://", actor__postgres_provider_open},
#endif
};

int actor_provider_open(actor_provider **out, const actor_provider_config *config)
{
    char q[300];
    int rc;

    if (out == NULL || config == NULL)
        return actor_error_set(ACTOR_EINVAL, "actor_provider_open: NULL argument");
    *out = NULL;
    if (config->version != ACTOR_PROVIDER_CONFIG_VERSION)
        return actor_error_set(ACTOR_EINVAL, "provider config version %u is not supported",
                               config->version);
    if (config->url == NULL || config->url[0] == '\0')
        return actor_error_set(ACTOR_EINVAL, "store URL is empty");
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (strncmp(config->url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
            rc = schemes[i].open(out, config);
            if (rc == 0 && (*out == NULL || (*out)->version < 1 || (*out)->apply == NULL ||
                            (*out)->state_get == NULL)) {
                actor_provider_free(*out);
                *out = NULL;
                return actor_error_set(ACTOR_ERROR, "provider for \"%s\" is incomplete",
                                       schemes[i].prefix);
            }
            return rc;
        }
    }
    actor__quote(q, sizeof(q), config->url);
#ifndef ACTOR_WITH_POSTGRES
    if (strncmp(config->url, "postgres", 8) == 0)
        return actor_error_set(ACTOR_EINVAL,
                               "store URL \"%s\": this libactor was built without PostgreSQL", q);
#endif
    return actor_error_set(ACTOR_EINVAL,
                           "unknown store URL \"%s\": expected sqlite:PATH, sqlite::memory:, "
                           "postgres://... or postgresql://...",
                           q);
}

void actor_provider_free(actor_provider *provider)
{
    if (provider && provider->free)
        provider->free(provider);
}

void actor_lease_info_dispose(actor_lease_info *info)
{
    if (info == NULL)
        return;
    actor_buf_dispose(&info->host_id);
    actor_buf_dispose(&info->address);
}

void actor_store_op_dispose(actor_store_op *op)
{
    if (op == NULL)
        return;
    actor_buf_dispose(&op->holder_id);
    actor_buf_dispose(&op->holder_addr);
}
