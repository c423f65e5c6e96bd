/* glowcam live: a webcam, stream or file through the chain to a preview window,
 * a v4l2loopback virtual camera and/or a y4m pipe, dropping old frames rather
 * than falling behind. Keys in the preview: +/- alpha, space effect on/off,
 * t next target, q or Esc quit. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/chain_cli.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/gc.h"
#include "common/gc_file.h"
#include "media/media.h"
#include "pipeline/pipeline.h"

struct live_opts {
    struct cli_chain_opts chain;
    const char *input, *vcam, *y4m, *size, *format;
    double fps, warmup;
    int preview, side_by_side, stats, frames, pace, loop, passthrough;
};

static const struct cli_opt opts[] = {
    {"input", 'i', "webcam device, URL or file", offsetof(struct live_opts, input), OPT_STRING, {.s = "/dev/video0"}, 0, 0},
    {"size", 0, "capture size WxH asked of a webcam", offsetof(struct live_opts, size), OPT_STRING, {.s = NULL}, 0, 0},
    {"fps", 0, "capture rate asked of a webcam (0 = its default)", offsetof(struct live_opts, fps), OPT_FLOAT, {.f = 0}, 0, 240},
    {"format", 0, "input format (v4l2, lavfi, ...; default: guessed)", offsetof(struct live_opts, format), OPT_STRING, {.s = NULL}, 0, 0},
    {"target", 't', "target identities, comma-separated ('t' cycles them; default: the shipped one)", offsetof(struct live_opts, chain.target), OPT_STRING, {.s = NULL}, 0, 0},
    {"alpha", 'a', "expression strength (+/- keys change it)", offsetof(struct live_opts, chain.alpha), OPT_FLOAT, {.f = 0.5}, 0, 2},
    {"method", 0, "transfer method: linear or variance", offsetof(struct live_opts, chain.method), OPT_STRING, {.s = "linear"}, 0, 0},
    {"source", 's', "source identity file (else a running mean with warm-up)", offsetof(struct live_opts, chain.source), OPT_STRING, {.s = NULL}, 0, 0},
    {"warmup", 0, "seconds before a running mean gives full strength", offsetof(struct live_opts, warmup), OPT_FLOAT, {.f = 3}, 0, 600},
    CLI_CHAIN_OPTS(struct live_opts, chain),
    {"preview", 'p', "show an SDL2 preview window", offsetof(struct live_opts, preview), OPT_FLAG, {0}, 0, 0},
    {"side-by-side", 0, "preview the input beside the output", offsetof(struct live_opts, side_by_side), OPT_FLAG, {0}, 0, 0},
    {"vcam", 0, "write to this v4l2loopback device (/dev/videoN)", offsetof(struct live_opts, vcam), OPT_STRING, {.s = NULL}, 0, 0},
    {"y4m", 0, "stream YUV4MPEG2 to this file ('-' = stdout)", offsetof(struct live_opts, y4m), OPT_STRING, {.s = NULL}, 0, 0},
    {"frames", 'n', "stop after N frames (0 = run until quit)", offsetof(struct live_opts, frames), OPT_INT, {.i = 0}, 0, 1e9},
    {"pace", 0, "1: play a file at its frame rate like a camera; 0: as fast as it goes", offsetof(struct live_opts, pace), OPT_INT, {.i = 1}, 0, 1},
    {"loop", 0, "start a file input again at its end", offsetof(struct live_opts, loop), OPT_FLAG, {0}, 0, 0},
    {"passthrough", 0, "no face processing (tests the input and outputs)", offsetof(struct live_opts, passthrough), OPT_FLAG, {0}, 0, 0},
    {"stats", 0, "print per-stage ms per frame, fps and latency at the end", offsetof(struct live_opts, stats), OPT_FLAG, {0}, 0, 0},
    {0}};

static const char *usage_line = "[--input DEV|URL|FILE] [--target ID] [--preview] [--vcam /dev/videoN] [--y4m -] [options]";

static media_source *volatile g_src;

static void on_signal(int sig)
{
    (void)sig;
    media_source *s = g_src;
    if (s)
        media_source_stop(s); /* one atomic store: safe in a handler */
}

struct live_sink {
    media_preview *pv;
    media_vcam *vcam;
    media_y4m *y4m;
    pl_chain *chain;
    double alpha_step;
    double t_prev, fps, lat_ms;
};

static int sink_show(void *ctx, pl_frame *f)
{
    struct live_sink *s = ctx;
    int r;
    if (s->vcam && (r = media_vcam_write(s->vcam, f->rgb)) < 0)
        return r;
    if (s->y4m && (r = media_y4m_write(s->y4m, f->rgb)) < 0)
        return r == -EPIPE ? 1 : r; /* the reader went away: stop quietly */
    double now = gc_time();
    if (s->t_prev > 0) {
        double inst = 1.0 / (now - s->t_prev > 1e-6 ? now - s->t_prev : 1e-6);
        s->fps = s->fps > 0 ? 0.9 * s->fps + 0.1 * inst : inst;
    }
    s->t_prev = now;
    double lat = (now - f->info.captured) * 1000.0;
    s->lat_ms = s->lat_ms > 0 ? 0.9 * s->lat_ms + 0.1 * lat : lat;
    if (!s->pv)
        return 0;
    char text[256];
    if (s->chain)
        snprintf(text, sizeof(text), "%.1f FPS  %.0f MS  ALPHA %.2f  %s%s", s->fps, s->lat_ms, pl_chain_alpha(s->chain),
                 pl_chain_target_name(s->chain), pl_chain_enabled(s->chain) ? "" : "  OFF");
    else
        snprintf(text, sizeof(text), "%.1f FPS  %.0f MS  PASSTHROUGH", s->fps, s->lat_ms);
    if ((r = media_preview_show(s->pv, f->rgb, f->in, text)) < 0)
        return r;
    for (;;) {
        enum media_key k = media_preview_poll(s->pv);
        if (k == MEDIA_KEY_NONE)
            return 0;
        if (k == MEDIA_KEY_QUIT)
            return 1;
        if (!s->chain)
            continue;
        switch (k) {
        case MEDIA_KEY_ALPHA_UP: pl_chain_set_alpha(s->chain, pl_chain_alpha(s->chain) + s->alpha_step); break;
        case MEDIA_KEY_ALPHA_DOWN: pl_chain_set_alpha(s->chain, pl_chain_alpha(s->chain) - s->alpha_step); break;
        case MEDIA_KEY_TOGGLE: pl_chain_toggle(s->chain); break;
        case MEDIA_KEY_TARGET: gc_log(GC_LOG_INFO, "live: target %s", pl_chain_next_target(s->chain)); break;
        default: break;
        }
    }
}

