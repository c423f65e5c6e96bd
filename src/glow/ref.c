/* The plain-C reference backend: the truth every faster path is tested against.
 *
 * Clarity first: one image at a time, activations in double, HWC layout, one function
 * per op named like the ops of DESIGN.md. The only concession to speed is that a 3x3
 * convolution gathers each pixel's 3x3 patch into a contiguous vector (laid out like a
 * weight row [in][kh][kw]), so every output channel is one contiguous dot product. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glow/priv.h"

#define LOG_2PI 1.8378770664093454836
#define LN2 0.69314718055994530942

struct ref_step_cache {
    double *inv;       /* [C][C] inverse of the invconv weight (decode) */
    double logdet_inv; /* log|det W| */
};

struct ref {
    const glow_model *m;
    int post_bits; /* decode's postprocess bits */
    struct ref_step_cache *steps[GLOW_MAX_LEVELS];
    double *post_inv[GLOW_MAX_LEVELS];
    double post_logdet[GLOW_MAX_LEVELS];
    /* scratch, sized for the largest level */
    double *za, *zb; /* two image-sized buffers */
    double *a;       /* coupling input / prior input, h*w*C/2 */
    double *h1, *h2; /* hidden activations, h*w*width */
    double *hout;    /* conv3 / prior output, h*w*C */
    double *patch;   /* one 3x3 patch, (max cin_pad) * 9 */
    double *px;      /* one pixel's channels */
};

/* ---- ops (all on HWC double buffers) ---- */

/* out[y][x][c*4 + dy*2 + dx] = in[2y+dy][2x+dx][c] */
static void ref_squeeze(const double *in, int h, int w, int c, double *out)
{
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w / 2; x++)
            for (int ch = 0; ch < c; ch++)
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        out[((size_t)y * (w / 2) + x) * c * 4 + ch * 4 + dy * 2 + dx] =
                            in[((size_t)(2 * y + dy) * w + 2 * x + dx) * c + ch];
}

/* inverse of ref_squeeze: in is (h, w, c), out is (2h, 2w, c/4) */
static void ref_unsqueeze(const double *in, int h, int w, int c, double *out)
{
    const int co = c / 4;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < co; ch++)
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        out[((size_t)(2 * y + dy) * 2 * w + 2 * x + dx) * co + ch] =
                            in[((size_t)y * w + x) * c + ch * 4 + dy * 2 + dx];
}

/* y = (x + bias) * exp(logs); returns the log-determinant h*w*sum(logs) */
static double ref_actnorm(double *x, size_t hw, int c, const float *bias, const float *logs)
{
    double ld = 0;
    for (int ch = 0; ch < c; ch++)
        ld += logs[ch];
    for (size_t p = 0; p < hw; p++)
        for (int ch = 0; ch < c; ch++)
            x[p * c + ch] = (x[p * c + ch] + bias[ch]) * exp((double)logs[ch]);
    return ld * (double)hw;
}

static void ref_actnorm_reverse(double *x, size_t hw, int c, const float *bias, const float *logs)
{
    for (size_t p = 0; p < hw; p++)
        for (int ch = 0; ch < c; ch++)
            x[p * c + ch] = x[p * c + ch] * exp(-(double)logs[ch]) - bias[ch];
}

/* y[o] = sum_i W[o][i] x[i] at every pixel (W float, the file's weight) */
static void ref_invconv(double *x, size_t hw, int c, const float *w, double *px)
{
    for (size_t p = 0; p < hw; p++) {
        double *v = x + p * c;
        for (int o = 0; o < c; o++) {
            double s = 0;
            for (int i = 0; i < c; i++)
                s += (double)w[(size_t)o * c + i] * v[i];
            px[o] = s;
        }
        memcpy(v, px, (size_t)c * sizeof(double));
    }
}

/* same with a double matrix (the inverse, for decode) */
static void ref_invconv_reverse(double *x, size_t hw, int c, const double *winv, double *px)
{
    for (size_t p = 0; p < hw; p++) {
        double *v = x + p * c;
        for (int o = 0; o < c; o++) {
            double s = 0;
            for (int i = 0; i < c; i++)
                s += winv[(size_t)o * c + i] * v[i];
            px[o] = s;
        }
        memcpy(v, px, (size_t)c * sizeof(double));
    }
}

