#pragma once
// Shared by the api/ unit tests: replies and events made from literals.
#include <takeoff/http/message.hpp>
#include <takeoff/sse/event.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace api_test {

/// A response with `body` and `status`.
inline takeoff::http::response reply(std::string body, unsigned status = 200) {
    takeoff::http::response r;
    r.status = status;
    r.headers.set(boost::beast::http::field::content_type, "application/json");
    r.body = std::move(body);
    return r;
}

/// `text` parsed (the expected side of a body comparison).
inline boost::json::value json(std::string_view text) { return boost::json::parse(text); }

/// A dispatched event of the default type with `data`.
inline takeoff::sse::event message(std::string_view data) { return takeoff::sse::event{"message", data, ""}; }

} // namespace api_test
