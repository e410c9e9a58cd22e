#pragma once
// The response type of a request whose reply carries nothing the caller needs.

#include <takeoff/core/config.hpp>

namespace takeoff::api {

/// What a request completes with when success is all there is to know (DELETE /reader/{id}: any
/// 2xx status, with or without a body).
struct nothing {
    friend constexpr bool operator==(nothing, nothing) noexcept { return true; }
};

} // namespace takeoff::api
