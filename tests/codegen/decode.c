/*
 * decode.c: the decoding rules of generated code. Unknown fields are
 * ignored, missing ones and nulls decode as zero, duplicate keys are
 * refused, and every refusal (wrong type, out of range, fraction, unknown
 * enum name, too long for char[N], too many elements) names the JSON path,
 * line, column and byte offset of the offending value. A failed decode
 * leaves the zero value.
 */
#include "test.h"

#include "types.gen.h"

/* Decode `json` as an everything; expect failure at `path` with a message
 * containing `msg`. */
#define EXPECT_FAIL(json, want_path, want_msg)                                                     \
    do {                                                                                           \
        everything v_;                                                                             \
        actor_json_error e_;                                                                       \
        int rc_ = everything_decode(&v_, (json), strlen(json), &e_);                               \
        T_EQ(rc_, ACTOR_EDECODE);                                                                  \
        T_STREQ(e_.path, (want_path));                                                             \
        T_CONTAINS(e_.message, (want_msg));                                                        \
        T_CONTAINS(actor_error_last(), (want_msg));                                                \
        T_CHECK(e_.line >= 1 && e_.column >= 1);                                                   \
        everything_free(&v_);                                                                      \
    } while (0)

static void test_unknown_fields_ignored(void)
{
    const char *doc = "{\"future\":{\"deep\":[1,2,{\"x\":null}]},\"text\":\"hi\",\"more\":3}";
    everything v;
    T_OK(everything_decode(&v, doc, strlen(doc), NULL));
    T_STREQ(v.text, "hi");
    everything_free(&v);
}

static void test_missing_and_null_are_zero(void)
{
    const char *docs[] = {
        "{}",
        "null",
        "{\"s\":null,\"text\":null,\"code\":null,\"shape\":null,\"origin\":null,\"items\":null,"
        "\"tags\":null,\"numbers\":null,\"colors\":null,\"path\":null,\"grid\":null,"
        "\"names\":null,\"labels\":null,\"best\":null,\"weights\":null,\"is_done\":null}",
        "{\"s\":{\"b\":null,\"i8\":null,\"u64\":null,\"f\":null,\"d\":null},\"items\":[],"
        "\"grid\":[null,[null]],\"best\":[{\"name\":null,\"tint\":null}]}",
    };
    everything zero;
    everything_init(&zero);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        everything v;
        T_OK(everything_decode(&v, docs[i], strlen(docs[i]), NULL));
        T_CHECK(everything_equal(&v, &zero));
        T_CHECK(v.items == NULL && v.items_count == 0 && v.text == NULL);
        everything_free(&v);
    }
}

static void test_values(void)
{
    const char *doc =
        "{\"s\":{\"b\":true,\"i8\":-128,\"u8\":255,\"u64\":\"18446744073709551615\",\"i32\":2,"
        "\"i64\":1000,\"f\":1.5,\"d\":-2},\"code\":\"1234567\",\"shape\":\"circle\","
        "\"items\":[{\"name\":\"a\",\"quantity\":2,\"price\":9.99,\"tint\":\"blue\"}],"
        "\"tags\":[\"x\",null],\"grid\":[[1],[4,5,6]],\"weights\":[0.5],\"is_done\":true}";
    everything v;
    T_OK(everything_decode(&v, doc, strlen(doc), NULL));
    T_CHECK(v.s.b && v.s.i8 == -128 && v.s.u8 == 255 && v.s.u64 == UINT64_MAX);
    T_CHECK(v.s.i32 == 2 && v.s.i64 == 1000 && v.s.f == 1.5f && v.s.d == -2.0);
    T_STREQ(v.code, "1234567");
    T_CHECK(v.shape == SHAPE_CIRCLE);
    T_EQ(v.items_count, 1);
    T_STREQ(v.items[0].name, "a");
    T_CHECK(v.items[0].qty == 2 && v.items[0].price == 9.99 && v.items[0].tint == COLOR_BLUE);
    T_EQ(v.tags_count, 2);
    T_STREQ(v.tags[0], "x");
    T_CHECK(v.tags[1] == NULL);
    T_CHECK(v.grid[0][0] == 1 && v.grid[0][1] == 0 && v.grid[1][2] == 6);
    T_CHECK(v.weights[0] == 0.5 && v.weights[1] == 0 && v.done);
    everything_free(&v);
}

static void test_duplicate_keys_refused(void)
{
    const char *doc = "{\"text\":\"a\",\"text\":\"b\"}";
    everything v;
    actor_json_error e;
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_CONTAINS(e.message, "duplicate object key");
    T_CHECK(v.text == NULL);
    /* Also in nested objects, and in fields the struct does not know. */
    doc = "{\"origin\":{\"x\":1,\"x\":2}}";
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_STREQ(e.path, "/origin");
    doc = "{\"zz\":{\"q\":1,\"q\":1}}";
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
}

