#pragma once
// The HTTP messages of takeoff-emulator: the request and response types handlers see, interim (1xx)
// responses, helpers that build responses (make_response, make_json_response, json_quote), and
// recorded_request, the log entry tests assert on.

#include <takeoff/core/config.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace beast = boost::beast;
namespace http = boost::beast::http;

/// The request a handler receives (the whole body is read before the handler runs).
using http_request = http::request<http::string_body>;
/// The response type handlers send with exchange::async_respond.
using http_response = http::response<http::string_body>;

/// Header fields as name/value pairs, written in this order and exactly as given.
using field_list = std::vector<std::pair<std::string, std::string>>;

/// 103 Early Hints (RFC 8297), which Beast 1.81's http::status has no enumerator for.
inline constexpr http::status early_hints = static_cast<http::status>(103);

/// An interim (1xx) response: a status and its fields, never a body (RFC 9110 §15.2). Converts
/// from a bare status, so `{http::status::continue_, {emulator::early_hints, {{"Link", "..."}}}}`
/// is a list of two.
struct interim_response {
    http::status status;
    field_list fields;

    interim_response(http::status interim_status, field_list interim_fields = {}) // NOLINT: implicit on purpose
        : status(interim_status), fields(std::move(interim_fields)) {}
};

/// One request as the server received it, for assertions in tests.
struct recorded_request {
    std::uint64_t connection_id = 0; ///< 1 for the first accepted connection, 2 for the next, ...
    std::string method;
    std::string target;
    unsigned version = 11; ///< 11 for HTTP/1.1, 10 for HTTP/1.0
    std::vector<std::pair<std::string, std::string>> headers; ///< in received order, names as sent
    std::string body;
    /// True when the server answered `Expect: 100-continue` with `100 Continue` before reading the
    /// body (server_options::expect_continue); false when the request did not ask or it was ignored.
    bool sent_continue = false;
    /// The SNI host name the client sent in its TLS ClientHello; empty without SNI or over plain HTTP.
    std::string tls_server_name;

    /// The first header with this name (case-insensitive), if any.
    std::optional<std::string> header(std::string_view name) const
    {
        for (const auto& [field_name, value] : headers)
            if (beast::iequals(field_name, name))
                return value;
        return std::nullopt;
    }
};

/// Makes a response with a body and Content-Type (Content-Length is added when it is sent).
inline http_response make_response(http::status status, std::string body, std::string_view content_type = "text/plain")
{
    http_response response{status, 11};
    response.set(http::field::content_type, content_type);
    response.body() = std::move(body);
    return response;
}

/// Makes an application/json response; `json` is sent as given.
inline http_response make_json_response(http::status status, std::string json)
{
    return make_response(status, std::move(json), "application/json");
}

/// Quotes text as a JSON string literal (for error messages built by hand).
inline std::string json_quote(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                out += "\\u00";
                out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
                out += hex[static_cast<unsigned char>(c) & 0xf];
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

} // namespace takeoff::emulator
