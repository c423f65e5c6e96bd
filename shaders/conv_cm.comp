#version 450
// fp16-operand implicit-GEMM convolution (same contract as conv.comp; fp32 sums).
// A and B tiles are rounded to fp16 in shared memory; the product runs on
// NV cooperative matrices (tensor cores), or, built with -DEMULATE, on plain
// arithmetic over the very same shared tiles (conv_h: tests this layout on devices
// without the extension, lavapipe included).
// Workgroup: 4 subgroups of 32 over a 128 x BN tile: VARIANT 0 (BN 64): 2x2 subgroups of
// 64x32; 1 (BN 16): 4x1 subgroups of 32x16; 2 (BN 128): 2x2 subgroups of 64x64.
// Split-K as in conv2.comp: on a small grid with a long k loop (the zero convolutions'
// 9 x 512 k at the deep levels: most of a call's serial k tiles) workgroup z also picks a
// range of k tiles, and split s writes raw sums to rows s * M + m for splitk.comp.
// Must match glow_vk_rec_conv in vk_ops.c.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#ifndef EMULATE
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#include "common.glsl"
layout(local_size_x = 128) in;
layout(constant_id = 0) const uint KS = 3;
layout(constant_id = 1) const uint EDGE = 0;
layout(constant_id = 2) const uint VARIANT = 0;
layout(constant_id = 3) const uint LN = 16; // cooperative-matrix N: 16 or 8
const uint BM = 128, BK = 32, LM = 16, LK = 16;
const uint BN = VARIANT == 1u ? 16u : VARIANT == 2u ? 128u : 64u;
const uint SG_N = VARIANT == 1u ? 1u : 2u;
const uint WTM = VARIANT == 1u ? 32u : 64u, WTN = BN / SG_N;
const uint AST = BK + 8u, BST = BN + 8u; // row strides in halves (16-byte multiples)
#include "conv_pc.glsl"
#include "conv_load.glsl"

shared float16_t As[BM * AST];
shared float16_t Bs[BK * BST];

#ifdef EMULATE
const uint PER = BM * BN / 128u;
#else
const uint FM = WTM / LM, FN = WTN / LN;
shared float Cs[4u * LM * 16u]; // one accumulator fragment per subgroup, for the epilogue
#endif

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint K = KS * KS * pc.cin_pad, nk = (K + BK - 1u) / BK, m0, split, kt0, kt1;
    gc_conv_place(BM, nk, m0, split, kt0, kt1); // k tiles [kt0, kt1)
    uint n0 = gl_WorkGroupID.y * BN;
    if (m0 >= pc.M)
        return; // whole workgroup
    uint mrow = split * pc.M; // the raw partial sums' rows (the epilogue flags are off then)
    // A loader: 8 pixels per invocation, one group of 4 k each; neighbours read neighbouring 16 bytes
    uint ak = (tid % 8u) * 4u, arow = tid / 8u;
    gc_pixel px[8];
    [[unroll]] for (uint i = 0u; i < 8u; i++)
        px[i] = gc_pixel_of(m0 + arow + 16u * i);

#ifdef EMULATE
    float acc[PER];
    for (uint i = 0u; i < PER; i++)
        acc[i] = 0.0;
#else
    uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint wm = sg / SG_N, wn = sg % SG_N;
    fcoopmatNV<32, gl_ScopeSubgroup, LM, LN> acc[FM][FN];
    [[unroll]] for (uint i = 0u; i < FM; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++)
            acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, LM, LN>(0.0);
#endif

    for (uint k0 = kt0 * BK; k0 < kt1 * BK; k0 += BK) {
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            vec4 a = gc_load_a4(px[i], k0 + ak);
            uint s = (arow + 16u * i) * AST + ak;
            As[s] = float16_t(a.x);
            As[s + 1u] = float16_t(a.y);
            As[s + 2u] = float16_t(a.z);
            As[s + 3u] = float16_t(a.w);
        }
        // two neighbouring halves per invocation: one 32-bit word, one writer
        for (uint e = tid; e < BK * BN / 2u; e += 128u) {
            uint k = e / (BN / 2u), o = (e % (BN / 2u)) * 2u;
            bool kin = k0 + k < K;
            uint wi = (k0 + k) * pc.cout + n0 + o;
            float v0 = kin && n0 + o < pc.cout ? pc.w.d[wi] : 0.0;
            float v1 = kin && n0 + o + 1u < pc.cout ? pc.w.d[wi + 1u] : 0.0;
            Bs[k * BST + o] = float16_t(v0);
            Bs[k * BST + o + 1u] = float16_t(v1);
        }
        barrier();
#ifdef EMULATE
        // The i loop stays rolled (lavapipe's LLVM takes ~30 s over the unrolled form), the
        // k loop is unrolled: llvmpipe stops any loop after 65535 trips in one invocation.
        [[dont_unroll]] for (uint i = 0u; i < PER; i++) {
            uint e = tid + 128u * i, m = e / BN, o = e % BN;
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
        uint e = tid + 128u * i, m = m0 + e / BN, o = n0 + e % BN;
        if (m < pc.M && o < pc.cout)
            pc.dst.d[(mrow + m) * pc.dst_stride + pc.dst_off + o] = gc_epilogue(acc[i], o);
    }
#else
    uint cbase = sg * LM * 16u;
    [[unroll]] for (uint i = 0u; i < FM; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++) {
            coopMatStoreNV(acc[i][j], Cs, cbase, LN, false);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            for (uint e = lane; e < LM * LN; e += 32u) {
                uint m = m0 + wm * WTM + i * LM + e / LN, o = n0 + wn * WTN + j * LN + e % LN;
                if (m < pc.M && o < pc.cout)
                    pc.dst.d[(mrow + m) * pc.dst_stride + pc.dst_off + o] = gc_epilogue(Cs[cbase + e], o);
            }
            subgroupMemoryBarrierShared();
            subgroupBarrier();
        }
#endif
}
