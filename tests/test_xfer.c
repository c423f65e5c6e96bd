/* xfer: every formula against a plain double-precision computation, the
 * source-mean policies, per-level weights, identity files and the exact
 * properties of the method through a (random or shipped) model:
 *   same identity, alpha 1 -> the input face back, exactly after n_bits quantization;
 *   alpha 0 -> the target's mean face in every frame;
 *   an identity from N copies of one face -> that face's latent, zero variance;
 *   an identity used with another model -> rejected, naming both files.
 * usage: test_xfer TMPDIR [MODEL]   (MODEL: a trained model to use as well) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/gc.h"
#include "test_xfer_util.h"
#include "xfer/xfer.h"

static double max_abs_diff_ref(const float *a, const double *ref, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - ref[i]) / fmax(1.0, fabs(ref[i])));
    return m;
}

static size_t count_bits_differ(const float *a, const float *b, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return c;
}

static void test_stats(void)
{
    const size_t D = 1031;
    const int N = 37;
    float *z = malloc(sizeof(float) * D * N), *mean = malloc(sizeof(float) * D), *var = malloc(sizeof(float) * D);
    double *rm = calloc(D, sizeof(double)), *rv = calloc(D, sizeof(double));
    xt_seed(1);
    xt_fill(z, D * N, 1.5, 100.0); /* a large offset: naive sum-of-squares would cancel */
    xfer_stats *s;
    GC_ASSERT(xfer_stats_create(&s, D) == 0);
    for (int k = 0; k < N; k++)
        xfer_stats_add(s, z + k * D);
    xfer_stats_mean(s, mean);
    xfer_stats_var(s, var);
    for (size_t i = 0; i < D; i++) { /* two-pass reference */
        for (int k = 0; k < N; k++)
            rm[i] += z[k * D + i];
        rm[i] /= N;
        for (int k = 0; k < N; k++)
            rv[i] += (z[k * D + i] - rm[i]) * (z[k * D + i] - rm[i]);
        rv[i] /= N;
    }
    double em = max_abs_diff_ref(mean, rm, D), ev = max_abs_diff_ref(var, rv, D);
    printf("stats(D=%zu,N=%d,offset 100): mean max_rel=%.2e var max_rel=%.2e (bound 1e-6)\n", D, N, em, ev);
    CHECK(em < 1e-6 && ev < 1e-6, "Welford mean/var off");
    CHECK(xfer_stats_count(s) == N, "count %lld", (long long)xfer_stats_count(s));

    /* N copies of one latent: mean is that latent bit for bit, variance exactly 0 */
    xfer_stats_reset(s);
    for (int k = 0; k < 9; k++)
        xfer_stats_add(s, z);
    xfer_stats_mean(s, mean);
    xfer_stats_var(s, var);
    size_t nd = count_bits_differ(mean, z, D), nz = 0;
    for (size_t i = 0; i < D; i++)
        nz += var[i] != 0;
    printf("stats(9 copies): mean differs in %zu values, var nonzero in %zu (both must be 0)\n", nd, nz);
    CHECK(nd == 0 && nz == 0, "copies: mean not the latent or var not 0");

    /* attribute from stats: mean(pos) - mean(neg) */
    xfer_stats *neg;
    GC_ASSERT(xfer_stats_create(&neg, D) == 0);
    xfer_stats_reset(s);
    for (int k = 0; k < 5; k++)
        xfer_stats_add(s, z + k * D);
    for (int k = 5; k < 12; k++)
        xfer_stats_add(neg, z + k * D);
    xfer_attribute *a;
    GC_ASSERT(xfer_attribute_from_stats(s, neg, "t", NULL, &a) == 0);
    for (size_t i = 0; i < D; i++) {
        double p = 0, q = 0;
        for (int k = 0; k < 5; k++)
            p += z[k * D + i];
        for (int k = 5; k < 12; k++)
            q += z[k * D + i];
        rm[i] = p / 5 - q / 7;
    }
    double ea = max_abs_diff_ref(a->vector, rm, D);
    printf("attribute build(5 pos, 7 neg): max_rel=%.2e (bound 1e-5), counts %lld/%lld\n", ea,
           (long long)a->count_pos, (long long)a->count_neg);
    CHECK(ea < 1e-5 && a->count_pos == 5 && a->count_neg == 7, "attribute vector off");
    xfer_attribute_free(&a);
    xfer_stats_free(&neg);
    xfer_stats_free(&s);
    free(z), free(mean), free(var), free(rm), free(rv);
}

