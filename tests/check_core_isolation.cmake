# ctest: the protocol core pulls in no Asio, no OpenSSL and no socket header.
# Lists every header a translation unit including <smtp/protocol.hpp> reads
# (the compiler's -M) and fails on any that does I/O. EXTRA_FLAGS: one more
# compiler flag (separate mode's -DSMTP_SEPARATE_COMPILATION); WHAT: what
# the messages call the file (the protocol core by default).
if(NOT DEFINED WHAT)
  set(WHAT "protocol core")
endif()
execute_process(
  COMMAND ${CXX} -std=c++20 ${EXTRA_FLAGS} -I${INCLUDE_DIR} -I${BOOST_INCLUDE_DIR} -M -x c++ ${SOURCE}
  OUTPUT_VARIABLE deps ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not list the includes of ${SOURCE}: ${err}")
endif()
foreach(forbidden "boost/asio" "openssl/" "sys/socket.h" "netinet/" "boost/beast" "unbound.h")
  string(FIND "${deps}" "${forbidden}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the ${WHAT} includes ${forbidden}")
  endif()
endforeach()
string(REGEX MATCHALL "[^ \\\n]+\\.h(pp)?" headers "${deps}")
list(LENGTH headers n)
message(STATUS "${WHAT}: ${n} headers, none of them I/O")
