/* Virtual camera: frames written to a v4l2loopback device, set up with plain V4L2
 * ioctls (the device must offer VIDEO_OUTPUT; YUYV is what every reader takes). */
#include <fcntl.h>
#include <libswscale/swscale.h>
#include <linux/videodev2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gc.h"
#include "media/media.h"

struct media_vcam {
    int fd;
    int w, h;
    char dev[256];
    uint8_t *buf; /* one YUYV frame */
    size_t size;
    struct SwsContext *sws;
};

int media_vcam_open(media_vcam **out, const char *dev, int w, int h, int fps_num, int fps_den)
{
    *out = NULL;
    struct stat sb;
    if (stat(dev, &sb) < 0) {
        int e = errno;
        gc_log(GC_LOG_ERROR, "%s: %s (load v4l2loopback: modprobe v4l2loopback devices=1 video_nr=10)", dev,
               strerror(e));
        return -e;
    }
    if (!S_ISCHR(sb.st_mode)) {
        gc_log(GC_LOG_ERROR, "%s: not a video device (a v4l2loopback device such as /dev/video10 is needed)", dev);
        return -ENOTTY;
    }
    media_vcam *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    snprintf(v->dev, sizeof(v->dev), "%s", dev);
    v->w = w & ~1;
    v->h = h;
    int r;
    if ((v->fd = open(dev, O_RDWR)) < 0) {
        r = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot open: %s", dev, gc_strerror(r));
        goto fail;
    }
    struct v4l2_capability cap = {0};
    if (ioctl(v->fd, VIDIOC_QUERYCAP, &cap) < 0) {
        r = -ENOTTY;
        gc_log(GC_LOG_ERROR, "%s: not a V4L2 device: %s", dev, strerror(errno));
        goto fail;
    }
    uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
    if (!(caps & V4L2_CAP_VIDEO_OUTPUT)) {
        r = -ENOTTY;
        gc_log(GC_LOG_ERROR, "%s: %s (%s) is not a video output device; a v4l2loopback device is needed", dev,
               (const char *)cap.card, (const char *)cap.driver);
        goto fail;
    }
    struct v4l2_format fmt = {0};
    fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    fmt.fmt.pix.width = v->w;
    fmt.fmt.pix.height = v->h;
    fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    fmt.fmt.pix.bytesperline = v->w * 2;
    fmt.fmt.pix.sizeimage = v->w * 2 * v->h;
    fmt.fmt.pix.colorspace = V4L2_COLORSPACE_SRGB;
    if (ioctl(v->fd, VIDIOC_S_FMT, &fmt) < 0) {
        r = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot set YUYV %dx%d: %s", dev, v->w, v->h, gc_strerror(r));
        goto fail;
    }
    if (fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_YUYV || (int)fmt.fmt.pix.width != v->w ||
        (int)fmt.fmt.pix.height != v->h) {
        r = -EINVAL;
        gc_log(GC_LOG_ERROR, "%s: the device did not take YUYV %dx%d (it offers %ux%u)", dev, v->w, v->h,
               fmt.fmt.pix.width, fmt.fmt.pix.height);
        goto fail;
    }
    struct v4l2_streamparm parm = {0};
    parm.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    parm.parm.output.timeperframe.numerator = fps_den;
    parm.parm.output.timeperframe.denominator = fps_num;
    ioctl(v->fd, VIDIOC_S_PARM, &parm); /* a hint only: readers take frames as they come */
    v->size = fmt.fmt.pix.sizeimage ? fmt.fmt.pix.sizeimage : (size_t)v->w * 2 * v->h;
    if (v->size < (size_t)v->w * 2 * v->h)
        v->size = (size_t)v->w * 2 * v->h;
    v->buf = calloc(1, v->size);
    v->sws = sws_getContext(v->w, v->h, AV_PIX_FMT_RGB24, v->w, v->h, AV_PIX_FMT_YUYV422, SWS_BILINEAR, NULL, NULL,
                            NULL);
    if (!v->buf || !v->sws) {
        r = -ENOMEM;
        goto fail;
    }
    v->w = w; /* input row stride */
    *out = v;
    gc_log(GC_LOG_INFO, "virtual camera %s (%s): YUYV %dx%d", dev, (const char *)cap.card, w & ~1, h);
    return 0;
fail:
    media_vcam_close(&v);
    return r;
}

int media_vcam_write(media_vcam *v, const uint8_t *rgb)
{
    const uint8_t *src[4] = {rgb};
    int sstride[4] = {v->w * 3};
    uint8_t *dst[4] = {v->buf};
    int dstride[4] = {(v->w & ~1) * 2};
    sws_scale(v->sws, src, sstride, 0, v->h, dst, dstride);
    ssize_t n = write(v->fd, v->buf, v->size);
    if (n != (ssize_t)v->size) {
        int e = n < 0 ? errno : EIO;
        gc_log(GC_LOG_ERROR, "%s: writing a frame failed: %s", v->dev, strerror(e));
        return -e;
    }
    return 0;
}

void media_vcam_close(media_vcam **pv)
{
    media_vcam *v = *pv;
    if (!v)
        return;
    if (v->fd > 0)
        close(v->fd);
    sws_freeContext(v->sws);
    free(v->buf);
    free(v);
    *pv = NULL;
}
