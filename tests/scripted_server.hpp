// What the tests over the scripted transport share: the client's options
// (it names itself client.example) and scripts that begin as a server does.
#ifndef SMTP_TESTS_SCRIPTED_SERVER_HPP
#define SMTP_TESTS_SCRIPTED_SERVER_HPP

#include <smtp/options.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <string>

namespace scripted_server {

using script_ptr = std::shared_ptr<smtp::transport::script>;

inline smtp::connect_options opts()
{
    smtp::connect_options o;
    o.local_name = "client.example";
    return o;
}

inline script_ptr script() { return std::make_shared<smtp::transport::script>(); }

/// A script that greets and answers EHLO with `ehlo`.
inline script_ptr greeted(const std::string& ehlo)
{
    auto s = script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond(ehlo);
    return s;
}

} // namespace scripted_server

#endif
