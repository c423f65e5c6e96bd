#include "common/gc.h"

#include <string.h>
#include <time.h>

static enum gc_log_level g_level = GC_LOG_INFO;

void gc_log_set_level(enum gc_log_level level) { g_level = level; }
enum gc_log_level gc_log_get_level(void) { return g_level; }

void gc_log(enum gc_log_level level, const char *fmt, ...)
{
    static const char *prefix[] = {"error: ", "warning: ", "", "", "debug: "};
    if (level > g_level || level < GC_LOG_ERROR)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* one fprintf so lines from several threads do not interleave */
    fprintf(stderr, "glowcam: %s%s\n", prefix[level], buf);
}

double gc_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *gc_strerror(int err)
{
    if (err == GC_EOF)
        return "end of stream";
    return strerror(err < 0 ? -err : err);
}
