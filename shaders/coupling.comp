#version 450
// Coupling update of the second half b of x [P][C] from h = NN(a) (one invocation per pixel).
//   affine   (h [P][C], shift h[2j], scale sigmoid(h[2j+1] + 2)):
//            forward b = (b + shift) * scale, logdet += sum log scale; inverse b = b / scale - shift
//   additive (h [P][C/2]): forward b = (b + h + ybias) * yscale; inverse b = b / yscale - ybias - h
// Mirrors Coupling in tools/glow_torch.py and the C reference.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint AFFINE = 1;
layout(constant_id = 1) const uint INVERSE = 0;
layout(push_constant) uniform PC {
    FBuf x;
    FBufRO h;
    FBufRO ybias;  // used when flags & 1
    FBufRO yscale; // used when flags & 2
    FBuf ld;       // [N][ld_stride] per-pixel log-density accumulators (affine forward)
    uint npix;     // N * hw
    uint hw;
    uint c;
    uint ld_stride;
    uint flags;
} pc;

void main()
{
    uint p = gc_flat_index();
    if (p >= pc.npix)
        return;
    uint half_c = pc.c / 2u;
    uint xb = p * pc.c + half_c;
    if (AFFINE != 0u) {
        uint hb = p * pc.c;
        float lsum = 0.0;
        for (uint j = 0u; j < half_c; j++) {
            float shift = pc.h.d[hb + 2u * j];
            float s = 1.0 / (1.0 + exp(-(pc.h.d[hb + 2u * j + 1u] + 2.0)));
            float b = pc.x.d[xb + j];
            if (INVERSE == 0u) {
                pc.x.d[xb + j] = (b + shift) * s;
                lsum += log(s);
            } else {
                pc.x.d[xb + j] = b / s - shift;
            }
        }
        if (INVERSE == 0u) {
            uint li = (p / pc.hw) * pc.ld_stride + p % pc.hw;
            pc.ld.d[li] += lsum;
        }
    } else {
        uint hb = p * half_c;
        for (uint j = 0u; j < half_c; j++) {
            float b = pc.x.d[xb + j];
            float hv = pc.h.d[hb + j];
            if (INVERSE == 0u) {
                b = b + hv;
                if ((pc.flags & 1u) != 0u)
                    b = b + pc.ybias.d[j];
                if ((pc.flags & 2u) != 0u)
                    b = b * pc.yscale.d[j];
            } else {
                if ((pc.flags & 2u) != 0u)
                    b = b / pc.yscale.d[j];
                if ((pc.flags & 1u) != 0u)
                    b = b - pc.ybias.d[j];
                b = b - hv;
            }
            pc.x.d[xb + j] = b;
        }
    }
}
