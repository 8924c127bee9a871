// smtp.hpp
//
// The whole library: the protocol core, the policies, the typestate session
// and connect(), the pool, file messages. See README.md for a first program.
#ifndef SMTP_HPP
#define SMTP_HPP

#include <smtp/client.hpp>
#include <smtp/message_file.hpp>
#include <smtp/pool.hpp>
#include <smtp/protocol.hpp>

#endif