static double dot(const float *w, const double *v, int n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* four partial sums: no single dependency chain */
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)w[i] * v[i];
        s1 += (double)w[i + 1] * v[i + 1];
        s2 += (double)w[i + 2] * v[i + 2];
        s3 += (double)w[i + 3] * v[i + 3];
    }
    for (; i < n; i++)
        s0 += (double)w[i] * v[i];
    return (s0 + s1) + (s2 + s3);
}

/* 3x3 'SAME' convolution, weights [cout][cin + edge][3][3]. With edge padding the extra
 * input channel (index cin) is 1 where the tap falls outside the image, else 0;
 * without it taps outside the image read zeros. */
static void ref_conv3x3(const double *in, int h, int w, int cin, int edge, const float *wt, int cout, double *out,
                        double *patch)
{
    const int cp = cin + edge, K = cp * 9;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    const int yy = y + ky - 1, xx = x + kx - 1, t = ky * 3 + kx;
                    const int inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
                    if (inside) {
                        const double *src = in + ((size_t)yy * w + xx) * cin;
                        for (int i = 0; i < cin; i++)
                            patch[i * 9 + t] = src[i];
                    } else {
                        for (int i = 0; i < cin; i++)
                            patch[i * 9 + t] = 0.0;
                    }
                    if (edge)
                        patch[cin * 9 + t] = inside ? 0.0 : 1.0;
                }
            double *o = out + ((size_t)y * w + x) * cout;
            for (int oc = 0; oc < cout; oc++)
                o[oc] = dot(wt + (size_t)oc * K, patch, K);
        }
}

/* 1x1 convolution, weights [cout][cin] */
static void ref_conv1x1(const double *in, size_t hw, int cin, const float *wt, int cout, double *out)
{
    for (size_t p = 0; p < hw; p++)
        for (int o = 0; o < cout; o++)
            out[p * cout + o] = dot(wt + (size_t)o * cin, in + p * cin, cin);
}

/* actnorm then ReLU (the hidden layers of the coupling network) */
static void ref_actnorm_relu(double *x, size_t hw, int c, const float *bias, const float *logs)
{
    ref_actnorm(x, hw, c, bias, logs);
    for (size_t i = 0; i < hw * (size_t)c; i++)
        x[i] = x[i] > 0 ? x[i] : 0;
}

/* h = (x + bias) * exp(logs) per channel (conv3 and the priors, OpenAI's conv2d_zeros) */
static void ref_bias_scale(double *x, size_t hw, int c, const float *bias, const float *logs)
{
    ref_actnorm(x, hw, c, bias, logs);
}

/* The coupling network NN(a): a is (h, w, cin) contiguous; result in r->hout (h, w, cout). */
static void ref_nn(struct ref *r, const struct glow_nn *nn, const double *a, int h, int w, int edge)
{
    const size_t hw = (size_t)h * w;
    ref_conv3x3(a, h, w, nn->cin, edge, nn->w1, nn->width, r->h1, r->patch);
    ref_actnorm_relu(r->h1, hw, nn->width, nn->an1_bias, nn->an1_logs);
    ref_conv1x1(r->h1, hw, nn->width, nn->w2, nn->width, r->h2);
    ref_actnorm_relu(r->h2, hw, nn->width, nn->an2_bias, nn->an2_logs);
    ref_conv3x3(r->h2, h, w, nn->width, edge, nn->w3, nn->cout, r->hout, r->patch);
    ref_bias_scale(r->hout, hw, nn->cout, nn->b3, nn->logs3);
}

/* log(sigmoid(v)) without overflow */
static double log_sigmoid(double v)
{
    return v >= 0 ? -log1p(exp(-v)) : v - log1p(exp(v));
}

/* Copies the first half of the channels into r->a (contiguous). */
static void first_half(struct ref *r, const double *z, size_t hw, int c)
{
    for (size_t p = 0; p < hw; p++)
        memcpy(r->a + p * (c / 2), z + p * c, (size_t)(c / 2) * sizeof(double));
}

