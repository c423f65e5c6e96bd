/* YUV4MPEG2 output ("-" is stdout): the simplest stream ffmpeg, ffplay and OBS
 * (through a pipe) read. 4:2:0 with JPEG chroma siting, BT.601 limited range. */
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>

#include "common/gc.h"
#include "media/media.h"

struct media_y4m {
    FILE *f;
    int own;
    int w, h, cw, ch;
    uint8_t *buf; /* Y, then U, then V */
    struct SwsContext *sws;
    char path[256];
};

int media_y4m_open(media_y4m **out, const char *path, int w, int h, int fps_num, int fps_den)
{
    *out = NULL;
    media_y4m *y = calloc(1, sizeof(*y));
    if (!y)
        return -ENOMEM;
    int r = -ENOMEM;
    snprintf(y->path, sizeof(y->path), "%s", path);
    y->w = w;
    y->h = h;
    y->cw = (w + 1) / 2;
    y->ch = (h + 1) / 2;
    if (!strcmp(path, "-")) {
        y->f = stdout;
    } else if (!(y->f = fopen(path, "wb"))) {
        r = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot create: %s", path, gc_strerror(r));
        goto fail;
    } else {
        y->own = 1;
    }
    y->buf = malloc((size_t)w * h + 2 * (size_t)y->cw * y->ch);
    y->sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!y->buf || !y->sws)
        goto fail;
    if (fprintf(y->f, "YUV4MPEG2 W%d H%d F%d:%d Ip A1:1 C420jpeg XYSCSS=420JPEG\n", w, h, fps_num, fps_den) < 0) {
        r = -EIO;
        gc_log(GC_LOG_ERROR, "%s: cannot write the y4m header", path);
        goto fail;
    }
    *out = y;
    return 0;
fail:
    media_y4m_close(&y);
    return r;
}

int media_y4m_write(media_y4m *y, const uint8_t *rgb)
{
    const uint8_t *src[4] = {rgb};
    int sstride[4] = {y->w * 3};
    uint8_t *dst[4] = {y->buf, y->buf + (size_t)y->w * y->h, y->buf + (size_t)y->w * y->h + (size_t)y->cw * y->ch};
    int dstride[4] = {y->w, y->cw, y->cw};
    sws_scale(y->sws, src, sstride, 0, y->h, dst, dstride);
    size_t n = (size_t)y->w * y->h + 2 * (size_t)y->cw * y->ch;
    if (fputs("FRAME\n", y->f) < 0 || fwrite(y->buf, 1, n, y->f) != n || fflush(y->f) != 0) {
        int e = errno ? errno : EIO;
        /* a reader that closed the pipe (EPIPE) is the normal way a y4m consumer stops */
        gc_log(e == EPIPE ? GC_LOG_INFO : GC_LOG_ERROR, "%s: y4m write failed: %s", y->path, strerror(e));
        return -e;
    }
    return 0;
}

void media_y4m_close(media_y4m **py)
{
    media_y4m *y = *py;
    if (!y)
        return;
    if (y->f && y->own)
        fclose(y->f);
    else if (y->f)
        fflush(y->f);
    sws_freeContext(y->sws);
    free(y->buf);
    free(y);
    *py = NULL;
}