int cli_cmd_live(int argc, char **argv)
{
    struct live_opts o;
    char **pos;
    int npos;
    int r = cli_parse("live", usage_line, opts, &o, argc, argv, &pos, &npos);
    if (r != CLI_PARSE_OK)
        return r == CLI_PARSE_HELP ? 0 : 2;
    if (npos) {
        gc_log(GC_LOG_ERROR, "live: unexpected argument '%s' (the input is --input)", pos[0]);
        return 2;
    }
    if (!o.preview && !o.vcam && !o.y4m) {
        gc_log(GC_LOG_ERROR, "live: nowhere to send frames: give --preview, --vcam /dev/videoN or --y4m -");
        return 2;
    }
    /* a y4m file over its own input, or a virtual camera fed its own frames */
    const char *same = gc_file_same(o.input, o.y4m) ? o.y4m : gc_file_same(o.input, o.vcam) ? o.vcam : NULL;
    if (same) {
        gc_log(GC_LOG_ERROR, "live: %s is also the input: send the frames elsewhere", same);
        return 2;
    }
    struct media_source_params sp = media_source_params_default();
    if (o.size && (sscanf(o.size, "%dx%d", &sp.width, &sp.height) != 2 || sp.width <= 0 || sp.height <= 0)) {
        gc_log(GC_LOG_ERROR, "live: --size takes WxH, e.g. 640x480, got '%s'", o.size);
        return 2;
    }
    sp.fps = o.fps;
    sp.format = o.format;
    sp.realtime = o.pace && strncmp(o.input, "/dev/", 5) != 0;
    sp.loop = o.loop;

    int rc = 1;
    pl_chain *chain = NULL;
    media_source *src = NULL;
    struct live_sink sk = {.alpha_step = 0.05};
    /* the input first: a bad device or file is reported before the model and dlib load */
    if (media_source_open(&src, o.input, &sp) < 0)
        goto done;
    if (!o.passthrough) {
        struct pl_chain_params cp;
        cli_chain_params(&cp, &o.chain);
        cp.warmup_s = o.warmup;
        cp.max_batch = 4; /* live takes what is queued: small batches keep latency low */
        if (cli_chain_create("live", &o.chain, &cp, 1, &chain) < 0)
            goto done;
        sk.chain = chain;
    }
    const struct media_source_info *si = media_source_info(src);
    if (o.vcam && media_vcam_open(&sk.vcam, o.vcam, si->w, si->h, si->fps_num, si->fps_den) < 0)
        goto done;
    if (o.y4m && media_y4m_open(&sk.y4m, o.y4m, si->w, si->h, si->fps_num, si->fps_den) < 0)
        goto done;
    if (o.preview && media_preview_open(&sk.pv, "glowcam", si->w, si->h, o.side_by_side) < 0)
        goto done;

    struct sigaction sa = {0}, old_int, old_term, old_pipe;
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    g_src = src;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN; /* a closed y4m reader is an EPIPE write, not a death */
    sigaction(SIGPIPE, &ign, &old_pipe);

    struct pl_params pp = pl_params_default();
    pp.live = 1;
    struct pl_stage st[PL_MAX_STAGES];
    int n_st = chain ? pl_chain_stages(chain, st, PL_MAX_STAGES) : 0;
    struct pl_media_reader rd = {.src = src, .keep_input = o.side_by_side, .max_frames = o.frames};
    struct pl_stats stats;
    gc_log(GC_LOG_INFO, "live: %s %dx%d -> %s%s%s%s", o.input, si->w, si->h, o.preview ? "preview " : "",
           o.vcam ? o.vcam : "", o.vcam ? " " : "", o.y4m ? "y4m" : "");
    r = pl_run(&pp, pl_media_read, &rd, st, n_st, sink_show, &sk, pl_media_stop, &rd, &stats);
    g_src = NULL;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (o.stats) {
        char buf[4096];
        pl_stats_format(&stats, 1, buf, sizeof(buf));
        fprintf(stderr, "%s", buf);
        if (chain) {
            int64_t with, without, faces;
            pl_chain_counts(chain, &with, &without, &faces);
            fprintf(stderr, "frames with a face %lld, without %lld, faces transferred %lld\n", (long long)with,
                    (long long)without, (long long)faces);
        }
    }
    if (r < 0)
        goto done;
    gc_log(GC_LOG_INFO, "live: stopped after %lld frames", (long long)stats.frames_out);
    rc = 0;
done:
    media_preview_close(&sk.pv);
    media_y4m_close(&sk.y4m);
    media_vcam_close(&sk.vcam);
    media_source_close(&src);
    pl_chain_free(&chain);
    return rc;
}
