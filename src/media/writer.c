/* File output: H.264 (or another encoder) in the container the name asks for,
 * the source's timestamps kept, its audio packets copied untouched, written to
 * "name.tmp" and renamed only when the file is complete. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/gc.h"
#include "media/priv.h"

struct media_writer {
    char path[1024], tmp[1040];
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *vst, *ast;
    AVFrame *yuv;
    AVPacket *pkt, *apkt;
    struct SwsContext *sws;
    media_source *audio;
    AVRational atb_in, vtb_in;
    int w, h;         /* input RGB size */
    int ew, eh;       /* encoded size (even for 4:2:0) */
    int64_t frames;
    int64_t last_pts;
    double t_video;   /* seconds of the last frame written */
    double fdur;
    int64_t last_adts; /* output time base: copied audio must keep increasing */
    int err;
    int header_done;
};

struct media_writer_params media_writer_params_default(void)
{
    struct media_writer_params p = {.codec = "libx264", .crf = 18, .preset = "veryfast"};
    return p;
}

int64_t media_writer_frames(const media_writer *w) { return w->frames; }

int media_is_image_path(const char *path)
{
    static const char *ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp", ".tif", ".tiff", NULL};
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    for (int i = 0; ext[i]; i++)
        if (!strcasecmp(dot, ext[i]))
            return 1;
    return 0;
}

/* Copies queued audio packets up to time t (seconds); all of them when t is +inf. */
static int copy_audio(media_writer *w, double t)
{
    if (!w->ast)
        return 0;
    while (media_source_audio_peek_time(w->audio) <= t) {
        if (!media_source_audio_pop(w->audio, w->apkt))
            break;
        w->apkt->stream_index = w->ast->index;
        w->apkt->pos = -1;
        av_packet_rescale_ts(w->apkt, w->atb_in, w->ast->time_base);
        /* joined or damaged inputs can repeat a timestamp; nudge it as ffmpeg does
         * (the packet's data stays untouched) */
        if (w->apkt->dts != AV_NOPTS_VALUE) {
            if (w->last_adts != AV_NOPTS_VALUE && w->apkt->dts <= w->last_adts) {
                gc_log(GC_LOG_DEBUG, "%s: audio timestamp %lld not increasing, moved to %lld", w->path,
                       (long long)w->apkt->dts, (long long)w->last_adts + 1);
                w->apkt->dts = w->last_adts + 1;
                if (w->apkt->pts != AV_NOPTS_VALUE && w->apkt->pts < w->apkt->dts)
                    w->apkt->pts = w->apkt->dts;
            }
            w->last_adts = w->apkt->dts;
        }
        int r = av_interleaved_write_frame(w->oc, w->apkt);
        av_packet_unref(w->apkt);
        if (r < 0) {
            gc_log(GC_LOG_ERROR, "%s: writing audio failed: %s", w->path, MEDIA_AVERR(r));
            return media_err(r);
        }
    }
    return 0;
}

/* Sends frame (NULL flushes) and muxes every packet the encoder gives back. */
static int encode(media_writer *w, AVFrame *frame)
{
    int r = avcodec_send_frame(w->enc, frame);
    if (r < 0) {
        gc_log(GC_LOG_ERROR, "%s: encoder refused a frame: %s", w->path, MEDIA_AVERR(r));
        return media_err(r);
    }
    for (;;) {
        r = avcodec_receive_packet(w->enc, w->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0) {
            gc_log(GC_LOG_ERROR, "%s: encoding failed: %s", w->path, MEDIA_AVERR(r));
            return media_err(r);
        }
        w->pkt->stream_index = w->vst->index;
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->vst->time_base);
        r = av_interleaved_write_frame(w->oc, w->pkt);
        if (r < 0) {
            gc_log(GC_LOG_ERROR, "%s: writing video failed: %s", w->path, MEDIA_AVERR(r));
            return media_err(r);
        }
    }
}

