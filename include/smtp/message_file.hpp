/// \file smtp/message_file.hpp
///
/// A message read from a file as it is sent, so that its size in memory does
/// not grow with the file:
///
/// ```
///   auto source = smtp::file_message("/var/spool/out/1234.eml");
///   session.sendmail(from, recipients, source);
/// ```
///
/// The file is read once to be checked and measured before anything is sent
/// (as a message in memory is), then again as it goes out.
#ifndef SMTP_MESSAGE_FILE_HPP
#define SMTP_MESSAGE_FILE_HPP

#include <smtp/protocol/transaction.hpp>
#include <smtp/version.hpp>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

SMTP_NAMESPACE_BEGIN

/// Opens `path` for reading; throws std::runtime_error when it cannot.
inline message_source file_message(const std::string& path)
{
    std::shared_ptr<std::FILE> f(std::fopen(path.c_str(), "rb"), [](std::FILE* p) {
        if (p)
            std::fclose(p);
    });
    if (!f)
        throw std::runtime_error("smtp::file_message: cannot open " + path);
    message_source s;
    s.read = [f](char* buf, std::size_t n) { return std::fread(buf, 1, n, f.get()); };
    s.rewind = [f] { return std::fseek(f.get(), 0, SEEK_SET) == 0; };
    return s;
}

SMTP_NAMESPACE_END

#endif
