/*
 * fuzz_decode.c: libFuzzer target for a generated decoder (everything, the
 * corpus's largest type). Any input must decode or fail cleanly; whatever
 * decodes must encode, decode back equal, and re-encode to the same bytes.
 * Built only with clang (-fsanitize=fuzzer) and run for a bounded time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    everything v, back;
    actor_buf b1 = ACTOR_BUF_INIT, b2 = ACTOR_BUF_INIT;
    actor_json_error err;

    if (everything_decode(&v, data, size, &err) != 0) {
        everything_free(&v);
        return 0;
    }
    if (everything_encode(&b1, &v) != 0) {
        /* Only values that cannot come from JSON fail to encode. */
        fprintf(stderr, "encode failed: %s\n", actor_error_last());
        abort();
    }
    if (everything_decode(&back, b1.ptr, b1.size, NULL) != 0 || !everything_equal(&v, &back)) {
        fprintf(stderr, "round trip failed: %s\n", b1.ptr);
        abort();
    }
    if (everything_encode(&b2, &back) != 0 || b1.size != b2.size ||
        memcmp(b1.ptr, b2.ptr, b1.size) != 0) {
        fprintf(stderr, "re-encoding differs\n");
        abort();
    }
    everything_free(&v);
    everything_free(&back);
    actor_buf_dispose(&b1);
    actor_buf_dispose(&b2);
    return 0;
}
