#version 450
// fp32 3x3 convolution with few output channels (conv3 "width -> C" and the split priors:
// cout 6..48 against cin up to 513): the contract and push constants of conv.comp, for
// images of at least 16 x 16 (vk_ops.c decides; smaller ones stay on conv2.comp).
// The implicit GEMM of conv2.comp re-reads every input pixel once per tap and fills a
// 16-wide n tile with 6 channels; here a workgroup instead stages a 16 x 32 output tile's
// input patch (with its one-pixel halo, read once per 8 input channels) and its weights in
// shared memory and makes all 9 taps from there:
//  - grid: x = image tile (batch, tile row, tile column), y = 8 output channels,
//    z = split of the input channels (split-K: raw partial sums to the scratch, summed
//    by splitk.comp with the epilogue, as in the other conv kernels);
//  - 128 invocations: 16 rows x 8 columns, each 4 pixels 8 columns apart (x, x+8, x+16,
//    x+24: neighbouring invocations read neighbouring vec4, free of bank conflicts) x 8
//    output channels = 32 accumulators;
//  - the patch is [row][channel quad][column] vec4; the next 8 channels' patch and weights
//    are loaded into registers during the current step's arithmetic.
// Opt-in (GLOWCAM_VK_NARROW=1) until a GPU times it. Must match glow_vk_rec_conv in vk_ops.c.
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
const uint TH = 16u, TW = 32u;            // output tile
const uint PH = TH + 2u, PW = TW + 2u;    // input patch with its halo
const uint CO = 8u;                       // output channels per workgroup
const uint CC = 8u;                       // input channels per step: two quads
const uint NT = 128u;                     // invocations
const uint PV = PH * 2u * PW;             // patch vec4 per step: 1224
const uint PPT = (PV + NT - 1u) / NT;     // patch vec4 per invocation: 10
const uint WV = 9u * CC * CO / 4u;        // weight vec4 per step: 144
const uint WPT = (WV + NT - 1u) / NT;     // weight vec4 per invocation: 2
layout(local_size_x = 128) in;
#include "conv_pc.glsl"
#define KS 3u
#define EDGE ((pc.flags & GC_CONV_EDGE) != 0u ? 1u : 0u)
#include "conv_load.glsl"
#include "conv_slots.glsl"

shared vec4 P[PV]; // [row][quad][column]
shared vec4 Wt[WV]; // [tap][channel][2]: output channels 0..3, 4..7

// One patch slot: a fixed input pixel and quad of this invocation's loads.
struct p_slot {
    int base; // element index of the pixel's channel src_off; -1 outside the image
    uint q;   // channel quad 0 or 1 of the step
    bool used;
};

vec4 load_patch(p_slot s, uint c0)
{
    uint ci = c0 + 4u * s.q;
    if (!s.used || ci >= pc.cin_pad)
        return vec4(0.0);
    if (s.base < 0) { // outside the image: 0, and 1 in the edge channel
        vec4 v = vec4(0.0);
        if (EDGE != 0u && pc.cin >= ci && pc.cin < ci + 4u)
            v[pc.cin - ci] = 1.0;
        return v;
    }
    uint b = uint(s.base) + ci;
    if ((pc.flags & GC_CONV_VEC4) != 0u && ci + 4u <= pc.cin)
        return V4BufRO(pc.src).d[b / 4u];
    vec4 v = vec4(0.0);
    [[unroll]] for (uint e = 0u; e < 4u; e++)
        if (ci + e < pc.cin)
            v[e] = pc.src.d[b + e];
    return v;
}

// Weights of step c0: element u = (tap * CC + channel) * 2 + half, output channels n0 + 4 half ..
vec4 load_weights(uint u, uint c0, uint n0)
{
    uint tap = u / (2u * CC), ci = c0 + (u / 2u) % CC, o = n0 + 4u * (u % 2u);
    if (u >= WV || ci >= pc.cin_pad)
        return vec4(0.0);
    return load_b(tap * pc.cin_pad + ci, o, KS * KS * pc.cin_pad);
}

// dst[m][o .. o+3] = epilogue(v) for output channels below cout
void store4(uint d, uint o, vec4 v)
{
    if (o >= pc.cout)
        return;
    [[unroll]] for (uint e = 0u; e < 4u; e++)
        v[e] = gc_epilogue(v[e], o + e);
    if ((pc.flags & GC_CONV_DVEC4) != 0u && o + 4u <= pc.cout) {
        V4Buf(pc.dst).d[(d + o) / 4u] = v;
    } else {
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            if (o + e < pc.cout)
                pc.dst.d[d + o + e] = v[e];
    }
}

