#version 450
// fp32 implicit-GEMM convolution (1x1 and 3x3, edge padding, fused epilogue):
// dst[m][o] = epilogue(sum_k A[m][k] * w[k][o]). 256 invocations compute a BM x BN tile,
// each a 4 x BN/16 micro-tile strided by 16 so that shared-memory reads broadcast and
// global writes are contiguous across the workgroup.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint KS = 3;   // 1 or 3
layout(constant_id = 1) const uint EDGE = 0;  // edge padding channel
layout(constant_id = 2) const uint BN = 64;   // 64 or 16: must match glow_vk_conv_bn() in vk_ops.c
const uint BM = 64, BK = 16, TM = 4, TN = BN / 16u;
#include "conv_pc.glsl"
#include "conv_load.glsl"

shared float As[BK][BM];
shared float Bs[BK][BN];

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint m0 = (gl_WorkGroupID.z * pc.mtiles_x + gl_WorkGroupID.x) * BM;
    uint n0 = gl_WorkGroupID.y * BN;
    if (m0 >= pc.M)
        return; // whole workgroup: no barrier is skipped by part of it
    uint K = KS * KS * pc.cin_pad;
    uint tx = tid % 16u, ty = tid / 16u;
    // A loader: one pixel and one group of 4 k per invocation (64 x 16 = 256 x 4)
    uint am = tid / 4u, ak = (tid % 4u) * 4u;
    gc_pixel px = gc_pixel_of(m0 + am);

    float acc[TM][TN];
    for (uint i = 0u; i < TM; i++)
        for (uint j = 0u; j < TN; j++)
            acc[i][j] = 0.0;

    for (uint k0 = 0u; k0 < K; k0 += BK) {
        vec4 a = gc_load_a4(px, k0 + ak);
        for (uint e = 0u; e < 4u; e++)
            As[ak + e][am] = a[e];
        for (uint e = tid; e < BK * BN; e += 256u) {
            uint k = e / BN, o = e % BN;
            Bs[k][o] = (k0 + k < K && n0 + o < pc.cout) ? pc.w.d[(k0 + k) * pc.cout + n0 + o] : 0.0;
        }
        barrier();
        for (uint k = 0u; k < BK; k++) {
            float av[TM], bv[TN];
            for (uint i = 0u; i < TM; i++)
                av[i] = As[k][ty + 16u * i];
            for (uint j = 0u; j < TN; j++)
                bv[j] = Bs[k][tx + 16u * j];
            for (uint i = 0u; i < TM; i++)
                for (uint j = 0u; j < TN; j++)
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier();
    }
    for (uint i = 0u; i < TM; i++) {
        uint m = m0 + ty + 16u * i;
        if (m >= pc.M)
            continue;
        for (uint j = 0u; j < TN; j++) {
            uint o = n0 + tx + 16u * j;
            if (o < pc.cout)
                pc.dst.d[m * pc.dst_stride + pc.dst_off + o] = gc_epilogue(acc[i][j], o);
        }
    }
}
