#pragma once
// Character rules of HTTP (RFC 9110): tokens, field values, and ASCII case, in which header names,
// schemes and host names compare (never the locale's). Tables, since they run on every request and
// response. Sans-io.

#include <takeoff/core/config.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace takeoff::http::detail {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Eight bytes at a time ("SIMD within a register"): the tests below are exact for "some byte of the
// word is ...", which is all the callers ask.
namespace swar {
inline constexpr std::uint64_t ones = 0x0101010101010101ull;
inline constexpr std::uint64_t highs = 0x8080808080808080ull;

inline std::uint64_t load(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}
/// Some byte of w is below n (n <= 0x80).
constexpr bool has_less(std::uint64_t w, std::uint8_t n) noexcept { return ((w - ones * n) & ~w & highs) != 0; }
/// Some byte of w equals b.
constexpr bool has_byte(std::uint64_t w, std::uint8_t b) noexcept { return has_less(w ^ (ones * b), 1); }
/// Some byte of w is a control character: below 0x20 (HTAB among them) or DEL (0x7f).
constexpr bool has_control(std::uint64_t w) noexcept { return has_less(w, 0x20) || has_byte(w, 0x7f); }
/// w with the ASCII capitals of each byte lowered (bytes 0x80 and above unchanged).
constexpr std::uint64_t lower(std::uint64_t w) noexcept {
    const std::uint64_t low7 = w & ~highs;                   // no carry can cross a byte below
    const std::uint64_t at_least_a = low7 + ones * (0x80 - 'A'); // high bit: byte >= 'A'
    const std::uint64_t past_z = low7 + ones * (0x80 - 'Z' - 1); // high bit: byte > 'Z'
    const std::uint64_t capitals = at_least_a & ~past_z & ~w & highs;
    return w | (capitals >> 2); // 0x80 >> 2 == 0x20, the case bit
}
} // namespace swar

/// Equal ignoring ASCII case.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n >= 8) { // whole words, the last one overlapping the one before
        for (std::size_t i = 0; i + 8 < n; i += 8)
            if (swar::lower(swar::load(a.data() + i)) != swar::lower(swar::load(b.data() + i))) return false;
        return swar::lower(swar::load(a.data() + n - 8)) == swar::lower(swar::load(b.data() + n - 8));
    }
    for (std::size_t i = 0; i < n; ++i)
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

// What a field value may hold (RFC 9110 section 5.5): VCHAR, SP, HTAB and obs-text; no other
// control character and no DEL.
inline constexpr auto field_value_chars = [] {
    std::array<bool, 256> table{};
    for (unsigned c = 0x20; c < 0x7f; ++c) table[c] = true;
    for (unsigned c = 0x80; c < 0x100; ++c) table[c] = true;
    table['\t'] = true;
    return table;
}();

/// v without the optional white space (RFC 9110 section 5.6.3: SP and HTAB) at either end.
constexpr std::string_view trim_ows(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

/// True for an RFC 9110 token (a valid header name).
inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s)
        if (!token_chars[static_cast<unsigned char>(c)]) return false;
    return true;
}

} // namespace takeoff::http::detail
