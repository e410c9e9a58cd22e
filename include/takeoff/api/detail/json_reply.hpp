#pragma once
// Helpers the request types share to read their JSON replies (sans-io). Every failure is
// errc::invalid_response with "the <route> reply ..." in diagnostics (detail::bad_reply), so a
// caller can tell a server that answered something unexpected from one that could not be reached.

#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace takeoff::api::detail {

/// The reply parsed as a JSON object; invalid_json or invalid_response otherwise.
inline boost::system::result<boost::json::object> parse_object_reply(std::string_view body, std::string_view what,
                                                                     diagnostics& diag) {
    auto reply = parse_reply(body, what, diag);
    if (!reply) return reply.error();
    auto* obj = reply->if_object();
    if (!obj) return bad_reply(diag, what, "is not a JSON object");
    return std::move(*obj);
}

/// A required string member of `obj` (named `name` in messages, e.g. "'model_name' of reader r1").
inline boost::system::result<std::string> string_member(const boost::json::object& obj, std::string_view key,
                                                        std::string_view what, diagnostics& diag,
                                                        std::string_view where = {}) {
    const auto* v = obj.if_contains(key);
    const std::string suffix = where.empty() ? std::string() : " " + std::string(where);
    if (!v) return bad_reply(diag, what, "has no '" + std::string(key) + "'" + suffix);
    if (!v->is_string()) return bad_reply(diag, what, "has a '" + std::string(key) + "'" + suffix + " that is not a string");
    return std::string(v->get_string());
}

/// An optional string member: absent or null give nullopt, another type is an error.
inline boost::system::result<std::optional<std::string>> optional_string_member(const boost::json::object& obj,
                                                                               std::string_view key,
                                                                               std::string_view what,
                                                                               diagnostics& diag,
                                                                               std::string_view where = {}) {
    const auto* v = obj.if_contains(key);
    if (!v || v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) {
        const std::string suffix = where.empty() ? std::string() : " " + std::string(where);
        return bad_reply(diag, what, "has a '" + std::string(key) + "'" + suffix + " that is not a string");
    }
    return std::optional<std::string>(std::string(v->get_string()));
}

/// A JSON integer that fits in int64 (a whole double too, as some servers write 3.0).
inline std::optional<std::int64_t> integer(const boost::json::value& v) noexcept {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(v.get_uint64());
    if (v.is_double()) {
        const double d = v.get_double();
        if (d >= -9.2e18 && d <= 9.2e18 && static_cast<double>(static_cast<std::int64_t>(d)) == d)
            return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

/// The strings as a JSON array.
inline boost::json::array string_array(const std::vector<std::string>& texts) {
    boost::json::array a;
    a.reserve(texts.size());
    for (const auto& t : texts) a.emplace_back(t);
    return a;
}

/// One vector of numbers: a flat array, or an array holding exactly one such array (what a server
/// that treats every input as a batch sends back).
template <class Number>
boost::system::result<std::vector<Number>> single_vector(const boost::json::value& v, std::string_view what,
                                                         std::string_view key, diagnostics& diag) {
    if (auto flat = number_vector<Number>(v)) return std::move(*flat);
    if (const auto* arr = v.if_array(); arr && arr->size() == 1)
        if (auto inner = number_vector<Number>((*arr)[0])) return std::move(*inner);
    return bad_reply(diag, what, "has a '" + std::string(key) + "' that is not one array of numbers");
}

/// One vector of numbers per input: an array of `expected` arrays of numbers.
template <class Number>
boost::system::result<std::vector<std::vector<Number>>> vector_batch(const boost::json::value& v, std::size_t expected,
                                                                     std::string_view what, std::string_view key,
                                                                     std::string_view unit, diagnostics& diag) {
    const auto* arr = v.if_array();
    if (!arr) return bad_reply(diag, what, "has a '" + std::string(key) + "' that is not an array (a batch was sent)");
    if (arr->size() != expected)
        return bad_reply(diag, what,
                         "has " + std::to_string(arr->size()) + " results for " + std::to_string(expected) + " " +
                             std::string(unit));
    std::vector<std::vector<Number>> out;
    out.reserve(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
        auto one = number_vector<Number>((*arr)[i]);
        if (!one) return bad_reply(diag, what, "has a result " + std::to_string(i) + " that is not an array of numbers");
        out.push_back(std::move(*one));
    }
    return out;
}

/// `route` followed by the reader id as one percent-encoded path segment.
inline std::string reader_path(std::string_view route, const reader_id& id) {
    return std::string(route) + encode_segment(id.str());
}

/// errc::invalid_argument: a request addressed to a reader with an empty id would address the
/// route itself.
inline boost::system::error_code empty_reader_id(diagnostics& diag, std::string_view route) {
    diag.set_client_message("the " + std::string(route) + " request has an empty reader id");
    return make_error_code(errc::invalid_argument);
}

} // namespace takeoff::api::detail
