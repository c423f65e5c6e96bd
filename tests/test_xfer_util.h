/* Helpers shared by the xfer tests: a seeded RNG and capture of the log to check
 * error messages. Random-weight models come from glow_random_model.h. */
#ifndef TEST_XFER_UTIL_H
#define TEST_XFER_UTIL_H

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glow/glow.h"
#include "glow_random_model.h"
#include "test_util.h"

static uint64_t xt_state = 0x9e3779b97f4a7c15ull;
static inline void xt_seed(uint64_t s) { xt_state = s * 0x9e3779b97f4a7c15ull + 1; }
static inline double xt_uniform(void) /* [0, 1) */
{
    xt_state ^= xt_state << 13;
    xt_state ^= xt_state >> 7;
    xt_state ^= xt_state << 17;
    return (double)(xt_state >> 11) / 9007199254740992.0;
}
static inline double xt_gauss(void)
{
    double u = xt_uniform(), v = xt_uniform();
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}
static inline void xt_fill(float *x, size_t n, double scale, double offset)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(offset + scale * xt_gauss());
}

/* Captures what the code under test logs to stderr between begin and end. */
static int xt_saved_fd = -1;
static char xt_log_path[256];
static void xt_capture_begin(const char *dir)
{
    snprintf(xt_log_path, sizeof(xt_log_path), "%s/captured.log", dir);
    fflush(stderr);
    xt_saved_fd = dup(2);
    int fd = open(xt_log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}
static char *xt_capture_end(void) /* malloc'd text (also echoed to stdout) */
{
    fflush(stderr);
    dup2(xt_saved_fd, 2);
    close(xt_saved_fd);
    FILE *f = fopen(xt_log_path, "rb");
    char *buf = calloc(1, 8192);
    if (f) {
        size_t n = fread(buf, 1, 8191, f);
        buf[n] = 0;
        fclose(f);
    }
    printf("  captured log: %s", buf);
    return buf;
}

/* Area-average resize of a square RGB image (side s) to side d (d divides s or not). */
static inline void xt_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int d)
{
    for (int y = 0; y < d; y++)
        for (int x = 0; x < d; x++) {
            int x0 = x * sw / d, x1 = (x + 1) * sw / d, y0 = y * sh / d, y1 = (y + 1) * sh / d;
            if (x1 <= x0) x1 = x0 + 1;
            if (y1 <= y0) y1 = y0 + 1;
            for (int ch = 0; ch < 3; ch++) {
                unsigned sum = 0, n = 0;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++, n++)
                        sum += src[((size_t)yy * sw + xx) * 3 + ch];
                dst[((size_t)y * d + x) * 3 + ch] = (uint8_t)((sum + n / 2) / n);
            }
        }
}

#endif
