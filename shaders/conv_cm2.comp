#version 450
// fp16-operand implicit-GEMM convolution on NV cooperative matrices, variant 2
// (the default for cout > 64, GLOWCAM_VK_CM=v1: not; narrower ones stay on conv_cm.comp): the
// contract and push constants of conv.comp, fp32 sums, fp16 operands as in conv_cm.comp.
// Built with -DEMULATE it does the same over the same shared tiles with plain arithmetic
// (conv_h2: tests the layout on devices without the extension, lavapipe included).
//  - 256 invocations = 8 subgroups of 32 over a 128 x 128 tile, 4 x 2 subgroups of 32 x 64
//    (2 x 64/LN accumulator fragments each), k tiles of 32;
//  - the next k tile's global loads (A through conv_slots.glsl: per-pixel offsets and tap
//    masks computed once, no divisions; B as vec4) are issued before the current tile's
//    arithmetic and stored to shared memory, as fp16, after it;
//  - split-K for small grids with long k loops, as in conv2.comp (splitk.comp sums);
//  - kernel size and edge padding come from the flags (one pipeline).
// Must match glow_vk_rec_conv in vk_ops.c.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#ifndef EMULATE
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#include "common.glsl"
layout(local_size_x = 256) in;
// cooperative-matrix N: a compile-time constant, not a specialization constant, so that
// glslc unrolls the loops over the accumulator fragments; with N from a specialization
// constant they stayed loops and acc[][] lived in memory (vk_ops.c takes this kernel only
// where the device offers 16 x 16 x 16)
#ifndef LN
#define LN 16u
#endif
const uint BM = 128u, BN = 128u, BK = 32u, LM = 16u, LK = 16u;
const uint WTM = 32u, WTN = 64u; // subgroup tile: 4 x 2 subgroups
const uint AST = BK + 8u, BST = BN + 8u; // row strides in halves (16-byte multiples)
const uint APT = BM * BK / 4u / 256u;    // A vec4 per invocation and tile: 4
const uint BPT = BK * BN / 4u / 256u;    // B vec4 per invocation and tile: 4
#include "conv_pc.glsl"
#define KS ((pc.flags & GC_CONV_KS3) != 0u ? 3u : 1u)
#define EDGE ((pc.flags & GC_CONV_EDGE) != 0u ? 1u : 0u)
#include "conv_load.glsl"
#include "conv_slots.glsl"

shared float16_t As[BM * AST];
shared float16_t Bs[BK * BST];
#ifdef EMULATE
const uint PER = BM * BN / 256u;
#else
const uint FM = WTM / LM, FN = WTN / LN;
shared float Cs[8u * LM * 16u]; // one accumulator fragment per subgroup, for the epilogue
#endif

void store_tiles(vec4 ra[APT], vec4 rb[BPT], uint am, uint ak, uint bk, uint bo)
{
    [[unroll]] for (uint r = 0u; r < APT; r++) {
        uint s = (am + 32u * r) * AST + ak;
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            As[s + e] = float16_t(ra[r][e]);
    }
    [[unroll]] for (uint r = 0u; r < BPT; r++) {
        uint s = (bk + 8u * r) * BST + bo;
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            Bs[s + e] = float16_t(rb[r][e]);
    }
}

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint K = KS * KS * pc.cin_pad, nk = (K + BK - 1u) / BK, m0, split, kt0, kt1;
    gc_conv_place(BM, nk, m0, split, kt0, kt1); // k tiles [kt0, kt1); split s writes rows s * M + m
    uint n0 = gl_WorkGroupID.y * BN;
    if (m0 >= pc.M)
        return; // whole workgroup
    uint drow = split * pc.M;
    // A loaders: pixels am + 32 r, k group ak (8 neighbours read 128 contiguous bytes);
    // B loaders: rows bk + 8 r, columns bo .. bo+3
    uint am = tid / 8u, ak = (tid % 8u) * 4u, bk = tid / 32u, bo = (tid % 32u) * 4u;
    a_slot sl[APT];
    [[unroll]] for (uint r = 0u; r < APT; r++)
        sl[r] = slot_of(m0 + am + 32u * r);
    uint ci = kt0 * BK + ak, tap = ci / pc.cin_pad;
    ci -= tap * pc.cin_pad;
    int toff = tap_offset(tap);
    vec4 ra[APT], rb[BPT];
    [[unroll]] for (uint r = 0u; r < APT; r++)
        ra[r] = load_a(sl[r], tap, ci, toff);
    [[unroll]] for (uint r = 0u; r < BPT; r++)
        rb[r] = load_b(kt0 * BK + bk + 8u * r, n0 + bo, K);

