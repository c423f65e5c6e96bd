/* glowcam eval: how well a converted video (or image) keeps the source's expression,
 * how steady it is, and how far its faces moved toward the target identity.
 *
 * - expression fidelity: landmarks in aligned coordinates (openai-eyes, 256 px), each
 *   face's displacement from its own video's mean shape, source against output frame
 *   by frame: mean point error over the inter-ocular distance (plus the gain, the
 *   least-squares scale of the output's displacements on the source's, and their
 *   correlation: alpha 0.5 should give a gain near 0.5);
 * - temporal stability: mean absolute frame-to-frame change (0..255) of the output's
 *   face region on frames where the source face is still, beside the source's own;
 * - identity (with -m and --target): the output face's latent distance (rms per
 *   dimension) to the target's mean against its distance to the source's mean
 *   (--source, or the mean of the source video's latents). */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/xfer_cli.h"
#include "common/gc.h"
#include "media/media.h"

#define EVAL_SIZE 256 /* aligned coordinate frame of the landmarks */

struct eval_opts {
    const char *model, *target, *source, *backend;
    int csv, max_frames;
    double still;
};

struct eval_frame {
    int ok;                        /* a face in both frames */
    float src[FACE_N_POINTS][2];   /* aligned landmarks */
    float out[FACE_N_POINTS][2];
    double src_motion;             /* source landmarks' mean move from the previous frame / IOD */
    double out_change, src_change; /* mean |frame_t - frame_t-1| over the face box, 0..255 */
    double d_target, d_source;     /* latent distances (NAN without a model) */
};

static void eye_centres(const float p[FACE_N_POINTS][2], double *l, double *r)
{
    l[0] = l[1] = r[0] = r[1] = 0;
    for (int i = 36; i < 42; i++)
        l[0] += p[i][0] / 6, l[1] += p[i][1] / 6, r[0] += p[i + 6][0] / 6, r[1] += p[i + 6][1] / 6;
}

static double iod(const float p[FACE_N_POINTS][2])
{
    double l[2], r[2];
    eye_centres(p, l, r);
    return hypot(r[0] - l[0], r[1] - l[1]);
}

/* The face box from landmarks, grown by 10% and clipped. */
static void face_region(const float p[FACE_N_POINTS][2], int w, int h, int *x0, int *y0, int *x1, int *y1)
{
    float a = 1e9f, b = 1e9f, c = -1e9f, d = -1e9f;
    for (int i = 0; i < FACE_N_POINTS; i++)
        a = fminf(a, p[i][0]), b = fminf(b, p[i][1]), c = fmaxf(c, p[i][0]), d = fmaxf(d, p[i][1]);
    float gx = 0.1f * (c - a), gy = 0.1f * (d - b);
    *x0 = (int)fmaxf(0, a - gx), *y0 = (int)fmaxf(0, b - gy);
    *x1 = (int)fminf((float)w, c + gx), *y1 = (int)fminf((float)h, d + gy);
}

static double region_change(const uint8_t *a, const uint8_t *b, int w, int x0, int y0, int x1, int y1)
{
    double s = 0;
    size_t n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            for (int c = 0; c < 3; c++, n++)
                s += abs((int)a[((size_t)y * w + x) * 3 + c] - (int)b[((size_t)y * w + x) * 3 + c]);
    return n ? s / n : NAN;
}

static double rms_dist(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / n);
}

/* Largest face with landmarks, or 0. */
static int largest_face(face_detector *det, face_landmarker *lm, const uint8_t *rgb, int w, int h, struct face *f)
{
    struct face faces[8];
    int n = face_find(det, lm, rgb, w, h, 0, 0, faces, 8);
    if (n <= 0)
        return n;
    *f = faces[face_largest(faces, n)];
    return 1;
}

