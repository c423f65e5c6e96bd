/* Video input: any file, URL or webcam FFmpeg opens, decoded to RGB24 with its
 * timestamps, turned upright by the stream's display matrix. Audio packets can be
 * queued untouched for a writer to copy. */
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/gc.h"
#include "media/priv.h"

struct audio_node {
    AVPacket *pkt;
    struct audio_node *next;
};

struct media_source {
    char url[1024];
    struct media_source_params p;
    struct media_source_info info;
    AVFormatContext *fc;
    AVCodecContext *dec;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    uint8_t *tmp; /* upright-before-rotation RGB when rotating */
    int vidx, aidx;
    int64_t next_index;
    int64_t pts_offset;  /* added to pts after a loop restart */
    int64_t last_pts, last_dur;
    int draining;        /* the demuxer is done, the decoder is being flushed */
    int finished;        /* nothing more will come */
    int eof_natural;     /* the demuxer reached its end without an error */
    int read_err;        /* the error that ended the demuxer early, 0 if none */
    int decode_errs;
    int device;          /* a capture device (no seeking, no frame threads) */
    double t0_wall, t0_media; /* realtime pacing */
    atomic_int stop;

    pthread_mutex_t alock;
    struct audio_node *ahead, *atail;
    AVRational atb;
};

const char *media_averr(int err, char *buf, size_t n)
{
    av_strerror(err, buf, n);
    return buf;
}

/* FFmpeg's own messages only when asked for (-v): ours name the file and the problem. */
static void quiet_ffmpeg(void)
{
    enum gc_log_level l = gc_log_get_level();
    av_log_set_level(l >= GC_LOG_DEBUG ? AV_LOG_VERBOSE : l >= GC_LOG_VERBOSE ? AV_LOG_WARNING : AV_LOG_FATAL);
}

void media_ffmpeg_log_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_ffmpeg);
}

int media_err(int averr)
{
    if (averr >= 0)
        return 0;
    if (averr == AVERROR_EOF)
        return GC_EOF;
    if (averr > -4096) /* AVERROR(e) is -e on POSIX */
        return averr;
    return -EIO;
}

struct media_source_params media_source_params_default(void)
{
    struct media_source_params p = {0};
    return p;
}

const struct media_source_info *media_source_info(const media_source *s) { return &s->info; }

static int interrupt_cb(void *opaque)
{
    media_source *s = opaque;
    return atomic_load(&s->stop);
}

void media_source_stop(media_source *s)
{
    if (s)
        atomic_store(&s->stop, 1);
}

/* Clockwise degrees that turn a frame upright (as ffmpeg's autorotate does). */
static int display_rotation(const AVStream *st)
{
    size_t size = 0;
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!m || size < 9 * 4)
        return 0;
    double theta = -round(av_display_rotation_get((const int32_t *)m));
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    int r = (int)lround(theta / 90) * 90 % 360;
    return r < 0 ? r + 360 : r;
}

/* Rotates packed RGB24 src (w x h) clockwise by rot into dst. */
static void rotate_rgb(const uint8_t *src, int w, int h, int rot, uint8_t *dst)
{
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const uint8_t *p = src + ((size_t)y * w + x) * 3;
            size_t o;
            if (rot == 90) /* (x, y) -> (h-1-y, x) in a h-wide image */
                o = (size_t)x * h + (h - 1 - y);
            else if (rot == 180)
                o = (size_t)(h - 1 - y) * w + (w - 1 - x);
            else /* 270 */
                o = (size_t)(w - 1 - x) * h + y;
            memcpy(dst + o * 3, p, 3);
        }
    }
}

static int is_video_device(const char *url) { return !strncmp(url, "/dev/video", 10); }

