/* Generic safetensors reading and writing (F32 tensors, string metadata).
 *
 * Files come from strangers: every length, offset and shape is checked before use,
 * the JSON is parsed by cJSON, and any failure is one logged line naming the file
 * and the tensor or field. Tensor data stays in the file buffer, moved down to a
 * 4-byte boundary when the header length leaves it misaligned. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gc_file.h"
#include "glow/priv.h"

#define ST_MAX_HEADER (100u << 20) /* 100 MiB of JSON is far beyond any real model */
#define ST_MAX_TENSORS 100000 /* tensors and metadata keys */
#define ST_MAX_DIM ((int64_t)1 << 40)

struct st_tensor {
    char *name;
    int ndim;
    int64_t shape[8];
    const float *data;
};

struct glow_st {
    char *name;
    uint8_t *buf;
    size_t size;
    char sha256[65];
    struct st_tensor *t;
    int n;
    char **meta; /* key, value, key, value, ... */
    int n_meta;
};

void glow_st_close(glow_st **pst)
{
    if (!pst || !*pst)
        return;
    glow_st *st = *pst;
    for (int i = 0; i < st->n; i++)
        free(st->t[i].name);
    for (int i = 0; i < 2 * st->n_meta; i++)
        free(st->meta[i]);
    free(st->t);
    free(st->meta);
    free(st->buf);
    free(st->name);
    free(st);
    *pst = NULL;
}

