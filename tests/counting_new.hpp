// Replaces the global operator new and delete with versions that count every
// allocation, so that a test can show that a piece of code allocates nothing
// (test_reply_parser.cpp, test_reply_batch.cpp). Include it in one
// translation unit of a program only: the replacements are its definitions.
#ifndef SMTP_TESTS_COUNTING_NEW_HPP
#define SMTP_TESTS_COUNTING_NEW_HPP

#include <atomic>
#include <cstdlib>
#include <new>

// (g++ cannot see that these replacements pair malloc with free and warns at
// inlined call sites.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

/// Allocations made through operator new since the program started.
static std::atomic<long> g_allocations{0};

void* operator new(std::size_t n)
{
    ++g_allocations;
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

#endif