static void test_wrong_types(void)
{
    EXPECT_FAIL("{\"text\":5}", "/text", "expected a string, got an integer");
    EXPECT_FAIL("{\"s\":[]}", "/s", "expected an object, got an array");
    EXPECT_FAIL("{\"s\":{\"b\":1}}", "/s/b", "expected a boolean, got an integer");
    EXPECT_FAIL("{\"s\":{\"d\":\"1\"}}", "/s/d", "expected a number, got a string");
    EXPECT_FAIL("{\"items\":{}}", "/items", "expected an array, got an object");
    EXPECT_FAIL("{\"items\":[{},{},{\"quantity\":\"3\"}]}", "/items/2/quantity",
                "expected an integer, got a string");
    EXPECT_FAIL("{\"items\":[{\"tint\":1}]}", "/items/0/tint", "expected a string");
    EXPECT_FAIL("{\"grid\":[[1],[2,true]]}", "/grid/1/1", "expected an integer, got a boolean");
    EXPECT_FAIL("{\"tags\":[\"a\",[]]}", "/tags/1", "expected a string, got an array");
    EXPECT_FAIL("{\"best\":[{},{\"name\":{}}]}", "/best/1/name", "expected a string");
    EXPECT_FAIL("{\"path\":[{\"x\":1},5]}", "/path/1", "expected an object, got an integer");
    EXPECT_FAIL("[]", "", "expected an object, got an array");
    EXPECT_FAIL("\"x\"", "", "expected an object, got a string");
}

static void test_ranges_and_fractions(void)
{
    EXPECT_FAIL("{\"s\":{\"u8\":300}}", "/s/u8", "300 is out of range [0, 255]");
    EXPECT_FAIL("{\"s\":{\"u32\":-1}}", "/s/u32", "-1 is out of range [0, 4294967295]");
    EXPECT_FAIL("{\"s\":{\"i8\":-129}}", "/s/i8", "-129 is out of range [-128, 127]");
    EXPECT_FAIL("{\"s\":{\"i32\":2147483648}}", "/s/i32", "out of range");
    /* jansson holds integers as int64: 2^63 fails while parsing, and the
     * report still names the value's path. */
    EXPECT_FAIL("{\"s\":{\"i64\":9223372036854775808}}", "/s/i64", "too big integer");
    EXPECT_FAIL("{\"s\":{\"u64\":\"18446744073709551616\"}}", "/s/u64", "out of range");
    EXPECT_FAIL("{\"s\":{\"u64\":\"12a\"}}", "/s/u64", "decimal digits");
    EXPECT_FAIL("{\"s\":{\"u32\":\"12\"}}", "/s/u32", "expected an integer, got a string");
    EXPECT_FAIL("{\"s\":{\"i16\":1.5}}", "/s/i16", "expected an integer, got 1.5");
    EXPECT_FAIL("{\"s\":{\"i64\":1e300}}", "/s/i64",
                "expected an integer, got 1.0000000000000001e+300");
    EXPECT_FAIL("{\"s\":{\"i32\":2.0}}", "/s/i32", "expected an integer, got 2");
    EXPECT_FAIL("{\"s\":{\"u8\":1e2}}", "/s/u8", "expected an integer, got 100");
    EXPECT_FAIL("{\"s\":{\"f\":1e39}}", "/s/f", "out of range for a float");
    EXPECT_FAIL("{\"s\":{\"d\":1e400}}", "/s/d", "real number overflow");
}

static void test_enums_chars_arrays(void)
{
    EXPECT_FAIL("{\"items\":[{\"tint\":\"purple\"}]}", "/items/0/tint",
                "unknown color name \"purple\"");
    /* Enumerators with a JSON name are only known by it. */
    EXPECT_FAIL("{\"items\":[{\"tint\":\"COLOR_BLUE\"}]}", "/items/0/tint", "unknown color name");
    EXPECT_FAIL("{\"shape\":\"SHAPE_CIRCLE\"}", "/shape", "unknown shape name");
    EXPECT_FAIL("{\"code\":\"12345678\"}", "/code",
                "string of 8 bytes is too long for char[8] (at most 7)");
    EXPECT_FAIL("{\"names\":[\"ok\",\"\xc3\xa9\xc3\xa9\xc3\xa9\"]}", "/names/1", "too long");
    EXPECT_FAIL("{\"weights\":[1,2,3,4]}", "/weights", "4 elements, at most 3");
    EXPECT_FAIL("{\"grid\":[[],[],[]]}", "/grid", "3 elements, at most 2");
    EXPECT_FAIL("{\"grid\":[[],[1,2,3,4]]}", "/grid/1", "4 elements, at most 3");
}

/* The order of reports is that of a tree walk after a full parse: a text
 * that does not parse wins over a value that does not fit, and a fixed
 * array's size is checked before its elements. */
