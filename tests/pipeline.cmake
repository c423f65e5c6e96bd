# pipeline: the threaded runner (offline order, live drops, errors, stop), then the
# glowcam commands end to end on the shared clips (tests/pipeline_cli.sh).
if(TARGET pipeline)
  add_executable(test_pipeline ${CMAKE_SOURCE_DIR}/tests/test_pipeline.c)
  target_link_libraries(test_pipeline PRIVATE pipeline gc)
  add_test(NAME pipeline_runner COMMAND test_pipeline)
  set_tests_properties(pipeline_runner PROPERTIES TIMEOUT 60)
endif()

if(TARGET glowcam AND TARGET pipeline AND TARGET test_media)
  find_program(GC_PIPE_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT GC_PIPE_PYTHON3)
    set(GC_PIPE_PYTHON3 python3)  # then the tests fail loudly instead of being skipped
  endif()
  set(pl_work ${CMAKE_BINARY_DIR}/test-pipeline-work)
  set(pl_cases convert real nofaces badinput truncated sigint y4m vcam preview image modes rotation repeats)
  add_test(NAME pipeline_cli_setup COMMAND ${CMAKE_SOURCE_DIR}/tests/pipeline_cli.sh setup
           $<TARGET_FILE:glowcam> ${GLOWCAM_DATA} ${pl_work} ${GC_PIPE_PYTHON3})
  set_tests_properties(pipeline_cli_setup PROPERTIES FIXTURES_SETUP pipeline_files TIMEOUT 300)
  foreach(c ${pl_cases})
    add_test(NAME pipeline_cli_${c} COMMAND ${CMAKE_SOURCE_DIR}/tests/pipeline_cli.sh ${c}
             $<TARGET_FILE:glowcam> ${GLOWCAM_DATA} ${pl_work} ${GC_PIPE_PYTHON3})
    set_tests_properties(pipeline_cli_${c} PROPERTIES FIXTURES_REQUIRED pipeline_files TIMEOUT 300
                         ENVIRONMENT "TEST_MEDIA=$<TARGET_FILE:test_media>")
  endforeach()
endif()
