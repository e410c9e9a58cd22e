#pragma once
// takeoff::emulator form and query text: a strict application/x-www-form-urlencoded decoder (what
// the emulated Snowflake reads from token-request bodies and the authorize query) and the RFC 3986
// percent-encoding it writes into redirect Locations.
//
// Strict on purpose, so that a client's sloppy encoding fails a test instead of slipping through:
// every `&`-separated piece must be `name=value` with a non-empty name, `%` must be followed by two
// hex digits, and `+` is a space. Repeated names are kept (the caller decides whether that is an
// error; OAuth says it is).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::emulator {

/// Decoded form fields in the order received (names may repeat).
using form_fields = std::vector<std::pair<std::string, std::string>>;

namespace detail {

inline int form_hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

} // namespace detail

/// Decodes one form component: `+` is a space, `%XX` a byte. A `%` not followed by two hex digits
/// gives nothing.
inline std::optional<std::string> form_decode(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            if (i + 2 >= text.size())
                return std::nullopt;
            const int high = detail::form_hex_value(text[i + 1]);
            const int low = detail::form_hex_value(text[i + 2]);
            if (high < 0 || low < 0)
                return std::nullopt;
            out += static_cast<char>(high * 16 + low);
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

/// Decodes a whole form body or query string. Empty text is an empty form; an empty piece
/// (`a=1&&b=2`, a trailing `&`), a piece without `=`, an empty name or a bad `%` escape gives
/// nothing.
inline std::optional<form_fields> parse_form(std::string_view text)
{
    form_fields fields;
    if (text.empty())
        return fields;
    std::size_t pos = 0;
    for (;;) {
        const std::size_t end = text.find('&', pos);
        const std::string_view piece = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        const std::size_t equals = piece.find('=');
        if (piece.empty() || equals == std::string_view::npos || equals == 0)
            return std::nullopt;
        auto name = form_decode(piece.substr(0, equals));
        auto value = form_decode(piece.substr(equals + 1));
        if (!name || !value)
            return std::nullopt;
        fields.emplace_back(std::move(*name), std::move(*value));
        if (end == std::string_view::npos)
            return fields;
        pos = end + 1;
    }
}

/// How often `name` occurs in `fields`.
inline std::size_t form_count(const form_fields& fields, std::string_view name) noexcept
{
    std::size_t n = 0;
    for (const auto& field : fields)
        n += field.first == name ? 1 : 0;
    return n;
}

/// The first value of `name`, if any.
inline std::optional<std::string> form_value(const form_fields& fields, std::string_view name)
{
    for (const auto& field : fields)
        if (field.first == name)
            return field.second;
    return std::nullopt;
}

/// The first name that occurs more than once, if any.
inline std::optional<std::string> form_repeated_name(const form_fields& fields)
{
    for (std::size_t i = 0; i < fields.size(); ++i)
        for (std::size_t j = i + 1; j < fields.size(); ++j)
            if (fields[i].first == fields[j].first)
                return fields[i].first;
    return std::nullopt;
}

/// RFC 3986 percent-encoding of a query component: unreserved characters (letters, digits,
/// `-._~`) as they are, every other byte as %XX with upper-case hex (a space is %20).
inline std::string percent_encode(std::string_view text)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += c;
        } else {
            const auto u = static_cast<unsigned char>(c);
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0x0f];
        }
    }
    return out;
}

} // namespace takeoff::emulator