int media_writer_open(media_writer **out, const char *path, const struct media_source_info *si,
                      const struct media_writer_params *pp)
{
    int r;
    *out = NULL;
    struct media_writer_params p = pp ? *pp : media_writer_params_default();
    media_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    media_ffmpeg_log_init();
    snprintf(w->path, sizeof(w->path), "%s", path);
    snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", path);
    w->w = si->w;
    w->h = si->h;
    w->ew = si->w & ~1;
    w->eh = si->h & ~1;
    w->last_pts = INT64_MIN;
    w->last_adts = AV_NOPTS_VALUE;
    w->fdur = si->fps_den / (double)si->fps_num;

    r = avformat_alloc_output_context2(&w->oc, NULL, NULL, path);
    if (r < 0 || !w->oc) {
        gc_log(GC_LOG_ERROR, "%s: cannot tell the container from the name (use .mp4, .mkv, .mov, ...)", path);
        r = -EINVAL;
        goto fail;
    }
    const AVCodec *codec = avcodec_find_encoder_by_name(p.codec ? p.codec : "libx264");
    if (!codec) {
        gc_log(GC_LOG_ERROR, "%s: encoder '%s' is not in this FFmpeg", path, p.codec);
        r = -EINVAL;
        goto fail;
    }
    /* 0: the container says no; <0: it does not say (mpegts), so try */
    if (avformat_query_codec(w->oc->oformat, codec->id, FF_COMPLIANCE_NORMAL) == 0) {
        gc_log(GC_LOG_ERROR, "%s: the %s container cannot hold %s video", path, w->oc->oformat->name, codec->name);
        r = -EINVAL;
        goto fail;
    }
    if (w->ew != w->w || w->eh != w->h)
        gc_log(GC_LOG_WARN, "%s: 4:2:0 video needs an even size: %dx%d is cropped to %dx%d", path, w->w, w->h,
               w->ew, w->eh);
    if (!(w->enc = avcodec_alloc_context3(codec)) || !(w->pkt = av_packet_alloc()) ||
        !(w->apkt = av_packet_alloc()) || !(w->yuv = av_frame_alloc())) {
        r = -ENOMEM;
        goto fail;
    }
    w->enc->width = w->ew;
    w->enc->height = w->eh;
    w->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    w->enc->time_base = (AVRational){si->tb_num, si->tb_den};
    w->enc->framerate = (AVRational){si->fps_num, si->fps_den};
    w->enc->sample_aspect_ratio = (AVRational){1, 1};
    w->enc->thread_count = p.threads;
    /* keep the source's colour description, or say BT.601 limited (what swscale writes) */
    int cs = si->colorspace != AVCOL_SPC_UNSPECIFIED && si->colorspace != AVCOL_SPC_RGB ? si->colorspace : AVCOL_SPC_SMPTE170M;
    w->enc->colorspace = cs;
    w->enc->color_range = AVCOL_RANGE_MPEG;
    w->enc->color_primaries = si->color_primaries;
    w->enc->color_trc = si->color_trc;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER)
        w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *eo = NULL;
    if (!strcmp(codec->name, "libx264")) {
        char crf[16];
        snprintf(crf, sizeof(crf), "%d", p.crf);
        av_dict_set(&eo, "crf", crf, 0);
        av_dict_set(&eo, "preset", p.preset ? p.preset : "veryfast", 0);
    }
    r = avcodec_open2(w->enc, codec, &eo);
    av_dict_free(&eo);
    if (r < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot open the %s encoder: %s", path, codec->name, MEDIA_AVERR(r));
        r = -EINVAL;
        goto fail;
    }
    if (!(w->vst = avformat_new_stream(w->oc, NULL))) {
        r = -ENOMEM;
        goto fail;
    }
    w->vst->time_base = w->enc->time_base;
    w->vst->avg_frame_rate = w->enc->framerate;
    avcodec_parameters_from_context(w->vst->codecpar, w->enc);

    AVRational atb;
    const AVCodecParameters *apar = p.audio_from ? media_source_audio_par(p.audio_from, &atb) : NULL;
    if (apar && avformat_query_codec(w->oc->oformat, apar->codec_id, FF_COMPLIANCE_NORMAL) == 0) {
        gc_log(GC_LOG_WARN, "%s: the %s container cannot hold %s audio: audio left out", path,
               w->oc->oformat->name, avcodec_get_name(apar->codec_id));
        apar = NULL;
    }
    if (apar) {
        if (!(w->ast = avformat_new_stream(w->oc, NULL))) {
            r = -ENOMEM;
            goto fail;
        }
        avcodec_parameters_copy(w->ast->codecpar, apar);
        w->ast->codecpar->codec_tag = 0; /* the new container picks its own tag */
        w->ast->time_base = atb;
        w->atb_in = atb;
        w->audio = p.audio_from;
    }

    w->yuv->format = AV_PIX_FMT_YUV420P;
    w->yuv->width = w->ew;
    w->yuv->height = w->eh;
    if ((r = av_frame_get_buffer(w->yuv, 0)) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    w->sws = sws_getContext(w->ew, w->eh, AV_PIX_FMT_RGB24, w->ew, w->eh, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (!w->sws) {
        r = -ENOMEM;
        goto fail;
    }
    sws_setColorspaceDetails(w->sws, sws_getCoefficients(SWS_CS_DEFAULT), 1, sws_getCoefficients(cs), 0, 0,
                             1 << 16, 1 << 16);

    /* unlink first: a stale temp file from a killed run is ours to replace */
    unlink(w->tmp);
    if ((r = avio_open(&w->oc->pb, w->tmp, AVIO_FLAG_WRITE)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot create %s: %s", path, w->tmp, MEDIA_AVERR(r));
        r = media_err(r);
        goto fail;
    }
    if ((r = avformat_write_header(w->oc, NULL)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot write the %s header: %s", path, w->oc->oformat->name, MEDIA_AVERR(r));
        r = media_err(r);
        goto fail;
    }
    w->header_done = 1;
    *out = w;
    return 0;
fail:
    media_writer_close(&w, 0);
    return r < 0 ? r : -EIO;
}

int media_writer_write(media_writer *w, const uint8_t *rgb, const struct media_frame_info *fi)
{
    if (w->err)
        return w->err;
    int r = av_frame_make_writable(w->yuv);
    if (r < 0)
        return w->err = -ENOMEM;
    const uint8_t *src[4] = {rgb};
    int stride[4] = {w->w * 3};
    sws_scale(w->sws, src, stride, 0, w->eh, w->yuv->data, w->yuv->linesize);
    int64_t pts = fi->pts;
    if (pts <= w->last_pts)
        pts = w->last_pts + 1;
    w->last_pts = pts;
    w->yuv->pts = pts;
    if ((r = encode(w, w->yuv)) < 0)
        return w->err = r;
    w->t_video = pts * av_q2d(w->enc->time_base);
    if ((r = copy_audio(w, w->t_video)) < 0)
        return w->err = r;
    w->frames++;
    return 0;
}

int media_writer_close(media_writer **pw, int commit)
{
    media_writer *w = *pw;
    if (!w)
        return 0;
    int r = w->err;
    if (commit && w->header_done && !r) {
        if (!w->frames) {
            gc_log(GC_LOG_ERROR, "%s: no frame was written", w->path);
            r = -EINVAL;
        }
        if (!r)
            r = encode(w, NULL);
        /* the rest of the audio: all of it when the input was read to its end, else up to
         * the end of the last frame (a --frames limit or Ctrl-C) */
        if (!r && w->ast)
            r = copy_audio(w, media_source_done(w->audio) == 2 ? INFINITY : w->t_video + w->fdur);
        if (!r) {
            int e = av_write_trailer(w->oc);
            if (e < 0) {
                gc_log(GC_LOG_ERROR, "%s: cannot finish the file: %s", w->path, MEDIA_AVERR(e));
                r = media_err(e);
            }
        }
    }
    if (w->oc && w->oc->pb) {
        int e = avio_closep(&w->oc->pb);
        if (e < 0 && !r && commit) {
            gc_log(GC_LOG_ERROR, "%s: closing %s failed: %s", w->path, w->tmp, MEDIA_AVERR(e));
            r = media_err(e);
        }
        if (commit && !r) {
            if (rename(w->tmp, w->path) < 0) {
                r = -errno;
                gc_log(GC_LOG_ERROR, "%s: cannot rename %s to it: %s", w->path, w->tmp, gc_strerror(r));
            }
        }
        if (!commit || r)
            unlink(w->tmp);
    }
    sws_freeContext(w->sws);
    av_frame_free(&w->yuv);
    av_packet_free(&w->pkt);
    av_packet_free(&w->apkt);
    avcodec_free_context(&w->enc);
    avformat_free_context(w->oc);
    free(w);
    *pw = NULL;
    return r;
}
