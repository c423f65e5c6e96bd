/* Model files from strangers: hand-made malformed files and many random mutations of a
 * valid one must be rejected with a message naming the file (or load fine when the
 * change was harmless: such a model must then encode and decode without a crash).
 * Also: the safetensors writer, .npy files and SHA-256 against known answers.
 *
 *   test_glow_files MODEL.safetensors ADDITIVE_MODEL.safetensors TMPDIR [N_MUTATIONS]
 * Runs under ASan/UBSan in the Debug build: any out-of-bounds read is a failure. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/npy.h"
#include "glow/glow.h"
#include "test_util.h"

static int g_stderr_fd = -1;
static FILE *g_capture;

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* stderr goes to a temporary file while a case runs, so the message can be checked. */
static void capture_begin(void)
{
    fflush(stderr);
    ftruncate(fileno(g_capture), 0);
    rewind(g_capture);
    dup2(fileno(g_capture), 2);
}

static void capture_end(char *msg, size_t n)
{
    fflush(stderr);
    dup2(g_stderr_fd, 2);
    rewind(g_capture);
    size_t got = fread(msg, 1, n - 1, g_capture);
    msg[got] = 0;
}

/* Loads a buffer; a model that loads must also run. Returns 1 if rejected. */
static int try_load(const void *buf, size_t n, const char *name, char *msg, size_t msgn)
{
    glow_model *m = NULL;
    capture_begin();
    int r = glow_model_load_memory(&m, buf, n, name);
    capture_end(msg, msgn);
    if (r < 0) {
        CHECK(m == NULL, "%s: model set on failure", name);
        return 1;
    }
    /* accepted: it must work end to end */
    struct glow_params p = glow_params_default();
    p.backend = GLOW_BACKEND_REFERENCE;
    glow_engine *e = NULL;
    if (glow_engine_create(&e, m, &p) == 0) {
        const int S = glow_model_config(m)->image_size;
        const size_t D = glow_latent_size(m);
        uint8_t *img = calloc((size_t)S * S * 3, 1);
        float *z = malloc(D * sizeof(float));
        double bpd;
        for (size_t i = 0; i < (size_t)S * S * 3; i++)
            img[i] = (uint8_t)(i * 37);
        glow_encode(e, img, 1, z, &bpd);
        glow_decode(e, z, 1, img);
        free(img);
        free(z);
        glow_engine_free(&e);
    }
    glow_model_free(&m);
    return 0;
}

/* ---- hand-made cases ---- */

struct model_file {
    uint8_t *bytes;
    size_t size, hlen;
};

/* Rebuilds a file from a (modified) header and the original data region. */
static uint8_t *rebuild(const struct model_file *f, cJSON *hdr, size_t *n)
{
    char *js = cJSON_PrintUnformatted(hdr);
    size_t hl = strlen(js), data = f->size - 8 - f->hlen;
    *n = 8 + hl + data;
    uint8_t *b = malloc(*n);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, js, hl);
    memcpy(b + 8 + hl, f->bytes + 8 + f->hlen, data);
    cJSON_free(js);
    return b;
}

static int n_hand, n_hand_rejected;

/* expect: 1 must be rejected, 0 must load. needle: text the message must contain. */
static void hand_case(const void *buf, size_t n, const char *label, int expect, const char *needle)
{
    char name[200], msg[4096];
    snprintf(name, sizeof(name), "case<%s>", label);
    int rej = try_load(buf, n, name, msg, sizeof(msg));
    n_hand++;
    n_hand_rejected += rej;
    CHECK(rej == expect, "%s: %s (expected %s) msg: %s", label, rej ? "rejected" : "loaded",
          expect ? "rejection" : "load", msg);
    if (rej) {
        CHECK(strstr(msg, name) != NULL, "%s: message does not name the file: %s", label, msg);
        CHECK(!needle || strstr(msg, needle), "%s: message does not mention '%s': %s", label, needle, msg);
    }
    if (n_hand <= 3 || (rej && needle && n_hand % 40 == 0))
        printf("  example: %s", msg);
}

static void hdr_case(const struct model_file *f, cJSON *hdr, const char *label, int expect, const char *needle)
{
    size_t n;
    uint8_t *b = rebuild(f, hdr, &n);
    hand_case(b, n, label, expect, needle);
    free(b);
}

