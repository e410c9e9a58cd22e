#pragma once
// Checks a request makes of itself before it is sent. A request type whose fields can break a rule
// the type system cannot express (an empty reader id, a reader config without a model name) has
//     boost::system::error_code validate(diagnostics&) const;
// and the client calls it through api::validate(r, diag) before anything goes on the wire.

#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>

#include <boost/system/error_code.hpp>

#include <concepts>

namespace takeoff::api {

/// A request that checks its own fields before it is sent.
template <class R>
concept validated_request = request<R> && requires(const R& r, diagnostics& diag) {
    { r.validate(diag) } -> std::same_as<boost::system::error_code>;
};

/// r.validate(diag) for a validated_request; success for any other request (its types already
/// enforce its rules).
template <request R>
boost::system::error_code validate(const R& r, diagnostics& diag) {
    if constexpr (validated_request<R>)
        return r.validate(diag);
    else
        return {};
}

} // namespace takeoff::api