static double ref_coupling(struct ref *r, const struct glow_step *s, double *z, int h, int w, int c, int reverse)
{
    const size_t hw = (size_t)h * w;
    const int c2 = c / 2, affine = r->m->cfg.coupling == GLOW_COUPLING_AFFINE;
    first_half(r, z, hw, c);
    ref_nn(r, &s->nn, r->a, h, w, r->m->cfg.edge_padding);
    const int co = s->nn.cout;
    double ld = 0;
    for (size_t p = 0; p < hw; p++) {
        double *b = z + p * c + c2;
        const double *hh = r->hout + p * co;
        for (int j = 0; j < c2; j++) {
            if (affine) {
                const double shift = hh[2 * j], v = hh[2 * j + 1] + 2.0;
                const double ls = log_sigmoid(v);
                if (!reverse) {
                    b[j] = (b[j] + shift) * exp(ls);
                    ld += ls;
                } else {
                    b[j] = b[j] * exp(-ls) - shift;
                }
            } else if (!reverse) {
                b[j] += hh[j];
                if (s->ybias)
                    b[j] += s->ybias[j];
                if (s->yscale)
                    b[j] *= s->yscale[j];
            } else {
                if (s->yscale)
                    b[j] /= s->yscale[j];
                if (s->ybias)
                    b[j] -= s->ybias[j];
                b[j] -= hh[j];
            }
        }
    }
    if (!affine && s->yscale)
        for (int j = 0; j < c2; j++)
            ld += (double)hw * log((double)s->yscale[j]);
    return ld;
}

/* Split prior of level l on z1 (r->a, h x w x C/2): mean/logs interleaved in r->hout. */
static void ref_prior(struct ref *r, const struct glow_level *lv)
{
    const size_t hw = (size_t)lv->h * lv->w;
    ref_conv3x3(r->a, lv->h, lv->w, lv->c / 2, r->m->cfg.edge_padding, lv->prior_w, lv->c, r->hout, r->patch);
    ref_bias_scale(r->hout, hw, lv->c, lv->prior_b, lv->prior_logs);
}

/* ---- whole flow ---- */

/* x: image_size^2*3 preprocessed values (HWC). eps: latent. */
static void ref_flow(struct ref *r, const double *x, double *eps, double *logdet_out, double *logp_out)
{
    const glow_model *m = r->m;
    const int L = m->cfg.n_levels, S = m->cfg.image_size;
    double logdet = 0, logp = 0;
    double *cur = r->za, *nxt = r->zb;
    memcpy(cur, x, (size_t)S * S * 3 * sizeof(double));
    int h = S, w = S, c = 3;
    for (int l = 0; l < L; l++) {
        const struct glow_level *lv = &m->levels[l];
        ref_squeeze(cur, h, w, c, nxt);
        double *t = cur;
        cur = nxt;
        nxt = t;
        h /= 2, w /= 2, c *= 4;
        GC_ASSERT(h == lv->h && c == lv->c); /* shapes fixed at load */
        const size_t hw = (size_t)h * w;
        for (int k = 0; k < m->cfg.depth; k++) {
            const struct glow_step *s = &lv->steps[k];
            logdet += ref_actnorm(cur, hw, c, s->an_bias, s->an_logs);
            ref_invconv(cur, hw, c, s->invconv, r->px);
            logdet += (double)hw * r->steps[l][k].logdet_inv;
            logdet += ref_coupling(r, s, cur, h, w, c, 0);
        }
        if (lv->post_invconv) {
            logdet += ref_actnorm(cur, hw, c, lv->post_an_bias, lv->post_an_logs);
            ref_invconv(cur, hw, c, lv->post_invconv, r->px);
            logdet += (double)hw * r->post_logdet[l];
        }
        double *e = eps + lv->eps_offset;
        if (l < L - 1) {
            const int c2 = c / 2;
            first_half(r, cur, hw, c);
            ref_prior(r, lv);
            for (size_t p = 0; p < hw; p++)
                for (int j = 0; j < c2; j++) {
                    const double mean = r->hout[p * c + 2 * j], logs = r->hout[p * c + 2 * j + 1];
                    const double ep = (cur[p * c + c2 + j] - mean) * exp(-logs);
                    e[p * c2 + j] = ep;
                    logp += -0.5 * (LOG_2PI + 2.0 * logs + ep * ep);
                }
            memcpy(cur, r->a, hw * c2 * sizeof(double)); /* z1 goes on */
            c = c2;
        } else {
            for (size_t i = 0; i < hw * c; i++) {
                const double logs = m->top_logs[i];
                const double ep = (cur[i] - m->top_mean[i]) * exp(-logs);
                e[i] = ep;
                logp += -0.5 * (LOG_2PI + 2.0 * logs + ep * ep);
            }
        }
    }
    *logdet_out = logdet;
    *logp_out = logp;
}

