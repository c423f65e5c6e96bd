/* media: FFmpeg image and video I/O, preview, virtual camera (one public header).
 *
 *   uint8_t *rgb; int w, h;
 *   if (media_image_read("face.png", &rgb, &w, &h) < 0) ...;   // logs why, naming the file
 *   media_image_write("out.png", rgb, w, h);                   // PNG or JPEG by extension
 *   free(rgb);
 *
 * Ownership: buffers returned by media_* are malloc'd and the caller frees them;
 * buffers passed in stay the caller's. RGB is packed RGB24 (HWC, R first), rows
 * without padding.
 */
#ifndef MEDIA_H
#define MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "common/gc.h"

/* ---- Still images (owner: foundation) ---- */

/* Any image FFmpeg decodes (PNG, JPEG, BMP, ...) -> packed RGB24, malloc'd; w,h out.
 * Alpha is dropped. <0 with a message naming the file on error. */
int media_image_read(const char *path, uint8_t **rgb, int *w, int *h);
/* PNG or JPEG (.png, .jpg, .jpeg; case-insensitive) by extension; written to
 * path.tmp and renamed, so no half file is left under path. */
int media_image_write(const char *path, const uint8_t *rgb, int w, int h);
/* Resamples packed RGB24 src (sw x sh) into dst (dw x dh) with libswscale
 * (area filter when shrinking, bicubic when growing). */
int media_image_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/* ---- Video input, file output, preview, virtual camera, y4m (owner: media & pipeline) ----
 *
 *   struct media_source_params sp = media_source_params_default();
 *   media_source *src = NULL;
 *   if (media_source_open(&src, "in.mp4", &sp) < 0) ...;          // logs why
 *   const struct media_source_info *si = media_source_info(src);  // w, h after rotation
 *   uint8_t *rgb = malloc((size_t)si->w * si->h * 3);
 *   struct media_frame_info fi;
 *   while ((r = media_source_read(src, rgb, &fi)) == 0) ...;     // GC_EOF at the end
 *
 *   struct media_writer_params wp = media_writer_params_default();
 *   wp.audio_from = src;                                          // audio copied, not re-encoded
 *   media_writer *w = NULL;
 *   media_writer_open(&w, "out.mp4", si, &wp);                    // writes out.mp4.tmp
 *   media_writer_write(w, rgb, &fi);
 *   media_writer_close(&w, 1);                                    // 1: finish and rename, 0: delete
 *
 * Ownership: the caller owns every pixel buffer; sources and writers copy what
 * they keep. A writer that copies audio from a source borrows it: close the
 * writer first. A source is read from one thread; the audio it queues for a
 * writer may be taken from another.
 */

struct media_source_params {
    int width, height; /* capture size asked of a webcam; 0 = its default */
    double fps;        /* capture rate asked of a webcam; 0 = its default */
    const char *format; /* demuxer name ("v4l2", "lavfi", ...); NULL = guess (/dev/video* -> v4l2) */
    int keep_audio;    /* queue the audio stream's packets for a writer (copy); default 0 */
    int realtime;      /* pace a file at its frame rate, like a camera (live from a file); default 0 */
    int loop;          /* start a file again at its end (live demos); default 0 */
    int threads;       /* decoder threads, 0 = FFmpeg's choice; default 0 */
};
struct media_source_params media_source_params_default(void);

struct media_source_info {
    int w, h;             /* frame size delivered (after rotation) */
    int rotation;         /* degrees clockwise applied to honour the display matrix: 0, 90, 180, 270 */
    int fps_num, fps_den; /* nominal frame rate (guessed when the container does not say) */
    int tb_num, tb_den;   /* the time base of media_frame_info.pts */
    int64_t nb_frames;    /* frames the container announces, 0 if unknown */
    double duration;      /* seconds the container announces, 0 if unknown */
    int has_audio;        /* an audio stream is there (and queued if keep_audio) */
    int is_live;          /* a device or realtime stream: frames come at their own pace */
    int is_image;         /* a still image (one frame) */
    char codec[32];       /* video codec name */
    int colorspace, color_range, color_primaries, color_trc; /* FFmpeg's AVCOL_* values, kept on output */
};

