/* media: writer -> source round trip (frames, timestamps, pixels), temp-name
 * behaviour, rotation, y4m, the font, and the virtual camera's refusals.
 * Usage: test_media WORKDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gc.h"
#include "media/media.h"
#include "test_util.h"

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* A moving pattern: smooth enough for a codec, different in every frame. */
static void pattern(uint8_t *rgb, int w, int h, int k)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(128 + 100 * sin((x + 3 * k) * 0.05));
            p[1] = (uint8_t)(128 + 100 * cos((y + 2 * k) * 0.07));
            p[2] = (uint8_t)((x + y + k) & 0xff) / 2 + 64;
        }
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += (double)(a[i] - b[i]) * (a[i] - b[i]);
    return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

static void test_roundtrip(const char *dir, const char *ext, int crf)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/rt.%s", dir, ext);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(path);
    const int w = 96, h = 64, n = 30;
    struct media_source_info si = {.w = w, .h = h, .fps_num = 25, .fps_den = 1, .tb_num = 1, .tb_den = 25,
                                   .colorspace = 2 /* unspecified */, .color_range = 0};
    struct media_writer_params wp = media_writer_params_default();
    wp.crf = crf;
    media_writer *wr = NULL;
    uint8_t *rgb = malloc(w * h * 3), *back = malloc(w * h * 3);
    CHECK(media_writer_open(&wr, path, &si, &wp) == 0, "writer open %s", path);
    if (!wr)
        goto out;
    CHECK(exists(tmp) && !exists(path), "%s: data goes to the temp name first", ext);
    for (int k = 0; k < n; k++) {
        pattern(rgb, w, h, k);
        struct media_frame_info fi = {.index = k, .pts = k};
        CHECK(media_writer_write(wr, rgb, &fi) == 0, "write frame %d", k);
    }
    CHECK(media_writer_close(&wr, 1) == 0, "close");
    CHECK(exists(path) && !exists(tmp), "%s: renamed into place", ext);

    media_source *src = NULL;
    CHECK(media_source_open(&src, path, NULL) == 0, "reopen %s", path);
    if (!src)
        goto out;
    const struct media_source_info *ri = media_source_info(src);
    CHECK(ri->w == w && ri->h == h, "size %dx%d", ri->w, ri->h);
    int k = 0, r;
    double worst = 99, t_last = -1;
    struct media_frame_info fi;
    while ((r = media_source_read(src, back, &fi)) == 0) {
        pattern(rgb, w, h, k);
        double p = psnr(rgb, back, (size_t)w * h * 3);
        worst = p < worst ? p : worst;
        CHECK(fabs(fi.t - k / 25.0) < 1e-3, "frame %d at %.4f s, expected %.4f", k, fi.t, k / 25.0);
        CHECK(fi.index == k, "index %lld", (long long)fi.index);
        CHECK(fi.t > t_last, "time increases");
        t_last = fi.t;
        k++;
    }
    CHECK(r == GC_EOF, "ends with EOF, got %d", r);
    CHECK(k == n, "%s: read %d frames, wrote %d", ext, k, n);
    double bound = crf == 0 ? 38 : 30;
    printf("roundtrip %s crf %d: %d frames, worst PSNR %.1f dB (bound %.0f)\n", ext, crf, k, worst, bound);
    CHECK(worst > bound, "%s PSNR %.1f", ext, worst);
    media_source_close(&src);
out:
    free(rgb);
    free(back);
}

static void test_abort_leaves_nothing(const char *dir)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/abort.mp4", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(path);
    struct media_source_info si = {.w = 32, .h = 32, .fps_num = 30, .fps_den = 1, .tb_num = 1, .tb_den = 30};
    media_writer *wr = NULL;
    uint8_t rgb[32 * 32 * 3] = {0};
    CHECK(media_writer_open(&wr, path, &si, NULL) == 0, "open");
    struct media_frame_info fi = {0};
    media_writer_write(wr, rgb, &fi);
    media_writer_close(&wr, 0);
    CHECK(!exists(path) && !exists(tmp), "an aborted write leaves no file");
    /* a missing folder: an error, nothing made */
    snprintf(path, sizeof(path), "%s/no/such/dir/x.mp4", dir);
    CHECK(media_writer_open(&wr, path, &si, NULL) < 0 && !wr, "missing folder refused");
    snprintf(path, sizeof(path), "%s/x.unknownext", dir);
    CHECK(media_writer_open(&wr, path, &si, NULL) < 0 && !wr, "unknown container refused");
    printf("abort/missing folder/unknown container: ok\n");
}

