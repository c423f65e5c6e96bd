/* glowcam sweep: one source face transferred onto a target over a range of alphas,
 * as one row of a contact sheet (source crop, outputs, the target's mean face). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/xfer_cli.h"
#include "common/gc.h"
#include "media/media.h"

#define SWEEP_MAX 64

struct sweep_opts {
    const char *model, *source, *target, *alphas, *out, *method, *weights, *backend;
    int cell, labels;
};

/* "a:b:step" (inclusive) or "a,b,c". Returns the count or -EINVAL (logged). */
static int parse_alphas(const char *s, double *a)
{
    double lo, hi, step;
    char tail;
    if (sscanf(s, "%lf:%lf:%lf%c", &lo, &hi, &step, &tail) == 3) {
        if (!(step > 0) || !(hi >= lo) || !isfinite(lo) || !isfinite(hi) || (hi - lo) / step > SWEEP_MAX - 1 + 1e-6) {
            gc_log(GC_LOG_ERROR, "sweep: --alphas %s: need FROM <= TO, STEP > 0 and at most %d values", s, SWEEP_MAX);
            return -EINVAL;
        }
        int n = (int)floor((hi - lo) / step + 1e-6) + 1;
        for (int i = 0; i < n; i++)
            a[i] = lo + i * step;
        return n;
    }
    int n = 0;
    const char *c = s;
    for (;;) {
        char *end;
        double x = strtod(c, &end);
        if (end == c || !isfinite(x) || n == SWEEP_MAX || (*end && *end != ',')) {
            gc_log(GC_LOG_ERROR, "sweep: --alphas '%s': expected FROM:TO:STEP or a comma list (at most %d)", s,
                   SWEEP_MAX);
            return -EINVAL;
        }
        a[n++] = x;
        if (!*end)
            return n;
        c = end + 1;
    }
}

int cli_cmd_sweep(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"model", 'm', CLI_XFER_MODEL_HELP, offsetof(struct sweep_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {"source", 's', "the source face's identity (its mean is subtracted)", offsetof(struct sweep_opts, source), OPT_STRING, {.s = NULL}, 0, 0},
        {"target", 't', "target identity", offsetof(struct sweep_opts, target), OPT_STRING, {.s = NULL}, 0, 0},
        {"alphas", 'a', "FROM:TO:STEP or a comma list", offsetof(struct sweep_opts, alphas), OPT_STRING, {.s = "0.3:0.5:0.02"}, 0, 0},
        {"o", 'o', "contact sheet to write (PNG)", offsetof(struct sweep_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
        {"method", 0, "linear or variance", offsetof(struct sweep_opts, method), OPT_STRING, {.s = "linear"}, 0, 0},
        {"level-weights", 0, "alpha weights per level, level 0 (finest) first, e.g. 0,0.5,1", offsetof(struct sweep_opts, weights), OPT_STRING, {.s = NULL}, 0, 0},
        {"cell", 0, "side of each cell in pixels", offsetof(struct sweep_opts, cell), OPT_INT, {.i = 128}, 16, 1024},
        {"no-labels", 0, "do not write alpha values on the cells", offsetof(struct sweep_opts, labels), OPT_FLAG, {0}, 0, 0},
        {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(struct sweep_opts, backend), OPT_STRING, {.s = "auto"}, 0, 0},
        {0}};
    const char *usage = "SOURCE_IMAGE --source ID --target ID [--alphas 0.3:0.5:0.02] -o SHEET.png";
    struct sweep_opts o;
    char **pos;
    int npos;
    int r = cli_parse("sweep", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    double alphas[SWEEP_MAX];
    int na = 0;
    struct xfer_params p = xfer_params_default();
    p.source = XFER_SOURCE_FILE;
    if (npos != 1 || !o.source || !o.target || !o.out) {
        gc_log(GC_LOG_ERROR, "sweep: needs SOURCE_IMAGE, --source, --target and -o");
        cli_print_help(stderr, "sweep", usage, opts);
        return 2;
    }
    if ((na = parse_alphas(o.alphas, alphas)) < 0 || xfer_method_parse(o.method, &p.method) < 0 ||
        p.method == XFER_METHOD_ATTRIBUTE || (o.weights && xfer_level_weights_parse(o.weights, &p) < 0))
        return 2;

    struct cli_xfer_env env;
    xfer_identity *src = NULL, *tgt = NULL;
    xfer_ctx *x = NULL;
    uint8_t *rgb = NULL, *faces = NULL, *sheet = NULL, *cellbuf = NULL;
    float *z = NULL, *zo = NULL;
    int w, h, ret = 1;
    if (cli_xfer_env_open(&env, o.model, o.backend, 1) < 0)
        return 1;
    const int S = env.size, C = o.cell, ncell = na + 2;
    const size_t P = (size_t)S * S * 3;
    if (xfer_identity_load(&src, o.source, env.model) < 0 || xfer_identity_load(&tgt, o.target, env.model) < 0)
        goto fail;
    if (media_image_read(pos[0], &rgb, &w, &h) < 0)
        goto fail;
    faces = malloc(P * ncell);
    z = malloc(env.dim * sizeof(float));
    zo = malloc(env.dim * sizeof(float) * na);
    sheet = malloc((size_t)C * C * 3 * ncell);
    cellbuf = malloc((size_t)C * C * 3);
    if (!faces || !z || !zo || !sheet || !cellbuf)
        goto fail;
    float m[6];
    if ((r = cli_xfer_align(&env, rgb, w, h, faces, m, NULL)) <= 0) {
        if (r == 0)
            gc_log(GC_LOG_ERROR, "%s: no face found", pos[0]);
        goto fail;
    }
    if (glow_encode(env.engine, faces, 1, z, NULL) < 0)
        goto fail;
    for (int i = 0; i < na; i++) {
        p.alpha = alphas[i];
        if (xfer_ctx_create(&x, env.model, &p, tgt, src, NULL) < 0)
            goto fail;
        xfer_ctx_apply(x, z, zo + env.dim * i, 0);
        xfer_ctx_free(&x);
    }
    if (glow_decode(env.engine, zo, na, faces + P) < 0 || glow_decode(env.engine, tgt->mean, 1, faces + P * (na + 1)) < 0)
        goto fail;
    /* one row: cells side by side */
    const int SW = C * ncell;
    for (int k = 0; k < ncell; k++) {
        cli_xfer_resize(faces + P * k, S, cellbuf, C);
        if (!o.labels) {
            char label[32];
            if (k == 0)
                snprintf(label, sizeof(label), "source");
            else if (k == ncell - 1)
                snprintf(label, sizeof(label), "target");
            else
                snprintf(label, sizeof(label), "%.2f", alphas[k - 1]);
            media_draw_text(cellbuf, C, C, 3, 3, C >= 128 ? 2 : 1, label);
        }
        for (int y = 0; y < C; y++)
            memcpy(sheet + ((size_t)y * SW + (size_t)k * C) * 3, cellbuf + (size_t)y * C * 3, (size_t)C * 3);
    }
    if (media_image_write(o.out, sheet, SW, C) < 0)
        goto fail;
    printf("sweep: %d alphas (%s, %s) from %g to %g -> %s (%dx%d)\n", na, xfer_method_name(p.method), o.alphas,
           alphas[0], alphas[na - 1], o.out, SW, C);
    ret = 0;
fail:
    xfer_ctx_free(&x);
    free(rgb), free(faces), free(z), free(zo), free(sheet), free(cellbuf);
    xfer_identity_free(&src);
    xfer_identity_free(&tgt);
    cli_xfer_env_close(&env);
    return ret;
}
