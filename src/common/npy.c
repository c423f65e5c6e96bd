/* NumPy .npy float32 reading and writing (format 1.0 written, 1.0-3.0 read). */
#include "common/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gc.h"
#include "common/gc_file.h"

#define NPY_MAX_HEADER (1 << 20)

int gc_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof(hdr), "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    GC_ASSERT(ndim >= 0 && ndim <= 8); /* callers pass small shapes */
    for (int i = 0; i < ndim; i++) {
        n += snprintf(hdr + n, sizeof(hdr) - n, "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
        count *= (size_t)shape[i];
    }
    if (ndim > 1)
        n--; /* (a, b) not (a, b,) */
    n += snprintf(hdr + n, sizeof(hdr) - n, "), }");
    int total = 10 + n + 1, pad = (64 - total % 64) % 64; /* 64-byte aligned data, like numpy */
    memset(hdr + n, ' ', pad);
    n += pad;
    hdr[n++] = '\n';
    char *tmp;
    FILE *f;
    int r = gc_file_create(path, &tmp, &f);
    if (r < 0)
        return r;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 255), (unsigned char)(n >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)n, f) == (size_t)n &&
             fwrite(data, sizeof(float), count, f) == count;
    return gc_file_commit(path, &tmp, &f, ok);
}

/* Finds 'key': in the header dict and returns a pointer just past the colon and spaces. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) {
        snprintf(pat, sizeof(pat), "\"%s\"", key);
        p = strstr(h, pat);
    }
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

int gc_npy_read_f32(const char *path, float **data, int *ndim, int64_t shape[8])
{
    *data = NULL;
    char *hdr = NULL;
    int ret = -EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ret = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot open: %s", path, gc_strerror(ret));
        return ret;
    }
    unsigned char pre[12];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) || pre[6] < 1 || pre[6] > 3) {
        gc_log(GC_LOG_ERROR, "%s: not a NumPy .npy file (format 1-3)", path);
        goto fail;
    }
    size_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, f) != 2)
            goto truncated;
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else {
        if (fread(pre + 8, 1, 4, f) != 4)
            goto truncated;
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (hlen > NPY_MAX_HEADER) {
        gc_log(GC_LOG_ERROR, "%s: .npy header of %zu bytes: too long", path, hlen);
        goto fail;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        ret = -ENOMEM;
        goto fail;
    }
    if (fread(hdr, 1, hlen, f) != hlen)
        goto truncated;
    hdr[hlen] = 0;
    const char *d = dict_value(hdr, "descr"), *fo = dict_value(hdr, "fortran_order"), *sh = dict_value(hdr, "shape");
    if (!d || !fo || !sh) {
        gc_log(GC_LOG_ERROR, "%s: .npy header lacks descr, fortran_order or shape", path);
        goto fail;
    }
    if (strncmp(d, "'<f4'", 5) && strncmp(d, "\"<f4\"", 5)) {
        int n = (int)strcspn(d, ",}"); /* the quoted value, whatever its length */
        gc_log(GC_LOG_ERROR, "%s: .npy dtype is %.*s, expected float32 '<f4'", path, n < 16 ? n : 16, d);
        goto fail;
    }
    if (strncmp(fo, "False", 5)) {
        gc_log(GC_LOG_ERROR, "%s: .npy array is in Fortran order; C order expected", path);
        goto fail;
    }
    if (*sh != '(') {
        gc_log(GC_LOG_ERROR, "%s: .npy shape is not a tuple", path);
        goto fail;
    }
    sh++;
    int nd = 0;
    size_t count = 1;
    for (;;) {
        while (*sh == ' ')
            sh++;
        if (*sh == ')')
            break;
        char *end;
        long long v = strtoll(sh, &end, 10);
        if (end == sh || v < 0 || v > ((long long)1 << 40) || nd == 8 || (v && count > ((size_t)1 << 40) / (size_t)v)) {
            gc_log(GC_LOG_ERROR, "%s: .npy shape is not a tuple of at most 8 sane sizes", path);
            goto fail;
        }
        shape[nd++] = v;
        count *= (size_t)v;
        sh = end;
        while (*sh == ' ')
            sh++;
        if (*sh == ',')
            sh++;
        else if (*sh != ')') {
            gc_log(GC_LOG_ERROR, "%s: .npy shape is malformed", path);
            goto fail;
        }
    }
    long pos = ftell(f);
    if (pos < 0 || fseek(f, 0, SEEK_END) || ftell(f) - pos != (long)(count * sizeof(float)) || fseek(f, pos, SEEK_SET)) {
        gc_log(GC_LOG_ERROR, "%s: .npy data is not %zu float32 values as the shape says", path, count);
        goto fail;
    }
    *data = malloc(count ? count * sizeof(float) : 1);
    if (!*data) {
        ret = -ENOMEM;
        goto fail;
    }
    if (fread(*data, sizeof(float), count, f) != count) {
        free(*data);
        *data = NULL;
        goto truncated;
    }
    *ndim = nd;
    ret = 0;
    goto fail;
truncated:
    gc_log(GC_LOG_ERROR, "%s: .npy file is truncated", path);
    ret = -EINVAL;
fail:
    free(hdr);
    fclose(f);
    return ret;
}
