#pragma once
// One message of a conversation, as /chat_template and the OpenAI-compatible chat take it.

#include <takeoff/core/config.hpp>

#include <boost/json/object.hpp>

#include <string>

namespace takeoff::api {

/// A message of a conversation: its role ("system", "user", "assistant", ...) and its text. The
/// role is not checked: models' chat templates define their own.
struct chat_message {
    std::string role;
    std::string content;

    friend bool operator==(const chat_message&, const chat_message&) = default;
};

namespace detail {
/// {"role": ..., "content": ...}
inline boost::json::object to_json_object(const chat_message& m) {
    boost::json::object o;
    o["role"] = m.role;
    o["content"] = m.content;
    return o;
}
} // namespace detail

} // namespace takeoff::api
