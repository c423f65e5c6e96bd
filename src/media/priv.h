/* media internals shared by source.c and writer.c (never included outside src/media). */
#ifndef MEDIA_PRIV_H
#define MEDIA_PRIV_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "media/media.h"

/* FFmpeg's error text for a code, in a caller buffer. */
const char *media_averr(int err, char *buf, size_t n);
#define MEDIA_AVERR(e) media_averr((e), (char[AV_ERROR_MAX_STRING_SIZE]){0}, AV_ERROR_MAX_STRING_SIZE)

/* Sets FFmpeg's log level from ours once (quiet unless verbose). */
void media_ffmpeg_log_init(void);

/* Converts an FFmpeg code to ours (AVERROR(e) is already -e; the rest map to -EIO). */
int media_err(int averr);

/* The source's audio stream for copying: NULL when it has none or keep_audio was off. */
const AVCodecParameters *media_source_audio_par(const media_source *s, AVRational *time_base);
/* Pops the oldest queued audio packet (thread-safe: the source thread pushes, a writer pops).
 * Returns 1 with *pkt filled (caller unrefs), 0 when none is queued. */
int media_source_audio_pop(media_source *s, AVPacket *pkt);
/* Time in seconds of the oldest queued audio packet, or +inf when none is queued. */
double media_source_audio_peek_time(media_source *s);
/* Whether the source has stopped reading (EOF, error or media_source_close pending). */
int media_source_done(media_source *s);

#endif
