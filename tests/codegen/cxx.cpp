/*
 * cxx.cpp: the generated header and source compiled as C++ (-std=c++11
 * -pedantic -Werror): this file includes the generated .c itself, then
 * round-trips a value to show the C++ build works.
 */
#include "types.gen.h"
#include "types.gen.c"

#include <cstdio>
#include <cstring>

int main()
{
    everything v, back;
    actor_buf b = ACTOR_BUF_INIT;
    char *tags[] = {const_cast<char *>("x")};

    everything_init(&v);
    v.text = const_cast<char *>("c++");
    v.tags = tags;
    v.tags_count = 1;
    v.s.u64 = UINT64_MAX;
    if (everything_encode(&b, &v) != 0 || everything_decode(&back, b.ptr, b.size, NULL) != 0) {
        std::fprintf(stderr, "%s\n", actor_error_last());
        return 1;
    }
    bool ok = everything_equal(&v, &back);
    everything_free(&back);
    actor_buf_dispose(&b);
    std::printf("c++ round trip: %s\n", ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
