#include <time.h>

struct s {
    struct timespec when;
};