/* eps (latent) -> x (image_size^2*3 values, HWC) */
static void ref_flow_reverse(struct ref *r, const double *eps, double *x)
{
    const glow_model *m = r->m;
    const int L = m->cfg.n_levels;
    double *cur = r->za, *nxt = r->zb;
    for (int l = L - 1; l >= 0; l--) {
        const struct glow_level *lv = &m->levels[l];
        const int h = lv->h, w = lv->w, c = lv->c, c2 = c / 2;
        const size_t hw = (size_t)h * w;
        const double *e = eps + lv->eps_offset;
        if (l == L - 1) {
            for (size_t i = 0; i < hw * c; i++)
                cur[i] = m->top_mean[i] + exp((double)m->top_logs[i]) * e[i];
        } else {
            /* cur holds z1 (h, w, C/2) from the level above */
            memcpy(r->a, cur, hw * c2 * sizeof(double));
            ref_prior(r, lv);
            for (size_t p = 0; p < hw; p++)
                for (int j = 0; j < c2; j++) {
                    const double mean = r->hout[p * c + 2 * j], logs = r->hout[p * c + 2 * j + 1];
                    cur[p * c + j] = r->a[p * c2 + j];
                    cur[p * c + c2 + j] = mean + exp(logs) * e[p * c2 + j];
                }
        }
        if (lv->post_invconv) {
            ref_invconv_reverse(cur, hw, c, r->post_inv[l], r->px);
            ref_actnorm_reverse(cur, hw, c, lv->post_an_bias, lv->post_an_logs);
        }
        for (int k = m->cfg.depth - 1; k >= 0; k--) {
            const struct glow_step *s = &lv->steps[k];
            ref_coupling(r, s, cur, h, w, c, 1);
            ref_invconv_reverse(cur, hw, c, r->steps[l][k].inv, r->px);
            ref_actnorm_reverse(cur, hw, c, s->an_bias, s->an_logs);
        }
        ref_unsqueeze(cur, h, w, c, nxt);
        double *t = cur;
        cur = nxt;
        nxt = t;
    }
    memcpy(x, cur, (size_t)m->cfg.image_size * m->cfg.image_size * 3 * sizeof(double));
}

/* ---- backend ops ---- */

static void ref_destroy(void *state)
{
    struct ref *r = state;
    if (!r)
        return;
    for (int l = 0; l < GLOW_MAX_LEVELS; l++) {
        if (r->steps[l])
            for (int k = 0; k < r->m->cfg.depth; k++)
                free(r->steps[l][k].inv);
        free(r->steps[l]);
        free(r->post_inv[l]);
    }
    free(r->za);
    free(r->zb);
    free(r->a);
    free(r->h1);
    free(r->h2);
    free(r->hout);
    free(r->patch);
    free(r->px);
    free(r);
}

