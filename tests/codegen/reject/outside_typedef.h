#include <time.h>

struct s {
    time_t when;
};
