# In-process Clang/lld builds and the ORC JIT (codegen/llvm_tools.cpp): only when
# CMake found the Clang/LLVM/lld libraries (ARCHC_HAVE_LLVM; see CMakeLists.txt).
if(ARCHC_HAVE_LLVM)
  add_executable(test_llvm_tools ${ARCHC_TEST_DIR}/llvm/test_llvm_tools.c)
  target_link_libraries(test_llvm_tools PRIVATE archc_core)
  set(_llvm_san "")
  if(ARCHC_SANITIZE)
    set(_llvm_san sanitized) # link the runtime with gcc's -lasan -lubsan
  endif()
  add_test(NAME llvm.tools
    COMMAND test_llvm_tools ${ARCHC_ROOT}/runtime $<TARGET_FILE:archc_rt> ${CMAKE_CURRENT_BINARY_DIR}/llvm-tmp ${_llvm_san})
  set_tests_properties(llvm.tools PROPERTIES TIMEOUT 300 SKIP_REGULAR_EXPRESSION "SKIP:")
endif()