static int parse_meta(glow_st *st, const cJSON *md)
{
    if (!cJSON_IsObject(md)) {
        gc_log(GC_LOG_ERROR, "%s: __metadata__ is not a JSON object", st->name);
        return -EINVAL;
    }
    int n = cJSON_GetArraySize(md);
    if (n > ST_MAX_TENSORS) {
        gc_log(GC_LOG_ERROR, "%s: %d metadata keys: too many", st->name, n);
        return -EINVAL;
    }
    st->meta = calloc((size_t)n * 2 + 1, sizeof(char *));
    if (!st->meta)
        return -ENOMEM;
    for (const cJSON *it = md->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->string) {
            gc_log(GC_LOG_ERROR, "%s: metadata %s is not a string", st->name, it->string ? it->string : "?");
            return -EINVAL;
        }
        st->meta[2 * st->n_meta] = strdup(it->string);
        st->meta[2 * st->n_meta + 1] = strdup(it->valuestring);
        st->n_meta++;
        if (!st->meta[2 * st->n_meta - 2] || !st->meta[2 * st->n_meta - 1])
            return -ENOMEM;
    }
    return 0;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_tensor(glow_st *st, const cJSON *it, size_t data_size, struct st_tensor *t)
{
    const char *nm = it->string;
    if (!cJSON_IsObject(it)) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s: entry is not a JSON object", st->name, nm);
        return -EINVAL;
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dtype)) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s has no dtype string", st->name, nm);
        return -EINVAL;
    }
    if (strcmp(dtype->valuestring, "F32")) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s has dtype %.16s; glowcam files hold F32 only", st->name, nm,
               dtype->valuestring);
        return -EINVAL;
    }
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > 8) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s: shape is not an array of at most 8 sizes", st->name, nm);
        return -EINVAL;
    }
    uint64_t count = 1;
    t->ndim = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        uint64_t v;
        if (json_u64(d, &v) < 0 || (int64_t)v > ST_MAX_DIM) {
            gc_log(GC_LOG_ERROR, "%s: tensor %s: shape holds a size that is not an integer in 0..2^40", st->name, nm);
            return -EINVAL;
        }
        t->shape[t->ndim++] = (int64_t)v;
        if (v && count > UINT64_MAX / 4 / v) {
            gc_log(GC_LOG_ERROR, "%s: tensor %s: absurd shape", st->name, nm);
            return -EINVAL;
        }
        count *= v;
    }
    uint64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || json_u64(offs->child, &b) < 0 ||
        json_u64(offs->child->next, &e) < 0) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s: data_offsets is not a pair of integers", st->name, nm);
        return -EINVAL;
    }
    if (b > e || e > data_size) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] outside the %zu data bytes",
               st->name, nm, b, e, data_size);
        return -EINVAL;
    }
    if (e - b != count * 4) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s: %" PRIu64 " data bytes for a shape of %" PRIu64 " floats", st->name, nm,
               e - b, count);
        return -EINVAL;
    }
    if (b % 4) {
        gc_log(GC_LOG_ERROR, "%s: tensor %s: data offset %" PRIu64 " is not a multiple of 4", st->name, nm, b);
        return -EINVAL;
    }
    t->data = (const float *)(uintptr_t)b; /* made a pointer once the data is in place */
    t->name = strdup(nm);
    return t->name ? 0 : -ENOMEM;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const struct st_tensor *)a)->name, ((const struct st_tensor *)b)->name);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes ownership of buf (malloc'd, size bytes). */
static int st_parse(glow_st **out, uint8_t *buf, size_t size, const char *name)
{
    *out = NULL;
    cJSON *root = NULL;
    int ret = -ENOMEM;
    glow_st *st = calloc(1, sizeof(*st));
    if (!st) {
        free(buf);
        return -ENOMEM;
    }
    st->buf = buf;
    st->size = size;
    st->name = strdup(name ? name : "(memory)");
    if (!st->name)
        goto fail;
    glow_sha256_hex(buf, size, st->sha256);
    ret = -EINVAL;
    if (size < 8) {
        gc_log(GC_LOG_ERROR, "%s: %zu bytes: too short for a safetensors file", st->name, size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)buf[i] << (8 * i);
    /* a safetensors header is a JSON object: anything else (an image, a .npy) is told
     * apart from a file cut short, which is the one case the length check alone reports */
    if (size > 8 && buf[8] != '{') {
        gc_log(GC_LOG_ERROR, "%s: not a safetensors file (no JSON header after its first 8 bytes)", st->name);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER || hlen > size - 8) {
        gc_log(GC_LOG_ERROR,
               "%s: cut short or corrupt: header length %" PRIu64 " runs past the end of the file (%zu bytes) or over %u",
               st->name, hlen, size, ST_MAX_HEADER);
        goto fail;
    }
    root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        gc_log(GC_LOG_ERROR, "%s: header is not a JSON object", st->name);
        goto fail;
    }
    int n = cJSON_GetArraySize(root);
    if (n > ST_MAX_TENSORS) {
        gc_log(GC_LOG_ERROR, "%s: %d header entries: too many", st->name, n);
        goto fail;
    }
    st->t = calloc((size_t)n + 1, sizeof(*st->t));
    if (!st->t) {
        ret = -ENOMEM;
        goto fail;
    }
    size_t data_off = 8 + (size_t)hlen, data_size = size - data_off;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) {
            gc_log(GC_LOG_ERROR, "%s: header entry without a name", st->name);
            goto fail;
        }
        if (!strcmp(it->string, "__metadata__")) {
            if (st->meta) {
                gc_log(GC_LOG_ERROR, "%s: __metadata__ appears twice", st->name);
                goto fail;
            }
            if ((ret = parse_meta(st, it)) < 0)
                goto fail;
            ret = -EINVAL;
            continue;
        }
        if ((ret = parse_tensor(st, it, data_size, &st->t[st->n])) < 0)
            goto fail;
        st->n++;
        ret = -EINVAL;
    }
    /* Sorted by name: lookups by binary search, duplicates side by side. */
    qsort(st->t, (size_t)st->n, sizeof(*st->t), cmp_tensor);
    for (int i = 1; i < st->n; i++)
        if (!strcmp(st->t[i - 1].name, st->t[i].name)) {
            gc_log(GC_LOG_ERROR, "%s: tensor %s appears twice", st->name, st->t[i].name);
            goto fail;
        }
    if (st->meta)
        qsort(st->meta, (size_t)st->n_meta, 2 * sizeof(char *), cmp_meta);
    for (int i = 1; i < st->n_meta; i++)
        if (!strcmp(st->meta[2 * i - 2], st->meta[2 * i])) {
            gc_log(GC_LOG_ERROR, "%s: metadata %s appears twice", st->name, st->meta[2 * i]);
            goto fail;
        }
    /* Move the data down to a 4-byte boundary (the header is parsed and no longer needed). */
    size_t aligned_off = data_off & ~(size_t)3;
    if (aligned_off != data_off)
        memmove(buf + aligned_off, buf + data_off, data_size);
    for (int i = 0; i < st->n; i++)
        st->t[i].data = (const float *)(buf + aligned_off + (uintptr_t)st->t[i].data);
    cJSON_Delete(root);
    *out = st;
    return 0;
