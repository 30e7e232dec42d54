# Frontend diagnostics: golden first lines (file:line:col: error: …) for bad descriptions.
add_test(NAME frontend.errors COMMAND bash ${ARCHC_TEST_DIR}/frontend/run_error_tests.sh $<TARGET_FILE:archc> ${ARCHC_TEST_DIR}/frontend/errors)
# archc's own command line: no output is left behind when compilation fails.
add_test(NAME frontend.no_partial_output
         COMMAND bash -c "rm -f out.c out.c.tmp out; ! $<TARGET_FILE:archc> ${ARCHC_TEST_DIR}/frontend/errors/heads.yaml -o out.c 2>/dev/null && ! test -e out.c && ! test -e out.c.tmp && ! ARCHC_CC=false $<TARGET_FILE:archc> ${ARCHC_ROOT}/examples/tiny-llama.yaml -o out 2>/dev/null && ! test -e out && ! test -e out.archc.c"
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
add_test(NAME frontend.unknown_pass
         COMMAND bash -c "$<TARGET_FILE:archc> --emit=ir ${ARCHC_ROOT}/examples/tiny-llama.yaml --disable-pass=memplam 2>&1 | grep -q 'unknown pass (known: rope-fold qknorm-fuse epilogue-fuse swa-tile expert-group mla-absorb memplan decode-persistent)' \
&& $<TARGET_FILE:archc> --emit=ir ${ARCHC_ROOT}/examples/tiny-llama.yaml --enable-pass=decode-persistnt 2>&1 | grep -q 'enable-pass=decode-persistnt: unknown pass' \
&& $<TARGET_FILE:archc> --emit=ir ${ARCHC_ROOT}/examples/tiny-llama.yaml --enable-pass=decode-persistent > /dev/null")
