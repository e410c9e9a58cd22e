#pragma once
// The request a caller hands to the transport and the buffered response it gets back.

#include <takeoff/core/config.hpp>
#include <takeoff/http/fields.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/url/url.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace takeoff::http {

/// An HTTP request: method, absolute http(s) URL, extra headers and an already encoded body.
/// Host, Content-Length, Transfer-Encoding and Connection are set by the transport (such headers
/// given here are ignored); User-Agent is the client's unless given here.
struct request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    boost::urls::url url;
    http::fields headers;
    std::string body;

    /// A GET of url.
    static request get(boost::urls::url url) { return request{boost::beast::http::verb::get, std::move(url), {}, {}}; }

    /// A POST of body with the given Content-Type.
    static request post(boost::urls::url url, std::string body, std::string_view content_type) {
        request r{boost::beast::http::verb::post, std::move(url), {}, std::move(body)};
        r.headers.set(boost::beast::http::field::content_type, content_type);
        return r;
    }
};

/// A complete response with its body in memory.
struct response {
    unsigned status = 0;
    http::fields headers;
    std::string body;

    /// The Content-Type without parameters, lowercased ("application/json").
    std::string media_type() const;
};

namespace detail {
inline std::string media_type_of(std::string_view content_type) {
    std::string out(trim_ows(content_type.substr(0, content_type.find(';'))));
    for (char& c : out) c = ascii_lower(c);
    return out;
}
} // namespace detail

inline std::string response::media_type() const {
    auto it = headers.find(boost::beast::http::field::content_type);
    return it == headers.end() ? std::string() : detail::media_type_of(it->value);
}

} // namespace takeoff::http
