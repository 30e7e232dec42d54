# The fuzz corpora as regression tests (issue 13).  Every harness
# tests/fuzz/fuzz_NAME.c is built with the ordinary compiler and
# tests/fuzz/standalone_main.c (no libFuzzer) and run over its committed corpus
# tests/fuzz/corpus/NAME/ as the test fuzz.corpus.NAME; in the ARCHC_SANITIZE
# build that is a sanitizer regression test.  The fuzzing itself is
# tools/fuzz.sh (clang + libFuzzer), not part of CI.
file(GLOB ARCHC_FUZZ_HARNESSES CONFIGURE_DEPENDS ${ARCHC_TEST_DIR}/fuzz/fuzz_*.c)
foreach(src ${ARCHC_FUZZ_HARNESSES})
  get_filename_component(base ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${base})
  add_executable(fuzz_corpus_${name} ${src} ${ARCHC_TEST_DIR}/fuzz/standalone_main.c)
  target_include_directories(fuzz_corpus_${name} PRIVATE ${ARCHC_TEST_DIR}/fuzz)
  # a harness that includes the compiler's headers links archc_core (which
  # brings the runtime); the others only the runtime (as tools/fuzz.sh does)
  file(READ ${src} fuzz_src)
  if(fuzz_src MATCHES "#include \"(spec|ir|passes|codegen)\\.h\"")
    target_link_libraries(fuzz_corpus_${name} PRIVATE archc_core)
  else()
    target_link_libraries(fuzz_corpus_${name} PRIVATE archc_rt)
  endif()
  add_test(NAME fuzz.corpus.${name} COMMAND fuzz_corpus_${name} ${ARCHC_TEST_DIR}/fuzz/corpus/${name})
endforeach()

# The malformed seeds must be rejected with a one-line message naming the file
# and the place; sampler and misaligned-tensor regressions (issue 13).
add_executable(test_seed_errors ${ARCHC_TEST_DIR}/fuzz/test_seed_errors.c)
target_link_libraries(test_seed_errors PRIVATE archc_rt)
add_test(NAME fuzz.seed_errors COMMAND test_seed_errors ${ARCHC_TEST_DIR}/fuzz/corpus
         ${ARCHC_TEST_DIR}/fuzz/corpus/safetensors/seed_misaligned.safetensors)
