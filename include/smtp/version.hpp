/// \file smtp/version.hpp
///
/// The library's version, and the versioned namespace every public name lives
/// in. This file is the single source of truth: CMakeLists.txt reads the three
/// numbers below for project(VERSION), so the headers need no build step.
///
/// ```
///   SMTP_VERSION_MAJOR, SMTP_VERSION_MINOR, SMTP_VERSION_PATCH
///   SMTP_VERSION          MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0: 100)
///   SMTP_VERSION_STRING   "MAJOR.MINOR.PATCH"
/// ```
///
/// Every name is declared in smtp::v0, an inline namespace: code says
/// smtp::session, while symbols (and compiler messages) say smtp::v0::session,
/// so two incompatible versions linked into one program cannot be mixed up.
#ifndef SMTP_VERSION_HPP
#define SMTP_VERSION_HPP

#define SMTP_VERSION_MAJOR 0
#define SMTP_VERSION_MINOR 1
#define SMTP_VERSION_PATCH 0

#define SMTP_VERSION (SMTP_VERSION_MAJOR * 10000 + SMTP_VERSION_MINOR * 100 + SMTP_VERSION_PATCH)

#define SMTP_DETAIL_STRINGIFY_(x) #x
#define SMTP_DETAIL_STRINGIFY(x) SMTP_DETAIL_STRINGIFY_(x)
#define SMTP_VERSION_STRING                                                                                          \
    SMTP_DETAIL_STRINGIFY(SMTP_VERSION_MAJOR) "." SMTP_DETAIL_STRINGIFY(SMTP_VERSION_MINOR) "." SMTP_DETAIL_STRINGIFY( \
        SMTP_VERSION_PATCH)

/// The inline namespace of this major version (change it with the major).
#define SMTP_ABI_NAMESPACE v0

/// Opens and closes namespace smtp and its versioned inline namespace. Each
/// header says SMTP_NAMESPACE_BEGIN ... SMTP_NAMESPACE_END where it would say
/// namespace smtp { ... }; a nested namespace (detail, sasl, ...) is opened
/// inside it.
#define SMTP_NAMESPACE_BEGIN                                                                                          \
    namespace smtp {                                                                                                  \
    inline namespace SMTP_ABI_NAMESPACE {
#define SMTP_NAMESPACE_END                                                                                            \
    }                                                                                                                 \
    }

#endif
