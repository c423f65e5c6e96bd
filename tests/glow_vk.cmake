# Vulkan backend tests (lavapipe in CI; a missing Vulkan device is a failure).
if(TARGET glow AND GLOWCAM_WITH_VULKAN AND EXISTS ${CMAKE_SOURCE_DIR}/src/glow/vulkan.cmake)
  add_executable(test_glow_vk_ops ${CMAKE_SOURCE_DIR}/tests/test_glow_vk_ops.c)
  target_link_libraries(test_glow_vk_ops PRIVATE glow gc m)
  add_test(NAME glow_vk_ops COMMAND test_glow_vk_ops)
  set_tests_properties(glow_vk_ops PROPERTIES TIMEOUT 400)

  add_executable(test_glow_vk_model ${CMAKE_SOURCE_DIR}/tests/test_glow_vk_model.c)
  target_include_directories(test_glow_vk_model PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(test_glow_vk_model PRIVATE glow gc m)
  if(TARGET media)
    target_link_libraries(test_glow_vk_model PRIVATE media)
    target_compile_definitions(test_glow_vk_model PRIVATE HAVE_MEDIA=1)
    add_test(NAME glow_vk_model COMMAND test_glow_vk_model ${CMAKE_BINARY_DIR}/tmp-glow-vk ${GLOWCAM_DATA}/identities)
  else()
    add_test(NAME glow_vk_model COMMAND test_glow_vk_model ${CMAKE_BINARY_DIR}/tmp-glow-vk)
  endif()
  set_tests_properties(glow_vk_model PROPERTIES TIMEOUT 400)
endif()

# The default kernels keep their arrays in registers (SPIR-V has no Function-storage array)
if(TARGET glow AND GLOWCAM_WITH_VULKAN AND EXISTS ${CMAKE_SOURCE_DIR}/src/glow/vulkan.cmake)
  find_program(GLSLC_FOR_TESTS glslc REQUIRED)
  add_test(NAME glow_vk_spirv_registers
    COMMAND ${CMAKE_SOURCE_DIR}/tests/spirv_registers.sh ${GLSLC_FOR_TESTS} ${CMAKE_SOURCE_DIR}/shaders
      "conv2_t0|conv2.comp|-DTILE=0" "conv2_t1|conv2.comp|-DTILE=1" "conv2_t2|conv2.comp|-DTILE=2"
      "conv_cm2|conv_cm2.comp|" "conv3n|conv3n.comp|" "shift3|shift3.comp|" "splitk|splitk.comp|" "coupling|coupling.comp|"
      "gauss|gauss.comp|" "squeeze|squeeze.comp|" "pre|pre.comp|" "post|post.comp|")
  set_tests_properties(glow_vk_spirv_registers PROPERTIES TIMEOUT 120)
endif()
