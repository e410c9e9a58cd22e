#pragma once
// application/x-www-form-urlencoded bodies (the WHATWG URL standard's serialisation, which RFC 6749
// appendix B asks for): the token requests of the OAuth flows and the JWT exchange are such forms,
// and so are the halves of client_secret_basic credentials (RFC 6749 section 2.3.1).
//
// Sans-io. Values may be secrets: form_builder keeps its text in a takeoff::secret-like buffer that
// is wiped when it goes, and str() hands the body over by move.

#include <takeoff/core/config.hpp>
#include <takeoff/core/redact.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::oauth {

namespace detail {

// Bytes a form serialiser leaves as they are: ASCII alphanumerics and "*-._" (WHATWG
// application/x-www-form-urlencoded percent-encode set); a space becomes '+', all else %XX.
constexpr bool is_form_safe(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' || c == '-' ||
           c == '.' || c == '_';
}

} // namespace detail

/// Appends `value` form-encoded to `out`: ASCII letters, digits and `*-._` as they are, a space as
/// '+', every other byte as %XX (upper-case hex). `+`, `/` and `=` (common in Snowflake client
/// secrets) therefore become %2B, %2F and %3D.
inline void append_form_encoded(std::string& out, std::string_view value) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (char c : value) {
        if (detail::is_form_safe(c)) {
            out += c;
        } else if (c == ' ') {
            out += '+';
        } else {
            const auto u = static_cast<unsigned char>(c);
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0x0f];
        }
    }
}

/// `value` form-encoded (see append_form_encoded).
inline std::string form_encode(std::string_view value) {
    std::string out;
    out.reserve(value.size() + value.size() / 2);
    append_form_encoded(out, value);
    return out;
}

/// Builds a form body `k1=v1&k2=v2...` in the order the fields are added. The text may hold secrets
/// (a client secret, a refresh token): it is wiped when the builder is destroyed, and take() moves
/// it out, leaving nothing behind.
class form_builder {
public:
    form_builder() = default;
    form_builder(const form_builder&) = delete;
    form_builder& operator=(const form_builder&) = delete;
    ~form_builder() { takeoff::detail::wipe_string(text_); }

    /// Adds one field; both key and value are encoded.
    form_builder& add(std::string_view key, std::string_view value) {
        if (!text_.empty()) text_ += '&';
        append_form_encoded(text_, key);
        text_ += '=';
        append_form_encoded(text_, value);
        return *this;
    }

    /// The body so far, moved out (the builder is empty afterwards). The caller owns the secret
    /// text it may contain (a request body is sent, then destroyed with the request).
    std::string take() noexcept {
        std::string out = std::move(text_);
        text_.clear();
        return out;
    }

private:
    std::string text_;
};

} // namespace takeoff::oauth
