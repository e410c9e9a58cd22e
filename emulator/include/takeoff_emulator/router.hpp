#pragma once
// takeoff::emulator::router — which handler answers a request: routes by method (or any method)
// and by exact path or longest path prefix, changeable while the server runs; also the handler
// type itself.

#include <takeoff/core/config.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace asio = boost::asio;
namespace http = boost::beast::http;

class exchange;

/// A route handler: a coroutine run on the server's thread for one request. The server keeps the
/// handler object alive while the coroutine runs, so lambdas with captures are safe.
using handler = std::function<asio::awaitable<void>(exchange&)>;

/// How a route's path is compared with the request's path (the target without its query).
enum class path_match {
    exact,  ///< the whole path must be equal
    prefix, ///< the path must start with the route's path (plain string prefix); longest wins
};

/// Maps method + path to handlers. Thread-safe: routes may be added, replaced or removed while the
/// server runs. Adding a route with the same method, path and match kind replaces the old one.
class router {
public:
    /// What a lookup found: the handler, or whether the path exists under other methods (405).
    struct match_result {
        std::shared_ptr<const handler> target;
        bool path_known = false;
        std::string allowed_methods; ///< for the Allow header of a 405
    };

    /// Adds (or replaces) a route for one method.
    void add(http::verb method, std::string path, handler function, path_match match = path_match::exact)
    {
        insert(std::optional<http::verb>(method), std::move(path), std::move(function), match);
    }

    /// Adds (or replaces) a route that accepts every method.
    void add_any_method(std::string path, handler function, path_match match = path_match::exact)
    {
        insert(std::nullopt, std::move(path), std::move(function), match);
    }

    /// Removes a route; returns whether one was removed.
    bool remove(std::optional<http::verb> method, std::string_view path, path_match match = path_match::exact)
    {
        std::lock_guard lock(mutex_);
        const auto before = routes_.size();
        std::erase_if(routes_, [&](const route& r) { return r.method == method && r.path == path && r.match == match; });
        return routes_.size() != before;
    }

    /// Finds the handler for a request: exact paths first, then the longest matching prefix.
    match_result find(http::verb method, std::string_view path) const
    {
        std::lock_guard lock(mutex_);
        match_result result;
        const route* best = nullptr;
        for (const route& r : routes_) {
            if (!matches(r, path))
                continue;
            result.path_known = true;
            if (r.method && *r.method != method) {
                const auto name = http::to_string(*r.method);
                if (!result.allowed_methods.empty())
                    result.allowed_methods += ", ";
                result.allowed_methods.append(name.data(), name.size());
                continue;
            }
            if (!best || better(r, *best))
                best = &r;
        }
        if (best)
            result.target = best->function;
        return result;
    }

private:
    struct route {
        std::optional<http::verb> method;
        std::string path;
        path_match match;
        std::shared_ptr<const handler> function;
    };

    static bool matches(const route& r, std::string_view path)
    {
        return r.match == path_match::exact ? path == r.path : path.substr(0, r.path.size()) == r.path;
    }

    // Exact beats prefix; a longer prefix beats a shorter one; a method-specific route beats "any".
    static bool better(const route& a, const route& b)
    {
        if (a.match != b.match)
            return a.match == path_match::exact;
        if (a.path.size() != b.path.size())
            return a.path.size() > b.path.size();
        return a.method.has_value() && !b.method.has_value();
    }

    void insert(std::optional<http::verb> method, std::string path, handler function, path_match match)
    {
        if (!function)
            throw std::invalid_argument("takeoff-emulator: empty route handler");
        auto shared = std::make_shared<const handler>(std::move(function));
        std::lock_guard lock(mutex_);
        std::erase_if(routes_, [&](const route& r) { return r.method == method && r.path == path && r.match == match; });
        routes_.push_back(route{method, std::move(path), match, std::move(shared)});
    }

    mutable std::mutex mutex_;
    std::vector<route> routes_;
};

} // namespace takeoff::emulator
