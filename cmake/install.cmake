# Install rules (included by CMakeLists.txt when SMTP_INSTALL is on):
#   <prefix>/include/smtp/...                       the headers
#   <prefix>/share/cmake/smtp/smtpConfig.cmake      find_package(smtp CONFIG): the target smtp::smtp
#   <prefix>/share/cmake/smtp/smtpConfigVersion.cmake
#   <prefix>/share/cmake/smtp/smtpTargets.cmake
#   <prefix>/lib/libsmtp.a, smtpCompiledTargets.cmake  smtp::compiled (separate mode), when built
#   <prefix>/share/cmake/smtp/smtpDnsTargets.cmake  smtp::dns (the resolver, libunbound), when it exists:
#                                                   find_package(smtp CONFIG COMPONENTS dns)
#   <prefix>/share/pkgconfig/smtp.pc                pkg-config --cflags --libs smtp
#   <prefix>/share/pkgconfig/smtp-dns.pc            pkg-config --cflags --libs smtp-dns (smtp + libunbound)
# The headers are architecture-independent (share/, not lib/); the compiled
# library (SMTP_BUILD_COMPILED) is not: its archive goes to lib/.
# All of it is relocatable: `cmake --install build --prefix /anywhere` works.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SMTP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_DATADIR}/cmake/smtp
  CACHE STRING "Where to install smtpConfig.cmake, relative to the prefix")
set(SMTP_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_DATADIR}/pkgconfig
  CACHE STRING "Where to install smtp.pc, relative to the prefix")

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.ipp")

install(TARGETS smtp EXPORT smtpTargets)
install(EXPORT smtpTargets NAMESPACE smtp:: DESTINATION ${SMTP_INSTALL_CMAKEDIR})
set(smtp_arch_independent ARCH_INDEPENDENT)
if(TARGET smtp_compiled)
  install(TARGETS smtp_compiled EXPORT smtpCompiledTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT smtpCompiledTargets NAMESPACE smtp:: DESTINATION ${SMTP_INSTALL_CMAKEDIR})
  set(smtp_arch_independent)
endif()

# smtp::dns names libunbound by the imported target pkg-config made here
# (PkgConfig::SMTP_UNBOUND); smtpConfig.cmake makes it again the same way.
if(TARGET smtp_dns)
  set_target_properties(smtp_dns PROPERTIES EXPORT_NAME dns)
  install(TARGETS smtp_dns EXPORT smtpDnsTargets)
  install(EXPORT smtpDnsTargets NAMESPACE smtp:: DESTINATION ${SMTP_INSTALL_CMAKEDIR})
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/smtpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/smtpConfig.cmake
  INSTALL_DESTINATION ${SMTP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/smtpConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ${smtp_arch_independent})
install(FILES ${PROJECT_BINARY_DIR}/smtpConfig.cmake ${PROJECT_BINARY_DIR}/smtpConfigVersion.cmake
  DESTINATION ${SMTP_INSTALL_CMAKEDIR})

# smtp.pc: the prefix is found from the file's own place (${pcfiledir}).
if(IS_ABSOLUTE "${SMTP_INSTALL_PKGCONFIGDIR}")
  set(SMTP_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH smtp_pc_up "/p/${SMTP_INSTALL_PKGCONFIGDIR}" "/p")
  string(REGEX REPLACE "/$" "" smtp_pc_up "${smtp_pc_up}")
  set(SMTP_PC_PREFIX "\${pcfiledir}/${smtp_pc_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SMTP_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SMTP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Boost has no .pc file: its directory goes in Cflags unless the compiler
# searches it anyway.
set(SMTP_PC_EXTRA_CFLAGS "")
foreach(dir IN LISTS Boost_INCLUDE_DIRS)
  if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES AND NOT dir STREQUAL "/usr/include")
    string(APPEND SMTP_PC_EXTRA_CFLAGS " -I${dir}")
  endif()
endforeach()
set(SMTP_PC_LIBS "${CMAKE_THREAD_LIBS_INIT}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/smtp.pc.in ${PROJECT_BINARY_DIR}/smtp.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/smtp.pc DESTINATION ${SMTP_INSTALL_PKGCONFIGDIR})
if(TARGET smtp_dns)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/smtp-dns.pc.in ${PROJECT_BINARY_DIR}/smtp-dns.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/smtp-dns.pc DESTINATION ${SMTP_INSTALL_PKGCONFIGDIR})
endif()
