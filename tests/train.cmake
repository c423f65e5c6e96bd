# Training tool and shipped-model tests (tests/train_*.sh, tests/train_check.py).
# train_e2e needs python3-torch: without it the test reports SKIPPED with the reason (exit 77).
if(TARGET glowcam)
  add_test(NAME train_e2e
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/train_e2e.sh $<TARGET_FILE:glowcam> ${CMAKE_SOURCE_DIR}
                   ${GLOWCAM_DATA} ${CMAKE_BINARY_DIR}/train_e2e)
  set_tests_properties(train_e2e PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  add_test(NAME train_shipped_roundtrip
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/train_shipped.sh $<TARGET_FILE:glowcam> ${CMAKE_SOURCE_DIR}
                   ${GLOWCAM_DATA} ${CMAKE_BINARY_DIR}/train_shipped)
  set_tests_properties(train_shipped_roundtrip PROPERTIES TIMEOUT 300)
endif()
