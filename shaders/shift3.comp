#version 450
// Second half of a narrow 3x3 convolution done as "1x1 GEMM, then shift and add"
// (GLOWCAM_VK_NARROW=shift, vk_ops.c): a 3x3 convolution width -> C with C of 6..48 fills a
// 16-wide GEMM tile poorly, so the GEMM instead computes, as a 1x1 convolution with 9 * C
// outputs (a tile it fills), every tap's product Y[m][t * C + o] = sum_ci x[m][ci] w[o][ci][t];
// here each output sums its 9 neighbours' taps:
//   dst[m][o] = epilogue(sum_t (inside ? Y[m + off_t][t * C + o] : w_edge[t][o]))
// where outside the image the input is 0 but the edge channel (EDGE) is 1, so a tap that
// falls outside adds that channel's weight (row t * cin_pad + cin of the packed 3x3 weights).
// (The OpenBLAS backend does its conv3 the same way, blas.c.)
// Push constants of the conv kernels: src = Y [M][9 * cout], w = the packed 3x3 weights.
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
layout(local_size_x = 256) in;
#include "conv_pc.glsl"
#define KS 3u
#define EDGE ((pc.flags & GC_CONV_EDGE) != 0u ? 1u : 0u)
#include "conv_load.glsl"

void main()
{
    uint i = gc_flat_index();
    if (i >= pc.M * pc.cout)
        return;
    uint m = i / pc.cout, o = i - m * pc.cout;
    uint hw = pc.H * pc.W, q = m % hw;
    int y = int(q / pc.W), x = int(q % pc.W);
    uint ys = 9u * pc.cout;
    float s = 0.0;
    [[unroll]] for (int ky = 0; ky < 3; ky++) {
        [[unroll]] for (int kx = 0; kx < 3; kx++) {
            uint t = uint(ky * 3 + kx);
            int yy = y + ky - 1, xx = x + kx - 1;
            if (yy >= 0 && yy < int(pc.H) && xx >= 0 && xx < int(pc.W))
                s += pc.src.d[uint(int(m) + (ky - 1) * int(pc.W) + (kx - 1)) * ys + t * pc.cout + o];
            else if (EDGE != 0u)
                s += pc.w.d[(t * pc.cin_pad + pc.cin) * pc.cout + o];
        }
    }
    pc.dst.d[m * pc.dst_stride + pc.dst_off + o] = gc_epilogue(s, o);
}