static cJSON *header_of(const struct model_file *f)
{
    return cJSON_ParseWithLength((const char *)f->bytes + 8, f->hlen);
}

static void hand_made(const struct model_file *f, const struct model_file *add)
{
    char label[256];
    size_t n = f->size;
    uint8_t *b = malloc(n + 64);
    /* truncations */
    const size_t cuts[] = {0, 4, 7, 8, 9, 8 + f->hlen / 2, 8 + f->hlen - 1, 8 + f->hlen, 8 + f->hlen + 5, n / 2,
                           n - 5, n - 4, n - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        snprintf(label, sizeof(label), "truncated to %zu of %zu bytes", cuts[i], n);
        hand_case(f->bytes, cuts[i], label, 1, NULL);
    }
    /* header length */
    const uint64_t lens[] = {0, 1, f->hlen - 1, f->hlen + 1, n - 8, n - 7, n, (uint64_t)100 << 20,
                             ((uint64_t)100 << 20) + 1, (uint64_t)1 << 40, UINT64_MAX, UINT64_MAX - 7};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        memcpy(b, f->bytes, n);
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(lens[i] >> (8 * k));
        snprintf(label, sizeof(label), "header length %llu (file %zu bytes)", (unsigned long long)lens[i], n);
        hand_case(b, n, label, 1, NULL);
    }
    /* header not JSON / not an object */
    const char *junk[] = {"hello world     ", "[1,2,3]         ", "{               ", "\"string\"        ",
                          "{\"a\":            ", "nul\0\0\0\0\0\0\0\0\0\0\0\0\0", "{}              "};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        uint8_t small[8 + 16];
        small[0] = 16;
        memset(small + 1, 0, 7);
        memcpy(small + 8, junk[i], 16);
        snprintf(label, sizeof(label), "header '%.12s'", junk[i]);
        hand_case(small, sizeof(small), label, 1, i == 6 ? "metadata" : NULL);
    }
    /* JSON-level changes to every tensor */
    cJSON *h0 = header_of(f);
    int nt = 0;
    for (cJSON *it = h0->child; it; it = it->next)
        nt++;
    for (int t = 0; t < nt; t++) {
        const char *tname = cJSON_GetArrayItem(h0, t)->string;
        if (!strcmp(tname, "__metadata__"))
            continue;
        for (int kind = 0; kind < 9; kind++) {
            cJSON *h = header_of(f);
            cJSON *e = cJSON_GetObjectItemCaseSensitive(h, tname);
            cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
            cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
            const char *what = "";
            switch (kind) {
            case 0: cJSON_DeleteItemFromObjectCaseSensitive(h, tname), what = "missing"; break;
            case 1: cJSON_ReplaceItemInObject(e, "dtype", cJSON_CreateString("F16")), what = "dtype F16"; break;
            case 2: cJSON_ReplaceItemInObject(e, "dtype", cJSON_CreateString("BF16")), what = "dtype BF16"; break;
            case 3: cJSON_AddItemToArray(shape, cJSON_CreateNumber(1)), what = "extra dim"; break;
            case 4: {
                cJSON *d0 = cJSON_GetArrayItem(shape, 0);
                cJSON_SetNumberValue(d0, d0->valuedouble + 1);
                what = "wrong first dim";
                break;
            }
            case 5: cJSON_SetNumberValue(cJSON_GetArrayItem(offs, 1), 1e12), what = "end offset past the data"; break;
            case 6: cJSON_SetNumberValue(cJSON_GetArrayItem(offs, 0), -4), what = "negative offset"; break;
            case 7: cJSON_ReplaceItemInArray(offs, 0, cJSON_CreateString("0")), what = "offset not a number"; break;
            case 8: cJSON_ReplaceItemInObject(e, "shape", cJSON_CreateString("big")), what = "shape not an array"; break;
            }
            snprintf(label, sizeof(label), "tensor %s: %s", tname, what);
            hdr_case(f, h, label, 1, tname);
            cJSON_Delete(h);
        }
    }
    /* an absurd shape with small offsets, an unknown tensor, a duplicate tensor, affine ybias */
    {
        cJSON *h = header_of(f);
        cJSON *e = cJSON_GetObjectItemCaseSensitive(h, "top.mean");
        cJSON *sh = cJSON_CreateArray();
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(1099511627776.0));
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(1099511627776.0));
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(1099511627776.0));
        cJSON_ReplaceItemInObject(e, "shape", sh);
        hdr_case(f, h, "absurd shape 2^40^3", 1, "top.mean");
        cJSON_Delete(h);
        const char *extra[] = {"levels.9.steps.0.actnorm.bias", "levels.0.steps.0.coupling.ybias", "top.mean"};
        for (int i = 0; i < 3; i++) {
            h = header_of(f);
            cJSON *copy = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "levels.0.steps.0.coupling.conv3.bias"), 1);
            cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(copy, "shape"), 0, cJSON_CreateNumber(6));
            cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(copy, "data_offsets"), 1),
                                 cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(copy, "data_offsets"), 0)->valuedouble + 24);
            cJSON_AddItemToObject(h, extra[i], copy); /* cJSON keeps duplicates: "top.mean" twice */
            snprintf(label, sizeof(label), "extra tensor %s", extra[i]);
            hdr_case(f, h, label, 1, extra[i]);
            cJSON_Delete(h);
        }
    }
    /* metadata */
    struct {
        const char *key, *value;
        int expect;
    } md[] = {
        {"glowcam.format", NULL, 1}, {"glowcam.format", "2", 1}, {"glowcam.format", "", 1},
        {"image_size", NULL, 1}, {"image_size", "", 1}, {"image_size", "abc", 1}, {"image_size", "-16", 1},
        {"image_size", "0", 1}, {"image_size", "18", 1}, {"image_size", "32", 1}, {"image_size", " 16", 1},
        {"image_size", "16 ", 1}, {"image_size", "0x10", 1}, {"image_size", "1e3", 1},
        {"image_size", "99999999999999999999", 1}, {"image_size", "16.0", 1},
        {"n_levels", NULL, 1}, {"n_levels", "0", 1}, {"n_levels", "9", 1}, {"n_levels", "1", 1}, {"n_levels", "3", 1},
        {"depth", NULL, 1}, {"depth", "0", 1}, {"depth", "257", 1}, {"depth", "1", 1}, {"depth", "3", 1},
        {"width", NULL, 1}, {"width", "0", 1}, {"width", "4097", 1}, {"width", "15", 1},
        {"n_bits", NULL, 1}, {"n_bits", "0", 1}, {"n_bits", "9", 1}, {"n_bits", "8", 0}, {"n_bits", "1", 0},
        {"coupling", NULL, 1}, {"coupling", "Affine", 1}, {"coupling", "additive", 1}, {"coupling", "", 1},
        {"edge_padding", NULL, 1}, {"edge_padding", "yes", 1}, {"edge_padding", "1", 1},
        {"edge_padding", "false", 1}, {"level_post", NULL, 1}, {"level_post", "true", 1},
        {"level_post", "TRUE", 1}, {"alignment", NULL, 1}, {"alignment", "ffhq", 1},
        {"alignment", "ffhq-quad", 0}, {"name", NULL, 0}, {"description", NULL, 0}, {"training", NULL, 0},
        {"name", "a name with \"quotes\" and \xc3\xa9", 0},
    };
    for (size_t i = 0; i < sizeof(md) / sizeof(md[0]); i++) {
        cJSON *h = header_of(f);
        cJSON *m = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
        if (md[i].value)
            cJSON_ReplaceItemInObject(m, md[i].key, cJSON_CreateString(md[i].value));
        else
            cJSON_DeleteItemFromObjectCaseSensitive(m, md[i].key);
        snprintf(label, sizeof(label), "metadata %s = %s", md[i].key, md[i].value ? md[i].value : "(missing)");
        hdr_case(f, h, label, md[i].expect, md[i].expect ? md[i].key : NULL);
        cJSON_Delete(h);
    }
    {
        cJSON *h = header_of(f);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(h, "__metadata__"), "depth", cJSON_CreateNumber(2));
        hdr_case(f, h, "metadata depth as a JSON number", 1, "depth");
        cJSON_Delete(h);
        h = header_of(f);
        cJSON_ReplaceItemInObject(h, "__metadata__", cJSON_CreateArray());
        hdr_case(f, h, "metadata not an object", 1, "__metadata__");
        cJSON_Delete(h);
        h = header_of(f);
        cJSON_DeleteItemFromObjectCaseSensitive(h, "__metadata__");
        hdr_case(f, h, "no metadata", 1, "glowcam.format");
        cJSON_Delete(h);
    }
    /* values: NaN, Inf, singular invconv, non-positive yscale */
    {
        cJSON *h = f->bytes ? header_of(f) : NULL;
        const char *names[] = {"levels.0.steps.0.actnorm.bias", "levels.1.steps.1.coupling.conv2.weight",
                               "levels.0.steps.1.invconv.weight", "top.logscale"};
        for (int i = 0; i < 4; i++) {
            cJSON *e = cJSON_GetObjectItemCaseSensitive(h, names[i]);
            size_t off = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "data_offsets"), 0)->valuedouble;
            size_t end = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "data_offsets"), 1)->valuedouble;
            memcpy(b, f->bytes, n);
            float *d = (float *)(void *)(b + 8 + f->hlen + off); /* the header length is a multiple of 8 */
            if (i == 2)
                memset(d, 0, end - off); /* singular */
            else
                d[1] = i == 1 ? INFINITY : NAN;
            snprintf(label, sizeof(label), "%s holds %s", names[i], i == 2 ? "zeros (singular)" : "a non-finite value");
            hand_case(b, n, label, 1, names[i]);
        }
        cJSON_Delete(h);
    }
    if (add) {
        cJSON *h = header_of(add);
        cJSON *e = cJSON_GetObjectItemCaseSensitive(h, "levels.0.steps.1.coupling.yscale");
        size_t off = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "data_offsets"), 0)->valuedouble;
        uint8_t *ab = malloc(add->size);
        memcpy(ab, add->bytes, add->size);
        ((float *)(void *)(ab + 8 + add->hlen + off))[2] = -0.5f;
        hand_case(ab, add->size, "yscale negative", 1, "yscale");
        ((float *)(void *)(ab + 8 + add->hlen + off))[2] = 0.0f;
        hand_case(ab, add->size, "yscale zero", 1, "yscale");
        hand_case(add->bytes, add->size, "additive model unchanged", 0, NULL);
        free(ab);
        cJSON *m = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
        cJSON_ReplaceItemInObject(m, "coupling", cJSON_CreateString("affine"));
        hdr_case(add, h, "additive model declared affine", 1, "coupling");
        cJSON_Delete(h);
    }
    /* a misaligned data region (header length not a multiple of 4) must still load */
    {
        cJSON *h = header_of(f);
        char *js = cJSON_PrintUnformatted(h);
        size_t hl = strlen(js);
        while (hl % 4 == 0)
            hl++;
        size_t data = f->size - 8 - f->hlen, nn = 8 + hl + data;
        uint8_t *mb = malloc(nn);
        for (int k = 0; k < 8; k++)
            mb[k] = (uint8_t)((uint64_t)hl >> (8 * k));
        memset(mb + 8, ' ', hl);
        memcpy(mb + 8, js, strlen(js));
        memcpy(mb + 8 + hl, f->bytes + 8 + f->hlen, data);
        snprintf(label, sizeof(label), "header of %zu bytes (data misaligned)", hl);
        hand_case(mb, nn, label, 0, NULL);
        free(mb);
        cJSON_free(js);
        cJSON_Delete(h);
    }
    hand_case(f->bytes, f->size, "unchanged", 0, NULL);
    cJSON_Delete(h0);
    free(b);
}