static void test_formulas(void)
{
    const size_t D = 4099;
    float *s = malloc(D * 4), *mS = malloc(D * 4), *mT = malloc(D * 4), *vS = malloc(D * 4), *vT = malloc(D * 4),
          *v = malloc(D * 4), *out = malloc(D * 4), *out2 = malloc(D * 4);
    double *ref = malloc(D * 8);
    xt_seed(2);
    xt_fill(s, D, 1, 0), xt_fill(mS, D, 0.5, 0), xt_fill(mT, D, 0.5, 0), xt_fill(v, D, 0.3, 0);
    for (size_t i = 0; i < D; i++)
        vS[i] = (float)(0.2 + xt_uniform()), vT[i] = (float)(xt_uniform() * 2);
    const double alphas[] = {0.0, 0.37, 0.5, 1.0, -0.8};
    for (int k = 0; k < 5; k++) {
        const double al = alphas[k], e = 0.01;
        xfer_linear(s, mS, mT, D, al, out);
        for (size_t i = 0; i < D; i++)
            ref[i] = (double)mT[i] + al * ((double)s[i] - mS[i]);
        double el = max_abs_diff_ref(out, ref, D);
        xfer_variance(s, mS, vS, mT, vT, D, al, e, out);
        for (size_t i = 0; i < D; i++)
            ref[i] = (double)mT[i] + al * ((double)s[i] - mS[i]) * sqrt(vT[i] + e) / sqrt(vS[i] + e);
        double ev = max_abs_diff_ref(out, ref, D);
        xfer_attribute_add(s, v, D, al, out);
        for (size_t i = 0; i < D; i++)
            ref[i] = (double)s[i] + al * v[i];
        double ea = max_abs_diff_ref(out, ref, D);
        printf("formulas(alpha=%.2f): linear max_rel=%.2e variance max_rel=%.2e attribute max_rel=%.2e (bound 1e-7)\n",
               al, el, ev, ea);
        CHECK(el < 1e-7 && ev < 1e-7 && ea < 1e-7, "formula off at alpha %g", al);
    }
    /* exact cases */
    xfer_linear(s, mS, mS, D, 1.0, out);
    size_t d1 = count_bits_differ(out, s, D);
    xfer_variance(s, mS, vS, mS, vS, D, 1.0, 0.01, out);
    size_t d2 = count_bits_differ(out, s, D);
    xfer_linear(s, mS, mT, D, 0.0, out);
    size_t d3 = count_bits_differ(out, mT, D);
    xfer_variance(s, mS, vS, mT, vT, D, 0.0, 0.01, out);
    size_t d4 = count_bits_differ(out, mT, D);
    xfer_attribute_add(s, v, D, 0.0, out);
    size_t d5 = count_bits_differ(out, s, D);
    /* variance with equal spreads is linear, bit for bit */
    xfer_linear(s, mS, mT, D, 0.6, out);
    xfer_variance(s, mS, vT, mT, vT, D, 0.6, 0.01, out2);
    size_t d6 = count_bits_differ(out, out2, D);
    /* in place */
    memcpy(out, s, D * 4);
    xfer_linear(out, mS, mT, D, 0.6, out);
    size_t d7 = count_bits_differ(out, out2, D);
    printf("exact: linear(a=1,mT=mS)!=s:%zu variance(a=1,same id)!=s:%zu linear(a=0)!=mT:%zu variance(a=0)!=mT:%zu "
           "attribute(a=0)!=s:%zu variance(vS=vT)!=linear:%zu in-place!=out-of-place:%zu (all must be 0)\n",
           d1, d2, d3, d4, d5, d6, d7);
    CHECK(!d1 && !d2 && !d3 && !d4 && !d5 && !d6 && !d7, "an exact case is not exact");
    free(s), free(mS), free(mT), free(vS), free(vT), free(v), free(out), free(out2), free(ref);
}

