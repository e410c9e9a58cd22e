#pragma once
// with_diagnostics: the completion token adapter behind the library's default token (Boost.MySQL's
// model). It turns a completion void(error_code, T...) into void(std::exception_ptr, T...), the
// exception being a takeoff::error that carries the failed operation's diagnostics, so that
// `co_await client.async_request(req)` throws an error that says what went wrong (our message, the
// HTTP status, the server's words, the request id) instead of a bare system_error. The error_code
// forms (as_tuple(deferred), redirect_error, a callback taking an error_code) are unchanged: they do
// not go through this adapter.
//
// The default token is with_diagnostics(use_awaitable), not with_diagnostics(deferred) as in
// Boost.MySQL: Boost 1.81's asio::awaitable cannot await a deferred operation whose completion is
// void(std::exception_ptr, T) (impl/awaitable.hpp dereferences a struct there; fixed in later
// Boost), while use_awaitable's own handler takes it. So a call without a token is an
// asio::awaitable<T> to co_await in an asio::awaitable coroutine; any other use passes a token.
//
// How the diagnostics get there: the adapter's handler owns a diagnostics object, and the
// library's operations (detail/async_op.hpp) write into it when the caller passed none of its
// own (and copy the caller's into it when it did). An operation of someone else's given this
// token throws a takeoff::error with empty diagnostics.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace takeoff {

/// Adapts a completion token: see the file comment.
template <class CompletionToken>
struct with_diagnostics_t {
    CompletionToken token;
};

/// Adapts token so that failures arrive as a takeoff::error with the operation's diagnostics.
template <class CompletionToken>
constexpr with_diagnostics_t<std::decay_t<CompletionToken>> with_diagnostics(CompletionToken&& token) {
    return {std::forward<CompletionToken>(token)};
}

/// The library's default completion token: the call is an asio::awaitable<T> whose failure throws
/// takeoff::error with the operation's diagnostics (see the file comment).
using default_token = with_diagnostics_t<boost::asio::use_awaitable_t<>>;

namespace detail {

/// The handler with_diagnostics gives an operation: holds the diagnostics the operation fills.
template <class Handler>
class diagnostics_handler {
public:
    explicit diagnostics_handler(Handler handler)
        : handler_(std::move(handler)), own_(std::make_unique<diagnostics>()), target_(own_.get()) {}

    /// Where the operation writes its diagnostics when the caller gave none (stable across moves).
    diagnostics* own_diagnostics() noexcept { return own_.get(); }
    /// The caller's own diagnostics, which the exception is then made from.
    void use_diagnostics(diagnostics* caller) noexcept { target_ = caller; }

    template <class... Args>
    void operator()(const boost::system::error_code& ec, Args&&... args) {
        std::exception_ptr failure;
        if (ec) failure = std::make_exception_ptr(error(ec, *target_));
        own_.reset();
        std::move(handler_)(std::move(failure), std::forward<Args>(args)...);
    }

    Handler handler_; // public for the associator below

private:
    std::unique_ptr<diagnostics> own_;
    diagnostics* target_;
};

template <class T>
struct is_diagnostics_handler : std::false_type {};
template <class Handler>
struct is_diagnostics_handler<diagnostics_handler<Handler>> : std::true_type {};

// Gives the wrapped initiation a diagnostics_handler around the token's handler.
template <class Initiation>
struct diagnostics_initiation {
    Initiation initiation;

    template <class Handler, class... Args>
    void operator()(Handler&& handler, Args&&... args) {
        std::move(initiation)(diagnostics_handler<std::decay_t<Handler>>(std::forward<Handler>(handler)),
                              std::forward<Args>(args)...);
    }
};

template <class Signature>
struct with_diagnostics_signature {
    using type = Signature;
};
template <class... Args>
struct with_diagnostics_signature<void(boost::system::error_code, Args...)> {
    using type = void(std::exception_ptr, Args...);
};

} // namespace detail
} // namespace takeoff

namespace boost::asio {

template <class CompletionToken, class Signature>
struct async_result<takeoff::with_diagnostics_t<CompletionToken>, Signature>
    : async_result<CompletionToken, typename takeoff::detail::with_diagnostics_signature<Signature>::type> {
    using base = async_result<CompletionToken, typename takeoff::detail::with_diagnostics_signature<Signature>::type>;
    static_assert(!std::is_same_v<Signature, typename takeoff::detail::with_diagnostics_signature<Signature>::type>,
                  "with_diagnostics adapts completions of the form void(error_code, T...)");

    template <class Initiation, class RawToken, class... Args>
    static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args) {
        return base::initiate(
            takeoff::detail::diagnostics_initiation<std::decay_t<Initiation>>{std::forward<Initiation>(initiation)},
            std::forward<RawToken>(token).token, std::forward<Args>(args)...);
    }
};

// The default token: an awaitable that awaits the operation with an as_tuple handler (which Boost
// 1.81 supports for any completion) and rethrows.
template <class Executor, class T>
struct async_result<takeoff::with_diagnostics_t<use_awaitable_t<Executor>>, void(boost::system::error_code, T)> {
    using return_type = awaitable<T, Executor>;

    template <class Initiation, class RawToken, class... Args>
    static return_type initiate(Initiation initiation, RawToken&&, Args... args) {
        using wrapped = takeoff::detail::diagnostics_initiation<Initiation>;
        auto operation = async_initiate<const as_tuple_t<use_awaitable_t<Executor>>&, void(std::exception_ptr, T)>(
            wrapped{std::move(initiation)}, as_tuple(use_awaitable_t<Executor>()), std::move(args)...);
        auto [failure, value] = co_await std::move(operation);
        if (failure) std::rethrow_exception(failure);
        co_return std::move(value);
    }
};

template <template <typename, typename> class Associator, class Handler, class DefaultCandidate>
struct associator<Associator, takeoff::detail::diagnostics_handler<Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const takeoff::detail::diagnostics_handler<Handler>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler_);
    }
    static auto get(const takeoff::detail::diagnostics_handler<Handler>& h, const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler_, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler_, c);
    }
};

} // namespace boost::asio
