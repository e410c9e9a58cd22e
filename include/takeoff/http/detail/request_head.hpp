#pragma once
// The HTTP/1.1 request head (request line and header block), written by the transport itself into
// a connection's reusable buffer: one contiguous block that goes out with the body in a single
// write, without building a Beast message (whose field list allocates per header). Sans-io.
//
// Header names must be tokens and values must not hold CR, LF or NUL (RFC 9110 section 5): a
// request breaking that is refused before anything is sent, so that no header can be injected.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <charconv>
#include <string>
#include <string_view>

namespace takeoff::http::detail {

// RFC 9110 tchar, as a table (the head is written on every request).
inline constexpr auto token_chars = [] {
    std::array<bool, 256> table{};
    for (unsigned c = '0'; c <= '9'; ++c) table[c] = true;
    for (unsigned c = 'a'; c <= 'z'; ++c) table[c] = true;
    for (unsigned c = 'A'; c <= 'Z'; ++c) table[c] = true;
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
    return table;
}();

/// True for an RFC 9110 token (a valid header name).
inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s)
        if (!token_chars[static_cast<unsigned char>(c)]) return false;
    return true;
}

/// True when a header value can be sent as is: no CR, LF or NUL.
inline bool is_safe_field_value(std::string_view s) noexcept {
    for (const char c : s)
        if (static_cast<unsigned char>(c) <= '\r' && (c == '\r' || c == '\n' || c == '\0')) return false;
    return true;
}

/// True for a request target in origin form that needs no escaping ("/path?query").
inline bool is_safe_target(std::string_view s) noexcept {
    if (s.empty() || s.front() != '/') return false;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) return false;
    }
    return true;
}

/// Whether a request with this method and body carries Content-Length (as Beast's
/// prepare_payload decides: always for a body, and for methods that expect one even when empty).
inline bool needs_content_length(boost::beast::http::verb method, std::size_t body_size) noexcept {
    using boost::beast::http::verb;
    return body_size > 0 || method == verb::post || method == verb::put || method == verb::patch;
}

/// Appends the head of a request to out: the request line, Host, the caller's headers (minus the
/// framing ones: Host, Content-Length, Transfer-Encoding, Connection), User-Agent when the caller
/// gave none, Content-Length when needed, and the empty line. On a header or target that cannot
/// be sent, out is left as it was and errc::invalid_argument is returned, with diag naming it.
inline boost::system::error_code append_request_head(std::string& out, boost::beast::http::verb method,
                                                     std::string_view target, std::string_view host,
                                                     const boost::beast::http::fields& headers,
                                                     std::string_view default_user_agent, std::size_t body_size,
                                                     diagnostics& diag) {
    using boost::beast::http::field;
    if (!is_safe_target(target)) {
        diag.set_client_message("the request target cannot be sent (it must start with '/' and hold no spaces or "
                                "control characters)");
        return make_error_code(errc::invalid_argument);
    }
    if (!is_safe_field_value(host) || !is_safe_field_value(default_user_agent)) {
        diag.set_client_message("the Host or User-Agent value holds CR, LF or NUL");
        return make_error_code(errc::invalid_argument);
    }
    const std::size_t start = out.size();
    out.reserve(start + 64 + target.size() + host.size() + default_user_agent.size());
    const std::string_view method_name = boost::beast::http::to_string(method);
    out.append(method_name.data(), method_name.size()).append(1, ' ').append(target).append(" HTTP/1.1\r\nHost: ");
    out.append(host).append("\r\n");
    bool has_user_agent = false;
    for (const auto& f : headers) {
        const field name = f.name();
        if (name == field::host || name == field::content_length || name == field::transfer_encoding ||
            name == field::connection)
            continue;
        const std::string_view name_text = f.name_string();
        const std::string_view value = f.value();
        if (!is_token(name_text) || !is_safe_field_value(value)) {
            out.resize(start);
            diag.set_client_message(is_token(name_text)
                                        ? "the value of the request header '" + std::string(name_text) +
                                              "' holds CR, LF or NUL"
                                        : "a request header name is not a valid HTTP token");
            return make_error_code(errc::invalid_argument);
        }
        has_user_agent = has_user_agent || name == field::user_agent;
        out.append(name_text).append(": ").append(value).append("\r\n");
    }
    if (!has_user_agent && !default_user_agent.empty())
        out.append("User-Agent: ").append(default_user_agent).append("\r\n");
    if (needs_content_length(method, body_size)) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, body_size).ptr;
        out.append("Content-Length: ").append(digits, static_cast<std::size_t>(end - digits)).append("\r\n");
    }
    out.append("\r\n");
    return {};
}

} // namespace takeoff::http::detail
