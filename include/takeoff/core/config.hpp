#pragma once
// Version, Boost floor and feature detection shared by every header.

#include <boost/version.hpp>

#define TAKEOFF_VERSION_MAJOR 0
#define TAKEOFF_VERSION_MINOR 1
#define TAKEOFF_VERSION_PATCH 0
#define TAKEOFF_VERSION_STRING "0.1.0"

static_assert(BOOST_VERSION >= 108100, "takeoff-cpp needs Boost 1.81 or newer");

#if __cplusplus < 202002L
#error "takeoff-cpp needs C++20 (compile with -std=c++20)"
#endif

namespace takeoff {

/// The library version as written in TAKEOFF_VERSION_STRING.
inline constexpr const char* version_string = TAKEOFF_VERSION_STRING;

} // namespace takeoff
