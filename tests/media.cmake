# media: unit test of video input/output, y4m, font, vcam refusals (no model needed).
if(TARGET media)
  add_executable(test_media ${CMAKE_SOURCE_DIR}/tests/test_media.c)
  target_link_libraries(test_media PRIVATE media gc m)
  add_test(NAME media_io COMMAND test_media ${CMAKE_BINARY_DIR}/test-media-work)
  set_tests_properties(media_io PROPERTIES TIMEOUT 120)
endif()
