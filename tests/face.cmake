# Face module tests (tests/test_face*.c). Data is read in place from ${GLOWCAM_DATA}.
if(TARGET face)
  set(_fd ${CMAKE_CURRENT_LIST_DIR})
  foreach(t landmarks)
    add_executable(test_face_${t} ${_fd}/test_face_${t}.c)
    target_link_libraries(test_face_${t} PRIVATE face gc)
  endforeach()
  # Every 3rd HELEN face under ASan (dlib is slow there); all 330 in other builds.
  if(CMAKE_BUILD_TYPE STREQUAL "Debug")
    set(_helen_step 3)
  else()
    set(_helen_step 1)
  endif()
  add_test(NAME face_landmarks_helen
           COMMAND test_face_landmarks ${GLOWCAM_DATA}/landmarks/helen ${_helen_step} 0.976 0.027)
  set_tests_properties(face_landmarks_helen PROPERTIES ENVIRONMENT "FACE_MIRROR=1")
endif()
