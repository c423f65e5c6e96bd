/* glow_bench_main: `glowcam bench glow` and the standalone `glow-bench` (which needs only
 * the glow module, so it runs on a machine with nothing but libvulkan and libc).
 *
 * Times encode and decode of a batch on one backend; for the CPU backend also measures
 * OpenBLAS's own sgemm on the model's GEMM shapes in the same run and breaks the encode
 * time down by op class. The last line is machine-readable for tools/bench_glow.py:
 *   result backend=cpu batch=8 encode_ms=8.1 decode_ms=7.9 faces_per_s=62.3 gflops=120.5
 * With --profile on the Vulkan backend it also times every GPU command with timestamps
 * (a separately recorded command buffer) and prints where the GPU time goes, per op class
 * and per convolution shape, plus `profile ...` lines for tools/gpu_bench.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gc.h"
#include "common/npy.h"
#include "glow/glow.h"
#ifdef GLOWCAM_HAVE_BLAS
#include "glow/blas.h"
#endif
#ifdef GLOWCAM_HAVE_VULKAN
#include "glow/vk_priv.h"
#endif

struct bench_opts {
    const char *model, *input;
    int batch, iters, warmup, threads, device, fp16, profile;
    enum glow_backend backend;
};

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: glowcam bench glow -m MODEL [options]   (glow-bench takes the same options)\n\n"
               "  -m, --model FILE     model (.safetensors)\n"
               "      --batch N        faces per encode/decode call (default 1, 1..1024)\n"
               "      --backend B      auto|vulkan|cpu|reference (default auto)\n"
               "      --iters K        timed calls of each direction (default 10)\n"
               "      --warmup K       untimed calls first (default 2)\n"
               "      --threads N      CPU backend threads, 0 = all cores (default 0)\n"
               "      --device N       Vulkan device index (default: best)\n"
               "      --fp16           Vulkan: allow fp16 where offered\n"
               "      --profile        Vulkan: GPU time per op class and conv shape (timestamps,\n"
               "                       min(iters, 3) more calls of each direction)\n"
               "      --input FILE     faces as .npy float32 [N,S,S,3] of 0..255 (default: synthetic)\n"
               "  -h, --help\n");
}

/* --name VALUE or --name=VALUE; returns the value or NULL (and advances *i). */
static const char *opt_value(int argc, char **argv, int *i, const char *name, const char *shrt)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (!strncmp(a, name, n) && a[n] == '=')
        return a + n + 1;
    if (!strcmp(a, name) || (shrt && !strcmp(a, shrt))) {
        if (*i + 1 >= argc)
            return NULL;
        return argv[++*i];
    }
    return NULL;
}

static int opt_is(const char *a, const char *name, const char *shrt)
{
    size_t n = strlen(name);
    return !strcmp(a, name) || (shrt && !strcmp(a, shrt)) || (!strncmp(a, name, n) && a[n] == '=');
}

static int parse_int(const char *s, int lo, int hi, const char *name, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < lo || v > hi) {
        gc_log(GC_LOG_ERROR, "bench glow: %s needs an integer in %d..%d", name, lo, hi);
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int bench_parse(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){.batch = 1, .iters = 10, .warmup = 2, .device = -1, .backend = GLOW_BACKEND_AUTO};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 1;
        } else if (opt_is(a, "--model", "-m")) {
            if (!(o->model = opt_value(argc, argv, &i, "--model", "-m")))
                r = -EINVAL;
        } else if (opt_is(a, "--input", NULL)) {
            if (!(o->input = opt_value(argc, argv, &i, "--input", NULL)))
                r = -EINVAL;
        } else if (opt_is(a, "--batch", NULL)) {
            r = parse_int(opt_value(argc, argv, &i, "--batch", NULL), 1, 1024, "--batch", &o->batch);
        } else if (opt_is(a, "--iters", NULL)) {
            r = parse_int(opt_value(argc, argv, &i, "--iters", NULL), 1, 100000, "--iters", &o->iters);
        } else if (opt_is(a, "--warmup", NULL)) {
            r = parse_int(opt_value(argc, argv, &i, "--warmup", NULL), 0, 100000, "--warmup", &o->warmup);
        } else if (opt_is(a, "--threads", NULL)) {
            r = parse_int(opt_value(argc, argv, &i, "--threads", NULL), 0, 1024, "--threads", &o->threads);
        } else if (opt_is(a, "--device", NULL)) {
            r = parse_int(opt_value(argc, argv, &i, "--device", NULL), -1, 1024, "--device", &o->device);
        } else if (!strcmp(a, "--fp16")) {
            o->fp16 = 1;
        } else if (!strcmp(a, "--profile")) {
            o->profile = 1;
        } else if (opt_is(a, "--backend", NULL)) {
            const char *v = opt_value(argc, argv, &i, "--backend", NULL);
            if (!v || glow_backend_parse(v, &o->backend) < 0) {
                gc_log(GC_LOG_ERROR, "bench glow: --backend needs auto, vulkan, cpu or reference");
                r = -EINVAL;
            }
        } else {
            gc_log(GC_LOG_ERROR, "bench glow: unknown option '%s'", a);
            r = -EINVAL;
        }
        if (r < 0) {
            bench_usage(stderr);
            return 2;
        }
    }
    if (!o->model) {
        gc_log(GC_LOG_ERROR, "bench glow: -m MODEL is required");
        bench_usage(stderr);
        return 2;
    }
    return 0;
}

