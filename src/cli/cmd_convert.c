/* glowcam convert: a video (or one image) in, the same with expressions moved onto
 * a target identity out. Audio copied, timestamps kept, output renamed into place
 * only when complete; Ctrl-C ends the input early and still finishes the file. */
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/chain_cli.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/gc.h"
#include "common/gc_file.h"
#include "media/media.h"
#include "pipeline/pipeline.h"

struct convert_opts {
    struct cli_chain_opts chain;
    const char *out, *attribute, *preset;
    int two_pass, stats, frames, crf, batch, passthrough, quiet;
};

static const struct cli_opt opts[] = {
    {"o", 'o', "output file: video (.mp4, .mkv, .mov, ...) or image (.png, .jpg)", offsetof(struct convert_opts, out), OPT_STRING, {.s = NULL}, 0, 0},
    {"target", 't', "target identity (.safetensors; default: the shipped default-target)", offsetof(struct convert_opts, chain.target), OPT_STRING, {.s = NULL}, 0, 0},
    {"alpha", 'a', "expression strength", offsetof(struct convert_opts, chain.alpha), OPT_FLOAT, {.f = 0.5}, 0, 2},
    {"method", 0, "transfer method: linear, variance or attribute", offsetof(struct convert_opts, chain.method), OPT_STRING, {.s = "linear"}, 0, 0},
    {"source", 's', "source identity file (else a running mean of the faces seen)", offsetof(struct convert_opts, chain.source), OPT_STRING, {.s = NULL}, 0, 0},
    {"two-pass", 0, "source mean from a first pass over the whole input", offsetof(struct convert_opts, two_pass), OPT_FLAG, {0}, 0, 0},
    {"attribute", 0, "attribute vector for --method attribute", offsetof(struct convert_opts, attribute), OPT_STRING, {.s = NULL}, 0, 0},
    CLI_CHAIN_OPTS(struct convert_opts, chain),
    {"crf", 0, "H.264 quality: 0 lossless .. 51 worst", offsetof(struct convert_opts, crf), OPT_INT, {.i = 18}, 0, 51},
    {"preset", 0, "x264 preset (ultrafast .. veryslow)", offsetof(struct convert_opts, preset), OPT_STRING, {.s = "veryfast"}, 0, 0},
    {"frames", 'n', "convert only the first N frames (0 = all)", offsetof(struct convert_opts, frames), OPT_INT, {.i = 0}, 0, 1e9},
    {"batch", 0, "faces per Glow call (batched across frames)", offsetof(struct convert_opts, batch), OPT_INT, {.i = 8}, 1, 256},
    {"passthrough", 0, "no face processing: decode and encode only (a baseline)", offsetof(struct convert_opts, passthrough), OPT_FLAG, {0}, 0, 0},
    {"stats", 0, "print per-stage ms per frame and the overall fps at the end", offsetof(struct convert_opts, stats), OPT_FLAG, {0}, 0, 0},
    {"quiet", 'q', "no progress line", offsetof(struct convert_opts, quiet), OPT_FLAG, {0}, 0, 0},
    {0}};

static const char *usage_line = "IN -o OUT [--target ID] [--alpha A] [--method linear|variance] [--source ID | --two-pass] [options]";

/* Ctrl-C: the source stops reading, the pipeline drains, the file is finished. */
static media_source *volatile g_src;
static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
    media_source *s = g_src;
    if (s)
        media_source_stop(s); /* one atomic store: safe in a handler */
}

struct sink {
    media_writer *w;
    int progress;
    int64_t total;
    double t0, t_last_print;
};