static void test_report_order(void)
{
    const char *doc = "{\"text\":5,\"s\":{\"b\":tru}}";
    everything v;
    actor_json_error e;

    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_CONTAINS(e.message, "invalid token");
    T_STREQ(e.path, "/s/b");
    doc = "{\"text\":5,\"zz\":{\"a\":1,\"a\":2}}";
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_CONTAINS(e.message, "duplicate object key");
    EXPECT_FAIL("{\"weights\":[1,\"x\",3,4]}", "/weights", "4 elements, at most 3");
    EXPECT_FAIL("{\"grid\":[[1,\"x\"],[1,2,3,4],[5]]}", "/grid", "3 elements, at most 2");
    EXPECT_FAIL("{\"grid\":[[1,\"x\"],[1,2,3,4]]}", "/grid/0/1", "expected an integer");
    EXPECT_FAIL("{\"grid\":[[1,2],[1,true,3,4]]}", "/grid/1", "4 elements, at most 3");
    EXPECT_FAIL("{\"text\":5,\"weights\":[1,2,3,4]}", "/text", "expected a string");
    /* Keys are compared unescaped, also for duplicates. */
    doc = "{\"zz\":1,\"z\\u007a\":2}";
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_CONTAINS(e.message, "duplicate object key");
    doc = "{\"te\\u0078t\":\"hi\",\"text\":\"again\"}";
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    doc = "{\"te\\u0078t\":\"h\\u00e9\\ud83d\\ude00?\"}";
    T_OK(everything_decode(&v, doc, strlen(doc), &e));
    T_STREQ(v.text, "h\xc3\xa9\xf0\x9f\x98\x80?");
    everything_free(&v);
}

static void test_location(void)
{
    const char *doc = "{\n  \"s\": {\"u8\": 1},\n  \"items\": [\n    {\"quantity\": 1},\n"
                      "    {\"quantity\": \"\xc3\xa9x\"}\n  ]\n}";
    const char *at = strstr(doc, "\"\xc3\xa9x\"");
    everything v;
    actor_json_error e;

    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_STREQ(e.path, "/items/1/quantity");
    T_EQ(e.position, at - doc);
    T_EQ(e.line, 5);
    T_EQ(e.column, (int)strlen("    {\"quantity\": ") + 1);
    T_CONTAINS(actor_error_last(), "cannot decode everything: /items/1/quantity: expected an "
                                   "integer, got a string (line 5, column 18, byte ");

    /* A syntax error: where the parser stopped. */
    doc = "{\"text\": \"a\",\n \"s\": {\"b\": tru}}";
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_EQ(e.line, 2);
    T_CHECK(e.column > 1);
    T_STREQ(e.path, "/s/b");
    T_CONTAINS(e.message, "invalid token");
}

static void test_failed_decode_leaves_zero(void)
{
    /* Strings and arrays already decoded are released again. */
    const char *doc = "{\"text\":\"kept?\",\"tags\":[\"a\",\"b\"],\"items\":[{\"name\":\"n\"}],"
                      "\"labels\":[\"l\"],\"is_done\":true,\"s\":{\"u8\":-1}}";
    everything v, zero;
    everything_init(&zero);
    T_EQ(everything_decode(&v, doc, strlen(doc), NULL), ACTOR_EDECODE);
    T_CHECK(everything_equal(&v, &zero));
    T_CHECK(v.text == NULL && v.tags == NULL && v.items == NULL && v.labels[0] == NULL);
    everything_free(&v); /* safe on the zero value */
    everything_free(NULL);
}

static void test_bad_arguments(void)
{
    everything v;
    actor_buf b = ACTOR_BUF_INIT;
    T_EQ(everything_decode(NULL, "{}", 2, NULL), ACTOR_EINVAL);
    T_EQ(everything_decode(&v, NULL, 5, NULL), ACTOR_EINVAL);
    T_EQ(everything_decode(&v, "", 0, NULL), ACTOR_EDECODE);
    T_EQ(everything_encode(&b, NULL), ACTOR_EINVAL);
    T_EQ(everything_encode(NULL, &v), ACTOR_EINVAL);
    T_EQ(everything_copy(NULL, &v), ACTOR_EINVAL);
}

int main(void)
{
    T_RUN(test_unknown_fields_ignored);
    T_RUN(test_missing_and_null_are_zero);
    T_RUN(test_values);
    T_RUN(test_duplicate_keys_refused);
    T_RUN(test_wrong_types);
    T_RUN(test_ranges_and_fractions);
    T_RUN(test_enums_chars_arrays);
    T_RUN(test_report_order);
    T_RUN(test_location);
    T_RUN(test_failed_decode_leaves_zero);
    T_RUN(test_bad_arguments);
    return t_done();
}
