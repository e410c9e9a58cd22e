#pragma once
// What every Takeoff request type provides, and how one becomes an http::request (sans-io).
//
// A request type R knows at compile time:
//   static constexpr api_kind api;                  which API (and so which base URL) it goes to
//   static constexpr boost::beast::http::verb method;
//   std::string path() const;                        the path under the base URL, percent-encoded
//   std::string body() const;                        the JSON body ("" for a GET or DELETE)
// and either (buffered_request)
//   using response_type = ...;
//   result<response_type> parse_response(const http::response&, diagnostics&) const;
// or (streaming_request, answered with text/event-stream)
//   using event_type = ...;
//   result<event_step<event_type>> parse_event(const sse::event&, diagnostics&) const;
// (members, so that a reply can be checked against the request: a batch's size, say).
//
// A streaming request is not a buffered one: awaiting it as buffered does not compile.

#include <takeoff/api/base_url.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/sse/event.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace takeoff::api {

/// What one server-sent event means to a stream: an event for the caller, nothing (a comment or
/// an event of a type the API does not define: skipped), or the end marker (OpenAI's [DONE]).
template <class Event>
struct event_step {
    std::optional<Event> event;
    bool end = false;
};

/// What every request type has (see the file comment).
template <class R>
concept request = requires(const R& r) {
    { R::api } -> std::convertible_to<api_kind>;
    { R::method } -> std::convertible_to<boost::beast::http::verb>;
    { r.path() } -> std::convertible_to<std::string>;
    { r.body() } -> std::convertible_to<std::string>;
};

/// A request answered by one JSON (or empty) body, parsed into R::response_type.
template <class R>
concept buffered_request = request<R> && requires(const R& r, const http::response& resp, diagnostics& diag) {
    typename R::response_type;
    { r.parse_response(resp, diag) } -> std::same_as<boost::system::result<typename R::response_type>>;
};

/// A request answered by a text/event-stream of R::event_type events.
template <class R>
concept streaming_request = request<R> && requires(const R& r, const sse::event& ev, diagnostics& diag) {
    typename R::event_type;
    { r.parse_event(ev, diag) } -> std::same_as<boost::system::result<event_step<typename R::event_type>>>;
};

/// The http::request for `r` sent to `base`, which must be the base URL of r's API (another API's
/// base URL does not compile). JSON bodies get `Content-Type: application/json`; streaming
/// requests ask for `Accept: text/event-stream`.
template <request R>
http::request to_http_request(const base_url<R::api>& base, const R& r) {
    http::request out;
    out.method = R::method;
    out.url = base.join(r.path());
    out.body = r.body();
    if (!out.body.empty()) out.headers.set(boost::beast::http::field::content_type, "application/json");
    if constexpr (streaming_request<R>)
        out.headers.set(boost::beast::http::field::accept, "text/event-stream");
    else
        out.headers.set(boost::beast::http::field::accept, "application/json");
    return out;
}

namespace detail {

/// A path segment percent-encoded (an id in a path may hold any character).
inline std::string encode_segment(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

/// errc::invalid_response with "the <what> reply <why>" in diag.
inline boost::system::error_code bad_reply(diagnostics& diag, std::string_view what, std::string_view why) {
    diag.set_client_message("the " + std::string(what) + " reply " + std::string(why));
    return make_error_code(errc::invalid_response);
}

/// The body parsed as JSON; errc::invalid_json (with the parser's reason) otherwise. `what` names
/// the route in the message ("/generate").
inline boost::system::result<boost::json::value> parse_reply(std::string_view body, std::string_view what,
                                                             diagnostics& diag) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec) {
        diag.set_client_message("the " + std::string(what) + " reply is not JSON: " + ec.message());
        if (!body.empty()) diag.set_server_message(body.substr(0, 200));
        return make_error_code(errc::invalid_json);
    }
    return v;
}

/// The reply's top-level object member `key`; errc::invalid_response naming it otherwise.
inline boost::system::result<const boost::json::value*> member(const boost::json::value& reply, std::string_view key,
                                                                std::string_view what, diagnostics& diag) {
    const auto* obj = reply.if_object();
    if (!obj) return bad_reply(diag, what, "is not a JSON object");
    const auto* v = obj->if_contains(key);
    if (!v) return bad_reply(diag, what, "has no '" + std::string(key) + "'");
    return v;
}

/// A JSON number as a double (integers included).
inline std::optional<double> number(const boost::json::value& v) noexcept {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    return std::nullopt;
}

/// A JSON array of numbers as floats; nullopt when it is anything else.
template <class Float>
std::optional<std::vector<Float>> number_vector(const boost::json::value& v) {
    const auto* arr = v.if_array();
    if (!arr) return std::nullopt;
    std::vector<Float> out;
    out.reserve(arr->size());
    for (const auto& x : *arr) {
        auto n = number(x);
        if (!n) return std::nullopt;
        out.push_back(static_cast<Float>(*n));
    }
    return out;
}

} // namespace detail

} // namespace takeoff::api