/* ---- random mutations ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void mutations(const struct model_file *f, int count, int *rejected, int *kinds_tried)
{
    const size_t n = f->size;
    uint8_t *b = malloc(n + 4096);
    char msg[4096], name[64];
    *rejected = 0;
    for (int i = 0; i < count; i++) {
        memcpy(b, f->bytes, n);
        size_t len = n;
        const int kind = (int)(rnd() % 8);
        kinds_tried[kind]++;
        const size_t hend = 8 + f->hlen;
        switch (kind) {
        case 0: /* flip 1-4 random bits in the header */
            for (int k = 1 + rnd() % 4; k > 0; k--)
                b[8 + rnd() % f->hlen] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* replace a digit of the header with another digit */
            for (int tries = 0; tries < 100; tries++) {
                size_t p = 8 + rnd() % f->hlen;
                if (b[p] >= '0' && b[p] <= '9') {
                    b[p] = (uint8_t)('0' + rnd() % 10);
                    break;
                }
            }
            break;
        case 2: /* random bytes anywhere */
            for (int k = 1 + rnd() % 8; k > 0; k--)
                b[rnd() % n] = (uint8_t)rnd();
            break;
        case 3: /* truncate */
            len = rnd() % n;
            break;
        case 4: { /* delete a span of the header (shifting everything after it) */
            size_t p = 8 + rnd() % f->hlen, l = 1 + rnd() % 16;
            if (p + l > len)
                l = len - p;
            memmove(b + p, b + p + l, len - p - l);
            len -= l;
            break;
        }
        case 5: { /* insert random bytes into the header */
            size_t p = 8 + rnd() % f->hlen, l = 1 + rnd() % 16;
            memmove(b + p + l, b + p, len - p);
            for (size_t k = 0; k < l; k++)
                b[p + k] = (uint8_t)("{}[],:\"0123456789.-eE ab"[rnd() % 24]);
            len += l;
            break;
        }
        case 6: { /* change the header length */
            uint64_t hl = f->hlen;
            int what = rnd() % 3;
            hl = what == 0 ? hl + (rnd() % 64) - 32 : what == 1 ? (uint64_t)rnd() << (rnd() % 32) : hl ^ (1ull << (rnd() % 64));
            for (int k = 0; k < 8; k++)
                b[k] = (uint8_t)(hl >> (8 * k));
            break;
        }
        case 7: /* corrupt tensor data (bytes after the header) */
            for (int k = 1 + rnd() % 4; k > 0; k--)
                b[hend + rnd() % (n - hend)] = (uint8_t)rnd();
            break;
        }
        snprintf(name, sizeof(name), "mutant%d", i);
        int rej = try_load(b, len, name, msg, sizeof(msg));
        *rejected += rej;
        if (rej)
            CHECK(strstr(msg, name) != NULL, "%s (kind %d): message does not name the file: %s", name, kind, msg);
    }
    free(b);
}

