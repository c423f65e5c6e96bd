# Vulkan backend tests (lavapipe in CI; a missing Vulkan device is a failure).
if(TARGET glow AND GLOWCAM_WITH_VULKAN AND EXISTS ${CMAKE_SOURCE_DIR}/src/glow/vulkan.cmake)
  add_executable(test_glow_vk_ops ${CMAKE_SOURCE_DIR}/tests/test_glow_vk_ops.c)
  target_link_libraries(test_glow_vk_ops PRIVATE glow gc m)
  add_test(NAME glow_vk_ops COMMAND test_glow_vk_ops)
  set_tests_properties(glow_vk_ops PROPERTIES TIMEOUT 300)
endif()