/* Temporal smoothing: the EMA against a double reference, the first latent and a reset
 * passing unchanged, S == 0 never touching a latent, S clamped to 0.95. */
static void test_smooth(void)
{
    const size_t D = 257;
    const int N = 9;
    const double S = 0.8;
    float *z = malloc(sizeof(float) * D * N), *w = malloc(sizeof(float) * D), *keep = malloc(sizeof(float) * D);
    double *ref = malloc(sizeof(double) * D);
    for (size_t i = 0; i < D * N; i++)
        z[i] = (float)(sin(0.37 * (double)i) * 2.0 + 0.1 * (double)(i % 7));
    xfer_smooth *sm = NULL, *off = NULL, *big = NULL;
    int r = xfer_smooth_create(&sm, D, S), r0 = xfer_smooth_create(&off, D, 0.0), r1 = xfer_smooth_create(&big, D, 5.0);
    CHECK(r == 0 && r0 == 0 && r1 == 0, "smooth create");
    if (r < 0 || r0 < 0 || r1 < 0)
        goto done;
    double err = 0;
    size_t first_off = 0, reset_off = 0, zero_off = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 1: after a reset (a new track) */
        if (pass)
            xfer_smooth_reset(sm);
        for (int t = 0; t < N; t++) {
            memcpy(w, z + D * t, sizeof(float) * D);
            xfer_smooth_apply(sm, w);
            if (t == 0) {
                size_t d = count_bits_differ(w, z, D);
                *(pass ? &reset_off : &first_off) = d;
                for (size_t i = 0; i < D; i++)
                    ref[i] = z[i];
            } else {
                for (size_t i = 0; i < D; i++)
                    ref[i] = S * ref[i] + (1 - S) * z[D * t + i];
                err = fmax(err, max_abs_diff_ref(w, ref, D));
            }
            memcpy(keep, z + D * t, sizeof(float) * D);
            xfer_smooth_apply(off, keep);
            zero_off += count_bits_differ(keep, z + D * t, D);
        }
    }
    printf("smooth: S %g, max rel. error vs double EMA %.3g, first latent %zu values changed, after reset %zu, "
           "S=0 %zu changed, S=5 clamped to %g\n", S, err, first_off, reset_off, zero_off, xfer_smooth_factor(big));
    CHECK(err < 1e-6, "EMA off by %g", err);
    CHECK(first_off == 0 && reset_off == 0, "the first latent of a track is not passed unchanged");
    CHECK(zero_off == 0, "S = 0 changed a latent");
    CHECK(xfer_smooth_factor(big) == 0.95 && xfer_smooth_factor(off) == 0.0, "S not clamped to 0..0.95");
    /* a still face stays still: constant input gives that constant back */
    xfer_smooth_reset(sm);
    size_t still_off = 0;
    for (int t = 0; t < 4; t++) {
        memcpy(w, z, sizeof(float) * D);
        xfer_smooth_apply(sm, w);
        for (size_t i = 0; i < D; i++)
            still_off += fabsf(w[i] - z[i]) > 1e-6f * fmaxf(1.0f, fabsf(z[i]));
    }
    CHECK(still_off == 0, "constant input drifts (%zu values)", still_off);
done:
    xfer_smooth_free(&sm);
    xfer_smooth_free(&off);
    xfer_smooth_free(&big);
    xfer_smooth_free(&sm); /* NULL-safe */
    free(z);
    free(w);
    free(keep);
    free(ref);
}

