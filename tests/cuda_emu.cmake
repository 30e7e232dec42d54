# CUDA emulation (runtime/cuda/cuda_emu.h, tests/cuda/): the emulator's self-test is
# compiled as C++ for the host, the way CI runs emitted .cu files without a GPU, and run;
# with nvcc found (NVCC in the environment, or on PATH, or in /usr/local/cuda/bin) the
# same file is also compiled for sm_90, compile only.
#
# Included by tests/CMakeLists.txt to register the tests; run by ctest as
# `cmake -P tests/cuda_emu.cmake` to compile and run the self-test (script mode below).
if(CMAKE_SCRIPT_MODE_FILE)
  file(MAKE_DIRECTORY ${EMU_WORK})
  separate_arguments(EMU_FLAGS UNIX_COMMAND "${EMU_FLAGS}")
  execute_process(COMMAND ${EMU_CXX} -std=c++17 -O2 -g -Wall -Wextra ${EMU_FLAGS}
                          -x c++ -DARCHC_CUDA_EMU -include ${EMU_ROOT}/runtime/cuda/cuda_emu.h
                          ${EMU_ROOT}/tests/cuda/emu_selftest.cu -x none -o ${EMU_WORK}/emu_selftest
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cuda.emu_selftest: compiling with ${EMU_CXX} failed")
  endif()
  execute_process(COMMAND ${EMU_WORK}/emu_selftest RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cuda.emu_selftest: exit status ${rc}")
  endif()
  return()
endif()

if(CMAKE_CXX_COMPILER)
  set(ARCHC_EMU_CXX ${CMAKE_CXX_COMPILER})
else()
  find_program(ARCHC_EMU_CXX NAMES c++ g++ clang++)
endif()
# Sanitized builds (ARCHC_SANITIZE=ON, or -fsanitize=... in CMAKE_C_FLAGS/CMAKE_CXX_FLAGS)
# build the self-test sanitized too.
set(_emu_flags "")
if(ARCHC_SANITIZE)
  list(APPEND _emu_flags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
endif()
separate_arguments(_emu_user UNIX_COMMAND "${CMAKE_C_FLAGS} ${CMAKE_CXX_FLAGS}")
foreach(f ${_emu_user})
  if(f MATCHES "^-f(no-)?sanitize" OR f STREQUAL "-fno-omit-frame-pointer")
    list(APPEND _emu_flags ${f})
  endif()
endforeach()
list(REMOVE_DUPLICATES _emu_flags)
string(REPLACE ";" " " _emu_flags_arg "${_emu_flags}")

if(ARCHC_EMU_CXX)
  add_test(NAME cuda.emu_selftest
           COMMAND ${CMAKE_COMMAND} -DEMU_CXX=${ARCHC_EMU_CXX} "-DEMU_FLAGS=${_emu_flags_arg}"
                   -DEMU_ROOT=${ARCHC_ROOT} -DEMU_WORK=${CMAKE_CURRENT_BINARY_DIR}/cuda-emu
                   -P ${ARCHC_TEST_DIR}/cuda_emu.cmake)
  set_tests_properties(cuda.emu_selftest PROPERTIES TIMEOUT 300)
else()
  message(STATUS "archc: no C++ compiler: test cuda.emu_selftest not registered")
endif()

if(DEFINED ENV{NVCC} AND NOT "$ENV{NVCC}" STREQUAL "")
  set(ARCHC_NVCC $ENV{NVCC})
else()
  find_program(ARCHC_NVCC nvcc HINTS /usr/local/cuda/bin)
endif()
if(ARCHC_NVCC)
  add_test(NAME cuda.emu_selftest.nvcc
           COMMAND ${ARCHC_NVCC} -std=c++17 -arch=sm_90 -c ${ARCHC_TEST_DIR}/cuda/emu_selftest.cu
                   -o ${CMAKE_CURRENT_BINARY_DIR}/cuda-emu-nvcc/emu_selftest.o)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/cuda-emu-nvcc)
  set_tests_properties(cuda.emu_selftest.nvcc PROPERTIES TIMEOUT 300)
endif()
