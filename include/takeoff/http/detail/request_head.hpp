#pragma once
// The HTTP/1.1 request head (request line and header block), written by the transport itself into
// a connection's reusable buffer: one contiguous block that goes out with the body in a single
// write, without building a Beast message (whose field list allocates per header). Sans-io.
//
// Header names must be tokens and values only VCHAR, obs-text, SP and HTAB (RFC 9110 section 5.5):
// a request breaking that is refused before anything is sent, so that no header can be injected
// (CR, LF), and no server or proxy is left to guess what another control character means.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/http/detail/syntax.hpp>
#include <takeoff/http/fields.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

namespace takeoff::http::detail {

/// True when a header value can be sent as is: no control character other than HTAB, no DEL.
inline bool is_safe_field_value(std::string_view s) noexcept {
    const auto allowed = [](char c) { return field_value_chars[static_cast<unsigned char>(c)]; };
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        // A word without a control character is fine as a whole; one with a control character may
        // only hold tabs, which the bytes tell.
        if (!swar::has_control(swar::load(s.data() + i))) continue;
        for (std::size_t j = i; j < i + 8; ++j)
            if (!allowed(s[j])) return false;
    }
    for (; i < s.size(); ++i)
        if (!allowed(s[i])) return false;
    return true;
}

/// True for a request target in origin form that needs no escaping ("/path?query").
inline bool is_safe_target(std::string_view s) noexcept {
    if (s.empty() || s.front() != '/') return false;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        const std::uint64_t w = swar::load(s.data() + i);
        if (swar::has_less(w, 0x21) || swar::has_byte(w, 0x7f)) return false;
    }
    for (; i < s.size(); ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
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

/// True for the header fields that carry credentials, which are sent only to the origin of a
/// request's URL: Authorization, Proxy-Authorization, Cookie and the SPCS ingress's
/// X-SF-SPCS-Authorization.
inline bool is_credential_field(std::string_view name) noexcept {
    switch (name.size()) {
    case 6: return iequals(name, "cookie");
    case 13: return iequals(name, "authorization");
    case 19: return iequals(name, "proxy-authorization");
    case 23: return iequals(name, "x-sf-spcs-authorization");
    default: return false;
    }
}

/// Appends the head of a request to out: the request line, Host, the caller's headers and then
/// the `extra` ones of this attempt (minus the framing ones: Host, Content-Length,
/// Transfer-Encoding, Connection; minus credential fields when `strip_credentials`), User-Agent
/// when neither gave one, Content-Length when needed, and the empty line. On a header or target
/// that cannot be sent, out is left as it was and errc::invalid_argument is returned, with diag
/// naming it.
inline boost::system::error_code append_request_head(std::string& out, boost::beast::http::verb method,
                                                     std::string_view target, std::string_view host,
                                                     const http::fields& headers, const http::fields& extra,
                                                     bool strip_credentials, std::string_view default_user_agent,
                                                     std::size_t body_size, diagnostics& diag) {
    if (!is_safe_target(target)) {
        diag.set_client_message("the request target cannot be sent (it must start with '/' and hold no spaces or "
                                "control characters)");
        return make_error_code(errc::invalid_argument);
    }
    if (!is_safe_field_value(host) || !is_safe_field_value(default_user_agent)) {
        diag.set_client_message("the Host or User-Agent value holds a control character");
        return make_error_code(errc::invalid_argument);
    }
    // Two passes: check and measure every piece, then copy them into place (one resize; the
    // connection's buffer keeps its capacity, so a request normally allocates nothing here).
    auto left_out = [strip_credentials](std::string_view name) {
        switch (name.size()) { // most names are none of these: their length tells at once
        case 4: return iequals(name, "host");
        case 10: return iequals(name, "connection");
        case 14: return iequals(name, "content-length");
        case 17: return iequals(name, "transfer-encoding");
        default: return strip_credentials && is_credential_field(name);
        }
    };
    const std::string_view method_name = boost::beast::http::to_string(method);
    constexpr std::string_view version_and_host = " HTTP/1.1\r\nHost: ";
    constexpr std::string_view user_agent_name = "User-Agent: ";
    constexpr std::string_view content_length_name = "Content-Length: ";
    std::size_t size = method_name.size() + 1 + target.size() + version_and_host.size() + host.size() + 2 + 2;
    bool has_user_agent = false;
    for (const http::fields* set : {&headers, &extra}) {
        for (const auto [name, value] : *set) {
            if (left_out(name)) continue;
            if (!is_token(name) || !is_safe_field_value(value)) {
                diag.set_client_message(is_token(name) ? "the value of the request header '" + std::string(name) +
                                                             "' holds a control character"
                                                       : "a request header name is not a valid HTTP token");
                return make_error_code(errc::invalid_argument);
            }
            has_user_agent = has_user_agent || (name.size() == 10 && iequals(name, "user-agent"));
            size += name.size() + value.size() + 4;
        }
    }
    const bool add_user_agent = !has_user_agent && !default_user_agent.empty();
    if (add_user_agent) size += user_agent_name.size() + default_user_agent.size() + 2;
    char digits[24];
    std::size_t digit_count = 0;
    if (needs_content_length(method, body_size)) {
        digit_count = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, body_size).ptr - digits);
        size += content_length_name.size() + digit_count + 2;
    }

    const std::size_t start = out.size();
    out.resize(start + size);
    char* p = out.data() + start;
    auto put = [&p](std::string_view piece) {
        std::memcpy(p, piece.data(), piece.size());
        p += piece.size();
    };
    put(method_name);
    *p++ = ' ';
    put(target);
    put(version_and_host);
    put(host);
    put("\r\n");
    for (const http::fields* set : {&headers, &extra}) {
        for (const auto [name, value] : *set) {
            if (left_out(name)) continue;
            put(name);
            put(": ");
            put(value);
            put("\r\n");
        }
    }
    if (add_user_agent) {
        put(user_agent_name);
        put(default_user_agent);
        put("\r\n");
    }
    if (digit_count > 0) {
        put(content_length_name);
        put(std::string_view(digits, digit_count));
        put("\r\n");
    }
    put("\r\n");
    return {};
}

/// As above, with no extra fields and every credential field sent.
inline boost::system::error_code append_request_head(std::string& out, boost::beast::http::verb method,
                                                     std::string_view target, std::string_view host,
                                                     const http::fields& headers, std::string_view default_user_agent,
                                                     std::size_t body_size, diagnostics& diag) {
    static const http::fields none;
    return append_request_head(out, method, target, host, headers, none, false, default_user_agent, body_size, diag);
}

} // namespace takeoff::http::detail
