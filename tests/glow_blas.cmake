# OpenBLAS CPU backend against the reference (random models of every configuration,
# batch vs single calls, round trip on real faces from ${GLOWCAM_DATA}).
if(TARGET glow AND GLOWCAM_WITH_BLAS AND EXISTS ${CMAKE_SOURCE_DIR}/src/glow/blas.c)
  add_executable(test_glow_blas ${CMAKE_SOURCE_DIR}/tests/test_glow_blas.c)
  target_include_directories(test_glow_blas PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(test_glow_blas PRIVATE glow gc m)
  if(TARGET media)
    target_compile_definitions(test_glow_blas PRIVATE GLOWCAM_TEST_MEDIA=1)
    target_link_libraries(test_glow_blas PRIVATE media)
  endif()
  add_test(NAME glow_blas COMMAND test_glow_blas ${GLOWCAM_DATA})
  set_tests_properties(glow_blas PROPERTIES TIMEOUT 300)
endif()
