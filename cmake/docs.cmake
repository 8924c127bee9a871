# The reference generated from the public headers' comments (docs/Doxyfile.in,
# docs/reference.md): the target smtp_docs, never part of the default build,
# when CMake finds Doxygen; without it nothing here is defined.
find_package(Doxygen QUIET)
if(TARGET Doxygen::doxygen)
  set(SMTP_DOCS_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
  set(SMTP_DOCS_DOXYFILE ${SMTP_DOCS_OUTPUT_DIRECTORY}/Doxyfile)
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${SMTP_DOCS_DOXYFILE} @ONLY)
  add_custom_target(smtp_docs
    COMMAND Doxygen::doxygen ${SMTP_DOCS_DOXYFILE}
    COMMAND ${CMAKE_COMMAND} -E echo "The reference: ${SMTP_DOCS_OUTPUT_DIRECTORY}/html/index.html"
    WORKING_DIRECTORY ${SMTP_DOCS_OUTPUT_DIRECTORY}
    COMMENT "Doxygen: the reference from include/smtp/"
    VERBATIM)
else()
  message(STATUS "Doxygen not found: no smtp_docs target (the reference)")
endif()
