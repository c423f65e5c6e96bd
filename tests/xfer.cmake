# xfer tests: formulas, policies, files and the exact properties (random models, and
# the shipped model when it is in models/), then the shared identities end to end.
if(TARGET xfer)
  add_executable(test_xfer ${CMAKE_SOURCE_DIR}/tests/test_xfer.c)
  target_link_libraries(test_xfer PRIVATE xfer glow gc)
  set(XFER_SHIPPED_MODEL ${CMAKE_SOURCE_DIR}/models/glowcam-64.safetensors)
  set(xfer_model_arg "")
  if(EXISTS ${XFER_SHIPPED_MODEL})
    set(xfer_model_arg ${XFER_SHIPPED_MODEL})
  endif()
  add_test(NAME xfer_unit COMMAND test_xfer ${CMAKE_BINARY_DIR}/tmp-xfer-unit ${xfer_model_arg})
  set_tests_properties(xfer_unit PROPERTIES TIMEOUT 300)
endif()

if(TARGET xfer AND TARGET face AND TARGET media)
  add_executable(test_xfer_data ${CMAKE_SOURCE_DIR}/tests/test_xfer_data.c)
  target_link_libraries(test_xfer_data PRIVATE xfer face media glow gc)
  add_test(NAME xfer_data COMMAND test_xfer_data ${GLOWCAM_DATA}/identities ${CMAKE_BINARY_DIR}/tmp-xfer-data
           ${xfer_model_arg})
  set_tests_properties(xfer_data PROPERTIES TIMEOUT 600)
endif()

# The commands end to end; the random models come from xfer_unit's folder.
if(TARGET xfer AND TARGET glowcam)
  set_tests_properties(xfer_unit PROPERTIES FIXTURES_SETUP xfer_models)
  add_test(NAME xfer_cli COMMAND bash ${CMAKE_SOURCE_DIR}/tests/test_xfer_cli.sh $<TARGET_FILE:glowcam>
           ${CMAKE_BINARY_DIR}/tmp-xfer-unit/random16.safetensors ${CMAKE_BINARY_DIR}/tmp-xfer-unit/random16b.safetensors
           ${GLOWCAM_DATA} ${CMAKE_BINARY_DIR}/tmp-xfer-cli)
  set_tests_properties(xfer_cli PROPERTIES TIMEOUT 300 FIXTURES_REQUIRED xfer_models)
endif()
