// include/smtp/version.hpp: its numbers are the CMake project's (CMakeLists.txt
// reads them from it; the test gets project()'s as SMTP_TEST_PROJECT_VERSION_*),
// and every public name lives in the inline namespace smtp::v0, which the
// mangled names carry while the code says smtp::. And the Boost this program
// was built with is the one CMake found (a build against Boost 1.81 unpacked
// beside the system's 1.74 must not read the other's headers or library).
#define BOOST_TEST_MODULE version
#include <smtp/version.hpp>

#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/test/unit_test.hpp>
#include <boost/version.hpp>

#include <link.h> // dl_iterate_phdr

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

static_assert(SMTP_VERSION == SMTP_VERSION_MAJOR * 10000 + SMTP_VERSION_MINOR * 100 + SMTP_VERSION_PATCH);

BOOST_AUTO_TEST_CASE(macros_are_the_cmake_project_version)
{
    BOOST_TEST(SMTP_VERSION_MAJOR == SMTP_TEST_PROJECT_VERSION_MAJOR);
    BOOST_TEST(SMTP_VERSION_MINOR == SMTP_TEST_PROJECT_VERSION_MINOR);
    BOOST_TEST(SMTP_VERSION_PATCH == SMTP_TEST_PROJECT_VERSION_PATCH);
    BOOST_TEST(std::string(SMTP_VERSION_STRING) == SMTP_TEST_PROJECT_VERSION);
    BOOST_TEST(SMTP_VERSION == SMTP_TEST_PROJECT_VERSION_MAJOR * 10000 + SMTP_TEST_PROJECT_VERSION_MINOR * 100 +
                                   SMTP_TEST_PROJECT_VERSION_PATCH);
}

// The inline namespace is named after the major version.
BOOST_AUTO_TEST_CASE(inline_namespace_is_the_major_version)
{
    std::string expected = "v"; // appended, not "v" + ...: g++ 12 -O3 warns falsely (-Wrestrict) on that
    expected += std::to_string(SMTP_VERSION_MAJOR);
    BOOST_TEST(std::string(SMTP_DETAIL_STRINGIFY(SMTP_ABI_NAMESPACE)) == expected);
}

namespace {
// Itanium mangling of smtp::v0::<name>: N4smtp2v0<len><name>E.
std::string versioned(const std::string& name)
{
    const std::string ns = SMTP_DETAIL_STRINGIFY(SMTP_ABI_NAMESPACE);
    std::string out = "4smtp";
    out += std::to_string(ns.size());
    out += ns;
    out += std::to_string(name.size());
    out += name;
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(mangled_names_carry_the_inline_namespace)
{
    // Named without the version, as users write them...
    static_assert(std::is_same_v<smtp::errc, smtp::SMTP_ABI_NAMESPACE::errc>);
    static_assert(std::is_same_v<smtp::transport::script, smtp::SMTP_ABI_NAMESPACE::transport::script>);
    // ...and mangled with it (g++ and clang on Linux: the Itanium ABI).
    const std::string errc = typeid(smtp::errc).name();
    BOOST_TEST(errc.find(versioned("errc")) != std::string::npos, errc);
    const std::string options = typeid(smtp::connect_options).name();
    BOOST_TEST(options.find(versioned("connect_options")) != std::string::npos, options);
    using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
    const std::string session = typeid(smtp::connected_session<P>).name();
    BOOST_TEST(session.find(versioned("session")) != std::string::npos, session);
    // Nested namespaces are inside it too.
    const std::string script = typeid(smtp::transport::script).name();
    BOOST_TEST(script.find(versioned("transport")) != std::string::npos, script);
}

// --- The Boost of the build ---------------------------------------------------
// CMake passes what it found: Boost_VERSION_MAJOR/MINOR/PATCH as
// SMTP_TEST_BOOST_VERSION (in BOOST_VERSION's form, 108100 for 1.81.0) and the
// directory of Boost::unit_test_framework's library.
namespace {
std::string boost_version_string(int v)
{
    return std::to_string(v / 100000) + "." + std::to_string(v / 100 % 1000) + "." + std::to_string(v % 100);
}

// The file of every loaded object whose name contains `part`, as the loader
// found it.
std::vector<std::string> loaded_objects(const std::string& part)
{
    struct search {
        std::string part;
        std::vector<std::string> found;
    } s{part, {}};
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
            auto& s = *static_cast<search*>(data);
            const std::string name = info->dlpi_name ? info->dlpi_name : "";
            if (name.find(s.part) != std::string::npos)
                s.found.push_back(name);
            return 0;
        },
        &s);
    return s.found;
}
} // namespace

BOOST_AUTO_TEST_CASE(boost_headers_are_the_version_cmake_found)
{
    std::cout << "Boost " << BOOST_LIB_VERSION << " headers (BOOST_VERSION " << BOOST_VERSION << "), CMake found "
              << boost_version_string(SMTP_TEST_BOOST_VERSION) << '\n';
    BOOST_TEST(BOOST_VERSION == SMTP_TEST_BOOST_VERSION);
}

BOOST_AUTO_TEST_CASE(boost_test_library_is_the_headers_version)
{
    // The shared library is named after its version (its soname), and the
    // loader found it in the directory CMake linked it from.
    const auto found = loaded_objects("libboost_unit_test_framework.so");
    BOOST_TEST_REQUIRE(found.size() == 1u);
    std::cout << "loaded " << found[0] << '\n';
    const std::filesystem::path loaded(found[0]);
    BOOST_TEST(loaded.filename().string() == "libboost_unit_test_framework.so." + boost_version_string(BOOST_VERSION));
    BOOST_TEST(std::filesystem::equivalent(loaded.parent_path(), SMTP_TEST_BOOST_LIBRARY_DIR),
               loaded.parent_path().string() << " is not " << SMTP_TEST_BOOST_LIBRARY_DIR);
}
