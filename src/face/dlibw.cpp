/* dlibw: dlib's HOG face detector and 68-point shape predictor behind a C API.
 * Images are wrapped in place (no copy) through dlib's generic-image interface. */
#include "face/dlibw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>

extern "C" {
#include "common/gc.h"
}

namespace dlibw {
/* A borrowed, read-only image: dlib reads it through the free functions below. */
template <typename P> struct view {
    const uint8_t *data;
    long w, h, stride;
};
template <typename P> long num_rows(const view<P> &v) { return v.h; }
template <typename P> long num_columns(const view<P> &v) { return v.w; }
template <typename P> long width_step(const view<P> &v) { return v.stride; }
template <typename P> const void *image_data(const view<P> &v) { return v.data; }
template <typename P> void *image_data(view<P> &v) { return const_cast<uint8_t *>(v.data); }
} // namespace dlibw

namespace dlib {
template <typename P> struct image_traits<dlibw::view<P>> {
    typedef P pixel_type;
};
} // namespace dlib

struct dlibw_detector {
    dlib::frontal_face_detector det;
};
/* dlib::shape_predictor's own fields, read in its serialisation order: its operator()
 * rounds the points to whole pixels, and sub-pixel points jitter less. */
struct dlibw_predictor {
    dlib::matrix<float, 0, 1> initial_shape;
    std::vector<std::vector<dlib::impl::regression_tree>> forests;
    std::vector<std::vector<unsigned long>> anchor_idx;
    std::vector<std::vector<dlib::vector<float, 2>>> deltas;
};

extern "C" int dlibw_detector_new(dlibw_detector **out)
{
    *out = nullptr;
    try {
        *out = new dlibw_detector{dlib::get_frontal_face_detector()};
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &e) {
        gc_log(GC_LOG_ERROR, "dlib face detector: %s", e.what());
        return -EINVAL;
    }
}

extern "C" void dlibw_detector_free(dlibw_detector *d) { delete d; }

template <typename P>
static void run_detect(dlibw_detector *d, const uint8_t *img, int w, int h, int stride, double thr,
                       std::vector<dlib::rect_detection> &dets)
{
    dlibw::view<P> v{img, w, h, stride};
    d->det(v, dets, thr);
}

extern "C" int dlibw_detect(dlibw_detector *d, const uint8_t *img, int w, int h, int stride, int channels,
                            double threshold, struct face_box *boxes, int max)
{
    try {
        std::vector<dlib::rect_detection> dets;
        if (channels == 1)
            run_detect<unsigned char>(d, img, w, h, stride, threshold, dets);
        else
            run_detect<dlib::rgb_pixel>(d, img, w, h, stride, threshold, dets);
        std::sort(dets.begin(), dets.end(),
                  [](const dlib::rect_detection &a, const dlib::rect_detection &b) {
                      return a.detection_confidence > b.detection_confidence;
                  });
        int n = 0;
        for (const auto &r : dets) {
            if (n >= max)
                break;
            /* dlib rectangles are inclusive: right() is the last pixel column */
            boxes[n].x0 = (float)r.rect.left();
            boxes[n].y0 = (float)r.rect.top();
            boxes[n].x1 = (float)r.rect.right() + 1;
            boxes[n].y1 = (float)r.rect.bottom() + 1;
            boxes[n].score = (float)r.detection_confidence;
            n++;
        }
        return n;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &e) {
        gc_log(GC_LOG_ERROR, "dlib face detection: %s", e.what());
        return -EINVAL;
    }
}

extern "C" int dlibw_predictor_load(dlibw_predictor **out, const char *path)
{
    *out = nullptr;
    struct stat st;
    if (stat(path, &st) != 0) {
        gc_log(GC_LOG_ERROR, "%s: landmark model not found (Debian package libdlib-data installs it)", path);
        return -ENOENT;
    }
    dlibw_predictor *p = nullptr;
    try {
        p = new dlibw_predictor;
        dlib::proxy_deserialize in = dlib::deserialize(path);
        int version = 0;
        in >> version;
        if (version != 1)
            throw dlib::serialization_error("unexpected shape_predictor version");
        in >> p->initial_shape >> p->forests >> p->anchor_idx >> p->deltas;
        if (p->initial_shape.size() != 2 * FACE_N_POINTS || p->forests.empty() ||
            p->anchor_idx.size() != p->forests.size() || p->deltas.size() != p->forests.size()) {
            gc_log(GC_LOG_ERROR, "%s: shape predictor has %ld points, expected %d", path,
                   (long)p->initial_shape.size() / 2, FACE_N_POINTS);
            delete p;
            return -EINVAL;
        }
        *out = p;
        return 0;
    } catch (const std::bad_alloc &) {
        delete p;
        gc_log(GC_LOG_ERROR, "%s: out of memory loading the landmark model", path);
        return -ENOMEM;
    } catch (const std::exception &e) {
        delete p;
        std::string why = e.what();
        std::replace(why.begin(), why.end(), '\n', ' ');
        gc_log(GC_LOG_ERROR, "%s: not a dlib shape predictor (%s)", path, why.c_str());
        return -EINVAL;
    }
}

