# cmake -DMODE=... -P run_consumer.cmake: builds and runs examples/consumer/ (a project
# that uses smtp) in WORK_DIR, from scratch, the way MODE says:
#   install           cmake --install BUILD_DIR into PREFIX (the fixture of the two below)
#   find_package      consumer/ with find_package(smtp CONFIG) from PREFIX
#   pkgconfig         consumer/main.cpp compiled by CXX with pkg-config's flags from PREFIX
#   add_subdirectory  consumer/ with add_subdirectory(SOURCE_DIR)
#   fetchcontent      consumer/ with FetchContent from a git repository holding
#                     a snapshot of SOURCE_DIR's work tree (file://, no network)
# The CMake modes also build and run consumer_separate (separate mode, linked
# with smtp::compiled).
# Other variables: SOURCE_DIR, BUILD_DIR, PREFIX, WORK_DIR, GENERATOR,
# MAKE_PROGRAM, CXX, PKG_CONFIG, VERSION (the project's).
cmake_minimum_required(VERSION 3.20)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

function(output var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
  set(${var} "${out}" PARENT_SCOPE)
endfunction()

set(consumer ${SOURCE_DIR}/examples/consumer)
string(REPLACE "." ";" parts "${VERSION}")
list(GET parts 0 major)

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE ${PREFIX})
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX})
  return()
endif()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

if(MODE STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "pkg-config was not found when the project was configured (./run deps installs it)")
  endif()
  # Only the installed smtp.pc (and the system's, for openssl).
  set(ENV{PKG_CONFIG_PATH} ${PREFIX}/share/pkgconfig)
  output(modversion ${PKG_CONFIG} --modversion smtp)
  if(NOT modversion STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config --modversion smtp: '${modversion}', expected ${VERSION}")
  endif()
  output(cflags ${PKG_CONFIG} --cflags smtp)
  output(libs ${PKG_CONFIG} --libs smtp)
  message(STATUS "pkg-config --cflags smtp: ${cflags}")
  message(STATUS "pkg-config --libs smtp: ${libs}")
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  separate_arguments(libs UNIX_COMMAND "${libs}")
  run(${CXX} ${cflags} "-DSMTP_EXPECTED_VERSION=\"${VERSION}\"" ${consumer}/main.cpp -o ${WORK_DIR}/consumer ${libs})
  run(${WORK_DIR}/consumer)
  return()
endif()

set(args -DSMTP_CONSUMER_MODE=${MODE} -DSMTP_EXPECTED_VERSION=${VERSION} -DSMTP_EXPECTED_VERSION_MAJOR=${major})
if(MODE STREQUAL "find_package")
  list(APPEND args -DCMAKE_PREFIX_PATH=${PREFIX} -DSMTP_EXPECTED_PREFIX=${PREFIX})
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND args -DSMTP_SOURCE_DIR=${SOURCE_DIR})
elseif(MODE STREQUAL "fetchcontent")
  # The work tree as it is (tracked and untracked files, not the ignored ones
  # such as build/), committed to a fresh repository.
  output(files git -C ${SOURCE_DIR} ls-files --cached --others --exclude-standard)
  string(REPLACE "\n" ";" files "${files}")
  set(list "")
  foreach(f IN LISTS files)
    if(EXISTS ${SOURCE_DIR}/${f} AND NOT IS_DIRECTORY ${SOURCE_DIR}/${f})
      string(APPEND list "${f}\n")
    endif()
  endforeach()
  file(WRITE ${WORK_DIR}/files.txt "${list}")
  set(repo ${WORK_DIR}/repo)
  file(MAKE_DIRECTORY ${repo})
  execute_process(COMMAND ${CMAKE_COMMAND} -E tar cf ${WORK_DIR}/snapshot.tar --files-from=${WORK_DIR}/files.txt
    WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "could not archive the work tree")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E tar xf ${WORK_DIR}/snapshot.tar WORKING_DIRECTORY ${repo})
  set(git git -C ${repo} -c user.name=smtp-test -c user.email=smtp-test@example.invalid -c commit.gpgsign=false)
  run(${git} init -q)
  run(${git} add -A)
  run(${git} commit -q -m snapshot)
  output(sha ${git} rev-parse HEAD)
  list(APPEND args -DSMTP_GIT_REPOSITORY=file://${repo} -DSMTP_GIT_TAG=${sha})
else()
  message(FATAL_ERROR "MODE: install, find_package, pkgconfig, add_subdirectory or fetchcontent, not '${MODE}'")
endif()

if(MAKE_PROGRAM)
  list(APPEND args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX} ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --parallel 1)
run(${WORK_DIR}/build/consumer)
run(${WORK_DIR}/build/consumer_separate)