static void test_parse(void)
{
    struct xfer_params p = xfer_params_default();
    int r1 = xfer_level_weights_parse("0,0.5,1", &p);
    CHECK(r1 == 0 && p.n_level_weights == 3 && p.level_weights[1] == 0.5 && p.level_weights[3] == 1.0,
          "level weights parse");
    gc_log_set_level(GC_LOG_QUIET);
    int r2 = xfer_level_weights_parse("1,,2", &p), r3 = xfer_level_weights_parse("1,9", &p),
        r4 = xfer_level_weights_parse("", &p);
    enum xfer_method m;
    enum xfer_source so;
    int r5 = xfer_method_parse("variance", &m), r6 = xfer_method_parse("nope", &m);
    int r7 = xfer_source_parse("two-pass", &so);
    gc_log_set_level(GC_LOG_INFO);
    printf("parse: good weights %d, bad weights %d %d %d, method %d/%d, source %d\n", r1, r2, r3, r4, r5, r6, r7);
    CHECK(r2 < 0 && r3 < 0 && r4 < 0 && r5 == 0 && m == XFER_METHOD_VARIANCE && r6 < 0 && r7 == 0 &&
              so == XFER_SOURCE_TWO_PASS,
          "parsers");
}

/* Policies and level weights through a ctx on model m (latents random: no encoding needed). */
static void test_ctx(const glow_model *m)
{
    const size_t D = glow_latent_size(m);
    const int L = glow_model_config(m)->n_levels, N = 6;
    float *z = malloc(D * N * 4), *out = malloc(D * 4), *exp = malloc(D * 4), *mean = malloc(D * 4);
    xt_seed(3);
    xt_fill(z, D * N, 1, 0);
    xfer_identity *tgt, *src;
    GC_ASSERT(xfer_identity_alloc(&tgt, D) == 0 && xfer_identity_alloc(&src, D) == 0);
    xt_fill(tgt->mean, D, 0.5, 0), xt_fill(src->mean, D, 0.5, 0);
    for (size_t i = 0; i < D; i++)
        tgt->var[i] = (float)xt_uniform(), src->var[i] = (float)(0.1 + xt_uniform());
    snprintf(tgt->model_sha256, 65, "%s", glow_model_sha256(m));
    snprintf(src->model_sha256, 65, "%s", glow_model_sha256(m));
    tgt->count = src->count = 3;

    /* FILE + per-level weights: each level's slice with alpha * w[l] */
    struct xfer_params p = xfer_params_default();
    p.source = XFER_SOURCE_FILE;
    p.alpha = 0.8;
    p.n_level_weights = L;
    for (int l = 0; l < L; l++)
        p.level_weights[l] = l == 0 ? 0.0 : 1.0 / l;
    xfer_ctx *x;
    GC_ASSERT(xfer_ctx_create(&x, m, &p, tgt, src, NULL) == 0);
    xfer_ctx_apply(x, z, out, 0);
    size_t bad = 0;
    int level0_is_target = 1;
    for (int l = 0; l < L; l++) {
        size_t cnt, off = glow_latent_level_offset(m, l, &cnt, NULL, NULL, NULL);
        xfer_linear(z + off, src->mean + off, tgt->mean + off, cnt, 0.8 * p.level_weights[l], exp + off);
        if (l == 0)
            level0_is_target = count_bits_differ(out + off, tgt->mean + off, cnt) == 0;
    }
    bad = count_bits_differ(out, exp, D);
    printf("level weights(L=%d, 0,1,1/2,..): values off %zu, level 0 (weight 0) equals the target mean: %d\n", L,
           bad, level0_is_target);
    CHECK(bad == 0 && level0_is_target, "per-level weights");
    xfer_ctx_free(&x);

    /* variance method through the ctx */
    p = xfer_params_default();
    p.source = XFER_SOURCE_FILE;
    p.method = XFER_METHOD_VARIANCE;
    p.alpha = 0.7;
    GC_ASSERT(xfer_ctx_create(&x, m, &p, tgt, src, NULL) == 0);
    xfer_ctx_apply(x, z, out, 0);
    xfer_variance(z, src->mean, src->var, tgt->mean, tgt->var, D, 0.7, p.var_eps, exp);
    bad = count_bits_differ(out, exp, D);
    /* live changes: alpha and target (here the source as target) */
    xfer_ctx_set_alpha(x, 0.3);
    int rt = xfer_ctx_set_target(x, src);
    xfer_ctx_apply(x, z, out, 0);
    xfer_variance(z, src->mean, src->var, src->mean, src->var, D, 0.3, p.var_eps, exp);
    size_t live = count_bits_differ(out, exp, D);
    printf("ctx live changes: set_target %d, alpha 0.3 on the new target off %zu\n", rt, live);
    CHECK(rt == 0 && live == 0, "set_alpha/set_target");
    xfer_ctx_free(&x);

    /* TWO_PASS: the mean of the first pass */
    p = xfer_params_default();
    p.source = XFER_SOURCE_TWO_PASS;
    GC_ASSERT(xfer_ctx_create(&x, m, &p, tgt, NULL, NULL) == 0);
    gc_log_set_level(GC_LOG_QUIET);
    int early = xfer_ctx_apply(x, z, out, 0);
    gc_log_set_level(GC_LOG_INFO);
    for (int k = 0; k < N; k++)
        xfer_ctx_observe(x, z + k * D);
    GC_ASSERT(xfer_ctx_end_pass(x) == 0);
    xfer_stats *st;
    xfer_stats_create(&st, D);
    for (int k = 0; k < N; k++)
        xfer_stats_add(st, z + k * D);
    xfer_stats_mean(st, mean);
    size_t bad2 = count_bits_differ(xfer_ctx_source_mean(x), mean, D);
    xfer_ctx_apply(x, z + D, out, 0);
    xfer_linear(z + D, mean, tgt->mean, D, 0.5, exp);
    bad2 += count_bits_differ(out, exp, D);
    xfer_ctx_free(&x);

    /* RUNNING: strength 0 for the first faces (output = target mean), ramp over warm-up, then full */
    p = xfer_params_default();
    p.warmup_s = 2.0;
    p.warmup_min_faces = 2;
    GC_ASSERT(xfer_ctx_create(&x, m, &p, tgt, NULL, NULL) == 0);
    xfer_ctx_apply(x, z, out, 0.0);
    size_t first = count_bits_differ(out, tgt->mean, D);
    double s0 = xfer_ctx_strength(x);
    xfer_ctx_apply(x, z + D, out, 1.0);
    double s1 = xfer_ctx_strength(x);
    xfer_stats_reset(st);
    xfer_stats_add(st, z);
    xfer_stats_add(st, z + D);
    xfer_stats_mean(st, mean);
    xfer_linear(z + D, mean, tgt->mean, D, 0.5 * 0.5, exp);
    size_t mid = count_bits_differ(out, exp, D);
    xfer_ctx_apply(x, z + 2 * D, out, 5.0);
    double s2 = xfer_ctx_strength(x);
    xfer_stats_add(st, z + 2 * D);
    xfer_stats_mean(st, mean);
    xfer_linear(z + 2 * D, mean, tgt->mean, D, 0.5, exp);
    size_t full = count_bits_differ(out, exp, D);
    xfer_ctx_reset(x);
    xfer_ctx_apply(x, z + 3 * D, out, 6.0);
    double s3 = xfer_ctx_strength(x);
    xfer_ctx_free(&x);
    printf("ctx: variance off %zu; two-pass off %zu, apply before end_pass -> %d; running: strengths %.2f %.2f %.2f "
           "after reset %.2f (expected 0 0.5 1 0), first frame != target mean %zu, ramp off %zu, full off %zu\n",
           bad, bad2, early, s0, s1, s2, s3, first, mid, full);
    CHECK(bad == 0 && bad2 == 0 && early < 0, "variance/two-pass ctx");
    CHECK(s0 == 0 && s1 == 0.5 && s2 == 1 && s3 == 0 && first == 0 && mid == 0 && full == 0, "running ctx");

    /* misuse is refused */
    gc_log_set_level(GC_LOG_QUIET);
    p = xfer_params_default();
    p.source = XFER_SOURCE_FILE;
    int e1 = xfer_ctx_create(&x, m, &p, tgt, NULL, NULL);
    p.n_level_weights = L + 1;
    int e2 = xfer_ctx_create(&x, m, &p, tgt, src, NULL);
    p = xfer_params_default();
    p.method = XFER_METHOD_ATTRIBUTE;
    int e3 = xfer_ctx_create(&x, m, &p, NULL, NULL, NULL);
    gc_log_set_level(GC_LOG_INFO);
    printf("ctx misuse: file without source %d, wrong weight count %d, attribute without vector %d (all < 0)\n", e1,
           e2, e3);
    CHECK(e1 < 0 && e2 < 0 && e3 < 0 && !x, "misuse accepted");

    /* attribute method through the ctx */
    xfer_attribute *a;
    xfer_attribute_alloc(&a, D);
    xt_fill(a->vector, D, 0.2, 0);
    p.alpha = -1.25;
    GC_ASSERT(xfer_ctx_create(&x, m, &p, NULL, NULL, a) == 0);
    xfer_ctx_apply(x, z, out, 0);
    xfer_attribute_add(z, a->vector, D, -1.25, exp);
    bad = count_bits_differ(out, exp, D);
    printf("ctx attribute: off %zu\n", bad);
    CHECK(bad == 0, "attribute ctx");
    xfer_ctx_free(&x);
    xfer_attribute_free(&a);
    xfer_stats_free(&st);
    xfer_identity_free(&tgt), xfer_identity_free(&src);
    free(z), free(out), free(exp), free(mean);
}

