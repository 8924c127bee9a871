// smtp/detail/config.hpp
//
// The build mode. Header-only (the default): every definition is in the
// headers, inline. Separate mode: SMTP_SEPARATE_COMPILATION defined in every
// translation unit, and one of them includes <smtp/src.hpp>, which compiles
// the heavy parts once (docs/separate-compilation.md). SMTP_DECL marks the
// out-of-line definitions of non-template functions in the .ipp files:
// inline in header-only mode, ordinary (one definition, in src.hpp's
// translation unit) in separate mode.
#ifndef SMTP_DETAIL_CONFIG_HPP
#define SMTP_DETAIL_CONFIG_HPP

#ifdef SMTP_SEPARATE_COMPILATION
#define SMTP_DECL
#else
#define SMTP_DECL inline
#endif

#endif
