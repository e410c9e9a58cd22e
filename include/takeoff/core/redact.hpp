#pragma once
// Keeping secrets out of logs: a secret holder that never prints its value, and helpers that
// mask secrets in text the library did not write (server bodies it quotes in diagnostics).

#include <takeoff/core/config.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff {

/// What every operator<< and to_string prints in place of a secret.
inline constexpr std::string_view redacted_marker = "[redacted]";

/// Describes a secret without revealing it: "[redacted]" or "[redacted, empty]". The length is not
/// shown on purpose, as it can narrow down short secrets.
inline std::string redact(std::string_view secret) {
    return secret.empty() ? std::string("[redacted, empty]") : std::string(redacted_marker);
}

namespace detail {

// Zeroes every byte of the string's buffer, not only its size(): bytes past the end still hold
// what a longer earlier value or a move left there (a move of a short string copies it out of the
// small-string buffer and leaves the bytes behind). Resizing to the capacity never reallocates and
// makes the whole buffer part of the string, so the stores below are to memory it owns.
inline void wipe_string(std::string& s) noexcept {
    s.resize(s.capacity());
    // volatile stops the compiler from dropping stores to memory that is about to be freed
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
    s.clear();
}

} // namespace detail

/// A string that holds a secret (access token, refresh token, client secret, PKCE verifier).
/// Printing it, streaming it or converting it with to_string shows "[redacted]"; the value is
/// reachable only through reveal(), so every use of the plain text is explicit in the code. The
/// whole buffer (up to its capacity) is wiped when the value is replaced, moved out or destroyed,
/// and so is the buffer of a std::string moved in. An lvalue std::string is copied (through
/// std::string_view): the caller's copy is the caller's to wipe.
class secret {
public:
    secret() = default;
    /// Takes the value and wipes what the move left in `value` (its small-string buffer).
    explicit secret(std::string&& value) noexcept : value_(std::move(value)) { detail::wipe_string(value); }
    explicit secret(std::string_view value) : value_(value) {}
    explicit secret(const char* value) : value_(value) {}

    secret(const secret&) = default;
    secret(secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    secret& operator=(const secret& other) {
        if (this != &other) {
            wipe();
            value_ = other.value_;
        }
        return *this;
    }
    secret& operator=(secret&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~secret() { wipe(); }

    /// The plain value. Call it only where the value goes on the wire or into protected storage.
    std::string_view reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }

    /// Compares in time independent of where the first difference is.
    friend bool operator==(const secret& a, const secret& b) noexcept {
        const std::string_view x = a.value_, y = b.value_;
        if (x.size() != y.size()) return false;
        unsigned char diff = 0;
        for (std::size_t i = 0; i < x.size(); ++i)
            diff |= static_cast<unsigned char>(x[i] ^ y[i]);
        return diff == 0;
    }

    friend std::ostream& operator<<(std::ostream& os, const secret& s) { return os << redact(s.value_); }
    friend std::string to_string(const secret& s) { return redact(s.value_); }

private:
    void wipe() noexcept { detail::wipe_string(value_); }

    std::string value_;
};

namespace detail {

// Keys whose values are secrets wherever they appear in JSON or form bodies.
inline constexpr std::array<std::string_view, 10> secret_keys = {
    "access_token", "refresh_token", "id_token",   "client_secret", "code_verifier",
    "password",     "token",         "assertion", "masterToken",   "sessionToken"};

inline bool is_key_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Finds the end of a value that starts at `pos`: a JSON string (quoted, with escapes) or an
// unquoted run up to a separator.
inline std::size_t value_end(std::string_view text, std::size_t pos) noexcept {
    if (pos < text.size() && text[pos] == '"') {
        std::size_t i = pos + 1;
        while (i < text.size() && text[i] != '"') i += (text[i] == '\\') ? 2 : 1;
        return std::min(i + 1, text.size());
    }
    std::size_t i = pos;
    while (i < text.size() && text[i] != '&' && text[i] != ',' && text[i] != '}' && text[i] != ' ' &&
           text[i] != '\r' && text[i] != '\n' && text[i] != '"')
        ++i;
    return i;
}

} // namespace detail

/// Masks the values of well-known secret keys (access_token, refresh_token, client_secret, ...) in
/// JSON (`"key": "value"`), form (`key=value`) and header-like (`Token="value"`) text, and the
/// credential of `Authorization:` lines. Used before any server text is kept in diagnostics.
inline std::string redact_secrets_in(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        // Look for a key at a word boundary.
        bool matched = false;
        if (i == 0 || !detail::is_key_char(text[i - 1])) {
            std::size_t start = i + (text[i] == '"' ? 1 : 0);
            for (std::string_view key : detail::secret_keys) {
                if (text.size() - start < key.size()) continue;
                std::string_view candidate = text.substr(start, key.size());
                bool same = std::equal(candidate.begin(), candidate.end(), key.begin(), key.end(),
                                       [](char a, char b) { return (a | 0x20) == (b | 0x20); });
                std::size_t after = start + key.size();
                if (!same || (after < text.size() && detail::is_key_char(text[after]))) continue;
                if (after < text.size() && text[after] == '"') ++after;
                std::size_t j = after;
                while (j < text.size() && text[j] == ' ') ++j;
                if (j >= text.size() || (text[j] != ':' && text[j] != '=')) continue;
                ++j;
                while (j < text.size() && text[j] == ' ') ++j;
                std::size_t end = detail::value_end(text, j);
                out.append(text.substr(i, j - i));
                out.append(redacted_marker);
                i = end;
                matched = true;
                break;
            }
            if (!matched && text.size() - i >= 14) {
                std::string_view head = text.substr(i, 14);
                bool auth = std::equal(head.begin(), head.end(), "authorization:",
                                       [](char a, char b) { return (a | 0x20) == b; });
                if (auth) {
                    std::size_t end = text.find_first_of("\r\n", i);
                    if (end == std::string_view::npos) end = text.size();
                    out.append(text.substr(i, 14));
                    out.append(" ");
                    out.append(redacted_marker);
                    i = end;
                    matched = true;
                }
            }
        }
        if (!matched) out.push_back(text[i++]);
    }
    return out;
}

} // namespace takeoff
