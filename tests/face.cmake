# Face module tests (tests/test_face*.c). Data is read in place from ${GLOWCAM_DATA}.
if(TARGET face)
  set(_fd ${CMAKE_CURRENT_LIST_DIR})
  foreach(t landmarks align)
    add_executable(test_face_${t} ${_fd}/test_face_${t}.c)
    target_link_libraries(test_face_${t} PRIVATE face gc)
  endforeach()
  # All 330 faces (about 15 s of CPU in the ASan build: src/face builds dlib's templates optimised)
  set(_helen_step 1)
  # found >= 97.6% and NME <= 0.027: dlib used directly on these crops (the issue's figures)
  add_test(NAME face_landmarks_helen
           COMMAND test_face_landmarks ${GLOWCAM_DATA}/landmarks/helen ${_helen_step} 0.976 0.027 mirror)
  add_test(NAME face_align_composite COMMAND test_face_align ${GLOWCAM_DATA})
  if(TARGET media)
    add_executable(test_face_track ${_fd}/test_face_track.c)
    target_link_libraries(test_face_track PRIVATE face media gc)
    # a clip with still and moving stretches; jitter in eye-corner distances per frame
    add_test(NAME face_track_jitter_lag
             COMMAND test_face_track ${GLOWCAM_DATA}/videos/lp_d3.mp4 200 0.006 2.5)
    # the face leaves (blank frames) and comes back; two faces side by side keep their ids
    add_test(NAME face_track_refind
             COMMAND test_face_track ${GLOWCAM_DATA}/videos/tpsmm_driving.mp4 110 gap 50 30)
    add_test(NAME face_track_two_faces
             COMMAND test_face_track ${GLOWCAM_DATA}/videos/tpsmm_driving.mp4 90 pair ${GLOWCAM_DATA}/videos/lp_d6.mp4)
    # repeated frames (every 3rd fed twice, with codec-like noise, and the clip's own) keep the
    # face where it was; fast motion (lp_d12) must not lose the track over them
    add_test(NAME face_track_repeats
             COMMAND test_face_track ${GLOWCAM_DATA}/videos/lp_d12.mp4 60 repeat 3)
  endif()
endif()
