// DKIM-signs a message without sending it (docs/dkim.md): the signed message
// on stdout, the TXT record to publish on stderr.
//
//   dkim_sign KEY.pem DOMAIN SELECTOR MESSAGE-FILE > signed.eml
//
// The message is read twice (hashed, then copied out) and never held whole.
// Only smtp/dkim.hpp: no session, no Asio.
#include <smtp/dkim.hpp>
#include <smtp/message_file.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

// The signature of a message in memory: the field to put in front of it.
[[maybe_unused]] std::string sign_bytes(const smtp::dkim::signer& signer, std::string_view message)
{
    //! [bytes]
    std::string field = signer.sign(message); // "DKIM-Signature: v=1; a=rsa-sha256; ...\r\n"
    return field + std::string(message);      // or smtp::dkim::signed_message(signer, message)
    //! [bytes]
}

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::cerr << "usage: dkim_sign KEY.pem DOMAIN SELECTOR MESSAGE-FILE\n";
        return 2;
    }
    try {
        //! [signer]
        smtp::dkim::sign_options o;
        o.domain = argv[2];   // d=
        o.selector = argv[3]; // s=: the key is published at SELECTOR._domainkey.DOMAIN
        const smtp::dkim::signer signer(smtp::crypto::dkim_key::from_pem_file(argv[1]), o);
        //! [signer]
        std::cerr << o.selector << "._domainkey." << o.domain << " TXT \"" << signer.key().dns_record() << "\"\n";
        //! [source]
        smtp::error_code ec;
        smtp::message_source signed_src = signer.sign_source(smtp::file_message(argv[4]), ec);
        //! [source]
        if (ec) {
            std::cerr << "dkim_sign: " << ec.message() << '\n';
            return 1;
        }
        char buf[64 * 1024];
        for (std::size_t n; (n = signed_src.read(buf, sizeof buf)) != 0;)
            std::fwrite(buf, 1, n, stdout);
    } catch (const std::exception& e) {
        std::cerr << "dkim_sign: " << e.what() << '\n';
        return 1;
    }
}
