# OpenAI glow-demo conversion (tools/convert_openai_glow.py). Needs Debian's python3 with
# numpy (python3-numpy); generated files stay in the build folder.
#   openai_convert: synthetic demo graphs (tools/make_openai_test_graph.py), both kinds, checked
#                   through `glowcam encode`/`decode` against independently computed latents.
#   openai_listing: the converter's lookups on the real graphs' structure, from the node
#                   listings in ${GLOWCAM_DATA}/openai-glow (no weights there).
find_program(OPENAI_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT OPENAI_PYTHON3)
  set(OPENAI_PYTHON3 python3)  # the tests then fail loudly instead of being skipped
endif()
if(TARGET glowcam)
  add_test(NAME openai_convert
           COMMAND ${OPENAI_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/openai_test.py --glowcam $<TARGET_FILE:glowcam>
                   --tools ${CMAKE_SOURCE_DIR}/tools --work ${CMAKE_BINARY_DIR}/tmp-openai)
  set_tests_properties(openai_convert PROPERTIES TIMEOUT 300)
endif()
add_test(NAME openai_listing
         COMMAND ${OPENAI_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/openai_listing_test.py ${GLOWCAM_DATA}/openai-glow
                 ${CMAKE_SOURCE_DIR}/tools)
set_tests_properties(openai_listing PROPERTIES TIMEOUT 300)