int media_source_open(media_source **out, const char *url, const struct media_source_params *pp)
{
    int r;
    char buf[64];
    *out = NULL;
    media_source *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->alock, NULL);
    s->p = pp ? *pp : media_source_params_default();
    snprintf(s->url, sizeof(s->url), "%s", url);
    s->vidx = s->aidx = -1;
    s->last_pts = AV_NOPTS_VALUE;

    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, avdevice_register_all);
    media_ffmpeg_log_init();

    const AVInputFormat *ifmt = NULL;
    const char *fmt = s->p.format ? s->p.format : is_video_device(url) ? "v4l2" : NULL;
    if (fmt && !(ifmt = av_find_input_format(fmt))) {
        gc_log(GC_LOG_ERROR, "%s: input format '%s' is not available in this FFmpeg", url, fmt);
        r = -EINVAL;
        goto fail;
    }
    AVDictionary *opts = NULL;
    if (s->p.width > 0 && s->p.height > 0) {
        snprintf(buf, sizeof(buf), "%dx%d", s->p.width, s->p.height);
        av_dict_set(&opts, "video_size", buf, 0);
    }
    if (s->p.fps > 0) {
        snprintf(buf, sizeof(buf), "%g", s->p.fps);
        av_dict_set(&opts, "framerate", buf, 0);
    }
    s->fc = avformat_alloc_context();
    if (!s->fc) {
        av_dict_free(&opts);
        r = -ENOMEM;
        goto fail;
    }
    s->fc->interrupt_callback.callback = interrupt_cb;
    s->fc->interrupt_callback.opaque = s;
    r = avformat_open_input(&s->fc, strcmp(url, "-") ? url : "pipe:0", ifmt, &opts); /* "-": stdin */
    av_dict_free(&opts);
    if (r < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot open: %s", url, MEDIA_AVERR(r));
        r = media_err(r) == GC_EOF ? -EIO : media_err(r);
        goto fail; /* avformat_open_input freed fc */
    }
    if ((r = avformat_find_stream_info(s->fc, NULL)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot read stream information: %s", url, MEDIA_AVERR(r));
        r = -EINVAL;
        goto fail;
    }
    const AVCodec *codec = NULL;
    s->vidx = av_find_best_stream(s->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (s->vidx < 0 || !codec) {
        gc_log(GC_LOG_ERROR, "%s: no decodable video stream (is it a video or image file?)", url);
        r = -EINVAL;
        goto fail;
    }
    AVStream *st = s->fc->streams[s->vidx];
    if (!(s->dec = avcodec_alloc_context3(codec)) || !(s->frame = av_frame_alloc()) ||
        !(s->pkt = av_packet_alloc())) {
        r = -ENOMEM;
        goto fail;
    }
    avcodec_parameters_to_context(s->dec, st->codecpar);
    s->dec->pkt_timebase = st->time_base;
    s->dec->thread_count = s->p.threads;
    /* frame threads delay output by one frame per thread: a camera wants slices only */
    s->device = ifmt && (ifmt->flags & AVFMT_NOFILE);
    if (s->device || s->p.realtime)
        s->dec->thread_type = FF_THREAD_SLICE;
    if ((r = avcodec_open2(s->dec, codec, NULL)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot open the %s decoder: %s", url, codec->name, MEDIA_AVERR(r));
        r = -EINVAL;
        goto fail;
    }
    if (s->dec->width <= 0 || s->dec->height <= 0) {
        gc_log(GC_LOG_ERROR, "%s: video stream has no frame size", url);
        r = -EINVAL;
        goto fail;
    }
    if (s->p.keep_audio) {
        s->aidx = av_find_best_stream(s->fc, AVMEDIA_TYPE_AUDIO, -1, s->vidx, NULL, 0);
        if (s->aidx < 0)
            s->aidx = -1;
        else
            s->atb = s->fc->streams[s->aidx]->time_base;
    }
    for (unsigned i = 0; i < s->fc->nb_streams; i++)
        if ((int)i != s->vidx && (int)i != s->aidx)
            s->fc->streams[i]->discard = AVDISCARD_ALL;

    struct media_source_info *in = &s->info;
    in->rotation = display_rotation(st);
    in->w = in->rotation % 180 ? s->dec->height : s->dec->width;
    in->h = in->rotation % 180 ? s->dec->width : s->dec->height;
    AVRational fr = av_guess_frame_rate(s->fc, st, NULL);
    if (fr.num <= 0 || fr.den <= 0)
        fr = (AVRational){25, 1};
    in->fps_num = fr.num;
    in->fps_den = fr.den;
    in->tb_num = st->time_base.num;
    in->tb_den = st->time_base.den;
    in->nb_frames = st->nb_frames;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        in->duration = st->duration * av_q2d(st->time_base);
    else if (s->fc->duration > 0)
        in->duration = s->fc->duration / (double)AV_TIME_BASE;
    in->has_audio = av_find_best_stream(s->fc, AVMEDIA_TYPE_AUDIO, -1, s->vidx, NULL, 0) >= 0;
    in->is_live = (ifmt && (ifmt->flags & AVFMT_NOFILE)) || s->p.realtime;
    in->is_image = s->fc->iformat && (strstr(s->fc->iformat->name, "image2") || strstr(s->fc->iformat->name, "_pipe"));
    snprintf(in->codec, sizeof(in->codec), "%s", codec->name);
    in->colorspace = s->dec->colorspace;
    in->color_range = s->dec->color_range;
    in->color_primaries = s->dec->color_primaries;
    in->color_trc = s->dec->color_trc;
    if (in->rotation && !(s->tmp = malloc((size_t)in->w * in->h * 3))) {
        r = -ENOMEM;
        goto fail;
    }
    gc_log(GC_LOG_VERBOSE, "%s: %s %dx%d %d/%d fps%s%s, rotation %d", url, in->codec, in->w, in->h,
           in->fps_num, in->fps_den, in->has_audio ? ", audio" : "", in->is_live ? ", live" : "",
           in->rotation);
    *out = s;
    return 0;
fail:
    media_source_close(&s);
    return r;
}

static void audio_push(media_source *s, AVPacket *pkt)
{
    struct audio_node *n = malloc(sizeof(*n));
    AVPacket *c = av_packet_clone(pkt);
    if (!n || !c) {
        free(n);
        av_packet_free(&c);
        gc_log(GC_LOG_WARN, "%s: out of memory, an audio packet is lost", s->url);
        return;
    }
    n->pkt = c;
    n->next = NULL;
    pthread_mutex_lock(&s->alock);
    if (s->atail)
        s->atail->next = n;
    else
        s->ahead = n;
    s->atail = n;
    pthread_mutex_unlock(&s->alock);
}

const AVCodecParameters *media_source_audio_par(const media_source *s, AVRational *tb)
{
    if (s->aidx < 0)
        return NULL;
    *tb = s->atb;
    return s->fc->streams[s->aidx]->codecpar;
}

int media_source_audio_pop(media_source *s, AVPacket *pkt)
{
    pthread_mutex_lock(&s->alock);
    struct audio_node *n = s->ahead;
    if (n) {
        s->ahead = n->next;
        if (!s->ahead)
            s->atail = NULL;
    }
    pthread_mutex_unlock(&s->alock);
    if (!n)
        return 0;
    av_packet_move_ref(pkt, n->pkt);
    av_packet_free(&n->pkt);
    free(n);
    return 1;
}

double media_source_audio_peek_time(media_source *s)
{
    double t = INFINITY;
    pthread_mutex_lock(&s->alock);
    if (s->ahead) {
        int64_t ts = s->ahead->pkt->dts != AV_NOPTS_VALUE ? s->ahead->pkt->dts : s->ahead->pkt->pts;
        t = ts == AV_NOPTS_VALUE ? -INFINITY : ts * av_q2d(s->atb);
    }
    pthread_mutex_unlock(&s->alock);
    return t;
}

int media_source_done(media_source *s) { return s->finished ? (s->eof_natural ? 2 : 1) : 0; }

/* Converts the decoded frame to upright RGB24 in rgb. */
static int convert_frame(media_source *s, uint8_t *rgb)
{
    AVFrame *f = s->frame;
    int cs = f->colorspace, range = f->color_range;
    if (!s->sws || s->sws_w != f->width || s->sws_h != f->height || s->sws_fmt != f->format ||
        s->sws_cs != cs || s->sws_range != range) {
        sws_freeContext(s->sws);
        int ow = s->info.rotation % 180 ? s->info.h : s->info.w;
        int oh = s->info.rotation % 180 ? s->info.w : s->info.h;
        s->sws = sws_getContext(f->width, f->height, f->format, ow, oh, AV_PIX_FMT_RGB24,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
        if (!s->sws) {
            gc_log(GC_LOG_ERROR, "%s: cannot convert %s frames to RGB", s->url,
                   av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?");
            return -EINVAL;
        }
        /* honour the stream's matrix and range instead of swscale's BT.601 guess */
        int sws_cs = cs == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : cs;
        int full = range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
                   f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
        const int *coef = sws_getCoefficients(sws_cs);
        sws_setColorspaceDetails(s->sws, coef, full, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
        s->sws_w = f->width;
        s->sws_h = f->height;
        s->sws_fmt = f->format;
        s->sws_cs = cs;
        s->sws_range = range;
    }
    int ow = s->info.rotation % 180 ? s->info.h : s->info.w;
    uint8_t *dst = s->info.rotation ? s->tmp : rgb;
    uint8_t *planes[4] = {dst};
    int strides[4] = {ow * 3};
    sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    if (s->info.rotation) {
        int oh = s->info.rotation % 180 ? s->info.w : s->info.h;
        rotate_rgb(s->tmp, ow, oh, s->info.rotation, rgb);
    }
    return 0;
}

static void sleep_until(media_source *s, double t)
{
    while (!atomic_load(&s->stop)) {
        double d = t - gc_time();
        if (d <= 0)
            return;
        if (d > 0.05)
            d = 0.05;
        struct timespec ts = {0, (long)(d * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void warn_short(media_source *s)
{
    const struct media_source_info *in = &s->info;
    double fdur = in->fps_den / (double)in->fps_num;
    double t_end = s->last_pts == AV_NOPTS_VALUE ? 0 : s->last_pts * (in->tb_num / (double)in->tb_den) + fdur;
    if (s->read_err) {
        gc_log(GC_LOG_WARN, "%s: input ended early at frame %lld (%.2f s): %s; converting what decoded",
               s->url, (long long)s->next_index, t_end, MEDIA_AVERR(s->read_err));
    } else if (!in->is_live && ((in->duration > 0 && t_end + 1.5 * fdur < in->duration) ||
                                (in->nb_frames > 0 && s->next_index < in->nb_frames))) {
        char announced[96];
        if (in->nb_frames > 0)
            snprintf(announced, sizeof(announced), "%lld frames, %.2f s", (long long)in->nb_frames, in->duration);
        else
            snprintf(announced, sizeof(announced), "%.2f s", in->duration);
        gc_log(GC_LOG_WARN, "%s: input ended at frame %lld (%.2f s) but announces %s: the file is cut short; "
               "converting what decoded", s->url, (long long)s->next_index, t_end, announced);
    }
    if (s->decode_errs)
        gc_log(GC_LOG_WARN, "%s: %d packets did not decode", s->url, s->decode_errs);
}

/* Starts the file again for loop mode; timestamps continue where they ended. */
static int restart(media_source *s)
{
    int r = av_seek_frame(s->fc, s->vidx, s->fc->streams[s->vidx]->start_time == AV_NOPTS_VALUE ? 0 :
                          s->fc->streams[s->vidx]->start_time, AVSEEK_FLAG_BACKWARD);
    if (r < 0)
        return r;
    avcodec_flush_buffers(s->dec);
    int64_t start = s->fc->streams[s->vidx]->start_time;
    s->pts_offset = s->last_pts + (s->last_dur > 0 ? s->last_dur : 1) - (start == AV_NOPTS_VALUE ? 0 : start);
    s->draining = 0;
    return 0;
}

int media_source_read(media_source *s, uint8_t *rgb, struct media_frame_info *fi)
{
    int r;
    if (s->finished)
        return GC_EOF;
    for (;;) {
        if (atomic_load(&s->stop)) {
            s->finished = 1;
            return GC_EOF;
        }
        r = avcodec_receive_frame(s->dec, s->frame);
        if (r == 0)
            break;
        if (r == AVERROR_EOF) {
            if (s->p.loop && !s->device && s->next_index > 0 && s->eof_natural && restart(s) == 0)
                continue;
            s->finished = 1;
            warn_short(s);
            return GC_EOF;
        }
        if (r != AVERROR(EAGAIN)) {
            s->decode_errs++;
            gc_log(GC_LOG_DEBUG, "%s: decode error: %s", s->url, MEDIA_AVERR(r));
            if (s->draining) {
                s->finished = 1;
                warn_short(s);
                return GC_EOF;
            }
        }
        if (s->draining) {
            /* EAGAIN after the flush packet should not happen; end rather than spin */
            s->finished = 1;
            warn_short(s);
            return GC_EOF;
        }
        r = av_read_frame(s->fc, s->pkt);
        if (r < 0) {
            if (atomic_load(&s->stop)) {
                s->finished = 1;
                return GC_EOF;
            }
            if (r == AVERROR(EAGAIN))
                continue;
            if (r == AVERROR_EOF)
                s->eof_natural = 1;
            else
                s->read_err = r;
            s->draining = 1;
            avcodec_send_packet(s->dec, NULL);
            continue;
        }
        if (s->pkt->stream_index == s->vidx) {
            r = avcodec_send_packet(s->dec, s->pkt);
            if (r < 0 && r != AVERROR(EAGAIN)) {
                s->decode_errs++;
                gc_log(GC_LOG_DEBUG, "%s: bad packet: %s", s->url, MEDIA_AVERR(r));
            }
        } else if (s->pkt->stream_index == s->aidx) {
            audio_push(s, s->pkt);
        }
        av_packet_unref(s->pkt);
    }
    AVFrame *f = s->frame;
    r = convert_frame(s, rgb);
    int64_t pts = f->best_effort_timestamp;
    AVRational tb = s->fc->streams[s->vidx]->time_base;
    int64_t fdur = av_rescale_q(1, (AVRational){s->info.fps_den, s->info.fps_num}, tb);
    if (pts == AV_NOPTS_VALUE)
        pts = s->last_pts == AV_NOPTS_VALUE ? 0 : s->last_pts - s->pts_offset + (fdur > 0 ? fdur : 1);
    pts += s->pts_offset;
    if (s->last_pts != AV_NOPTS_VALUE && pts <= s->last_pts)
        pts = s->last_pts + 1; /* writers need strictly increasing timestamps */
    s->last_dur = f->pkt_duration > 0 ? f->pkt_duration : fdur;
    s->last_pts = pts;
    av_frame_unref(f);
    if (r < 0)
        return r;
    fi->index = s->next_index++;
    fi->pts = pts;
    int64_t start = s->fc->streams[s->vidx]->start_time;
    fi->t = (pts - (start == AV_NOPTS_VALUE ? 0 : start)) * av_q2d(tb);
    if (s->p.realtime) {
        if (fi->index == 0) {
            s->t0_wall = gc_time();
            s->t0_media = fi->t;
        }
        sleep_until(s, s->t0_wall + (fi->t - s->t0_media));
    }
    fi->captured = gc_time();
    return 0;
}

void media_source_close(media_source **ps)
{
    media_source *s = *ps;
    if (!s)
        return;
    sws_freeContext(s->sws);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fc);
    AVPacket *p = av_packet_alloc();
    while (p && media_source_audio_pop(s, p))
        av_packet_unref(p);
    av_packet_free(&p);
    pthread_mutex_destroy(&s->alock);
    free(s->tmp);
    free(s);
    *ps = NULL;
}
