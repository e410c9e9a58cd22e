#pragma once
// Reading compact JWTs (RFC 7519, JWS compact serialisation of RFC 7515 section 7.1) without
// verifying them: splitting header.payload.signature, decoding the header and payload as JSON
// objects, and the `exp` claim as a time. A client reads the expiry of a token the server gave it
// (the SPCS ingress token from the key-pair exchange) to know when to get another one; it has no
// key to verify it with, and the server checks it anyway. Also the signing input of a JWT this
// library signs (snowflake/keypair.hpp).
//
// Nothing here prints or keeps the token: messages name the rule that was broken, never the text.

#include <takeoff/core/base64.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace takeoff {

/// The three base64url segments of a compact JWT, still encoded (views into the token's text).
struct jwt_segments {
    std::string_view header;
    std::string_view payload;
    std::string_view signature;
};

/// Splits a compact JWT at its two dots. Fails with errc::invalid_argument (diag says which rule)
/// unless there are exactly three segments, the header and payload are non-empty and every segment
/// uses only the base64url alphabet (an unsecured JWT's empty signature is allowed here; nothing in
/// this file verifies signatures).
inline boost::system::result<jwt_segments> split_jwt(std::string_view compact, diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](const char* message) -> boost::system::result<jwt_segments> {
        diag.set_client_message(message);
        return make_error_code(errc::invalid_argument);
    };
    const std::size_t first = compact.find('.');
    const std::size_t second = first == std::string_view::npos ? first : compact.find('.', first + 1);
    if (second == std::string_view::npos || compact.find('.', second + 1) != std::string_view::npos)
        return fail("a JWT has three segments separated by '.'");
    jwt_segments out{compact.substr(0, first), compact.substr(first + 1, second - first - 1),
                     compact.substr(second + 1)};
    if (out.header.empty() || out.payload.empty()) return fail("a JWT's header and payload are not empty");
    for (char c : compact)
        if (c != '.' && detail::base64_value(c, true) < 0)
            return fail("a JWT's segments are unpadded base64url");
    return out;
}

namespace detail {

// Decodes one segment and parses it as a JSON object; `what` names the segment in messages.
inline boost::system::result<boost::json::object> decode_jwt_json(std::string_view segment, const char* what,
                                                                  diagnostics& diag) {
    auto fail = [&](const char* rule) -> boost::system::result<boost::json::object> {
        diag.set_client_message(std::string("the JWT's ") + what + rule);
        return make_error_code(errc::invalid_argument);
    };
    auto text = base64url_decode(segment);
    if (!text) return fail(" is not valid base64url");
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(boost::json::string_view(text->data(), text->size()), ec);
    if (ec) return fail(" is not JSON");
    if (!value.is_object()) return fail(" is not a JSON object");
    return std::move(value.as_object());
}

} // namespace detail

/// The JWT's header (`{"alg":...,"typ":...}`), decoded; errc::invalid_argument with diag otherwise.
inline boost::system::result<boost::json::object> jwt_header(std::string_view compact, diagnostics& diag) {
    auto segments = split_jwt(compact, diag);
    if (!segments) return segments.error();
    return detail::decode_jwt_json(segments->header, "header", diag);
}

/// The JWT's claims, decoded, not verified; errc::invalid_argument with diag otherwise.
inline boost::system::result<boost::json::object> jwt_payload(std::string_view compact, diagnostics& diag) {
    auto segments = split_jwt(compact, diag);
    if (!segments) return segments.error();
    return detail::decode_jwt_json(segments->payload, "payload", diag);
}

/// The `exp` claim (a NumericDate: seconds since the epoch, fractions dropped) as a wall-clock time,
/// or nothing when the text is not a JWT, has no `exp`, or its `exp` is not a number from 0 to the
/// largest time system_clock can hold (with libstdc++'s nanoseconds, 9223372036: the year 2262; a
/// larger value would overflow the conversion). The clock is system_clock, the same as
/// oauth::token_clock.
inline std::optional<std::chrono::system_clock::time_point> jwt_expiry(std::string_view compact) {
    diagnostics ignored;
    auto payload = jwt_payload(compact, ignored);
    if (!payload) return std::nullopt;
    const boost::json::value* exp = payload->if_contains("exp");
    if (!exp) return std::nullopt;
    constexpr double max_seconds = static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count());
    double seconds = 0;
    if (exp->is_int64()) seconds = static_cast<double>(exp->as_int64());
    else if (exp->is_uint64()) seconds = static_cast<double>(exp->as_uint64());
    else if (exp->is_double()) seconds = std::floor(exp->as_double());
    else return std::nullopt;
    if (!(seconds >= 0 && seconds <= max_seconds)) return std::nullopt; // also refuses NaN
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(static_cast<std::int64_t>(seconds)));
}

/// What a JWS signature covers: base64url(header) "." base64url(payload) (RFC 7515 section 5.1).
inline std::string jwt_signing_input(std::string_view header_json, std::string_view payload_json) {
    return base64url_encode(header_json) + '.' + base64url_encode(payload_json);
}

} // namespace takeoff
