/* The generic runner: a source thread, one thread per stage, the sink on the
 * caller's thread, joined by bounded queues. Offline the queues block (nothing is
 * lost, order is kept); live they drop their oldest frame so latency stays flat. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <sys/resource.h>
#include <time.h>

#include "common/gc.h"
#include "pipeline/pipeline.h"

pl_frame *pl_frame_new(int w, int h, int keep_input)
{
    pl_frame *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->w = w;
    f->h = h;
    f->rgb = malloc((size_t)w * h * 3);
    f->in = keep_input ? malloc((size_t)w * h * 3) : NULL;
    if (!f->rgb || (keep_input && !f->in)) {
        pl_frame_free(&f);
        return NULL;
    }
    return f;
}

void pl_frame_free(pl_frame **pf)
{
    pl_frame *f = *pf;
    if (!f)
        return;
    free(f->rgb);
    free(f->in);
    free(f->crops);
    free(f);
    *pf = NULL;
}

struct pl_params pl_params_default(void)
{
    struct pl_params p = {.live = 0, .queue_size = 8, .batch_wait = 1};
    return p;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* ---- bounded queue ---- */

struct queue {
    pl_frame **buf;
    int cap, head, count;
    int closed;  /* the producer is done */
    int live;    /* drop the oldest when full */
    int64_t dropped;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
};

static int queue_init(struct queue *q, int cap, int live)
{
    memset(q, 0, sizeof(*q));
    q->buf = calloc(cap, sizeof(*q->buf));
    if (!q->buf)
        return -ENOMEM;
    q->cap = cap;
    q->live = live;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return 0;
}