/* Smooth-ish synthetic faces: a coarse random pattern plus noise (deterministic). */
static int synth_images(uint8_t *img, int n, int s)
{
    uint32_t r = 12345;
#define RND() (r = r * 1664525u + 1013904223u, (r >> 8) & 0xffff)
    const int cs = s / 4 > 0 ? s / 4 : 1;
    int *base = malloc(sizeof(int) * cs * cs * 3);
    if (!base)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cs * cs * 3; j++)
            base[j] = RND() % 256;
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                for (int c = 0; c < 3; c++) {
                    int v = base[((y * cs / s) * cs + x * cs / s) * 3 + c] + (int)(RND() % 81) - 40;
                    img[(((size_t)i * s + y) * s + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
    }
#undef RND
    free(base);
    return 0;
}

static int load_input(const char *path, uint8_t *img, int n, int s)
{
    float *d = NULL;
    int nd;
    int64_t sh[8];
    int r = gc_npy_read_f32(path, &d, &nd, sh);
    if (r < 0)
        return r;
    if (nd != 4 || sh[1] != s || sh[2] != s || sh[3] != 3 || sh[0] < 1) {
        gc_log(GC_LOG_ERROR, "%s: expected float32 [N,%d,%d,3] faces", path, s, s);
        free(d);
        return -EINVAL;
    }
    const size_t isz = (size_t)s * s * 3;
    for (int i = 0; i < n; i++) /* repeat the file's faces to fill the batch */
        for (size_t j = 0; j < isz; j++) {
            float v = d[(size_t)(i % sh[0]) * isz + j];
            img[(size_t)i * isz + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        }
    free(d);
    return 0;
}

#ifdef GLOWCAM_HAVE_BLAS
/* sgemm on the model's shapes, and where the encode time goes. */
static void bench_cpu_report(const glow_model *m, glow_engine *e, const uint8_t *img, float *z, int batch,
                             int threads, int iters, double enc_s)
{
    /* as the backend runs it: a batch of 2+ splits over 2 threads, each with
     * single-threaded OpenBLAS; one face uses all threads inside OpenBLAS */
    const int parts = threads >= 2 && batch >= 2 ? 2 : 1, part = (batch + parts - 1) / parts;
    const int bt = parts == 2 ? 1 : threads;
    struct glow_blas_shape sh[64];
    const int ns = glow_blas_gemm_shapes(m, part, sh, 64);
    double flop_cls[GLOW_BLAS_PROF_N] = {0}, floor_s = 0, best_flop = 0;
    int dom = 0;
    printf("\nOpenBLAS's own sgemm on the GEMM shapes of %s (%s, %d OpenBLAS thread%s%s), measured now:\n",
           parts == 2 ? "each half batch" : "the batch", glow_blas_info(), bt, bt > 1 ? "s" : "",
           parts == 2 ? "; 2 halves run at once" : "");
    printf("  %6s x %5s x %4s %2s %5s  %-16s %8s\n", "M", "N", "K", "B", "calls", "class", "GFLOP/s");
    for (int i = 0; i < ns; i++) {
        const double f = 2.0 * sh[i].m * sh[i].n * sh[i].k * sh[i].count;
        const double rate = glow_blas_sgemm_gflops(sh[i].m, sh[i].n, sh[i].k, sh[i].trans_b, bt, 0.15);
        printf("  %6d x %5d x %4d %2s %5d  %-16s %8.1f\n", sh[i].m, sh[i].n, sh[i].k, sh[i].trans_b ? "T" : "N",
               sh[i].count, glow_blas_prof_names[sh[i].cls], rate);
        flop_cls[sh[i].cls] += f * parts;
        if (rate > 0)
            floor_s += f / (rate * 1e9); /* the halves run side by side */
        if (f > best_flop) {
            best_flop = f;
            dom = i;
        }
    }
    const double dom_rate =
        parts * glow_blas_sgemm_gflops(sh[dom].m, sh[dom].n, sh[dom].k, sh[dom].trans_b, bt, 0.3);
    const double enc_rate = 2.0 * glow_model_flops(m) * batch / enc_s * 1e-9;
    printf("dominant shape %dx%dx%d: sgemm %.1f GFLOP/s%s; the whole encode reaches %.1f GFLOP/s = %.0f%% of it\n",
           sh[dom].m, sh[dom].n, sh[dom].k, dom_rate, parts == 2 ? " (2 x one thread)" : "", enc_rate,
           100.0 * enc_rate / dom_rate);
    printf("every GEMM at its own sgemm rate would take %.2f ms/face: %.0f%% of the encode time\n",
           floor_s / batch * 1e3, 100.0 * floor_s / enc_s);

    glow_blas_profile_reset(1);
    double t0 = gc_time();
    for (int i = 0; i < iters; i++)
        glow_encode(e, img, batch, z, NULL);
    const double tot = gc_time() - t0;
    double t[GLOW_BLAS_PROF_N], sum = 0;
    glow_blas_profile_get(t);
    glow_blas_profile_reset(0);
    for (int c = 0; c < GLOW_BLAS_PROF_N; c++)
        sum += t[c];
    printf("where the encode time goes (profiled run, %.2f ms/face wall; %s):\n", tot / iters / batch * 1e3,
           parts == 2 ? "time summed over both threads" : "wall time");
    for (int c = 0; c < GLOW_BLAS_PROF_N; c++) {
        printf("  %-28s %7.3f ms/face %5.1f%%", glow_blas_prof_names[c], t[c] / iters / batch * 1e3,
               100.0 * t[c] / sum);
        if (flop_cls[c] > 0 && t[c] > 0)
            printf("  %6.1f GFLOP/s%s", flop_cls[c] * iters / t[c] * 1e-9, parts == 2 ? " per thread" : "");
        printf("\n");
    }
}
#endif

#ifdef GLOWCAM_HAVE_VULKAN
static int prof_cmp_ms(const void *a, const void *b)
{
    double x = ((const struct glow_vk_prof_entry *)a)->ms, y = ((const struct glow_vk_prof_entry *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* --profile on Vulkan: calls more encodes and decodes with timestamps, prints the tables. */
static int bench_vk_profile(glow_engine *e, const uint8_t *img, float *z, uint8_t *out, int batch, int calls)
{
    glow_vk_profile_enable(1);
    for (int i = 0; i < calls; i++)
        if (glow_encode(e, img, batch, z, NULL) < 0)
            return -EIO;
    for (int i = 0; i < calls; i++)
        if (glow_decode(e, z, batch, out) < 0)
            return -EIO;
    glow_vk_profile_enable(0);
    if (glow_vk_profile_unsupported()) {
        printf("\nGPU profile: this device has no timestamps on its compute queue\n");
        return 0;
    }
    const struct glow_vk_prof_entry *pe;
    const int n = glow_vk_profile_entries(&pe);
    struct glow_vk_prof_total tot[2];
    glow_vk_profile_total(0, &tot[0]);
    glow_vk_profile_total(1, &tot[1]);
    printf("\nGPU profile (a timestamp after every command, in separately recorded command buffers; %d encode "
           "+ %d decode calls of batch %d):\n", calls, calls, batch);
    for (int d = 0; d < 2; d++) {
        const double k = tot[d].submissions ? 1.0 / tot[d].submissions : 0;
        printf("  %s: %9.3f ms/call on the GPU (first to last timestamp), %9.3f ms/call submit+wait on the host "
               "(%.0f%%), %ld commands/call\n", d ? "decode" : "encode", tot[d].gpu_ms * k, tot[d].wall_ms * k,
               tot[d].wall_ms > 0 ? 100.0 * tot[d].gpu_ms / tot[d].wall_ms : 0.0, (long)(tot[d].commands * k));
    }
    double cls_ms[2][GLOW_VK_PROF_N] = {{0}}, cls_flop[GLOW_VK_PROF_N] = {0}, cls_all[GLOW_VK_PROF_N] = {0};
    double sum[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        cls_ms[pe[i].dir][pe[i].cls] += pe[i].ms;
        cls_all[pe[i].cls] += pe[i].ms;
        cls_flop[pe[i].cls] += pe[i].flop;
        sum[pe[i].dir] += pe[i].ms;
    }
    printf("where the GPU time goes, per op class (ms per call; %% of that direction's summed command time):\n");
    printf("  %-28s %10s %6s %10s %6s %9s\n", "class", "encode ms", "%", "decode ms", "%", "GFLOP/s");
    for (int c = 0; c < GLOW_VK_PROF_N; c++) {
        double ms[2];
        for (int d = 0; d < 2; d++)
            ms[d] = tot[d].submissions ? cls_ms[d][c] / tot[d].submissions : 0;
        printf("  %-28s %10.3f %5.1f%% %10.3f %5.1f%%", glow_vk_prof_names[c], ms[0],
               sum[0] > 0 ? 100 * cls_ms[0][c] / sum[0] : 0, ms[1], sum[1] > 0 ? 100 * cls_ms[1][c] / sum[1] : 0);
        if (cls_flop[c] > 0 && cls_all[c] > 0)
            printf(" %9.1f", cls_flop[c] / (cls_all[c] * 1e-3) * 1e-9);
        printf("\n");
    }
    printf("  %-28s %10.3f %5.1f%% %10.3f %5.1f%%\n", "all commands", tot[0].submissions ? sum[0] / tot[0].submissions : 0,
           100.0, tot[1].submissions ? sum[1] / tot[1].submissions : 0, 100.0);

    /* convolution shapes, both directions together */
    struct glow_vk_prof_entry *sh = calloc(n ? n : 1, sizeof(*sh));
    if (!sh)
        return -ENOMEM;
    int ns = 0;
    double conv_ms = 0;
    for (int i = 0; i < n; i++) {
        if (pe[i].ks == 0)
            continue;
        int j = 0;
        while (j < ns && !(sh[j].cls == pe[i].cls && sh[j].ks == pe[i].ks && sh[j].cin == pe[i].cin &&
                           sh[j].cout == pe[i].cout && sh[j].m == pe[i].m))
            j++;
        if (j == ns)
            sh[ns++] = (struct glow_vk_prof_entry){.cls = pe[i].cls, .ks = pe[i].ks, .cin = pe[i].cin,
                                                    .cout = pe[i].cout, .m = pe[i].m};
        sh[j].calls += pe[i].calls;
        sh[j].ms += pe[i].ms;
        sh[j].flop += pe[i].flop;
        conv_ms += pe[i].ms;
    }
    qsort(sh, ns, sizeof(*sh), prof_cmp_ms);
    printf("convolutions by shape (encode and decode together, most time first; cin counts the edge channel):\n");
    printf("  %2s %5s %5s %9s %6s %10s %7s %9s  %s\n", "KS", "cin", "cout", "M pixels", "calls", "ms/call", "% conv",
           "GFLOP/s", "class");
    for (int j = 0; j < ns; j++)
        printf("  %2d %5d %5d %9ld %6ld %10.4f %6.1f%% %9.1f  %s\n", sh[j].ks, sh[j].cin, sh[j].cout, sh[j].m,
               sh[j].calls, sh[j].ms / sh[j].calls, conv_ms > 0 ? 100 * sh[j].ms / conv_ms : 0,
               sh[j].ms > 0 ? sh[j].flop / (sh[j].ms * 1e-3) * 1e-9 : 0, glow_vk_prof_names[sh[j].cls]);
    free(sh);
    /* machine-readable (tools/gpu_bench.sh) */
    static const char *const keys[GLOW_VK_PROF_N] = {"fold", "conv1", "conv2", "conv3", "prior",
                                                     "coupling", "gauss", "squeeze", "prepost", "copy"};
    for (int c = 0; c < GLOW_VK_PROF_N; c++)
        printf("profile class=%s encode_ms=%.4f decode_ms=%.4f gflops=%.1f\n", keys[c],
               tot[0].submissions ? cls_ms[0][c] / tot[0].submissions : 0,
               tot[1].submissions ? cls_ms[1][c] / tot[1].submissions : 0,
               cls_all[c] > 0 ? cls_flop[c] / (cls_all[c] * 1e-3) * 1e-9 : 0);
    printf("profile total encode_gpu_ms=%.4f encode_wall_ms=%.4f decode_gpu_ms=%.4f decode_wall_ms=%.4f\n",
           tot[0].submissions ? tot[0].gpu_ms / tot[0].submissions : 0,
           tot[0].submissions ? tot[0].wall_ms / tot[0].submissions : 0,
           tot[1].submissions ? tot[1].gpu_ms / tot[1].submissions : 0,
           tot[1].submissions ? tot[1].wall_ms / tot[1].submissions : 0);
    return 0;
}
#endif

int glow_bench_main(int argc, char **argv)
{
    struct bench_opts o;
    int r = bench_parse(argc, argv, &o);
    if (r)
        return r == 1 ? 0 : 2;
    glow_model *m = NULL;
    glow_engine *e = NULL;
    uint8_t *img = NULL, *out = NULL;
    float *z = NULL;
    int ret = 1;
    if (glow_model_load(&m, o.model) < 0)
        goto out;
    const struct glow_config *c = glow_model_config(m);
    struct glow_params p = glow_params_default();
    p.backend = o.backend;
    p.max_batch = o.batch;
    p.threads = o.threads;
    p.device = o.device;
    p.fp16 = o.fp16;
    if (glow_engine_create(&e, m, &p) < 0)
        goto out;
    const int S = c->image_size, B = o.batch;
    const size_t isz = (size_t)S * S * 3, D = glow_latent_size(m);
    img = malloc(B * isz);
    out = malloc(B * isz);
    z = malloc(B * D * sizeof(float));
    if (!img || !out || !z) {
        gc_log(GC_LOG_ERROR, "bench glow: out of memory");
        goto out;
    }
    if (o.input) {
        if (load_input(o.input, img, B, S) < 0)
            goto out;
    } else if (synth_images(img, B, S) < 0) {
        gc_log(GC_LOG_ERROR, "bench glow: out of memory");
        goto out;
    }
    const double gflop = 2.0 * glow_model_flops(m) * 1e-9;
    printf("model: %s (%dx%d, L%d K%d W%d, %s, edge %d, post %d), %.3f GFLOP per encode\n", o.model, S, S,
           c->n_levels, c->depth, c->width, glow_coupling_name(c->coupling), c->edge_padding, c->level_post, gflop);
    printf("engine: %s\n", glow_engine_describe(e));
    printf("batch %d, %d timed calls per direction after %d warm-up\n", B, o.iters, o.warmup);
    fflush(stdout);

    for (int i = 0; i < o.warmup; i++)
        if (glow_encode(e, img, B, z, NULL) < 0 || glow_decode(e, z, B, out) < 0)
            goto out;
    double t0 = gc_time();
    for (int i = 0; i < o.iters; i++)
        if (glow_encode(e, img, B, z, NULL) < 0)
            goto out;
    const double enc = (gc_time() - t0) / o.iters;
    t0 = gc_time();
    for (int i = 0; i < o.iters; i++)
        if (glow_decode(e, z, B, out) < 0)
            goto out;
    const double dec = (gc_time() - t0) / o.iters;
    const int shift = 8 - c->n_bits;
    size_t mism = 0;
    for (size_t i = 0; i < B * isz; i++)
        mism += out[i] != (uint8_t)((img[i] >> shift) << shift);
    printf("encode: %8.3f ms/face (%.2f ms per call), %8.1f faces/s, %7.1f GFLOP/s\n", enc / B * 1e3, enc * 1e3,
           B / enc, gflop * B / enc);
    printf("decode: %8.3f ms/face (%.2f ms per call), %8.1f faces/s, %7.1f GFLOP/s\n", dec / B * 1e3, dec * 1e3,
           B / dec, gflop * B / dec);
    printf("encode+decode: %.1f faces/s; round trip mismatches %zu/%zu\n", B / (enc + dec), mism, B * isz);
    if (mism && !o.input) /* noise is far from a trained model's data: its latents overflow fp32's exactness */
        printf("(synthetic inputs; a trained model round-trips real faces exactly: try --input faces.npy)\n");
#ifdef GLOWCAM_HAVE_BLAS
    if (glow_engine_backend(e) == GLOW_BACKEND_CPU)
        bench_cpu_report(m, e, img, z, B, o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN), o.iters,
                         enc);
#endif
    if (o.profile) {
#ifdef GLOWCAM_HAVE_VULKAN
        if (glow_engine_backend(e) == GLOW_BACKEND_VULKAN) {
            if (bench_vk_profile(e, img, z, out, B, o.iters < 3 ? o.iters : 3) < 0)
                goto out;
        } else
#endif
            printf("(--profile times Vulkan commands; this is the %s backend)\n",
                   glow_backend_name(glow_engine_backend(e)));
    }
    printf("result backend=%s batch=%d encode_ms=%.4f decode_ms=%.4f faces_per_s=%.2f gflops=%.2f mismatches=%zu\n",
           glow_backend_name(glow_engine_backend(e)), B, enc / B * 1e3, dec / B * 1e3, B / (enc + dec),
           gflop * B / enc, mism);
    ret = 0;
out:
    free(img);
    free(out);
    free(z);
    glow_engine_free(&e);
    glow_model_free(&m);
    return ret;
}
