#pragma once
// Live heap bytes of the program, split into C++ (operator new) and OpenSSL: the global operator
// new/delete are replaced (counting malloc_usable_size), and OpenSSL's allocator is replaced with
// CRYPTO_set_mem_functions before its first allocation (a constructor of priority 101). The same
// method as bench/http_idle_conn.cpp; include this header in ONE translation unit of a program
// (it defines the replacement operators).

#include <malloc.h>
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace takeoff::bench {

/// Bytes live in operator new.
inline std::atomic<long long> cxx_live_bytes{0};
/// Bytes live in OpenSSL's allocator.
inline std::atomic<long long> openssl_live_bytes{0};
/// True when OpenSSL's allocator could be replaced (it must happen before OpenSSL allocates).
inline bool openssl_counted = false;

namespace detail {

// Out of line: inlined into the replaced operator delete, std::free would look to GCC like a
// mismatched deallocation (-Wmismatched-new-delete).
[[gnu::noinline]] inline void* counted_malloc(std::size_t n, std::atomic<long long>& live) {
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p) live.fetch_add(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}

[[gnu::noinline]] inline void* counted_aligned(std::size_t n, std::size_t alignment) {
    void* p = nullptr;
    if (::posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, n == 0 ? 1 : n) != 0) return nullptr;
    cxx_live_bytes.fetch_add(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}

[[gnu::noinline]] inline void counted_free(void* p, std::atomic<long long>& live) noexcept {
    if (!p) return;
    live.fetch_sub(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}

inline void* openssl_malloc(std::size_t n, const char*, int) { return counted_malloc(n, openssl_live_bytes); }
inline void* openssl_realloc(void* p, std::size_t n, const char*, int) {
    const auto before = p ? static_cast<long long>(::malloc_usable_size(p)) : 0;
    void* q = std::realloc(p, n);
    if (q || n == 0) openssl_live_bytes.fetch_sub(before, std::memory_order_relaxed);
    if (q) openssl_live_bytes.fetch_add(static_cast<long long>(::malloc_usable_size(q)), std::memory_order_relaxed);
    return q;
}
inline void openssl_free(void* p, const char*, int) { counted_free(p, openssl_live_bytes); }

// Before any other static initialiser can make OpenSSL allocate.
__attribute__((constructor(101), used)) static void install_openssl_allocator() {
    openssl_counted = CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;
}

} // namespace detail

} // namespace takeoff::bench

void* operator new(std::size_t n) {
    if (void* p = takeoff::bench::detail::counted_malloc(n, takeoff::bench::cxx_live_bytes)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return takeoff::bench::detail::counted_malloc(n, takeoff::bench::cxx_live_bytes);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return takeoff::bench::detail::counted_malloc(n, takeoff::bench::cxx_live_bytes);
}
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = takeoff::bench::detail::counted_aligned(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes); }
void operator delete[](void* p) noexcept { takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes); }
void operator delete(void* p, std::size_t) noexcept { takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes); }
void operator delete[](void* p, std::size_t) noexcept { takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes); }
void operator delete(void* p, std::align_val_t) noexcept { takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes); }
void operator delete[](void* p, std::align_val_t) noexcept { takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    takeoff::bench::detail::counted_free(p, takeoff::bench::cxx_live_bytes);
}
