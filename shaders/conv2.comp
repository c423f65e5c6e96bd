#version 450
// fp32 implicit-GEMM convolution, variant 2 (the default; GLOWCAM_VK_CONV=v1 takes
// conv.comp, 9.1-9.5x slower on an H100): the contract and push constants of conv.comp
// (1x1 and 3x3, edge padding, fused epilogue, any sizes), with the register-blocked
// layout of fast SGEMMs on NVIDIA and AMD:
//  - tile shapes are compile-time (-DTILE, one SPIR-V module each) so that glslc unrolls
//    every inner loop and the accumulators live in registers:
//      TILE 0: 128 x 128 outputs, 8 x 8 per invocation   (cout > 64)
//      TILE 1: 128 x 64,  8 x 4                          (32 < cout <= 64)
//      TILE 2: 256 x 16,  4 x 4                          (cout <= 32)
//    (must match glow_vk_rec_conv in vk_ops.c);
//  - shared memory holds A k-major (As[k][m]) and B as loaded (Bs[k][o]), both as vec4, so an
//    invocation reads its 8 rows and 8 columns of one k as four 128-bit loads; A's rows carry
//    one vec4 of padding, which makes the transposing stores free of bank conflicts;
//  - two shared stages: the next k-tile's global loads are issued into registers before the
//    current tile's arithmetic and stored after it (one barrier per k-tile);
//  - each loader's pixel offset and the 3x3 taps inside the image are computed once, so the
//    A loads in the k loop have no divisions;
//  - split-K where the grid is small and the k loop long (the deep levels): workgroup z
//    also picks a range of k tiles, whose raw partial sums go to a scratch that
//    splitk.comp sums with the epilogue (vk_ops.c decides);
//  - the kernel size and edge padding come from flags, not specialization constants: they
//    only steer per-tile work, and three pipelines instead of nine keep lavapipe's shader
//    compilation (the test suite's cold start) short.
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#ifndef TILE
#define TILE 0
#endif
#if TILE == 0
const uint BM = 128u, BN = 128u, TM = 8u, TN = 8u;
#elif TILE == 1
const uint BM = 128u, BN = 64u, TM = 8u, TN = 4u;
#else
const uint BM = 256u, BN = 16u, TM = 4u, TN = 4u;
#endif
const uint BK = 8u;                // k per tile: two vec4 per pixel row of A
const uint TX = BN / TN;           // invocations along n (TX * BM / TM = 256)
const uint AS4 = BM / 4u + 1u;     // vec4 per k row of As, one of padding
const uint BS4 = BN / 4u;          // vec4 per k row of Bs
const uint APT = BM * BK / 4u / 256u; // A vec4 loads per invocation and tile: 1 or 2
const uint BV = BK * BN / 4u;      // B vec4 per tile: 256, 128 or 32
layout(local_size_x = 256) in;
#include "conv_pc.glsl"
#define KS ((pc.flags & GC_CONV_KS3) != 0u ? 3u : 1u)
#define EDGE ((pc.flags & GC_CONV_EDGE) != 0u ? 1u : 0u)
#include "conv_load.glsl"

shared vec4 As[2u * BK * AS4];
shared vec4 Bs[2u * BK * BS4];

#include "conv_slots.glsl"

