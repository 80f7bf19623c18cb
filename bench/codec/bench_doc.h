/*
 * bench_doc.h: the document the codec benchmark encodes and decodes: a
 * state with strings and numbers and an array of 50 structs.
 */
#ifndef BENCH_DOC_H
#define BENCH_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_line {
    char *sku;
    char title[48];
    int32_t quantity;
    double price;
    bool gift;
} bench_line;

typedef struct bench_doc {
    char *customer;
    char *email;
    int64_t created_ms;
    uint32_t version;
    double discount;
    bench_line *lines;
    size_t lines_count;
} bench_doc;

#endif
