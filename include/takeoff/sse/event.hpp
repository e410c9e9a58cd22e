#pragma once
// One dispatched server-sent event. It is a set of views so that handing an event to the caller
// costs no copy; the parser that produced it owns the bytes (see sse::parser for how long).

#include <takeoff/core/config.hpp>

#include <string_view>

namespace takeoff::sse {

/// A server-sent event as the WHATWG rules dispatch it. The views point into the parser's own
/// buffers, never into the bytes given to parse(), and stay valid until the parser's next
/// parse(), next(), finish() or reset().
struct event {
    /// The `event` field, or "message" when the event had none (or an empty one).
    std::string_view type;
    /// The `data` lines joined by LF, without a trailing LF. May contain NUL bytes.
    std::string_view data;
    /// The last event ID in force at dispatch: it persists across events until an `id` field
    /// changes it, so it may have been set by an earlier event. Empty when there is none.
    std::string_view id;

    friend bool operator==(const event&, const event&) = default;
};

} // namespace takeoff::sse
