// benchmarks/alloc_counter.cpp
//
// Counting replacements for every replaceable global operator new and delete
// ([new.delete]). All of them allocate with malloc or aligned_alloc and free
// with free, so any delete form may release any new form's memory. Array and
// nothrow forms go through the plain forms, so each allocation counts once.
#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::uint64_t> allocations{0};

void* allocate(std::size_t n)
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (n == 0)
        n = 1;
    for (;;) {
        if (void* p = std::malloc(n))
            return p;
        if (const std::new_handler h = std::get_new_handler())
            h();
        else
            throw std::bad_alloc();
    }
}

void* allocate_aligned(std::size_t n, std::align_val_t al)
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    std::size_t align = static_cast<std::size_t>(al);
    if (align < sizeof(void*))
        align = sizeof(void*);
    // aligned_alloc wants a size that is a multiple of the alignment.
    const std::size_t size = n == 0 ? align : (n + align - 1) / align * align;
    for (;;) {
        if (void* p = std::aligned_alloc(align, size))
            return p;
        if (const std::new_handler h = std::get_new_handler())
            h();
        else
            throw std::bad_alloc();
    }
}

} // namespace

std::uint64_t bench::allocation_count() noexcept { return allocations.load(std::memory_order_relaxed); }

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, std::align_val_t al) { return allocate_aligned(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return allocate_aligned(n, al); }

void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    try {
        return allocate(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept
{
    try {
        return allocate(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept
{
    try {
        return allocate_aligned(n, al);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept
{
    try {
        return allocate_aligned(n, al);
    } catch (...) {
        return nullptr;
    }
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
