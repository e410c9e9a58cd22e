#pragma once
// fixed_string: a string literal usable as a template argument (`role<"CONTAINER_USER_ROLE">`) and
// joinable at compile time, so composed values such as scope strings are compile-time constants.

#include <takeoff/core/config.hpp>

#include <cstddef>
#include <string_view>

namespace takeoff {

/// N characters held by value, plus a terminating NUL. A structural type: all members public.
template <std::size_t N>
struct fixed_string {
    char chars[N + 1] = {};

    constexpr fixed_string() = default;

    /// From a string literal; the deduction guide below makes `fixed_string{"abc"}` a
    /// fixed_string<3>.
    constexpr fixed_string(const char (&literal)[N + 1]) noexcept {
        for (std::size_t i = 0; i < N; ++i) chars[i] = literal[i];
    }

    static constexpr std::size_t size() noexcept { return N; }
    static constexpr bool empty() noexcept { return N == 0; }
    constexpr const char* c_str() const noexcept { return chars; }
    constexpr std::string_view view() const noexcept { return {chars, N}; }
    constexpr operator std::string_view() const noexcept { return view(); }
    constexpr char operator[](std::size_t i) const noexcept { return chars[i]; }

    template <std::size_t M>
    constexpr bool operator==(const fixed_string<M>& other) const noexcept {
        return view() == other.view();
    }
    constexpr bool operator==(std::string_view other) const noexcept { return view() == other; }
};

template <std::size_t N>
fixed_string(const char (&)[N]) -> fixed_string<N - 1>;

/// Joins two fixed strings at compile time.
template <std::size_t N, std::size_t M>
constexpr fixed_string<N + M> operator+(const fixed_string<N>& a, const fixed_string<M>& b) noexcept {
    fixed_string<N + M> out;
    for (std::size_t i = 0; i < N; ++i) out.chars[i] = a.chars[i];
    for (std::size_t i = 0; i < M; ++i) out.chars[N + i] = b.chars[i];
    return out;
}

template <std::size_t N, std::size_t M>
constexpr fixed_string<N + M - 1> operator+(const fixed_string<N>& a, const char (&b)[M]) noexcept {
    return a + fixed_string<M - 1>(b);
}

template <std::size_t N, std::size_t M>
constexpr fixed_string<N - 1 + M> operator+(const char (&a)[N], const fixed_string<M>& b) noexcept {
    return fixed_string<N - 1>(a) + b;
}

} // namespace takeoff