struct media_frame_info {
    int64_t index;   /* 0-based number of the frame in the stream */
    int64_t pts;     /* presentation time in tb_num/tb_den units */
    double t;        /* presentation time in seconds from the stream start */
    double captured; /* gc_time() when the frame was decoded or captured */
};

typedef struct media_source media_source;

int media_source_open(media_source **out, const char *url, const struct media_source_params *p);
const struct media_source_info *media_source_info(const media_source *s);
/* Decodes the next frame into rgb (w*h*3, packed RGB24). 0, GC_EOF at the end, <0 on error.
 * A stream that breaks off early ends with GC_EOF after a warning saying where. */
int media_source_read(media_source *s, uint8_t *rgb, struct media_frame_info *fi);
/* Makes a blocked or paced read return GC_EOF soon; callable from any thread. */
void media_source_stop(media_source *s);
void media_source_close(media_source **s);

struct media_writer_params {
    const char *codec;  /* video encoder; default "libx264" */
    int crf;            /* quality, 0 (lossless) .. 51; default 18 */
    const char *preset; /* x264 speed/size trade; default "veryfast" */
    int threads;        /* encoder threads, 0 = FFmpeg's choice; default 0 */
    media_source *audio_from; /* copy this source's audio packets unchanged; NULL = none */
};
struct media_writer_params media_writer_params_default(void);

typedef struct media_writer media_writer;

/* The container comes from the path's extension; frame size, rate and time base from si.
 * Data goes to "path.tmp" until media_writer_close(&w, 1) renames it. */
int media_writer_open(media_writer **out, const char *path, const struct media_source_info *si,
                      const struct media_writer_params *p);
/* Encodes one frame at fi->pts (in si's time base). */
int media_writer_write(media_writer *w, const uint8_t *rgb, const struct media_frame_info *fi);
/* commit 1: flush, copy the remaining audio, finish the file and rename it to its final name;
 * commit 0: delete the temporary file. Returns the first error seen (then nothing is renamed). */
int media_writer_close(media_writer **w, int commit);
/* Frames written so far. */
int64_t media_writer_frames(const media_writer *w);

/* True when the name ends in an image extension (.png .jpg .jpeg .bmp .ppm .webp .tif .tiff). */
int media_is_image_path(const char *path);

/* SDL2 preview window. Keys map to actions; media_preview_poll returns them one by one. */
enum media_key {
    MEDIA_KEY_NONE,
    MEDIA_KEY_QUIT,       /* q, Esc, window closed */
    MEDIA_KEY_ALPHA_UP,   /* + or = */
    MEDIA_KEY_ALPHA_DOWN, /* - */
    MEDIA_KEY_TOGGLE,     /* space: effect on/off */
    MEDIA_KEY_TARGET,     /* t: next target */
};
typedef struct media_preview media_preview;
/* side_by_side: the input on the left of the output. The window is made on the calling
 * thread, and every other media_preview_* call must come from that thread (SDL's rule). */
int media_preview_open(media_preview **out, const char *title, int w, int h, int side_by_side);
/* Shows out (and in, when side by side; may be NULL) with text drawn over the top-left corner. */
int media_preview_show(media_preview *pv, const uint8_t *out, const uint8_t *in, const char *text);
enum media_key media_preview_poll(media_preview *pv);
void media_preview_close(media_preview **pv);

/* Draws text (ASCII, built-in 5x7 font, scaled) into an RGB24 image. */
void media_draw_text(uint8_t *rgb, int w, int h, int x, int y, int scale, const char *text);

/* V4L2 loopback virtual camera: checks the device is a video output, sets YUYV. */
typedef struct media_vcam media_vcam;
int media_vcam_open(media_vcam **out, const char *dev, int w, int h, int fps_num, int fps_den);
int media_vcam_write(media_vcam *v, const uint8_t *rgb);
void media_vcam_close(media_vcam **v);

/* YUV4MPEG2 stream ("-" = stdout): 4:2:0, for ffmpeg, OBS or ffplay. */
typedef struct media_y4m media_y4m;
int media_y4m_open(media_y4m **out, const char *path, int w, int h, int fps_num, int fps_den);
int media_y4m_write(media_y4m *y, const uint8_t *rgb);
void media_y4m_close(media_y4m **y);

#endif
