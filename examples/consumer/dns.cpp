// A program of a project that uses smtp's resolver (tests/packaging/): linked
// with smtp::dns from an installed smtp (find_package(smtp CONFIG COMPONENTS
// dns)) or compiled with pkg-config's smtp-dns flags. It opens the resolver
// (libunbound's context, the trust anchor) without asking any server, and
// checks that a forwarder that is not an address is refused with the library's
// error.
#include <smtp/dns/resolver.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>

int main()
{
    boost::asio::io_context io;
    smtp::dns::resolver_options options;
    options.forwarders = {"127.0.0.1@9"}; // never asked: no lookup is made
    options.root_anchor_file = "";
    // The root's KSK-2017 as a DS record: a well-formed anchor.
    options.trust_anchors = {". DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"};
    boost::system::error_code ec;
    std::string why;
    smtp::dns::resolver good(io.get_executor(), options, ec, why);
    if (ec) {
        std::cerr << "a well-formed trust anchor was refused: " << ec.message() << ": " << why << "\n";
        return 1;
    }
    options.forwarders = {"not-an-address"};
    smtp::dns::resolver bad(io.get_executor(), options, ec, why);
    if (ec != smtp::dns::errc::resolver_error || why.find("not-an-address") == std::string::npos) {
        std::cerr << "a forwarder that is no address gave \"" << ec.message() << "\" (" << why << ")\n";
        return 1;
    }
    std::cout << "smtp::dns: resolver opened; a bad forwarder refused (" << why << ")\n";
}