#ifdef EMULATE
    float acc[PER];
    for (uint i = 0u; i < PER; i++)
        acc[i] = 0.0;
#else
    uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint wm = sg / 2u, wn = sg % 2u;
    fcoopmatNV<32, gl_ScopeSubgroup, LM, LN> acc[FM][FN];
    [[unroll]] for (uint i = 0u; i < FM; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++)
            acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, LM, LN>(0.0);
#endif

    for (uint kt = kt0; kt < kt1; kt++) {
        store_tiles(ra, rb, am, ak, bk, bo);
        barrier();
        if (kt + 1u < kt1) { // the next tile's global loads, in flight during the arithmetic
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
            [[unroll]] for (uint r = 0u; r < BPT; r++)
                rb[r] = load_b((kt + 1u) * BK + bk + 8u * r, n0 + bo, K);
        }
#ifdef EMULATE
        // the i loop stays rolled (lavapipe's compile time), the k loop is unrolled
        [[dont_unroll]] for (uint i = 0u; i < PER; i++) {
            uint e = tid + 256u * i, m = e / BN, o = e % BN;
            float s = acc[i];
            [[unroll]] for (uint k = 0u; k < BK; k++)
                s = fma(float(As[m * AST + k]), float(Bs[k * BST + o]), s);
            acc[i] = s;
        }
#else
        [[unroll]] for (uint kk = 0u; kk < BK; kk += LK) {
            fcoopmatNV<16, gl_ScopeSubgroup, LM, LK> a[FM];
            [[unroll]] for (uint i = 0u; i < FM; i++)
                coopMatLoadNV(a[i], As, (wm * WTM + i * LM) * AST + kk, AST, false);
            [[unroll]] for (uint j = 0u; j < FN; j++) {
                fcoopmatNV<16, gl_ScopeSubgroup, LK, LN> b;
                coopMatLoadNV(b, Bs, kk * BST + wn * WTN + j * LN, BST, false);
                [[unroll]] for (uint i = 0u; i < FM; i++)
                    acc[i][j] = coopMatMulAddNV(a[i], b, acc[i][j]);
            }
        }
#endif
        barrier();
    }

#ifdef EMULATE
    for (uint i = 0u; i < PER; i++) {
        uint e = tid + 256u * i, m = m0 + e / BN, o = n0 + e % BN;
        if (m < pc.M && o < pc.cout)
            pc.dst.d[(drow + m) * pc.dst_stride + pc.dst_off + o] = gc_epilogue(acc[i], o);
    }
#else
    uint cbase = sg * LM * 16u;
    [[unroll]] for (uint i = 0u; i < FM; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++) {
            coopMatStoreNV(acc[i][j], Cs, cbase, LN, false);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint r = 0u; r < LM * LN / 32u; r++) { // a fixed count: the nest unrolls
                uint e = lane + 32u * r;
                uint m = m0 + wm * WTM + i * LM + e / LN, o = n0 + wn * WTN + j * LN + e % LN;
                if (m < pc.M && o < pc.cout)
                    pc.dst.d[(drow + m) * pc.dst_stride + pc.dst_off + o] = gc_epilogue(Cs[cbase + e], o);
            }
            subgroupMemoryBarrierShared();
            subgroupBarrier();
        }
#endif
}