static void queue_destroy(struct queue *q)
{
    if (!q->buf)
        return;
    for (int i = 0; i < q->count; i++)
        pl_frame_free(&q->buf[(q->head + i) % q->cap]);
    free(q->buf);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

/* Takes ownership of f in every case (a closed queue frees it). */
static void queue_push(struct queue *q, pl_frame *f)
{
    pl_frame *drop = NULL;
    pthread_mutex_lock(&q->mu);
    while (!q->live && q->count == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        drop = f;
    } else {
        if (q->count == q->cap) { /* live: the oldest goes */
            drop = q->buf[q->head];
            q->head = (q->head + 1) % q->cap;
            q->count--;
            q->dropped++;
        }
        q->buf[(q->head + q->count) % q->cap] = f;
        q->count++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    pl_frame_free(&drop);
}

/* Pops 1..max frames: waits for the first; with wait_full, waits until max are there or
 * the queue is closed. Returns the count, 0 when closed and empty. */
static int queue_pop(struct queue *q, pl_frame **out, int max, int wait_full)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    while (wait_full && q->count < max && q->count < q->cap && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    int n = 0;
    while (n < max && q->count > 0) {
        out[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* No more pushes; poppers drain what is left. */
static void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

/* ---- the runner ---- */

struct run;

struct worker {
    struct run *run;
    int idx; /* stage index, -1 for the source */
    struct pl_stage stage;
    struct queue *in, *out;
    struct pl_stage_stats st;
    pthread_t th;
};

struct run {
    const struct pl_params *p;
    pl_source_fn source;
    void *source_ctx;
    pl_stop_fn stop;
    void *stop_ctx;
    atomic_int err;
    atomic_int stopping;
    double t_first;
    int64_t frames_in;
};

static void run_fail(struct run *r, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(&r->err, &zero, err);
    if (!atomic_exchange(&r->stopping, 1) && r->stop)
        r->stop(r->stop_ctx);
}

static void *source_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    for (;;) {
        pl_frame *f = NULL;
        double t0 = gc_time(), c0 = thread_cpu();
        int e = r->source(r->source_ctx, &f);
        if (e == GC_EOF)
            break;
        if (e < 0) {
            run_fail(r, e);
            break;
        }
        w->st.busy_s += gc_time() - t0;
        w->st.cpu_s += thread_cpu() - c0;
        w->st.frames++;
        w->st.calls++;
        if (!r->frames_in++)
            r->t_first = t0;
        queue_push(w->out, f);
    }
    queue_close(w->out);
    return NULL;
}

static void *stage_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    int max = w->stage.max_batch > 0 ? w->stage.max_batch : 1;
    pl_frame **batch = calloc(max, sizeof(*batch));
    if (!batch) {
        run_fail(r, -ENOMEM);
        max = 0;
    }
    for (;;) {
        int n = max ? queue_pop(w->in, batch, max, !r->p->live && r->p->batch_wait && max > 1) : 0;
        if (n == 0)
            break;
        if (!atomic_load(&r->err)) {
            double t0 = gc_time(), c0 = thread_cpu();
            int e = w->stage.run(w->stage.ctx, batch, n);
            w->st.busy_s += gc_time() - t0;
            w->st.cpu_s += thread_cpu() - c0;
            w->st.frames += n;
            w->st.calls++;
            if (e < 0) {
                gc_log(GC_LOG_ERROR, "pipeline: stage %s failed: %s", w->stage.name, gc_strerror(e));
                run_fail(r, e);
            }
        }
        for (int i = 0; i < n; i++) {
            if (atomic_load(&r->err))
                pl_frame_free(&batch[i]); /* after an error, drain without work */
            else
                queue_push(w->out, batch[i]);
        }
    }
    /* drain anything left (only after an error) so upstream never blocks */
    while (max && queue_pop(w->in, batch, max, 0) > 0)
        ;
    free(batch);
    queue_close(w->out);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int pl_run(const struct pl_params *pp, pl_source_fn source, void *source_ctx, const struct pl_stage *stages,
           int n_stages, pl_sink_fn sink, void *sink_ctx, pl_stop_fn stop, void *stop_ctx, struct pl_stats *stats)
{
    struct pl_params p = pp ? *pp : pl_params_default();
    if (p.queue_size < 1 || p.queue_size > 64)
        p.queue_size = 8;
    if (p.live) /* one frame waiting per stage at most: the newest */
        p.queue_size = 1;
    GC_ASSERT(n_stages >= 0 && n_stages <= PL_MAX_STAGES); /* callers pass their own tables */
    struct run r = {.p = &p, .source = source, .source_ctx = source_ctx, .stop = stop, .stop_ctx = stop_ctx};
    struct queue q[PL_MAX_STAGES + 1];
    struct worker w[PL_MAX_STAGES + 1];
    memset(w, 0, sizeof(w));
    int nq = 0, started = 0, err = 0;
    /* live: only the source's queue drops; the later ones block, so a slow stage stalls
     * the chain back to the first queue and frames are dropped before any work is spent */
    for (; nq < n_stages + 1; nq++)
        if ((err = queue_init(&q[nq], p.queue_size, p.live && nq == 0)) < 0)
            goto out;
    /* latency samples: a ring of the last 4096 frames */
    enum { NLAT = 4096 };
    double *lat = calloc(NLAT, sizeof(double));
    if (!lat) {
        err = -ENOMEM;
        goto out;
    }
    w[0] = (struct worker){.run = &r, .idx = -1, .out = &q[0]};
    snprintf(w[0].st.name, sizeof(w[0].st.name), "source");
    for (int i = 0; i < n_stages; i++) {
        w[i + 1] = (struct worker){.run = &r, .idx = i, .stage = stages[i], .in = &q[i], .out = &q[i + 1]};
        snprintf(w[i + 1].st.name, sizeof(w[i + 1].st.name), "%s", stages[i].name);
    }
    for (; started < n_stages + 1; started++) {
        if (pthread_create(&w[started].th, NULL, started ? stage_main : source_main, &w[started]) != 0) {
            err = -EAGAIN;
            run_fail(&r, err);
            queue_close(&q[started ? started - 1 : 0]);
            break;
        }
    }
    double cpu0 = process_cpu();
    struct pl_stage_stats sst = {0};
    snprintf(sst.name, sizeof(sst.name), "sink");
    int64_t out_n = 0;
    double t_last = 0;
    pl_frame *f;
    while (started == n_stages + 1 && queue_pop(&q[n_stages], &f, 1, 0) == 1) {
        if (!atomic_load(&r.err) && !atomic_load(&r.stopping)) {
            double t0 = gc_time(), c0 = thread_cpu();
            int e = sink ? sink(sink_ctx, f) : 0; /* no sink: frames end here */
            t_last = gc_time();
            sst.busy_s += t_last - t0;
            sst.cpu_s += thread_cpu() - c0;
            sst.frames++;
            sst.calls++;
            lat[out_n % NLAT] = (t_last - f->info.captured) * 1000.0;
            out_n++;
            if (e < 0)
                run_fail(&r, e);
            else if (e == 1 && !atomic_exchange(&r.stopping, 1) && stop)
                stop(stop_ctx); /* a quit key: the source ends, the rest drains */
        }
        pl_frame_free(&f);
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    if (!err)
        err = atomic_load(&r.err);
    if (stats) {
        memset(stats, 0, sizeof(*stats));
        stats->n_stages = n_stages + 2;
        for (int i = 0; i <= n_stages; i++)
            stats->stage[i] = w[i].st;
        stats->stage[n_stages + 1] = sst;
        stats->frames_in = r.frames_in;
        stats->frames_out = out_n;
        for (int i = 0; i < nq; i++)
            stats->dropped += q[i].dropped;
        stats->wall_s = out_n ? t_last - r.t_first : 0;
        stats->cpu_s = process_cpu() - cpu0;
        int nl = out_n < NLAT ? (int)out_n : NLAT;
        if (nl) {
            double sum = 0;
            for (int i = 0; i < nl; i++)
                sum += lat[i];
            qsort(lat, nl, sizeof(double), cmp_double);
            stats->lat_mean_ms = sum / nl;
            stats->lat_p50_ms = lat[nl / 2];
            stats->lat_p95_ms = lat[(int)(nl * 0.95) < nl ? (int)(nl * 0.95) : nl - 1];
            stats->lat_max_ms = lat[nl - 1];
        }
    }
    free(lat);
out:
    for (int i = 0; i < nq; i++)
        queue_destroy(&q[i]);
    return err;
}

void pl_stats_format(const struct pl_stats *s, int live, char *buf, size_t n)
{
    size_t k = 0;
#define PUT(...) k += (size_t)snprintf(buf + (k < n ? k : n), k < n ? n - k : 0, __VA_ARGS__)
    PUT("stage        ms/frame  cpu ms/frame   frames   batch\n");
    for (int i = 0; i < s->n_stages; i++) {
        const struct pl_stage_stats *t = &s->stage[i];
        PUT("%-12s %8.2f %13.2f %8lld %7.1f\n", t->name, t->frames ? 1000.0 * t->busy_s / t->frames : 0.0,
            t->frames ? 1000.0 * t->cpu_s / t->frames : 0.0, (long long)t->frames,
            t->calls ? (double)t->frames / t->calls : 0.0);
    }
    if (s->frames_out)
        PUT("process CPU %.2f ms/frame (all threads, helpers included)\n", 1000.0 * s->cpu_s / s->frames_out);
    double fps = s->wall_s > 0 && s->frames_out > 1 ? (s->frames_out - 1) / s->wall_s : 0;
    PUT("%lld frames in %.2f s: %.1f fps end to end", (long long)s->frames_out, s->wall_s, fps);
    if (live || s->dropped)
        PUT(", %lld dropped", (long long)s->dropped);
    PUT("\nlatency capture->output ms: mean %.1f, median %.1f, p95 %.1f, max %.1f\n", s->lat_mean_ms,
        s->lat_p50_ms, s->lat_p95_ms, s->lat_max_ms);
#undef PUT
}
