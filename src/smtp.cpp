// The library's own separately compiled part: smtp::compiled (CMakeLists.txt)
// builds this file, with SMTP_SEPARATE_COMPILATION, into a static library;
// the programs that link smtp::compiled get the macro with it
// (docs/separate-compilation.md).
#include <smtp/src.hpp>
