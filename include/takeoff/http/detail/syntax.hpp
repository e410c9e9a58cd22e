#pragma once
// Character rules of HTTP (RFC 9110): tokens, field values, and ASCII case, in which header names,
// schemes and host names compare (never the locale's). Tables, since they run on every request and
// response. Sans-io.

#include <takeoff/core/config.hpp>

#include <array>
#include <cstddef>
#include <string_view>

namespace takeoff::http::detail {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// Equal ignoring ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

// RFC 9110 tchar.
inline constexpr auto token_chars = [] {
    std::array<bool, 256> table{};
    for (unsigned c = '0'; c <= '9'; ++c) table[c] = true;
    for (unsigned c = 'a'; c <= 'z'; ++c) table[c] = true;
    for (unsigned c = 'A'; c <= 'Z'; ++c) table[c] = true;
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
    return table;
}();

// What a received field value may hold (RFC 9110 section 5.5): VCHAR, SP, HTAB and obs-text.
inline constexpr auto field_value_chars = [] {
    std::array<bool, 256> table{};
    for (unsigned c = 0x20; c < 0x7f; ++c) table[c] = true;
    for (unsigned c = 0x80; c < 0x100; ++c) table[c] = true;
    table['\t'] = true;
    return table;
}();

/// True for an RFC 9110 token (a valid header name).
inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s)
        if (!token_chars[static_cast<unsigned char>(c)]) return false;
    return true;
}

} // namespace takeoff::http::detail
