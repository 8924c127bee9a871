// smtp.hpp
//
// The whole library: the protocol core, the policies, the typestate session
// and connect(). See README.md for a first program.
#ifndef SMTP_HPP
#define SMTP_HPP

#include <smtp/client.hpp>
#include <smtp/protocol.hpp>

#endif
