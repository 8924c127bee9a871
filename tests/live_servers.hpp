// What the live tests (live_test.cpp, live_transactions_test.cpp) share: the
// servers tests/servers/with_servers.py started for them, named by the
// environment it sets (SMTP_TEST_<NAME>_PORT, _RECORD, SMTP_TEST_CERTS), and
// what those servers recorded.
#ifndef SMTP_TESTS_LIVE_SERVERS_HPP
#define SMTP_TESTS_LIVE_SERVERS_HPP

#include <smtp/options.hpp>
#include <smtp/protocol/base64.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace live {

namespace fs = std::filesystem;

inline std::string env(const std::string& name)
{
    const char* v = std::getenv(name.c_str());
    BOOST_REQUIRE_MESSAGE(v != nullptr, name << " is not set: run this test through with_servers.py");
    return v;
}

/// Where the server called `name` listens, with the test CA and 10 s timeouts.
/// `host`: "localhost" (the test certificates name it) or an address.
inline smtp::connect_options server(const std::string& name, const std::string& host = "localhost")
{
    smtp::connect_options o;
    o.host = host;
    o.port = static_cast<std::uint16_t>(std::stoi(env("SMTP_TEST_" + name + "_PORT")));
    if (const char* certs = std::getenv("SMTP_TEST_CERTS"))
        o.tls.ca_file = std::string(certs) + "/ca.pem";
    o.local_name = "client.example";
    o.timeouts.command = o.timeouts.greeting = o.timeouts.connect = std::chrono::seconds(10);
    return o;
}

inline std::string slurp(const fs::path& p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// The messages a server recorded, as the text of their JSON files, in order.
inline std::vector<std::string> records(const std::string& name)
{
    std::vector<std::string> out;
    const fs::path dir = env("SMTP_TEST_" + name + "_RECORD");
    for (int n = 1; fs::exists(dir / (std::to_string(n) + ".json")); ++n)
        out.push_back(slurp(dir / (std::to_string(n) + ".json")));
    return out;
}

/// The data of a recorded message.
inline std::string recorded_data(const std::string& json)
{
    const std::string key = "\"data_b64\": \"";
    const auto at = json.find(key);
    BOOST_REQUIRE(at != std::string::npos);
    const auto end = json.find('"', at + key.size());
    std::string data;
    smtp::error_code ec;
    smtp::base64::decode(std::string_view(json).substr(at + key.size(), end - at - key.size()), data, ec);
    BOOST_REQUIRE(!ec);
    return data;
}

inline bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

} // namespace live

#endif
