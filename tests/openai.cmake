# OpenAI glow-demo conversion (tools/convert_openai_glow.py) on synthetic demo graphs made by
# tools/make_openai_test_graph.py, checked through `glowcam encode`/`decode`. Generated files
# stay in the build folder. Needs Debian's python3 with numpy (python3-numpy).
if(TARGET glowcam)
  find_program(OPENAI_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT OPENAI_PYTHON3)
    set(OPENAI_PYTHON3 python3)  # the test then fails loudly instead of being skipped
  endif()
  add_test(NAME openai_convert
           COMMAND ${OPENAI_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/openai_test.py --glowcam $<TARGET_FILE:glowcam>
                   --tools ${CMAKE_SOURCE_DIR}/tools --work ${CMAKE_BINARY_DIR}/tmp-openai)
  set_tests_properties(openai_convert PROPERTIES TIMEOUT 300)
endif()