/* ---- the rest of the file formats ---- */

static void test_sha256(void)
{
    char h[65];
    glow_sha256_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(abc) = %s", h);
    glow_sha256_hex("", 0, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256() = %s", h);
    const char *s56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    glow_sha256_hex(s56, strlen(s56), h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "sha256(56 bytes) = %s", h);
    printf("sha256: 3 known answers checked\n");
}

static void test_st_and_npy(const char *tmpdir)
{
    char path[1024];
    float a[6] = {1, 2, 3, 4, 5, -6.5f}, b[1] = {42};
    struct glow_st_entry t[2] = {{"alpha", a, 2, {2, 3}}, {"beta", b, 1, {1}}};
    const char *meta[] = {"kind", "test", "count", "7", NULL};
    snprintf(path, sizeof(path), "%s/st.safetensors", tmpdir);
    CHECK(glow_st_write(path, t, 2, meta) == 0, "st write");
    glow_st *st = NULL;
    CHECK(glow_st_open(&st, path) == 0, "st open");
    if (st) {
        int nd;
        int64_t sh[8];
        const float *d = glow_st_tensor(st, "alpha", &nd, sh);
        CHECK(d && nd == 2 && sh[0] == 2 && sh[1] == 3 && !memcmp(d, a, sizeof(a)), "st alpha round trip");
        d = glow_st_tensor(st, "beta", &nd, sh);
        CHECK(d && nd == 1 && sh[0] == 1 && d[0] == 42, "st beta round trip");
        CHECK(!glow_st_tensor(st, "gamma", NULL, NULL), "st missing tensor gives NULL");
        CHECK(glow_st_meta(st, "kind") && !strcmp(glow_st_meta(st, "kind"), "test"), "st meta");
        CHECK(glow_st_meta(st, "count") && !strcmp(glow_st_meta(st, "count"), "7"), "st meta 2");
        CHECK(!glow_st_meta(st, "nope"), "st missing meta");
        CHECK(glow_st_count(st) == 2, "st count");
        glow_st_close(&st);
        CHECK(st == NULL, "st close sets NULL");
    }
    snprintf(path, sizeof(path), "%s/st.safetensors.tmp", tmpdir);
    CHECK(access(path, F_OK) != 0, "no .tmp file left behind");
    snprintf(path, sizeof(path), "%s/no/such/dir/x.safetensors", tmpdir);
    CHECK(glow_st_write(path, t, 2, meta) < 0, "st write into a missing folder fails");

    /* npy */
    snprintf(path, sizeof(path), "%s/x.npy", tmpdir);
    int64_t shape[2] = {2, 3};
    CHECK(gc_npy_write_f32(path, a, 2, shape) == 0, "npy write");
    float *d = NULL;
    int nd = 0;
    int64_t sh[8];
    CHECK(gc_npy_read_f32(path, &d, &nd, sh) == 0 && nd == 2 && sh[0] == 2 && sh[1] == 3 && !memcmp(d, a, sizeof(a)),
          "npy round trip");
    free(d);
    int64_t s1[1] = {6};
    CHECK(gc_npy_write_f32(path, a, 1, s1) == 0, "npy write 1-D");
    CHECK(gc_npy_read_f32(path, &d, &nd, sh) == 0 && nd == 1 && sh[0] == 6, "npy 1-D round trip");
    free(d);
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    int bad = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += 7) { /* every truncation must fail cleanly */
        FILE *f = fopen(path, "wb");
        fwrite(bytes, 1, cut, f);
        fclose(f);
        tried++;
        capture_begin();
        bad += gc_npy_read_f32(path, &d, &nd, sh) < 0;
        char msg[512];
        capture_end(msg, sizeof(msg));
    }
    CHECK(bad == tried, "npy truncations rejected %d of %d", bad, tried);
    const char *hdrs[] = {"{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }",
                          "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': 6, }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,99999999), }",
                          "{'descr': '<f4', 'fortran_order': False}"};
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        FILE *f = fopen(path, "wb");
        unsigned short hl = (unsigned short)strlen(hdrs[i]);
        fwrite("\x93NUMPY\x01\x00", 1, 8, f);
        fputc(hl & 255, f);
        fputc(hl >> 8, f);
        fwrite(hdrs[i], 1, hl, f);
        fwrite(a, 4, 6, f);
        fclose(f);
        capture_begin();
        int r = gc_npy_read_f32(path, &d, &nd, sh);
        char msg[512];
        capture_end(msg, sizeof(msg));
        CHECK(r < 0 && strstr(msg, path), "npy header %s: r=%d msg=%s", hdrs[i], r, msg);
        if (r == 0)
            free(d);
    }
    free(bytes);
    printf("safetensors writer/reader and .npy: round trips, %d truncations and 7 bad headers rejected\n", tried);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_glow_files MODEL ADDITIVE_MODEL TMPDIR [N_MUTATIONS]\n");
        return 2;
    }
    const int count = argc > 4 ? atoi(argv[4]) : 2000;
    g_capture = tmpfile();
    g_stderr_fd = dup(2);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct model_file f = {0}, add = {0};
    f.bytes = read_file(argv[1], &f.size);
    add.bytes = read_file(argv[2], &add.size);
    if (!f.bytes || !add.bytes || f.size < 8 || add.size < 8) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    for (int k = 7; k >= 0; k--) {
        f.hlen = f.hlen << 8 | f.bytes[k];
        add.hlen = add.hlen << 8 | add.bytes[k];
    }
    test_sha256();
    test_st_and_npy(argv[3]);
    hand_made(&f, &add);
    printf("hand-made malformed files: %d cases, %d rejected as expected, %d loaded as expected\n", n_hand,
           n_hand_rejected, n_hand - n_hand_rejected);
    const struct model_file *bases[2] = {&f, &add};
    const char *base_names[2] = {argv[1], argv[2]};
    int total = 0, total_rej = 0;
    for (int bi = 0; bi < 2; bi++) {
        int rejected, kinds[8] = {0}, cnt = bi == 0 ? count : count / 2;
        double t0 = (double)clock();
        mutations(bases[bi], cnt, &rejected, kinds);
        printf("random mutations of %s: %d files tried, %d rejected cleanly, %d loaded and ran (harmless), %.1f s CPU\n",
               base_names[bi], cnt, rejected, cnt - rejected, ((double)clock() - t0) / CLOCKS_PER_SEC);
        printf("  by kind (header bits, digits, random bytes, truncation, header delete, header insert, length, data): "
               "%d %d %d %d %d %d %d %d\n", kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6], kinds[7]);
        CHECK(rejected > cnt / 2, "most mutations must be rejected (%d of %d)", rejected, cnt);
        total += cnt;
        total_rej += rejected;
    }
    printf("random mutations in all: %d tried, %d rejected, %d harmless\n", total, total_rej, total - total_rej);
    CHECK(total >= 1000, "at least 1000 mutations (got %d)", total);
    free(f.bytes);
    free(add.bytes);
    printf("%s: %d failures\n", test_failures ? "FAILED" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