/* Files: round trip bit for bit; another model's identity rejected naming both files. */
static void test_files(const glow_model *m, const glow_model *other, const char *dir)
{
    const size_t D = glow_latent_size(m);
    char path[512], apath[512], bad[512];
    snprintf(path, sizeof(path), "%s/id.safetensors", dir);
    snprintf(apath, sizeof(apath), "%s/attr.safetensors", dir);
    xfer_identity *id, *back = NULL;
    xfer_identity_alloc(&id, D);
    xt_fill(id->mean, D, 1, 0);
    for (size_t i = 0; i < D; i++)
        id->var[i] = (float)xt_uniform();
    snprintf(id->name, sizeof(id->name), "someone");
    snprintf(id->model_sha256, 65, "%s", glow_model_sha256(m));
    id->count = 17;
    int r = xfer_identity_save(id, path);
    int r2 = xfer_identity_load(&back, path, m);
    int same = back && back->dim == D && !count_bits_differ(back->mean, id->mean, D) &&
               !count_bits_differ(back->var, id->var, D) && back->count == 17 && !strcmp(back->name, "someone");
    printf("identity file: save %d load %d round trip exact %d\n", r, r2, same);
    CHECK(r == 0 && r2 == 0 && same, "identity round trip");
    xfer_identity_free(&back);

    xt_capture_begin(dir);
    int r3 = xfer_identity_load(&back, path, other);
    char *msg = xt_capture_end();
    int names = strstr(msg, path) && strstr(msg, glow_model_path(other));
    printf("identity with another model: load %d, message names the identity and the model: %d\n", r3, names);
    CHECK(r3 < 0 && !back && names, "other model's identity not rejected with both names");
    free(msg);

    /* a corrupt identity: kind wrong, negative variance */
    id->var[5] = -1;
    snprintf(bad, sizeof(bad), "%s/neg.safetensors", dir);
    xfer_identity_save(id, bad);
    xt_capture_begin(dir);
    int r4 = xfer_identity_load(&back, bad, m);
    msg = xt_capture_end();
    printf("identity with a negative variance: load %d, message names the file: %d\n", r4, strstr(msg, bad) != NULL);
    CHECK(r4 < 0 && strstr(msg, bad), "bad identity accepted");
    free(msg);

    xfer_attribute *a, *ab = NULL;
    xfer_attribute_alloc(&a, D);
    xt_fill(a->vector, D, 1, 0);
    snprintf(a->source, sizeof(a->source), "test");
    a->count_pos = 3, a->count_neg = 4;
    int r5 = xfer_attribute_save(a, apath);
    gc_log_set_level(GC_LOG_QUIET);
    int r6 = xfer_identity_load(&back, apath, m); /* an attribute is not an identity */
    gc_log_set_level(GC_LOG_INFO);
    int r7 = xfer_attribute_load(&ab, apath, other); /* model_sha256 "": only the length is checked */
    int ok = ab && !count_bits_differ(ab->vector, a->vector, D) && ab->count_neg == 4;
    printf("attribute file: save %d, loaded as identity %d (<0), load with model sha \"\" on another model of "
           "the same size %d, exact %d\n", r5, r6, r7, ok);
    CHECK(r5 == 0 && r6 < 0 && (glow_latent_size(other) != D || (r7 == 0 && ok)), "attribute file");
    xfer_attribute_free(&ab);
    xfer_attribute_free(&a);
    xfer_identity_free(&id);
}