static int sink_write(void *ctx, pl_frame *f)
{
    struct sink *s = ctx;
    int r = media_writer_write(s->w, f->rgb, &f->info);
    if (r < 0)
        return r;
    if (s->progress) {
        double now = gc_time();
        int64_t n = media_writer_frames(s->w);
        if (n == 1)
            s->t0 = now;
        if (now - s->t_last_print > 0.25) {
            double fps = n > 1 && now > s->t0 ? (n - 1) / (now - s->t0) : 0;
            if (s->total > 0 && fps > 0)
                fprintf(stderr, "\rframe %lld/%lld  %.1f fps  ETA %.0f s   ", (long long)n, (long long)s->total,
                        fps, (s->total - n) / fps);
            else
                fprintf(stderr, "\rframe %lld  %.1f fps   ", (long long)n, fps);
            s->t_last_print = now;
        }
    }
    return 0;
}

static void print_stats(const struct pl_stats *st, pl_chain *chain)
{
    char buf[4096];
    pl_stats_format(st, 0, buf, sizeof(buf));
    fprintf(stderr, "%s", buf);
    if (chain) {
        int64_t with, without, faces;
        pl_chain_counts(chain, &with, &without, &faces);
        fprintf(stderr, "frames with a face %lld, without %lld, faces transferred %lld\n", (long long)with,
                (long long)without, (long long)faces);
    }
}

/* The chain of stages, from the options (defaults for model and target); 0 or 1. */
static int make_chain(const struct convert_opts *o, int still, pl_chain **chain)
{
    *chain = NULL;
    if (o->passthrough)
        return 0;
    struct pl_chain_params cp;
    cli_chain_params(&cp, &o->chain);
    cp.attribute = o->attribute;
    if (o->two_pass)
        cp.source_mode = "two-pass";
    cp.max_batch = o->batch;
    cp.still = still;
    if (cli_chain_create("convert", &o->chain, &cp, strcmp(o->chain.method, "attribute") != 0, chain) < 0)
        return 1;
    gc_log(GC_LOG_VERBOSE, "convert: %s", pl_chain_describe(*chain));
    return 0;
}

/* One image in, one out; the input is read before the model is loaded, so a bad
 * file is reported at once. */
static int convert_image(const char *in, const struct convert_opts *o)
{
    uint8_t *rgb = NULL;
    int w, h;
    if (media_image_read(in, &rgb, &w, &h) < 0)
        return 1;
    pl_chain *chain = NULL;
    pl_frame *f = NULL;
    int rc = 1;
    if (make_chain(o, 1, &chain))
        goto done;
    if (chain && !o->chain.source && strcmp(o->chain.method, "attribute"))
        gc_log(GC_LOG_WARN, "convert: one image and no --source: its own face is the source mean, so the "
               "output is the target's mean face without an expression; give --source ID");
    if (!(f = pl_frame_new(w, h, 0)))
        goto done;
    memcpy(f->rgb, rgb, (size_t)w * h * 3);
    if (chain) {
        if (pl_chain_process(chain, f) < 0)
            goto done;
        if (!f->n_faces)
            gc_log(GC_LOG_WARN, "%s: no face found: the image is written unchanged", in);
    }
    if (media_image_write(o->out, f->rgb, w, h) < 0)
        goto done;
    rc = 0;
done:
    pl_frame_free(&f);
    pl_chain_free(&chain);
    free(rgb);
    return rc;
}

