/* The check every C test program counts its failures with:
 *
 *   CHECK(err < 1e-5, "decode(encode(x)) max error %g", err);  // prints FAIL file:line: message
 *   ...
 *   return test_failures ? 1 : 0;
 *
 * Header-only: each test program has its own counter. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdio.h>

static int test_failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#endif
