// Push constants of conv.comp, conv2.comp and conv_cm.comp: must match struct glow_vk_pc_conv in vk_priv.h.
// VEC4: src, src_stride and src_off allow vec4 loads; WVEC4: w and cout allow vec4 loads;
// DVEC4: dst, dst_stride and dst_off allow vec4 stores; KS3: 3x3 (else 1x1); EDGE: edge
// padding (WVEC4 and later: read by conv2.comp only; the others take KS and EDGE as
// specialization constants).
const uint GC_CONV_BIAS = 1u, GC_CONV_SCALE = 2u, GC_CONV_RELU = 4u, GC_CONV_VEC4 = 8u;
const uint GC_CONV_WVEC4 = 16u, GC_CONV_DVEC4 = 32u, GC_CONV_KS3 = 64u, GC_CONV_EDGE = 128u;
// split-K (every conv kernel, splitk.comp): bits 8..15 hold splits - 1; split s of
// the k tiles writes its raw partial sums to dst rows s * M + m (dst is then the scratch)
const uint GC_CONV_SPLIT_SHIFT = 8u;
layout(push_constant) uniform PC {
    FBufRO src;   // [M][src_stride], channels [src_off, src_off + cin)
    FBufRO w;     // [KS*KS*cin_pad][cout], k = tap * cin_pad + ci
    FBufRO bias;  // [cout] (flags & BIAS)
    FBufRO scale; // [cout] (flags & SCALE)
    FBuf dst;     // [M][dst_stride], channels [dst_off, dst_off + cout)
    uint M;       // pixels in the batch: N * H * W
    uint H, W;
    uint cin, cin_pad;
    uint src_stride, src_off;
    uint cout;
    uint dst_stride, dst_off;
    uint flags;
    uint mtiles_x; // workgroups along x; the m tile is z * mtiles_x + x (z / splits with split-K)
} pc;

uint gc_splits() { return ((pc.flags >> GC_CONV_SPLIT_SHIFT) & 255u) + 1u; }

// A conv workgroup's place in the grid: the first pixel m0 of its m tile (bm pixels) and, with
// split-K, its split and that split's k tiles [kt0, kt1) of nk (an empty range writes zeros).
void gc_conv_place(uint bm, uint nk, out uint m0, out uint split, out uint kt0, out uint kt1)
{
    uint splits = gc_splits();
    split = gl_WorkGroupID.z % splits;
    m0 = ((gl_WorkGroupID.z / splits) * pc.mtiles_x + gl_WorkGroupID.x) * bm;
    uint chunk = (nk + splits - 1u) / splits;
    kt1 = min(nk, (split + 1u) * chunk);
    kt0 = min(kt1, split * chunk);
}