// dst[m][o .. o+3] = epilogue(v), inside M and cout (split s: row s * M + m, no epilogue).
void store4(uint m, uint o, vec4 v, uint split)
{
    if (m >= pc.M || o >= pc.cout)
        return;
    uint d = (split * pc.M + m) * pc.dst_stride + pc.dst_off + o;
    if ((pc.flags & GC_CONV_DVEC4) != 0u && o + 4u <= pc.cout) {
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            v[e] = gc_epilogue(v[e], o + e);
        V4Buf(pc.dst).d[d / 4u] = v;
    } else {
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            if (o + e < pc.cout)
                pc.dst.d[d + e] = gc_epilogue(v[e], o + e);
    }
}

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint K = KS * KS * pc.cin_pad, nk = (K + BK - 1u) / BK, m0, split, kt0, kt1;
    gc_conv_place(BM, nk, m0, split, kt0, kt1); // k tiles [kt0, kt1)
    uint n0 = gl_WorkGroupID.y * BN;
    if (m0 >= pc.M)
        return; // whole workgroup: no barrier is skipped by part of it
    uint tx = tid % TX, ty = tid / TX;

    // A loaders: pixel am + 128 r, k group ak (the same for every r: 256 is even)
    uint am = tid / 2u, ak = (tid % 2u) * 4u;
    a_slot sl[APT];
    [[unroll]] for (uint r = 0u; r < APT; r++)
        sl[r] = slot_of(m0 + am + 128u * r);
    uint ci = kt0 * BK + ak, tap = ci / pc.cin_pad;
    ci -= tap * pc.cin_pad;
    int toff = tap_offset(tap);
    // B loader: one vec4 of row bk at column bo (invocations past BV idle)
    uint bk = tid / BS4, bo = (tid % BS4) * 4u;

    vec4 ra[APT], rb = vec4(0.0);
    [[unroll]] for (uint r = 0u; r < APT; r++)
        ra[r] = load_a(sl[r], tap, ci, toff);
    if (BV >= 256u || tid < BV)
        rb = load_b(kt0 * BK + bk, n0 + bo, K);
    [[unroll]] for (uint r = 0u; r < APT; r++) {
        uint m = am + 128u * r;
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            As[(ak + e) * AS4 + m / 4u][m % 4u] = ra[r][e];
    }
    if (BV >= 256u || tid < BV)
        Bs[bk * BS4 + bo / 4u] = rb;
    barrier();

    vec4 acc[TM][TN / 4u];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN / 4u; j++)
            acc[i][j] = vec4(0.0);

    for (uint kt = kt0; kt < kt1; kt++) {
        uint st = (kt - kt0) & 1u, nx = st ^ 1u;
        bool more = kt + 1u < kt1;
        if (more) { // issue the next tile's global loads now, use them after the arithmetic
            ci += BK;
            if (ci >= pc.cin_pad) {
                while (ci >= pc.cin_pad) {
                    ci -= pc.cin_pad;
                    tap++;
                }
                toff = tap_offset(tap);
            }
            [[unroll]] for (uint r = 0u; r < APT; r++)
                ra[r] = load_a(sl[r], tap, ci, toff);
            if (BV >= 256u || tid < BV)
                rb = load_b((kt + 1u) * BK + bk, n0 + bo, K);
        }
        [[unroll]] for (uint k = 0u; k < BK; k++) {
            uint ab = (st * BK + k) * AS4 + ty, bb = (st * BK + k) * BS4 + tx;
            vec4 a[TM / 4u], b[TN / 4u];
            a[0] = As[ab];
            if (TM == 8u)
                a[TM / 8u] = As[ab + BM / 8u];
            b[0] = Bs[bb];
            if (TN == 8u)
                b[TN / 8u] = Bs[bb + BN / 8u];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN / 4u; j++)
                    acc[i][j] = fma(vec4(a[i / 4u][i % 4u]), b[j], acc[i][j]);
        }
        if (more) {
            [[unroll]] for (uint r = 0u; r < APT; r++) {
                uint m = am + 128u * r;
                [[unroll]] for (uint e = 0u; e < 4u; e++)
                    As[(nx * BK + ak + e) * AS4 + m / 4u][m % 4u] = ra[r][e];
            }
            if (BV >= 256u || tid < BV)
                Bs[(nx * BK + bk) * BS4 + bo / 4u] = rb;
        }
        barrier();
    }

    // epilogue: rows ty*4 + i (+ BM/2 for i >= 4), columns tx*4 + 4j (+ BN/2 for j = 1);
    // written out by hand: glslc leaves loops over acc rolled, which would put acc in memory
    uint mr = m0 + ty * 4u, oc = n0 + tx * 4u;
#define ROW(i, j) store4(mr + ((i) / 4u) * (BM / 2u) + (i) % 4u, oc + (j) * (BN / 2u), acc[i][j], split)
#define ROWS(j) ROW(0u, j); ROW(1u, j); ROW(2u, j); ROW(3u, j)
#define ROWS8(j) ROWS(j); ROW(4u, j); ROW(5u, j); ROW(6u, j); ROW(7u, j)
#if TILE == 0
    ROWS8(0u);
    ROWS8(1u);
#elif TILE == 1
    ROWS8(0u);
#else
    ROWS(0u);
#endif
}
