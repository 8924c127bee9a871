# ctest: the reference (cmake/docs.cmake) is generated without a single
# Doxygen warning, and every public header (include/smtp/ but its detail/
# directories) has a page with a brief description, its \file comment.
#   -DDOXYGEN=... -DDOXYFILE=<the configured Doxyfile> -DOUT=<scratch dir> -DINCLUDE_DIR=...
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
# The same settings, plus XML to read the pages from, in a directory of its own.
file(WRITE ${OUT}/Doxyfile "@INCLUDE = ${DOXYFILE}\nOUTPUT_DIRECTORY = ${OUT}\nWARN_LOGFILE = ${OUT}/warnings.log\nGENERATE_XML = YES\n")
execute_process(COMMAND ${DOXYGEN} ${OUT}/Doxyfile WORKING_DIRECTORY ${OUT}
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "doxygen failed (${status}):\n${output}")
endif()
# QUIET: anything it says (about the configuration too) is a warning.
file(READ ${OUT}/warnings.log warnings)
string(STRIP "${output}${warnings}" warnings)
if(NOT warnings STREQUAL "")
  message(FATAL_ERROR "doxygen warned:\n${warnings}")
endif()

# Each file page's XML says which header it is (<location file="smtp/x.hpp"/>,
# the path under include/) and, last before it, the header's brief description.
file(GLOB pages ${OUT}/xml/*.xml)
set(documented)
foreach(page IN LISTS pages)
  file(READ ${page} xml)
  if(NOT xml MATCHES "<compounddef id=\"([^\"]+)\" kind=\"file\"")
    continue()
  endif()
  set(id ${CMAKE_MATCH_1})
  if(NOT xml MATCHES "<location file=\"([^\"]+)\"/>[ \n]*</compounddef>")
    message(FATAL_ERROR "${page}: no location")
  endif()
  set(header ${CMAKE_MATCH_1})
  string(FIND "${xml}" "<briefdescription>" at REVERSE)
  string(SUBSTRING "${xml}" ${at} 40 brief)
  if(brief MATCHES "^<briefdescription>[ \n]*<para>" AND EXISTS ${OUT}/html/${id}.html)
    list(APPEND documented ${header})
  endif()
endforeach()

file(GLOB_RECURSE headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/smtp/*.hpp)
list(FILTER headers EXCLUDE REGEX "/detail/")
set(missing)
foreach(header IN LISTS headers)
  if(NOT header IN_LIST documented)
    list(APPEND missing ${header})
  endif()
endforeach()
if(missing)
  string(REPLACE ";" "\n  " missing "${missing}")
  message(FATAL_ERROR "public headers without a page and its brief description "
                      "(a /// \\file comment at the top):\n  ${missing}")
endif()
list(LENGTH headers count)
message(STATUS "the reference: no warning, ${count} public headers, each with its page")
