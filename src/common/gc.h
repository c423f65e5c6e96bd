/* gc: the few helpers every module shares: logging and error codes.
 *
 *   gc_log(GC_LOG_ERROR, "%s: tensor %s missing", path, name);
 *   return -EINVAL;
 *
 * Functions return 0 or a negative errno-style code (like FFmpeg's AVERROR).
 */
#ifndef GC_H
#define GC_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum gc_log_level { GC_LOG_QUIET = -1, GC_LOG_ERROR, GC_LOG_WARN, GC_LOG_INFO, GC_LOG_VERBOSE, GC_LOG_DEBUG };

#define GC_EOF (-0x454f46) /* end of stream: not an error */

void gc_log(enum gc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gc_log_set_level(enum gc_log_level level);
enum gc_log_level gc_log_get_level(void);

/* Programmer errors only, with the reason: GC_ASSERT(c % 2 == 0); checked at load. */
#define GC_ASSERT(x)                                                                   \
    do {                                                                               \
        if (!(x)) {                                                                    \
            fprintf(stderr, "glowcam: assertion %s failed at %s:%d\n", #x, __FILE__,   \
                    __LINE__);                                                         \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* Monotonic clock in seconds, for timings and stats. */
double gc_time(void);

/* A readable message for our negative codes (errno values and GC_EOF). */
const char *gc_strerror(int err);

#endif