extern "C" void dlibw_predictor_free(dlibw_predictor *p) { delete p; }

extern "C" int dlibw_predict(const dlibw_predictor *p, const uint8_t *rgb, int w, int h, int stride,
                             const struct face_box *box, float pts[FACE_N_POINTS][2])
{
    try {
        dlibw::view<dlib::rgb_pixel> v{rgb, w, h, stride};
        dlib::rectangle r((long)std::lround(box->x0), (long)std::lround(box->y0),
                          (long)std::lround(box->x1) - 1, (long)std::lround(box->y1) - 1);
        /* dlib::shape_predictor::operator() without its final rounding */
        dlib::matrix<float, 0, 1> shape = p->initial_shape;
        std::vector<float> feats;
        for (size_t it = 0; it < p->forests.size(); it++) {
            dlib::impl::extract_feature_pixel_values(v, r, shape, p->initial_shape, p->anchor_idx[it],
                                                     p->deltas[it], feats);
            unsigned long leaf;
            float *sh = &shape(0);
            const long np = shape.size();
            for (size_t i = 0; i < p->forests[it].size(); i++) {
                /* a plain loop the compiler vectorises (dlib's matrix += did not) */
                const dlib::matrix<float, 0, 1> &d = p->forests[it][i](feats, leaf);
                const float *dv = &d(0);
                for (long k = 0; k < np; k++)
                    sh[k] += dv[k];
            }
        }
        const dlib::point_transform_affine to_img = dlib::impl::unnormalizing_tform(r);
        for (int i = 0; i < FACE_N_POINTS; i++) {
            dlib::dpoint q = to_img(dlib::impl::location(shape, i));
            pts[i][0] = (float)q.x();
            pts[i][1] = (float)q.y();
        }
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &e) {
        gc_log(GC_LOG_ERROR, "dlib landmarks: %s", e.what());
        return -EINVAL;
    }
}

extern "C" int dlibw_image_load(const char *path, uint8_t **rgb, int *w, int *h)
{
    *rgb = nullptr;
    try {
        dlib::array2d<dlib::rgb_pixel> img;
        dlib::load_image(img, path);
        long W = img.nc(), H = img.nr();
        if (W <= 0 || H <= 0) {
            gc_log(GC_LOG_ERROR, "%s: empty image", path);
            return -EINVAL;
        }
        uint8_t *p = (uint8_t *)malloc((size_t)W * H * 3);
        if (!p)
            return -ENOMEM;
        for (long y = 0; y < H; y++)
            for (long x = 0; x < W; x++) {
                const dlib::rgb_pixel &q = img[y][x];
                uint8_t *o = p + ((size_t)y * W + x) * 3;
                o[0] = q.red;
                o[1] = q.green;
                o[2] = q.blue;
            }
        *rgb = p;
        *w = (int)W;
        *h = (int)H;
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (const std::exception &e) {
        gc_log(GC_LOG_ERROR, "%s: cannot read image (%s)", path, e.what());
        return -EINVAL;
    }
}

extern "C" int dlibw_png_save(const char *path, const uint8_t *rgb, int w, int h)
{
    std::string tmp = std::string(path) + ".tmp";
    try {
        dlibw::view<dlib::rgb_pixel> v{rgb, w, h, (long)w * 3};
        dlib::save_png(v, tmp);
    } catch (const std::exception &e) {
        remove(tmp.c_str());
        gc_log(GC_LOG_ERROR, "%s: cannot write PNG (%s)", path, e.what());
        return -EIO;
    }
    if (rename(tmp.c_str(), path) != 0) {
        int e = errno;
        remove(tmp.c_str());
        gc_log(GC_LOG_ERROR, "%s: cannot rename from %s", path, tmp.c_str());
        return -e;
    }
    return 0;
}