static int ref_create(void **state, const glow_model *m, const struct glow_params *p, char *describe, size_t dsize)
{
    *state = NULL;
    struct ref *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->m = m;
    r->post_bits = p && p->decode_bits ? p->decode_bits : m->cfg.n_bits;
    const int S = m->cfg.image_size, W = m->cfg.width;
    const size_t img = (size_t)S * S * 3, hw0 = (size_t)(S / 2) * (S / 2);
    const int cmax = 12 << (m->cfg.n_levels - 1);
    const int kmax = (W + 1 > cmax ? W + 1 : cmax) * 9;
    r->za = malloc(img * sizeof(double));
    r->zb = malloc(img * sizeof(double));
    r->a = malloc(img / 2 * sizeof(double)); /* h*w*C/2 is at most half the image at every level */
    r->h1 = malloc(hw0 * W * sizeof(double));
    r->h2 = malloc(hw0 * W * sizeof(double));
    r->hout = malloc(img * sizeof(double)); /* h*w*C = the image's size at level 0 */
    r->patch = malloc((size_t)kmax * sizeof(double));
    r->px = malloc((size_t)cmax * sizeof(double));
    if (!r->za || !r->zb || !r->a || !r->h1 || !r->h2 || !r->hout || !r->patch || !r->px)
        goto nomem;
    for (int l = 0; l < m->cfg.n_levels; l++) {
        const struct glow_level *lv = &m->levels[l];
        const int c = lv->c;
        r->steps[l] = calloc((size_t)m->cfg.depth, sizeof(*r->steps[l]));
        if (!r->steps[l])
            goto nomem;
        for (int k = 0; k < m->cfg.depth; k++) {
            struct ref_step_cache *sc = &r->steps[l][k];
            sc->inv = malloc((size_t)c * c * sizeof(double));
            if (!sc->inv)
                goto nomem;
            if (glow_invert_matrix(lv->steps[k].invconv, c, sc->inv) < 0) {
                gc_log(GC_LOG_ERROR, "%s: levels.%d.steps.%d.invconv.weight is singular", m->path, l, k);
                ref_destroy(r);
                return -EINVAL;
            }
            sc->logdet_inv = glow_log_abs_det(lv->steps[k].invconv, c);
        }
        if (lv->post_invconv) {
            r->post_inv[l] = malloc((size_t)c * c * sizeof(double));
            if (!r->post_inv[l])
                goto nomem;
            if (glow_invert_matrix(lv->post_invconv, c, r->post_inv[l]) < 0) {
                gc_log(GC_LOG_ERROR, "%s: levels.%d.post.invconv.weight is singular", m->path, l);
                ref_destroy(r);
                return -EINVAL;
            }
            r->post_logdet[l] = glow_log_abs_det(lv->post_invconv, c);
        }
    }
    if (describe)
        snprintf(describe, dsize, "plain C, double precision, one thread");
    *state = r;
    return 0;
nomem:
    gc_log(GC_LOG_ERROR, "%s: out of memory for the reference backend", m->path);
    ref_destroy(r);
    return -ENOMEM;
}

static int ref_encode(void *state, const uint8_t *images, int n, float *latents, double *bpd)
{
    struct ref *r = state;
    const glow_model *m = r->m;
    const size_t D = (size_t)m->cfg.image_size * m->cfg.image_size * 3;
    double *x = malloc(D * sizeof(double)), *eps = malloc(D * sizeof(double));
    if (!x || !eps) {
        free(x);
        free(eps);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < D; j++)
            x[j] = glow_preprocess(images[i * D + j], m->cfg.n_bits);
        double logdet, logp;
        ref_flow(r, x, eps, &logdet, &logp);
        for (size_t j = 0; j < D; j++)
            latents[i * D + j] = (float)eps[j];
        if (bpd) {
            /* OpenAI: objective = logdet + log p(z) - D*log(2^n_bits); bpd = -objective / (D log 2) */
            const double nll = -(logdet + logp) + (double)D * m->cfg.n_bits * LN2;
            bpd[i] = nll / ((double)D * LN2);
        }
    }
    free(x);
    free(eps);
    return 0;
}

static int ref_decode(void *state, const float *latents, int n, uint8_t *images)
{
    struct ref *r = state;
    const glow_model *m = r->m;
    const size_t D = (size_t)m->cfg.image_size * m->cfg.image_size * 3;
    double *x = malloc(D * sizeof(double)), *eps = malloc(D * sizeof(double));
    if (!x || !eps) {
        free(x);
        free(eps);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < D; j++)
            eps[j] = latents[i * D + j];
        ref_flow_reverse(r, eps, x);
        for (size_t j = 0; j < D; j++)
            images[i * D + j] = glow_postprocess((float)x[j], r->post_bits);
    }
    free(x);
    free(eps);
    return 0;
}

int glow_ref_flow_f64(const glow_model *m, const double *x, double *eps, double *logdet, double *logp)
{
    void *st;
    int ret = ref_create(&st, m, NULL, NULL, 0);
    if (ret < 0)
        return ret;
    ref_flow(st, x, eps, logdet, logp);
    ref_destroy(st);
    return 0;
}

const struct glow_backend_ops glow_ref_ops = {
    .name = "reference",
    .create = ref_create,
    .encode = ref_encode,
    .decode = ref_decode,
    .destroy = ref_destroy,
};