int cli_cmd_convert(int argc, char **argv)
{
    struct convert_opts o;
    char **pos;
    int npos;
    int r = cli_parse("convert", usage_line, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos != 1 || !o.out) {
        gc_log(GC_LOG_ERROR, "convert: give one input and -o OUT (see glowcam convert --help)");
        return 2;
    }
    if (o.two_pass && o.passthrough) {
        gc_log(GC_LOG_ERROR, "convert: --two-pass needs the face chain, not --passthrough");
        return 2;
    }
    if (o.two_pass && o.chain.source) {
        gc_log(GC_LOG_ERROR, "convert: --source and --two-pass are two ways to get the source mean: give one");
        return 2;
    }
    const char *in = pos[0];
    const char *read = gc_file_same(in, o.out) ? "input" : gc_file_same(o.chain.source, o.out) ? "--source" : NULL;
    if (read) {
        gc_log(GC_LOG_ERROR, "convert: %s would replace the %s it reads: write the output elsewhere", o.out, read);
        return 2;
    }
    int out_image = media_is_image_path(o.out), in_image = media_is_image_path(in);
    if (in_image != out_image) {
        gc_log(GC_LOG_ERROR, "convert: %s in needs %s out (%s -> %s)", in_image ? "an image" : "a video",
               in_image ? "an image (.png, .jpg)" : "a video (.mp4, .mkv, ...)", in, o.out);
        return 2;
    }

    if (in_image)
        return convert_image(in, &o);

    int rc = 1;
    media_source *src = NULL;
    media_writer *w = NULL;
    struct media_source_params sp = media_source_params_default();
    sp.keep_audio = 1;
    struct pl_params pp = pl_params_default();
    struct pl_stage st[PL_MAX_STAGES];
    struct pl_stats stats;
    int n_st = 0;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    pl_chain *chain = NULL;
    /* the input first: a bad file is reported before the model and dlib load */
    sp.keep_audio = !o.two_pass;
    if (media_source_open(&src, in, &sp) < 0)
        goto done;
    g_src = src;
    if (make_chain(&o, 0, &chain))
        goto done;
    if (o.two_pass) {
        /* first pass: faces only, to learn the source mean */
        g_src = src;
        struct pl_media_reader rd = {.src = src, .max_frames = o.frames};
        n_st = pl_chain_observe_stages(chain, st, PL_MAX_STAGES);
        gc_log(GC_LOG_INFO, "convert: first pass over %s (source mean)", in);
        r = pl_run(&pp, pl_media_read, &rd, st, n_st, NULL, NULL, pl_media_stop, &rd, &stats);
        g_src = NULL;
        media_source_close(&src);
        if (r < 0 || g_interrupted || pl_chain_end_pass(chain) < 0)
            goto done;
        sp.keep_audio = 1;
        if (media_source_open(&src, in, &sp) < 0)
            goto done;
    }
    g_src = src;
    const struct media_source_info *si = media_source_info(src);
    struct media_writer_params wp = media_writer_params_default();
    wp.crf = o.crf;
    wp.preset = o.preset;
    wp.audio_from = src;
    if (media_writer_open(&w, o.out, si, &wp) < 0)
        goto done;
    int64_t total = si->nb_frames > 0 ? si->nb_frames : (int64_t)(si->duration * si->fps_num / si->fps_den + 0.5);
    if (o.frames > 0 && (total <= 0 || o.frames < total))
        total = o.frames;
    struct sink sk = {.w = w, .progress = !o.quiet && isatty(2), .total = total};
    struct pl_media_reader rd = {.src = src, .max_frames = o.frames};
    n_st = chain ? pl_chain_stages(chain, st, PL_MAX_STAGES) : 0;
    r = pl_run(&pp, pl_media_read, &rd, st, n_st, sink_write, &sk, pl_media_stop, &rd, &stats);
    if (sk.progress) {
        double dt = gc_time() - sk.t0;
        int64_t n = media_writer_frames(w);
        fprintf(stderr, "\rframe %lld  %.1f fps  done%*s\n", (long long)n, n > 1 && dt > 0 ? (n - 1) / dt : 0.0, 12, "");
    }
    if (r < 0) {
        media_writer_close(&w, 0);
        goto done;
    }
    int64_t written = media_writer_frames(w);
    if (media_writer_close(&w, 1) < 0)
        goto done;
    if (g_interrupted)
        gc_log(GC_LOG_WARN, "convert: interrupted: %s holds the first %lld frames", o.out, (long long)written);
    else
        gc_log(GC_LOG_INFO, "convert: %s: %lld frames", o.out, (long long)written);
    if (o.stats)
        print_stats(&stats, chain);
    rc = 0;
done:
    g_src = NULL;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    media_writer_close(&w, 0);
    media_source_close(&src);
    pl_chain_free(&chain);
    return rc;
}
