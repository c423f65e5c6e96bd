/* Still images through FFmpeg: decode anything to RGB24, write PNG or JPEG, resize. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/gc_file.h"
#include "media/media.h"

#define IMAGE_MAX_SIDE 16384

/* FFmpeg's own chatter (deprecated-format notes and such) only when we are verbose. */
static void quiet_ffmpeg(void)
{
    if (gc_log_get_level() < GC_LOG_VERBOSE && av_log_get_level() > AV_LOG_ERROR)
        av_log_set_level(AV_LOG_ERROR);
}

static const char *averr(int e, char *buf, size_t n)
{
    av_strerror(e, buf, n);
    return buf;
}

/* Converts one frame (any pixel format) into packed RGB24. */
static int frame_to_rgb(const AVFrame *fr, uint8_t *rgb)
{
    struct SwsContext *sws = sws_getContext(fr->width, fr->height, fr->format, fr->width, fr->height,
                                            AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                            NULL, NULL, NULL);
    if (!sws)
        return -EINVAL;
    uint8_t *dst[4] = {rgb};
    int stride[4] = {fr->width * 3};
    sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst, stride);
    sws_freeContext(sws);
    return 0;
}

int media_image_read(const char *path, uint8_t **rgb, int *w, int *h)
{
    *rgb = NULL;
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int ret = -ENOMEM, r;
    quiet_ffmpeg();
    if (!pkt || !fr)
        goto fail;
    if (access(path, R_OK) != 0) {
        ret = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot open: %s", path, gc_strerror(ret));
        goto fail;
    }
    if ((r = avformat_open_input(&fmt, path, NULL, NULL)) < 0 || (r = avformat_find_stream_info(fmt, NULL)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: not an image FFmpeg can read: %s", path, averr(r, eb, sizeof(eb)));
        ret = -EINVAL;
        goto fail;
    }
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    const AVCodec *codec = si >= 0 ? avcodec_find_decoder(fmt->streams[si]->codecpar->codec_id) : NULL;
    if (!codec) {
        gc_log(GC_LOG_ERROR, "%s: no picture in it that FFmpeg can decode", path);
        ret = -EINVAL;
        goto fail;
    }
    dec = avcodec_alloc_context3(codec);
    if (!dec)
        goto fail;
    if ((r = avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar)) < 0 ||
        (r = avcodec_open2(dec, codec, NULL)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot open the %s decoder: %s", path, codec->name, averr(r, eb, sizeof(eb)));
        ret = -EINVAL;
        goto fail;
    }
    int got = 0;
    while (!got) {
        r = av_read_frame(fmt, pkt);
        if (r < 0) {
            avcodec_send_packet(dec, NULL); /* drain */
        } else if (pkt->stream_index != si) {
            av_packet_unref(pkt);
            continue;
        } else {
            avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        int rr = avcodec_receive_frame(dec, fr);
        if (rr == 0)
            got = 1;
        else if (r < 0 || (rr != AVERROR(EAGAIN)))
            break;
    }
    if (!got) {
        gc_log(GC_LOG_ERROR, "%s: no picture could be decoded", path);
        ret = -EINVAL;
        goto fail;
    }
    if (fr->width < 1 || fr->height < 1 || fr->width > IMAGE_MAX_SIDE || fr->height > IMAGE_MAX_SIDE) {
        gc_log(GC_LOG_ERROR, "%s: %dx%d: size outside 1..%d", path, fr->width, fr->height, IMAGE_MAX_SIDE);
        ret = -EINVAL;
        goto fail;
    }
    *rgb = malloc((size_t)fr->width * fr->height * 3);
    if (!*rgb)
        goto fail;
    if ((ret = frame_to_rgb(fr, *rgb)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot convert pixel format %s to RGB", path,
               av_get_pix_fmt_name(fr->format) ? av_get_pix_fmt_name(fr->format) : "?");
        free(*rgb);
        *rgb = NULL;
        goto fail;
    }
    *w = fr->width;
    *h = fr->height;
    ret = 0;
fail:
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return ret;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcasecmp(path + n - e, ext);
}

int media_image_write(const char *path, const uint8_t *rgb, int w, int h)
{
    int jpeg = has_ext(path, ".jpg") || has_ext(path, ".jpeg");
    if (!jpeg && !has_ext(path, ".png")) {
        gc_log(GC_LOG_ERROR, "%s: unknown image type (use .png, .jpg or .jpeg)", path);
        return -EINVAL;
    }
    const AVCodec *codec = avcodec_find_encoder(jpeg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
    AVCodecContext *enc = NULL;
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = NULL;
    char *tmp = NULL;
    FILE *f = NULL;
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int ret = -ENOMEM, r;
    quiet_ffmpeg();
    if (!fr || !pkt)
        goto fail;
    if (!codec) {
        gc_log(GC_LOG_ERROR, "%s: this FFmpeg has no %s encoder", path, jpeg ? "JPEG" : "PNG");
        ret = -ENOSYS;
        goto fail;
    }
    if (!(enc = avcodec_alloc_context3(codec)))
        goto fail;
    enc->width = w;
    enc->height = h;
    enc->time_base = (AVRational){1, 25};
    enc->pix_fmt = jpeg ? AV_PIX_FMT_YUVJ444P : AV_PIX_FMT_RGB24;
    if (jpeg) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 2; /* high quality */
        enc->color_range = AVCOL_RANGE_JPEG;
    }
    if ((r = avcodec_open2(enc, codec, NULL)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: cannot open the %s encoder: %s", path, codec->name, averr(r, eb, sizeof(eb)));
        ret = -EINVAL;
        goto fail;
    }
    fr->width = w;
    fr->height = h;
    fr->format = enc->pix_fmt;
    if (jpeg)
        fr->quality = enc->global_quality;
    if (av_frame_get_buffer(fr, 0) < 0)
        goto fail;
    sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, enc->pix_fmt, SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL,
                         NULL);
    if (!sws)
        goto fail;
    const uint8_t *src[4] = {rgb};
    int sstride[4] = {w * 3};
    sws_scale(sws, src, sstride, 0, h, fr->data, fr->linesize);
    if ((r = avcodec_send_frame(enc, fr)) < 0 || (r = avcodec_send_frame(enc, NULL)) < 0 ||
        (r = avcodec_receive_packet(enc, pkt)) < 0) {
        gc_log(GC_LOG_ERROR, "%s: encoding failed: %s", path, averr(r, eb, sizeof(eb)));
        ret = -EIO;
        goto fail;
    }
    /* FFmpeg's MJPEG encoder leaves the end-of-image marker to the muxer */
    if (jpeg && !(pkt->size >= 2 && pkt->data[pkt->size - 2] == 0xff && pkt->data[pkt->size - 1] == 0xd9)) {
        if (av_grow_packet(pkt, 2) < 0)
            goto fail;
        pkt->data[pkt->size - 2] = 0xff;
        pkt->data[pkt->size - 1] = 0xd9;
    }
    if ((ret = gc_file_create(path, &tmp, &f)) < 0)
        goto fail;
    int ok = fwrite(pkt->data, 1, (size_t)pkt->size, f) == (size_t)pkt->size;
    ret = gc_file_commit(path, &tmp, &f, ok);
fail:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&enc);
    return ret;
}

int media_image_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    int flags = (dw < sw || dh < sh) ? SWS_AREA : SWS_BICUBIC;
    quiet_ffmpeg();
    struct SwsContext *sws = sws_getContext(sw, sh, AV_PIX_FMT_RGB24, dw, dh, AV_PIX_FMT_RGB24,
                                            flags | SWS_ACCURATE_RND, NULL, NULL, NULL);
    if (!sws) {
        gc_log(GC_LOG_ERROR, "resize %dx%d -> %dx%d: not possible", sw, sh, dw, dh);
        return -EINVAL;
    }
    const uint8_t *s[4] = {src};
    int ss[4] = {sw * 3};
    uint8_t *d[4] = {dst};
    int ds[4] = {dw * 3};
    sws_scale(sws, s, ss, 0, sh, d, ds);
    sws_freeContext(sws);
    return 0;
}
