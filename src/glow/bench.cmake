# glow's benchmark: inside the glow library (for `glowcam bench glow`) and as a
# standalone glow-bench that needs only glow (libc, libm, Vulkan), for the GPU machine.
target_sources(glow PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/bench.c)
add_executable(glow-bench ${CMAKE_CURRENT_SOURCE_DIR}/bench_main.c)
target_link_libraries(glow-bench PRIVATE glow gc m)