// The 8 output channels of pixel (x, y) of the image, split s to row s * M + m (a split's
// flags carry no epilogue: its raw sums go to the scratch).
void store_pixel(int x, int y, uint ibase, uint split, uint n0, vec4 lo, vec4 hi)
{
    if (x >= int(pc.W) || y >= int(pc.H))
        return;
    uint m = ibase + uint(y) * pc.W + uint(x), d = (split * pc.M + m) * pc.dst_stride + pc.dst_off;
    store4(d, n0, lo);
    store4(d, n0 + 4u, hi);
}

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint tiles_x = (pc.W + TW - 1u) / TW, tiles_y = (pc.H + TH - 1u) / TH;
    uint t = gl_WorkGroupID.x, img = t / (tiles_x * tiles_y);
    t -= img * tiles_x * tiles_y;
    int y0 = int((t / tiles_x) * TH), x0 = int((t % tiles_x) * TW);
    uint ibase = img * pc.H * pc.W; // first pixel of the image
    uint n0 = gl_WorkGroupID.y * CO;
    // this split's steps of CC input channels
    uint splits = gc_splits(), split = gl_WorkGroupID.z;
    uint nsteps = (pc.cin_pad + CC - 1u) / CC, chunk = (nsteps + splits - 1u) / splits;
    uint s1 = min(nsteps, (split + 1u) * chunk), s0 = min(s1, split * chunk);

    p_slot sl[PPT];
    [[unroll]] for (uint r = 0u; r < PPT; r++) {
        uint v = tid + NT * r, row = v / (2u * PW), col = v % PW;
        int y = y0 + int(row) - 1, x = x0 + int(col) - 1;
        sl[r].used = v < PV;
        sl[r].q = (v / PW) % 2u;
        bool inside = y >= 0 && y < int(pc.H) && x >= 0 && x < int(pc.W);
        sl[r].base = inside ? int((ibase + uint(y) * pc.W + uint(x)) * pc.src_stride + pc.src_off) : -1;
    }
    vec4 rp[PPT], rw[WPT];
    [[unroll]] for (uint r = 0u; r < PPT; r++)
        rp[r] = load_patch(sl[r], s0 * CC);
    [[unroll]] for (uint r = 0u; r < WPT; r++)
        rw[r] = load_weights(tid + NT * r, s0 * CC, n0);

    uint ty = tid / 8u, tx = tid % 8u;
    vec4 acc[4][2];
    [[unroll]] for (uint p = 0u; p < 4u; p++)
        acc[p][0] = acc[p][1] = vec4(0.0);

    for (uint s = s0; s < s1; s++) {
        barrier(); // the previous step's arithmetic is done with P and Wt
        [[unroll]] for (uint r = 0u; r < PPT; r++)
            if (tid + NT * r < PV)
                P[tid + NT * r] = rp[r];
        [[unroll]] for (uint r = 0u; r < WPT; r++)
            if (tid + NT * r < WV)
                Wt[tid + NT * r] = rw[r];
        barrier();
        if (s + 1u < s1) { // the next step's global loads, in flight during the arithmetic
            [[unroll]] for (uint r = 0u; r < PPT; r++)
                rp[r] = load_patch(sl[r], (s + 1u) * CC);
            [[unroll]] for (uint r = 0u; r < WPT; r++)
                rw[r] = load_weights(tid + NT * r, (s + 1u) * CC, n0);
        }
        [[unroll]] for (uint ky = 0u; ky < 3u; ky++) {
            [[unroll]] for (uint q = 0u; q < 2u; q++) {
                uint pr = ((ty + ky) * 2u + q) * PW + tx;
                vec4 a[4][3];
                [[unroll]] for (uint p = 0u; p < 4u; p++)
                    [[unroll]] for (uint kx = 0u; kx < 3u; kx++)
                        a[p][kx] = P[pr + 8u * p + kx];
                [[unroll]] for (uint kx = 0u; kx < 3u; kx++) {
                    [[unroll]] for (uint e = 0u; e < 4u; e++) {
                        uint wi = ((ky * 3u + kx) * CC + 4u * q + e) * 2u;
                        vec4 w0 = Wt[wi], w1 = Wt[wi + 1u];
                        [[unroll]] for (uint p = 0u; p < 4u; p++) {
                            acc[p][0] = fma(vec4(a[p][kx][e]), w0, acc[p][0]);
                            acc[p][1] = fma(vec4(a[p][kx][e]), w1, acc[p][1]);
                        }
                    }
                }
            }
        }
    }

    // outputs: pixels (y0 + ty, x0 + tx + 8p), written out by hand: a loop over acc that
    // glslc leaves rolled (this one did, with its early exits) puts acc in memory for the
    // whole kernel (measured on an H100: 4.6x slower than conv2.comp instead of faster)
    int y = y0 + int(ty), x = x0 + int(tx);
    store_pixel(x, y, ibase, split, n0, acc[0][0], acc[0][1]);
    store_pixel(x + 8, y, ibase, split, n0, acc[1][0], acc[1][1]);
    store_pixel(x + 16, y, ibase, split, n0, acc[2][0], acc[2][1]);
    store_pixel(x + 24, y, ibase, split, n0, acc[3][0], acc[3][1]);
}
