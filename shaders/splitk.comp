#version 450
// split-K reduction of the conv kernels: dst[m][dst_off + o] =
// epilogue(sum over s of src[s * M + m][o]), src being the scratch of raw partial sums
// [splits][M][cout]; the push constants are the convolution's (conv_pc.glsl).
#include "common.glsl"
layout(local_size_x = 256) in;
#include "conv_pc.glsl"
#define KS 1u
#define EDGE 0u
#include "conv_load.glsl"

void main()
{
    uint i = gc_flat_index(), n = pc.M * pc.cout;
    if (i >= n)
        return;
    uint splits = gc_splits(), m = i / pc.cout, o = i - m * pc.cout;
    float s = 0.0;
    for (uint k = 0u; k < splits; k++)
        s += pc.src.d[k * n + i];
    pc.dst.d[m * pc.dst_stride + pc.dst_off + o] = gc_epilogue(s, o);
}
