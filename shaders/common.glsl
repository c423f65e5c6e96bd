// Shared by every glowcam compute shader: buffer-device-address types and the
// flat invocation index of a 2-D grid (host: glow_vk_grid1d in vk_ops.c).
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference2 : require

layout(buffer_reference, std430, buffer_reference_align = 4) buffer FBuf { float d[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer FBufRO { float d[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer V4BufRO { vec4 d[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer V4Buf { vec4 d[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer UBuf { uint d[]; };

// Elementwise shaders run 256 invocations per workgroup over a grid of
// x * y workgroups (y > 1 only past 65535 groups).
uint gc_flat_index()
{
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
}

const float GC_LOG_2PI = 1.8378770664093453;
