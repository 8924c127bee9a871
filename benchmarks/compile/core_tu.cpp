// Compile-time benchmark (benchmarks/run_e2e.py): the sans-I/O protocol core alone.
#include <smtp/protocol.hpp>

#include <string_view>

int main()
{
    smtp::reply_parser parser;
    smtp::reply_view reply;
    smtp::error_code ec;
    parser.put(std::string_view("250 2.0.0 Ok\r\n"), reply, ec);
    return ec ? 1 : reply.code().value() == 250 ? 0 : 2;
}
