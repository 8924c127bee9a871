# SMTP_PCH: one precompiled header (cmake/precompiled.hpp, the third-party
# headers) for the project's own programs, built once by smtp_pch and reused
# by every target under tests/, tests/compile_fail/, examples/ and
# benchmarks/ that links smtp::smtp or smtp::dns, unless the target sets
# DISABLE_PRECOMPILE_HEADERS (header_self_contained: each header's own
# translation unit must see only what the header includes; test_message,
# which checks that its header brings no Asio or OpenSSL; smtp_core_bench:
# Poco's -D_XOPEN_SOURCE=500 changes the system headers). Included by the
# top-level CMakeLists.txt after those directories, so a new test gets it too.
#
# They share one: clang and g++ accept a precompiled header whose compiler
# flags match the user's (language, warnings, sanitizers, optimisation: all
# from smtp::smtp, smtp_warnings and the build type, as here) and whose macros
# the user's -D does not redefine (BOOST_TEST_DYN_LINK, SMTP_TEST_DATA and
# the like appear in no third-party header). A mismatch is an error with
# clang, and -Winvalid-pch (which CMake adds) under -Werror with g++.
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/pch/smtp_pch.cpp CONTENT "// Only the precompiled header.\n")
add_library(smtp_pch OBJECT ${PROJECT_BINARY_DIR}/pch/smtp_pch.cpp)
target_link_libraries(smtp_pch PRIVATE smtp::smtp smtp_warnings)
target_precompile_headers(smtp_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/precompiled.hpp)

set(smtp_pch_dirs)
if(SMTP_BUILD_TESTS)
  list(APPEND smtp_pch_dirs tests tests/compile_fail)
endif()
if(SMTP_BUILD_EXAMPLES)
  list(APPEND smtp_pch_dirs examples)
endif()
if(SMTP_BUILD_BENCHMARKS)
  list(APPEND smtp_pch_dirs benchmarks)
endif()
set(smtp_pch_users)
foreach(dir IN LISTS smtp_pch_dirs)
  get_property(targets DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(EXECUTABLE|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(libs ${target} LINK_LIBRARIES)
    get_target_property(off ${target} DISABLE_PRECOMPILE_HEADERS)
    if(libs AND NOT off AND ("smtp::smtp" IN_LIST libs OR "smtp::dns" IN_LIST libs))
      target_precompile_headers(${target} REUSE_FROM smtp_pch)
      list(APPEND smtp_pch_users ${target})
    endif()
  endforeach()
endforeach()
list(LENGTH smtp_pch_users n)
message(STATUS "smtp: SMTP_PCH: cmake/precompiled.hpp precompiled once, used by ${n} targets")