fail:
    cJSON_Delete(root);
    glow_st_close(&st);
    return ret;
}

int glow_st_open_memory(glow_st **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -ENOMEM;
    if (size)
        memcpy(buf, data, size);
    return st_parse(out, buf, size, name);
}

int glow_st_open(glow_st **out, const char *path)
{
    *out = NULL;
    uint8_t *buf = NULL;
    int ret;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ret = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot open: %s", path, gc_strerror(ret));
        return ret;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ret = -EINVAL;
        gc_log(GC_LOG_ERROR, "%s: not a regular file", path);
        goto fail;
    }
    const long size = (long)sb.st_size;
    buf = malloc(size ? (size_t)size : 1);
    ret = -ENOMEM;
    if (!buf) {
        gc_log(GC_LOG_ERROR, "%s: no memory for %ld bytes", path, size);
        goto fail;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        ret = -EIO;
        gc_log(GC_LOG_ERROR, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    return st_parse(out, buf, (size_t)size, path);
fail:
    free(buf);
    fclose(f);
    return ret;
}

const char *glow_st_meta(const glow_st *st, const char *key)
{
    int lo = 0, hi = st->n_meta - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(st->meta[2 * mid], key);
        if (!c)
            return st->meta[2 * mid + 1];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

int glow_st_index(const glow_st *st, const char *name)
{
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(st->t[mid].name, name);
        if (!c)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

const float *glow_st_tensor(const glow_st *st, const char *name, int *ndim, int64_t shape[8])
{
    int i = glow_st_index(st, name);
    if (i < 0)
        return NULL;
    if (ndim)
        *ndim = st->t[i].ndim;
    if (shape)
        memcpy(shape, st->t[i].shape, sizeof(st->t[i].shape));
    return st->t[i].data;
}

int glow_st_count(const glow_st *st) { return st->n; }
const char *glow_st_name(const glow_st *st, int i) { return i >= 0 && i < st->n ? st->t[i].name : NULL; }
const char *glow_st_path(const glow_st *st) { return st->name; }
const char *glow_st_sha256(const glow_st *st) { return st->sha256; }
size_t glow_st_file_size(const glow_st *st) { return st->size; }

int glow_st_write(const char *path, const struct glow_st_entry *t, int n, const char *const *meta)
{
    int ret = -ENOMEM;
    char *tmp = NULL, *json = NULL;
    FILE *f = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        goto fail;
    if (meta && meta[0]) {
        cJSON *md = cJSON_AddObjectToObject(root, "__metadata__");
        if (!md)
            goto fail;
        for (int i = 0; meta[i]; i += 2) {
            GC_ASSERT(meta[i + 1]); /* key,value pairs, NULL-terminated */
            if (!cJSON_AddStringToObject(md, meta[i], meta[i + 1]))
                goto fail;
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", "F32"))
            goto fail;
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        if (!sh || !of)
            goto fail;
        uint64_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
            count *= (uint64_t)t[i].shape[d];
        }
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += count * 4;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    json = cJSON_PrintUnformatted(root);
    if (!json)
        goto fail;
    size_t hlen = strlen(json), pad = (8 - hlen % 8) % 8;
    if ((ret = gc_file_create(path, &tmp, &f)) < 0)
        goto fail;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)(hlen + pad) >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(json, 1, hlen, f) == hlen && fwrite("        ", 1, pad, f) == pad;
    for (int i = 0; ok && i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++)
            count *= (size_t)t[i].shape[d];
        ok = fwrite(t[i].data, 4, count, f) == count; /* little-endian hosts only */
    }
    ret = gc_file_commit(path, &tmp, &f, ok);
fail:
    cJSON_free(json);
    cJSON_Delete(root);
    return ret;
}
