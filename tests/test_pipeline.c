/* pipeline runner: offline keeps every frame in order, live drops the oldest and
 * keeps latency flat, batches form, errors and a sink's stop end the run cleanly. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/gc.h"
#include "pipeline/pipeline.h"
#include "test_util.h"

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000 * (time_t)(ms / 1000)) * 1e6)};
    nanosleep(&ts, NULL);
}

struct src {
    int n, made;
    double interval_ms; /* 0: as fast as it goes */
    atomic_int stop;
    double t0;
};

static int src_read(void *ctx, pl_frame **out)
{
    struct src *s = ctx;
    if (s->made >= s->n || atomic_load(&s->stop))
        return GC_EOF;
    if (s->interval_ms > 0) {
        if (!s->made)
            s->t0 = gc_time();
        double due = s->t0 + s->made * s->interval_ms / 1000, now = gc_time();
        if (due > now)
            sleep_ms((due - now) * 1000);
    }
    pl_frame *f = pl_frame_new(8, 8, 0);
    if (!f)
        return -ENOMEM;
    f->info.index = s->made++;
    f->info.captured = gc_time();
    memset(f->rgb, (int)(f->info.index & 0xff), 8 * 8 * 3);
    *out = f;
    return 0;
}

static void src_stop(void *ctx) { atomic_store(&((struct src *)ctx)->stop, 1); }

struct stage_ctx {
    double ms;        /* work per call */
    int fail_at;      /* frame index that fails, -1 none */
    int max_seen;     /* largest batch seen */
};

static int stage_add(void *ctx, pl_frame **fr, int n)
{
    struct stage_ctx *c = ctx;
    if (n > c->max_seen)
        c->max_seen = n;
    if (c->ms > 0)
        sleep_ms(c->ms * (0.5 + (rand() % 100) / 100.0));
    for (int i = 0; i < n; i++) {
        if (fr[i]->info.index == c->fail_at)
            return -EIO;
        fr[i]->rgb[0] += 1; /* each stage leaves its mark */
    }
    return 0;
}

struct sink {
    int64_t count, last, out_of_order, unmarked;
    int marks;
    double ms;
    int stop_at;
};

static int sink_take(void *ctx, pl_frame *f)
{
    struct sink *s = ctx;
    if (f->info.index <= s->last)
        s->out_of_order++;
    s->last = f->info.index;
    if (f->rgb[0] != (uint8_t)((f->info.index & 0xff) + s->marks))
        s->unmarked++;
    s->count++;
    if (s->ms > 0)
        sleep_ms(s->ms);
    return s->stop_at > 0 && s->count >= s->stop_at ? 1 : 0;
}

static void test_offline(void)
{
    struct src s = {.n = 400};
    struct stage_ctx a = {.ms = 0.3, .fail_at = -1}, b = {.ms = 1.0, .fail_at = -1}, c = {.ms = 0.2, .fail_at = -1};
    struct pl_stage st[3] = {{"a", stage_add, &a, 1}, {"b", stage_add, &b, 6}, {"c", stage_add, &c, 1}};
    struct sink k = {.last = -1, .marks = 3};
    struct pl_params p = pl_params_default();
    struct pl_stats stats;
    int r = pl_run(&p, src_read, &s, st, 3, sink_take, &k, src_stop, &s, &stats);
    char buf[2048];
    pl_stats_format(&stats, 0, buf, sizeof(buf));
    printf("offline: %lld frames out of %d, out of order %lld, batch max %d, dropped %lld\n%s", (long long)k.count, s.n,
           (long long)k.out_of_order, b.max_seen, (long long)stats.dropped, buf);
    CHECK(r == 0, "run returned %d", r);
    CHECK(k.count == s.n && stats.frames_out == s.n, "every frame arrives");
    CHECK(k.out_of_order == 0 && k.unmarked == 0, "in order, every stage ran on each");
    CHECK(stats.dropped == 0, "nothing dropped offline");
    CHECK(b.max_seen == 6, "batches of 6 form (got %d)", b.max_seen);
    CHECK(stats.n_stages == 5 && stats.stage[2].frames == s.n, "stats per stage");
}

static void test_live(void)
{
    /* a 200 fps source into a 12 ms sink: latency must stay near one or two frames of the
     * sink, not grow with the backlog */
    struct src s = {.n = 300, .interval_ms = 5};
    struct stage_ctx a = {.ms = 1, .fail_at = -1}, b = {.ms = 2, .fail_at = -1};
    struct pl_stage st[2] = {{"a", stage_add, &a, 1}, {"b", stage_add, &b, 4}};
    struct sink k = {.last = -1, .marks = 2, .ms = 12};
    struct pl_params p = pl_params_default();
    p.live = 1;
    struct pl_stats stats;
    int r = pl_run(&p, src_read, &s, st, 2, sink_take, &k, src_stop, &s, &stats);
    printf("live: %lld of %d frames shown, %lld dropped, latency mean %.1f ms p95 %.1f ms max %.1f ms\n",
           (long long)k.count, s.n, (long long)stats.dropped, stats.lat_mean_ms, stats.lat_p95_ms, stats.lat_max_ms);
    CHECK(r == 0, "run returned %d", r);
    CHECK(stats.dropped > 0 && k.count + stats.dropped == s.n, "drops: %lld + %lld == %d", (long long)k.count,
          (long long)stats.dropped, s.n);
    CHECK(k.out_of_order == 0, "still in order");
    CHECK(stats.lat_p95_ms < 120, "latency stays bounded (p95 %.1f ms)", stats.lat_p95_ms);
}

static void test_error_and_stop(void)
{
    struct src s = {.n = 100000};
    struct stage_ctx a = {.fail_at = 50}, b = {.fail_at = -1};
    struct pl_stage st[2] = {{"a", stage_add, &a, 1}, {"b", stage_add, &b, 3}};
    struct sink k = {.last = -1, .marks = 2};
    struct pl_params p = pl_params_default();
    double t0 = gc_time();
    int r = pl_run(&p, src_read, &s, st, 2, sink_take, &k, src_stop, &s, NULL);
    printf("error: run returned %s after %lld frames out, %d read, %.2f s\n", gc_strerror(r), (long long)k.count,
           s.made, gc_time() - t0);
    CHECK(r == -EIO, "the stage's error comes back");
    CHECK(k.count <= 50, "no frame after the failing one reaches the sink");
    CHECK(s.made < 1000, "the source was stopped");

    struct src s2 = {.n = 100000};
    struct stage_ctx c = {.fail_at = -1};
    struct pl_stage st2[1] = {{"c", stage_add, &c, 1}};
    struct sink k2 = {.last = -1, .marks = 1, .stop_at = 20};
    r = pl_run(&p, src_read, &s2, st2, 1, sink_take, &k2, src_stop, &s2, NULL);
    printf("sink stop: returned %d after %lld frames, %d read\n", r, (long long)k2.count, s2.made);
    CHECK(r == 0 && k2.count == 20 && s2.made < 1000, "a quit key ends the run cleanly");

    /* no stages, no sink (the two-pass first pass with nothing to do) */
    struct src s3 = {.n = 10};
    r = pl_run(&p, src_read, &s3, NULL, 0, NULL, NULL, src_stop, &s3, NULL);
    CHECK(r == 0 && s3.made == 10, "bare run");
}

int main(void)
{
    srand(1);
    test_offline();
    test_live();
    test_error_and_stop();
    printf("test_pipeline: %d failures\n", test_failures);
    return test_failures ? 1 : 0;
}
