# pipeline: the threaded runner (offline order, live drops, errors, stop), then the
# glowcam commands end to end on the shared clips (tests/pipeline_cli.sh).
if(TARGET pipeline)
  add_executable(test_pipeline ${CMAKE_SOURCE_DIR}/tests/test_pipeline.c)
  target_link_libraries(test_pipeline PRIVATE pipeline gc)
  add_test(NAME pipeline_runner COMMAND test_pipeline)
  set_tests_properties(pipeline_runner PROPERTIES TIMEOUT 60)
endif()
