#pragma once
// Base64 and base64url (RFC 4648 sections 4 and 5): Basic credentials for proxies and OAuth
// clients, and the unpadded base64url that PKCE and JWTs use.
//
// The decoders are strict, as RFC 4648 section 3.3 and 3.5 allow: characters outside the alphabet
// (whitespace included), misplaced or missing padding and non-zero bits after the last byte are
// errors. Accepting only the canonical form means one value has one encoding, which matters where
// an encoded value is compared (a PKCE challenge, a JWT signature).

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>

#include <boost/system/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace takeoff {

namespace detail {

inline constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Encodes with the given alphabet; `pad` adds '=' up to a multiple of four characters.
inline std::string base64_encode_with(std::string_view in, std::string_view alphabet, bool pad) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                                std::uint32_t{static_cast<unsigned char>(in[i + 2])};
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    const std::size_t rest = in.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        if (pad) out += "==";
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        if (pad) out += '=';
    }
    return out;
}

// The 6-bit value of c in the alphabet, or -1.
inline int base64_value(char c, bool url) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url ? '-' : '+')) return 62;
    if (c == (url ? '_' : '/')) return 63;
    return -1;
}

// Decodes unpadded text (padding already removed by the caller).
inline boost::system::result<std::string> base64_decode_unpadded(std::string_view in, bool url) {
    // One leftover character cannot hold a whole byte.
    if (in.size() % 4 == 1) return make_error_code(errc::invalid_argument);
    std::string out;
    out.reserve(in.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const int v = base64_value(c, url);
        if (v < 0) return make_error_code(errc::invalid_argument);
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // The bits left over after the last byte must be zero (canonical encoding only).
    if ((acc & ((1u << bits) - 1)) != 0) return make_error_code(errc::invalid_argument);
    return out;
}

} // namespace detail

/// Standard base64 with '=' padding (RFC 4648 section 4), as HTTP Basic credentials need.
inline std::string base64_encode(std::string_view data) {
    return detail::base64_encode_with(data, detail::base64_alphabet, true);
}

/// base64url without padding (RFC 4648 section 5, as RFC 7636 PKCE and RFC 7515 JWS use it), so the
/// result can go into URLs and JWT segments as it is.
inline std::string base64url_encode(std::string_view data) {
    return detail::base64_encode_with(data, detail::base64url_alphabet, false);
}

/// Decodes standard base64. The input must be padded to a multiple of four characters and be the
/// canonical encoding; anything else (whitespace, the url alphabet, stray '=') gives
/// errc::invalid_argument.
inline boost::system::result<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return make_error_code(errc::invalid_argument);
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    return detail::base64_decode_unpadded(text.substr(0, text.size() - pad), false);
}

/// Decodes base64url. Padding is optional (JWTs and PKCE omit it, some servers add it), but when
/// present it must be exactly what makes the length a multiple of four. Anything else, including
/// the '+' and '/' of standard base64, gives errc::invalid_argument.
inline boost::system::result<std::string> base64url_decode(std::string_view text) {
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    if (pad != 0 && text.size() % 4 != 0) return make_error_code(errc::invalid_argument);
    return detail::base64_decode_unpadded(text.substr(0, text.size() - pad), true);
}

} // namespace takeoff
