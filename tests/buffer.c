/*
 * buffer.c: actor_buf, and the error record (actor_error_*, actor_strerror).
 */
#include "test.h"

static void test_buf_set_put(void)
{
    actor_buf b = ACTOR_BUF_INIT;

    T_OK(actor_buf_set(&b, "hello", 5));
    T_EQ(b.size, 5);
    T_STREQ(b.ptr, "hello");
    T_OK(actor_buf_put(&b, ", world", 7));
    T_STREQ(b.ptr, "hello, world");
    T_OK(actor_buf_puts(&b, "!"));
    T_EQ(b.size, 13);
    actor_buf_clear(&b);
    T_EQ(b.size, 0);
    T_STREQ(b.ptr, "");
    T_OK(actor_buf_set(&b, NULL, 0));
    T_EQ(b.size, 0);
    actor_buf_dispose(&b);
    T_CHECK(b.ptr == NULL && b.size == 0 && b.asize == 0);
    actor_buf_dispose(&b);
    actor_buf_dispose(NULL);
}

static void test_buf_binary_and_large(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    char chunk[1000];

    memset(chunk, 0, sizeof(chunk));
    chunk[500] = 'x';
    for (int i = 0; i < 2000; i++)
        T_OK(actor_buf_put(&b, chunk, sizeof(chunk)));
    T_EQ(b.size, 2000000);
    T_EQ(b.ptr[500], 'x');
    T_EQ(b.ptr[1999500], 'x');
    T_EQ(b.ptr[b.size], '\0');
    actor_buf_dispose(&b);
}

static void test_buf_bad_args(void)
{
    actor_buf b = ACTOR_BUF_INIT;

    T_EQ(actor_buf_set(NULL, "a", 1), ACTOR_EINVAL);
    T_EQ(actor_buf_set(&b, NULL, 3), ACTOR_EINVAL);
    T_EQ(actor_buf_put(&b, NULL, 3), ACTOR_EINVAL);
    T_EQ(actor_buf_puts(&b, NULL), ACTOR_EINVAL);
    T_EQ(actor_buf_grow(&b, SIZE_MAX), ACTOR_ENOMEM);
    T_CHECK(b.ptr == NULL);
}

static void test_error_record(void)
{
    actor_error_clear();
    T_STREQ(actor_error_last(), "");
    T_EQ(actor_error_last_code(), 0);
    T_EQ(actor_error_set(ACTOR_EINVAL, "bad %s %d", "thing", 7), ACTOR_EINVAL);
    T_STREQ(actor_error_last(), "bad thing 7");
    T_EQ(actor_error_last_code(), ACTOR_EINVAL);
    /* The record may be passed back to itself. */
    actor_error_set(ACTOR_ESTORE, "wrapped: %s", actor_error_last());
    T_STREQ(actor_error_last(), "wrapped: bad thing 7");
    for (int code = 0; code >= ACTOR_EDECODE; code--) {
        T_CHECK(actor_strerror(code) != NULL);
        T_CHECK(strcmp(actor_strerror(code), "unknown error") != 0);
    }
    T_STREQ(actor_strerror(-5000), "application error");
    T_STREQ(actor_strerror(12345), "unknown error");
}

int main(void)
{
    T_RUN(test_buf_set_put);
    T_RUN(test_buf_binary_and_large);
    T_RUN(test_buf_bad_args);
    T_RUN(test_error_record);
    return t_done();
}
