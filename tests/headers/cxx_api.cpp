// cxx_api.cpp: the umbrella header used from C++: declarations link with C
// linkage and the basic calls behave.
#include <actor/actor.h>

#include <cstdio>
#include <cstring>

int main()
{
    actor_buf buf = ACTOR_BUF_INIT;
    actor_host *host = nullptr;
    int failed = 0;

    if (std::strcmp(actor_version(), ACTOR_VERSION_STRING) != 0)
        failed++;
    if (actor_buf_set(&buf, "abc", 3) != 0 || buf.size != 3)
        failed++;
    actor_buf_dispose(&buf);
    if (actor_host_new(&host, "nosuch:thing", nullptr) != ACTOR_EINVAL)
        failed++;
    if (std::strstr(actor_error_last(), "nosuch:thing") == nullptr)
        failed++;
    std::printf("%d passed, %d failed\n", 4 - failed, failed);
    return failed ? 1 : 0;
}