int cli_cmd_eval(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"csv", 0, "print one CSV row per frame (the summary goes to stderr)", offsetof(struct eval_opts, csv), OPT_FLAG, {0}, 0, 0},
        {"model", 'm', "model file, for the identity figures", offsetof(struct eval_opts, model), OPT_STRING, {.s = NULL}, 0, 0},
        {"target", 't', "target identity, for the identity figures", offsetof(struct eval_opts, target), OPT_STRING, {.s = NULL}, 0, 0},
        {"source", 's', "source identity (default: the mean of the source's latents)", offsetof(struct eval_opts, source), OPT_STRING, {.s = NULL}, 0, 0},
        {"still", 0, "source landmark motion per frame (over the inter-ocular distance) below which the face counts as still", offsetof(struct eval_opts, still), OPT_FLOAT, {.f = 0.02}, 0, 1},
        {"max-frames", 0, "stop after this many frames (0: all)", offsetof(struct eval_opts, max_frames), OPT_INT, {.i = 0}, 0, 1000000},
        {"backend", 0, "glow backend: auto, vulkan, cpu, reference", offsetof(struct eval_opts, backend), OPT_STRING, {.s = "auto"}, 0, 0},
        {0}};
    const char *usage = "SOURCE_VIDEO OUTPUT_VIDEO [--csv] [-m MODEL --target ID [--source ID]]";
    struct eval_opts o;
    char **pos;
    int npos;
    int r = cli_parse("eval", usage, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos != 2 || (o.target && !o.model) || (o.source && !o.target)) {
        gc_log(GC_LOG_ERROR, "eval: needs SOURCE and OUTPUT (and -m MODEL with --target)");
        cli_print_help(stderr, "eval", usage, opts);
        return 2;
    }
    struct cli_xfer_env env;
    memset(&env, 0, sizeof(env));
    face_detector *det = NULL;
    face_landmarker *lm = NULL;
    media_source *sa = NULL, *sb = NULL;
    xfer_identity *tgt = NULL, *src_id = NULL;
    xfer_stats *src_stats = NULL;
    struct eval_frame *fr = NULL;
    uint8_t *a = NULL, *b = NULL, *pa = NULL, *pb = NULL, *crops = NULL;
    float *zs = NULL, *zo = NULL;
    int ret = 1, nf = 0, cap = 0;
    const int use_model = o.target != NULL;
    if (use_model) {
        if (cli_xfer_env_open(&env, o.model, o.backend, 0) < 0)
            return 1;
        if (xfer_identity_load(&tgt, o.target, env.model) < 0 ||
            (o.source && xfer_identity_load(&src_id, o.source, env.model) < 0) ||
            xfer_stats_create(&src_stats, env.dim) < 0)
            goto fail;
        crops = malloc((size_t)env.size * env.size * 3 * 2);
        zs = malloc(env.dim * sizeof(float) * 2);
        /* keep every output latent to measure against the source mean at the end */
        if (!crops || !zs)
            goto fail;
    }
    struct media_source_params sp = media_source_params_default();
    if (face_detector_create(&det, NULL) < 0 || face_landmarker_create(&lm, NULL) < 0 ||
        media_source_open(&sa, pos[0], &sp) < 0 || media_source_open(&sb, pos[1], &sp) < 0)
        goto fail;
    const struct media_source_info *ia = media_source_info(sa), *ib = media_source_info(sb);
    if (ia->w != ib->w || ia->h != ib->h) {
        gc_log(GC_LOG_ERROR, "eval: %s is %dx%d but %s is %dx%d (an output keeps its source's size)", pos[0], ia->w,
               ia->h, pos[1], ib->w, ib->h);
        goto fail;
    }
    const int w = ia->w, h = ia->h;
    const size_t FS = (size_t)w * h * 3;
    a = malloc(FS), b = malloc(FS), pa = malloc(FS), pb = malloc(FS);
    if (!a || !b || !pa || !pb)
        goto fail;
    struct face fa, fb, prev_fa;
    int prev_ok = 0;
    struct media_frame_info fia, fib;
    for (;;) {
        int ra = media_source_read(sa, a, &fia), rb = media_source_read(sb, b, &fib);
        if (ra == GC_EOF || rb == GC_EOF) {
            if (ra != rb)
                gc_log(GC_LOG_WARN, "eval: %s ends first, after %d frames", ra == GC_EOF ? pos[0] : pos[1], nf);
            break;
        }
        if (ra < 0 || rb < 0)
            goto fail;
        if (nf == cap) {
            cap = cap ? cap * 2 : 256;
            struct eval_frame *t = realloc(fr, cap * sizeof(*fr));
            if (!t)
                goto fail;
            fr = t;
            if (use_model) {
                float *tz = realloc(zo, env.dim * sizeof(float) * cap);
                if (!tz)
                    goto fail;
                zo = tz;
            }
        }
        struct eval_frame *e = &fr[nf];
        memset(e, 0, sizeof(*e));
        e->src_motion = e->out_change = e->src_change = e->d_target = e->d_source = NAN;
        int ha = largest_face(det, lm, a, w, h, &fa), hb = largest_face(det, lm, b, w, h, &fb);
        if (ha < 0 || hb < 0)
            goto fail;
        float m[6];
        if (ha && hb && face_align_transform(FACE_RECIPE_OPENAI_EYES, fa.pts, EVAL_SIZE, m) == 0) {
            e->ok = 1;
            for (int k = 0; k < FACE_N_POINTS; k++)
                face_transform_point(m, fa.pts[k][0], fa.pts[k][1], &e->src[k][0], &e->src[k][1]);
            if (face_align_transform(FACE_RECIPE_OPENAI_EYES, fb.pts, EVAL_SIZE, m) < 0)
                e->ok = 0;
            for (int k = 0; k < FACE_N_POINTS; k++)
                face_transform_point(m, fb.pts[k][0], fb.pts[k][1], &e->out[k][0], &e->out[k][1]);
        }
        if (ha && prev_ok) {
            double s = 0;
            for (int k = 0; k < FACE_N_POINTS; k++)
                s += hypot(fa.pts[k][0] - prev_fa.pts[k][0], fa.pts[k][1] - prev_fa.pts[k][1]);
            e->src_motion = s / FACE_N_POINTS / fmax(1.0, iod(fa.pts));
            int x0, y0, x1, y1;
            face_region(fa.pts, w, h, &x0, &y0, &x1, &y1);
            e->out_change = region_change(b, pb, w, x0, y0, x1, y1);
            e->src_change = region_change(a, pa, w, x0, y0, x1, y1);
        }
        if (use_model && e->ok) {
            const size_t P = (size_t)env.size * env.size * 3;
            float ma[6], mb[6];
            enum face_recipe rc = env.recipe;
            if (face_align_transform(rc, fa.pts, env.size, ma) == 0 && face_align_transform(rc, fb.pts, env.size, mb) == 0 &&
                face_warp(a, w, h, 0, ma, crops, env.size, 0) == 0 && face_warp(b, w, h, 0, mb, crops + P, env.size, 0) == 0) {
                if (glow_encode(env.engine, crops, 2, zs, NULL) < 0)
                    goto fail;
                xfer_stats_add(src_stats, zs);
                memcpy(zo + env.dim * nf, zs + env.dim, env.dim * sizeof(float));
                e->d_target = rms_dist(zs + env.dim, tgt->mean, env.dim);
            }
        }
        prev_ok = ha;
        prev_fa = fa;
        memcpy(pa, a, FS);
        memcpy(pb, b, FS);
        nf++;
        if (o.max_frames && nf >= o.max_frames)
            break;
    }
    if (nf == 0) {
        gc_log(GC_LOG_ERROR, "eval: %s has no frames", pos[0]);
        goto fail;
    }
    /* source mean for the identity figure: the file, or the source's own latents */
    float *m_S = NULL;
    if (use_model && xfer_stats_count(src_stats) > 0) {
        m_S = malloc(env.dim * sizeof(float));
        if (!m_S)
            goto fail;
        if (src_id)
            memcpy(m_S, src_id->mean, env.dim * sizeof(float));
        else
            xfer_stats_mean(src_stats, m_S);
        for (int i = 0; i < nf; i++)
            if (!isnan(fr[i].d_target))
                fr[i].d_source = rms_dist(zo + env.dim * i, m_S, env.dim);
        free(m_S);
    }
    /* mean shapes of each video, then the displacement comparison */
    double ms[FACE_N_POINTS][2] = {{0}}, mo[FACE_N_POINTS][2] = {{0}};
    int nok = 0;
    for (int i = 0; i < nf; i++) {
        if (!fr[i].ok)
            continue;
        nok++;
        for (int k = 0; k < FACE_N_POINTS; k++)
            for (int c = 0; c < 2; c++)
                ms[k][c] += fr[i].src[k][c], mo[k][c] += fr[i].out[k][c];
    }
    float msf[FACE_N_POINTS][2];
    for (int k = 0; k < FACE_N_POINTS; k++)
        for (int c = 0; c < 2; c++)
            ms[k][c] /= nok ? nok : 1, mo[k][c] /= nok ? nok : 1, msf[k][c] = (float)ms[k][c];
    const double IOD = fmax(1.0, iod(msf));
    double err_sum = 0, mag_sum = 0, sxy = 0, sxx = 0, syy = 0, still_out = 0, still_src = 0, dt = 0, ds = 0;
    int n_still = 0, n_lat = 0;
    if (o.csv)
        printf("frame,faces,fidelity_error,expression_size,src_motion,still,out_change,src_change,d_target,d_source\n");
    for (int i = 0; i < nf; i++) {
        struct eval_frame *e = &fr[i];
        double err = NAN, mag = NAN;
        if (e->ok) {
            err = mag = 0;
            for (int k = 0; k < FACE_N_POINTS; k++) {
                double dsx = e->src[k][0] - ms[k][0], dsy = e->src[k][1] - ms[k][1];
                double dox = e->out[k][0] - mo[k][0], doy = e->out[k][1] - mo[k][1];
                err += hypot(dsx - dox, dsy - doy);
                mag += hypot(dsx, dsy);
                sxy += dsx * dox + dsy * doy, sxx += dsx * dsx + dsy * dsy, syy += dox * dox + doy * doy;
            }
            err /= FACE_N_POINTS * IOD, mag /= FACE_N_POINTS * IOD;
            err_sum += err, mag_sum += mag;
        }
        int still = !isnan(e->src_motion) && e->src_motion < o.still;
        if (still && !isnan(e->out_change))
            n_still++, still_out += e->out_change, still_src += e->src_change;
        if (!isnan(e->d_target) && !isnan(e->d_source))
            n_lat++, dt += e->d_target, ds += e->d_source;
        if (o.csv)
            printf("%d,%d,%.5f,%.5f,%.5f,%d,%.3f,%.3f,%.4f,%.4f\n", i, e->ok, err, mag, e->src_motion, still,
                   e->out_change, e->src_change, e->d_target, e->d_source);
    }
    FILE *f = o.csv ? stderr : stdout;
    fprintf(f, "frames=%d faces_in_both=%d\n", nf, nok);
    if (nok) {
        fprintf(f, "expression_fidelity_error=%.4f (mean landmark error over inter-ocular distance, 0 = same expression)\n",
                err_sum / nok);
        fprintf(f, "expression_size=%.4f (mean source displacement from its mean shape, same unit)\n", mag_sum / nok);
        fprintf(f, "expression_gain=%.3f expression_correlation=%.3f\n", sxx > 0 ? sxy / sxx : NAN,
                sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN);
    }
    fprintf(f, "still_frames=%d output_change_when_still=%.3f source_change_when_still=%.3f (mean |diff| 0..255)\n",
            n_still, n_still ? still_out / n_still : NAN, n_still ? still_src / n_still : NAN);
    if (use_model)
        fprintf(f, "latent_distance_to_target=%.4f latent_distance_to_source=%.4f (rms per dimension, %d frames)\n",
                n_lat ? dt / n_lat : NAN, n_lat ? ds / n_lat : NAN, n_lat);
    ret = 0;
fail:
    free(fr), free(a), free(b), free(pa), free(pb), free(crops), free(zs), free(zo);
    media_source_close(&sa);
    media_source_close(&sb);
    face_landmarker_free(&lm);
    face_detector_free(&det);
    xfer_stats_free(&src_stats);
    xfer_identity_free(&tgt);
    xfer_identity_free(&src_id);
    cli_xfer_env_close(&env);
    return ret;
}
