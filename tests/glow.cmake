# glow (foundation) tests: file validation and fuzzing, the reference against PyTorch
# golden outputs, exact round trips (random models and real faces), bits/dim against a
# brute-force log-determinant, and the encode/decode/model-info commands.
set(GLOW_TEST_DATA ${CMAKE_SOURCE_DIR}/tests/data/glow)
set(GLOW_TEST_TMP ${CMAKE_BINARY_DIR}/tmp-glow)
file(MAKE_DIRECTORY ${GLOW_TEST_TMP})

pkg_check_modules(GLOWTEST_CJSON REQUIRED IMPORTED_TARGET libcjson)
add_executable(test_glow_files ${CMAKE_SOURCE_DIR}/tests/test_glow_files.c)
target_link_libraries(test_glow_files PRIVATE glow gc PkgConfig::GLOWTEST_CJSON)
add_test(NAME glow_files COMMAND test_glow_files ${GLOW_TEST_DATA}/affine_edge.safetensors
         ${GLOW_TEST_DATA}/additive_post_y.safetensors ${GLOW_TEST_TMP} 2000)

add_executable(test_glow_golden ${CMAKE_SOURCE_DIR}/tests/test_glow_golden.c)
target_link_libraries(test_glow_golden PRIVATE glow gc)
add_test(NAME glow_golden COMMAND test_glow_golden ${GLOW_TEST_DATA}
         affine_edge additive_post_y affine_post additive_edge_y tiny4)

add_executable(test_glow_logdet ${CMAKE_SOURCE_DIR}/tests/test_glow_logdet.c)
target_link_libraries(test_glow_logdet PRIVATE glow gc)
add_test(NAME glow_logdet COMMAND test_glow_logdet ${GLOW_TEST_DATA}/tiny4.safetensors
         ${GLOW_TEST_DATA}/additive_edge_y.safetensors ${GLOW_TEST_DATA}/affine_post.safetensors)

if(TARGET media)
  # Random models of every configuration are written at test time by the numpy-only
  # tools/make_random_model.py (python3-numpy is part of scripts/setup.sh).
  add_executable(test_glow_roundtrip ${CMAKE_SOURCE_DIR}/tests/test_glow_roundtrip.c)
  target_link_libraries(test_glow_roundtrip PRIVATE glow media gc)
  add_test(NAME glow_roundtrip COMMAND ${CMAKE_SOURCE_DIR}/tests/test_glow_roundtrip.sh
           $<TARGET_FILE:test_glow_roundtrip> ${CMAKE_SOURCE_DIR} ${GLOW_TEST_TMP}/roundtrip ${GLOWCAM_DATA})
  set_tests_properties(glow_roundtrip PROPERTIES TIMEOUT 600)
endif()

if(TARGET glowcam)
  add_test(NAME glow_cli COMMAND ${CMAKE_SOURCE_DIR}/tests/test_glow_cli.sh $<TARGET_FILE:glowcam>
           ${GLOW_TEST_DATA} ${GLOW_TEST_TMP}/cli)
endif()
