#version 450
// fp32 implicit-GEMM convolution (1x1 and 3x3, edge padding, fused epilogue):
// dst[m][o] = epilogue(sum_k A[m][k] * w[k][o]). 256 invocations compute a 128 x BN tile,
// each an 8 x BN/16 micro-tile strided by 16, so that shared-memory reads broadcast and
// global writes are contiguous across the workgroup. Split-K as in conv2.comp (small grids
// with long k loops: workgroup z also picks a range of k tiles; split s writes raw sums to
// rows s * M + m, which splitk.comp adds up).
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint KS = 3;   // 1 or 3
layout(constant_id = 1) const uint EDGE = 0;  // edge padding channel
layout(constant_id = 2) const uint BN = 64;   // 16, 64 or 128: must match glow_vk_rec_conv() in vk_ops.c
const uint BM = 128, BK = 16, TM = 8, TN = BN / 16u;
#include "conv_pc.glsl"
#include "conv_load.glsl"

shared float As[BK][BM];
shared float Bs[BK][BN];

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint K = KS * KS * pc.cin_pad, nk = (K + BK - 1u) / BK, m0, split, kt0, kt1;
    gc_conv_place(BM, nk, m0, split, kt0, kt1); // k tiles [kt0, kt1)
    uint n0 = gl_WorkGroupID.y * BN;
    if (m0 >= pc.M)
        return; // whole workgroup: no barrier is skipped by part of it
    uint mrow = split * pc.M; // the raw partial sums' rows (the epilogue flags are off then)
    uint tx = tid % 16u, ty = tid / 16u;
    // A loader: two pixels and one group of 4 k each per invocation (128 x 16 = 2 x 256 x 4)
    uint am = tid / 4u, ak = (tid % 4u) * 4u;
    gc_pixel px0 = gc_pixel_of(m0 + am), px1 = gc_pixel_of(m0 + am + 64u);

    float acc[TM][TN];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN; j++)
            acc[i][j] = 0.0;

    for (uint k0 = kt0 * BK; k0 < kt1 * BK; k0 += BK) {
        vec4 a0 = gc_load_a4(px0, k0 + ak), a1 = gc_load_a4(px1, k0 + ak);
        for (uint e = 0u; e < 4u; e++) {
            As[ak + e][am] = a0[e];
            As[ak + e][am + 64u] = a1[e];
        }
        for (uint e = tid; e < BK * BN; e += 256u) {
            uint k = e / BN, o = e % BN;
            Bs[k][o] = (k0 + k < K && n0 + o < pc.cout) ? pc.w.d[(k0 + k) * pc.cout + n0 + o] : 0.0;
        }
        barrier();
        for (uint k = 0u; k < BK; k++) {
            float av[TM], bv[TN];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                av[i] = As[k][ty + 16u * i];
            [[unroll]] for (uint j = 0u; j < TN; j++)
                bv[j] = Bs[k][tx + 16u * j];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier();
    }
    [[unroll]] for (uint i = 0u; i < TM; i++) {
        uint m = m0 + ty + 16u * i;
        if (m >= pc.M)
            continue;
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint o = n0 + tx + 16u * j;
            if (o < pc.cout)
                pc.dst.d[(mrow + m) * pc.dst_stride + pc.dst_off + o] = gc_epilogue(acc[i][j], o);
        }
    }
}