static void test_bad_inputs(const char *dir)
{
    char path[1024];
    media_source *s = NULL;
    CHECK(media_source_open(&s, "/nonexistent/file.mp4", NULL) < 0 && !s, "missing file");
    snprintf(path, sizeof(path), "%s/notvideo.mp4", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a video\n", f);
    fclose(f);
    CHECK(media_source_open(&s, path, NULL) < 0 && !s, "text file refused");
    printf("bad inputs refused: ok\n");
}

static void test_y4m(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/t.y4m", dir);
    const int w = 33, h = 17; /* odd sizes: chroma rounds up */
    media_y4m *y = NULL;
    uint8_t *rgb = calloc(w * h, 3);
    CHECK(media_y4m_open(&y, path, w, h, 30000, 1001) == 0, "y4m open");
    for (int i = 0; i < 3 && y; i++)
        CHECK(media_y4m_write(y, rgb) == 0, "y4m write");
    media_y4m_close(&y);
    free(rgb);
    FILE *fp = fopen(path, "rb");
    char line[128] = {0};
    CHECK(fp && fgets(line, sizeof(line), fp), "y4m readable");
    CHECK(!strncmp(line, "YUV4MPEG2 W33 H17 F30000:1001 ", 30), "y4m header '%s'", line);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    long expect = (long)strlen(line) + 3 * (6 + 33 * 17 + 2 * 17 * 9);
    printf("y4m: header '%.30s', %ld bytes (expected %ld)\n", line, size, expect);
    CHECK(size == expect, "y4m size %ld != %ld", size, expect);
}

static void test_font(void)
{
    const int w = 120, h = 20;
    uint8_t *rgb = malloc(w * h * 3);
    memset(rgb, 100, w * h * 3);
    media_draw_text(rgb, w, h, 2, 2, 1, "29.8 FPS 41 MS");
    int white = 0, dark = 0;
    for (int i = 0; i < w * h; i++) {
        white += rgb[i * 3] == 255;
        dark += rgb[i * 3] == 25;
    }
    /* drawing off the edges must not write outside the image (ASan watches) */
    media_draw_text(rgb, w, h, w - 8, h - 4, 3, "xyz");
    media_draw_text(rgb, w, h, -20, -20, 2, "abc");
    printf("font: %d lit pixels, %d darkened background pixels\n", white, dark);
    CHECK(white > 80 && dark > 200, "text drawn");
    free(rgb);
}

static void test_vcam(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/regular-file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    media_vcam *v = NULL;
    int r = media_vcam_open(&v, path, 64, 48, 30, 1);
    printf("vcam on a regular file: %s\n", gc_strerror(r));
    CHECK(r < 0 && !v, "a regular file is refused");
    r = media_vcam_open(&v, "/dev/null", 64, 48, 30, 1);
    printf("vcam on /dev/null: %s\n", gc_strerror(r));
    CHECK(r < 0 && !v, "a character device that is not V4L2 is refused");
    r = media_vcam_open(&v, "/dev/video-does-not-exist", 64, 48, 30, 1);
    CHECK(r < 0 && !v, "a missing device is refused");
}

/* dump FILE OUT: all frames as raw RGB24, prints "w h frames" (for the rotation check) */
static int dump(const char *in, const char *out)
{
    media_source *s = NULL;
    if (media_source_open(&s, in, NULL) < 0)
        return 1;
    const struct media_source_info *si = media_source_info(s);
    uint8_t *rgb = malloc((size_t)si->w * si->h * 3);
    FILE *f = fopen(out, "wb");
    struct media_frame_info fi;
    int n = 0;
    while (media_source_read(s, rgb, &fi) == 0) {
        fwrite(rgb, 3, (size_t)si->w * si->h, f);
        n++;
    }
    fclose(f);
    printf("%d %d %d %d\n", si->w, si->h, n, si->rotation);
    free(rgb);
    media_source_close(&s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "dump"))
        return dump(argv[2], argv[3]);
    if (argc != 2) {
        fprintf(stderr, "usage: test_media WORKDIR | test_media dump FILE OUT.rgb\n");
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0755);
    test_roundtrip(dir, "mkv", 0);
    test_roundtrip(dir, "mp4", 18);
    test_roundtrip(dir, "mov", 18);
    test_abort_leaves_nothing(dir);
    test_bad_inputs(dir);
    test_y4m(dir);
    test_font();
    test_vcam(dir);
    printf("%s: %d failures\n", argv[0], test_failures);
    return test_failures ? 1 : 0;
}
