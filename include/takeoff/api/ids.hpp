#pragma once
// consumer_group and reader_id: two kinds of names Takeoff uses that are easy to mix up (the
// Python client's own tests call tokenize(reader_id, text) with the arguments swapped). A consumer
// group picks the readers a generate/embed/classify request goes to (in the body); a reader id
// names one reader (in the path of tokenize, detokenize, chat_template, config, delete). Distinct
// types: one is never accepted where the other belongs.

#include <takeoff/core/config.hpp>

#include <compare>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::api {

/// The name of a group of readers ("primary"); requests name it in their body.
class consumer_group {
public:
    /// The group the server uses when a request names none.
    static consumer_group primary() { return consumer_group("primary"); }

    /// An empty name (what an operation that failed completes with).
    consumer_group() = default;
    explicit consumer_group(std::string name) : name_(std::move(name)) {}
    explicit consumer_group(std::string_view name) : name_(name) {}
    explicit consumer_group(const char* name) : name_(name) {}

    const std::string& str() const noexcept { return name_; }
    friend auto operator<=>(const consumer_group&, const consumer_group&) = default;
    friend std::ostream& operator<<(std::ostream& os, const consumer_group& g) { return os << g.name_; }

private:
    std::string name_;
};

/// The id of one reader (a key of live_readers in /status, or reader_id in /reader_groups);
/// requests that address one reader carry it in their path.
class reader_id {
public:
    /// An empty id (what an operation that failed completes with).
    reader_id() = default;
    explicit reader_id(std::string id) : id_(std::move(id)) {}
    explicit reader_id(std::string_view id) : id_(id) {}
    explicit reader_id(const char* id) : id_(id) {}

    const std::string& str() const noexcept { return id_; }
    friend auto operator<=>(const reader_id&, const reader_id&) = default;
    friend std::ostream& operator<<(std::ostream& os, const reader_id& r) { return os << r.id_; }

private:
    std::string id_;
};

} // namespace takeoff::api