/* The exact properties through encode/decode. */
static void test_properties(const glow_model *m)
{
    const struct glow_config *cfg = glow_model_config(m);
    const int S = cfg->image_size, F = 4; /* F frames */
    const size_t D = glow_latent_size(m), P = (size_t)S * S * 3;
    glow_engine *e = NULL;
    struct glow_params gp = glow_params_default();
    GC_ASSERT(glow_engine_create(&e, m, &gp) == 0);
    uint8_t *img = malloc(P * F), *dec = malloc(P * F), *tdec = malloc(P * F);
    float *z = malloc(D * F * sizeof(float)), *out = malloc(D * F * sizeof(float));
    xt_seed(4);
    for (size_t i = 0; i < P * F; i++) /* smooth random images: a face-like range of values */
        img[i] = (uint8_t)(100 + 60 * sin(0.05 * (double)(i % P) + (double)(i / P)) + 20 * xt_uniform());
    GC_ASSERT(glow_encode(e, img, F, z, NULL) == 0);

    /* identity of the frames, used as source and target: alpha 1 gives the frames back */
    xfer_stats *st;
    xfer_stats_create(&st, D);
    for (int k = 0; k < F; k++)
        xfer_stats_add(st, z + k * D);
    xfer_identity *id;
    GC_ASSERT(xfer_stats_to_identity(st, "frames", glow_model_sha256(m), &id) == 0);
    struct xfer_params p = xfer_params_default();
    p.source = XFER_SOURCE_FILE;
    p.alpha = 1.0;
    xfer_ctx *x;
    GC_ASSERT(xfer_ctx_create(&x, m, &p, id, id, NULL) == 0);
    for (int k = 0; k < F; k++)
        xfer_ctx_apply(x, z + k * D, out + k * D, k / 30.0);
    xfer_ctx_free(&x);
    glow_decode(e, out, F, dec);
    const int shift = 8 - cfg->n_bits;
    size_t px_off = 0, lat_off = count_bits_differ(out, z, D * F);
    for (size_t i = 0; i < P * F; i++)
        px_off += (dec[i] >> shift) != (img[i] >> shift);
    printf("property alpha=1, source=target: latents differ in %zu values, decoded pixels off (after %d-bit "
           "quantization) %zu of %zu (both must be 0)\n", lat_off, cfg->n_bits, px_off, P * F);
    CHECK(lat_off == 0 && px_off == 0, "alpha 1 does not give the input back");

    /* alpha 0: the target's mean face in every frame, whatever the source and method */
    xfer_identity *tgt;
    xfer_identity_alloc(&tgt, D);
    xt_fill(tgt->mean, D, 0.7, 0);
    for (size_t i = 0; i < D; i++)
        tgt->var[i] = (float)xt_uniform();
    snprintf(tgt->model_sha256, 65, "%s", glow_model_sha256(m));
    tgt->count = 1;
    /* decoded as a batch of F, as the frames are: a row's result may depend on its place in
     * the batch (the CPU backend's GEMM blocking), not on the other rows */
    float *tmeans = malloc(D * F * sizeof(float));
    for (int k = 0; k < F; k++)
        memcpy(tmeans + k * D, tgt->mean, D * sizeof(float));
    glow_decode(e, tmeans, F, tdec);
    for (int method = XFER_METHOD_LINEAR; method <= XFER_METHOD_VARIANCE; method++) {
        p.method = method;
        p.alpha = 0.0;
        GC_ASSERT(xfer_ctx_create(&x, m, &p, tgt, id, NULL) == 0);
        for (int k = 0; k < F; k++)
            xfer_ctx_apply(x, z + k * D, out + k * D, 0);
        xfer_ctx_free(&x);
        glow_decode(e, out, F, dec);
        size_t off = 0, lat = count_bits_differ(out, tmeans, D * F);
        for (int k = 0; k < F; k++)
            off += memcmp(dec + k * P, tdec + k * P, P) != 0;
        printf("property alpha=0 (%s): latents differing from the target's mean %zu, frames differing from its "
               "decoded mean face %zu of %d (both must be 0)\n", xfer_method_name(method), lat, off, F);
        CHECK(lat == 0 && off == 0, "alpha 0 is not the target mean face");
    }

    /* identity from N copies of one face: its latent as mean, zero variance. Each copy is encoded
     * alone, as the reference latent: OpenBLAS's GEMM kernels may round a row differently by its
     * position in a batch (seen on AMD EPYC), and this property is about the statistics. */
    xfer_stats_reset(st);
    float *zc = malloc(D * 6 * sizeof(float));
    for (int k = 0; k < 6; k++)
        glow_encode(e, img, 1, zc + k * D, NULL);
    for (int k = 1; k < 6; k++)
        xfer_stats_add(st, zc + k * D);
    xfer_identity *cid;
    xfer_stats_to_identity(st, "copies", glow_model_sha256(m), &cid);
    size_t moff = count_bits_differ(cid->mean, zc, D), vnz = 0;
    for (size_t i = 0; i < D; i++)
        vnz += cid->var[i] != 0;
    printf("property identity of 5 copies: mean differs from the photo's latent in %zu values, variance nonzero "
           "in %zu (both must be 0)\n", moff, vnz);
    CHECK(moff == 0 && vnz == 0, "copies identity");
    xfer_identity_free(&cid);
    xfer_identity_free(&tgt);
    xfer_identity_free(&id);
    xfer_stats_free(&st);
    glow_engine_free(&e);
    free(img), free(dec), free(tdec), free(tmeans), free(z), free(out), free(zc);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_xfer TMPDIR [MODEL]\n");
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0755);
    char mpath[512], opath[512];
    snprintf(mpath, sizeof(mpath), "%s/random16.safetensors", dir);
    snprintf(opath, sizeof(opath), "%s/random16b.safetensors", dir);
    test_stats();
    test_formulas();
    test_parse();
    test_smooth();
    glow_model *m = NULL, *other = NULL, *shipped = NULL;
    const struct glow_random_cfg ca = {.size = 16, .levels = 3, .depth = 2, .width = 16, .affine = 1,
                                       .n_bits = 5, .seed = 11};
    const struct glow_random_cfg cb = {.size = 16, .levels = 3, .depth = 2, .width = 16, .affine = 0,
                                       .n_bits = 5, .seed = 12};
    if (glow_random_model_write(mpath, &ca) < 0 || glow_random_model_write(opath, &cb) < 0 ||
        glow_model_load(&m, mpath) < 0 ||
        glow_model_load(&other, opath) < 0) {
        printf("FAIL: could not write or load the random test models\n");
        return 1;
    }
    printf("models: %s (%s), %s (%s)\n", mpath, glow_model_sha256(m), opath, glow_model_sha256(other));
    test_ctx(m);
    test_files(m, other, dir);
    test_properties(m);
    test_properties(other);
    if (argc > 2) {
        if (glow_model_load(&shipped, argv[2]) < 0) {
            printf("FAIL: %s does not load\n", argv[2]);
            return 1;
        }
        printf("shipped model %s:\n", argv[2]);
        test_properties(shipped);
        test_files(shipped, m, dir);
        glow_model_free(&shipped);
    }
    glow_model_free(&m);
    glow_model_free(&other);
    printf("%s (%d failures)\n", test_failures ? "FAILED" : "passed", test_failures);
    return test_failures ? 1 : 0;
}
