// benchmarks/alloc_counter.hpp
//
// The benchmark binary replaces the global operator new and delete (see
// alloc_counter.cpp) with versions that count every allocation, so that a
// benchmark can show that a loop allocates nothing.
#ifndef SMTP_BENCHMARKS_ALLOC_COUNTER_HPP
#define SMTP_BENCHMARKS_ALLOC_COUNTER_HPP

#include <cstdint>

namespace bench {

/// Allocations made through any form of operator new since the program started.
std::uint64_t allocation_count() noexcept;

} // namespace bench

#endif
