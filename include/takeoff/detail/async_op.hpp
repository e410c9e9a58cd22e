#pragma once
// How every public async_* operation of the library is built: the work is an asio::awaitable run
// by co_spawn, started through async_initiate so that any completion token works (deferred by
// default, as_tuple, use_future, callbacks, use_awaitable). The wrapper adds what the coroutine
// itself cannot: the caller's cancellation slot forwarded into the coroutine, a whole-operation
// deadline reported as errc::request_timeout, and the completion delivered on the caller's
// associated executor.
//
// The coroutine runs on a strand of its own, so that operations may be started from any thread
// and the timers they own never race with them, unless the executor is already serialised: a
// strand, or an io_context made for one thread (concurrency hint 1, or a hint that turns the
// scheduler's locking off). A strand costs about a quarter of the CPU time of a small request on
// keep-alive (bench/http_rps), so `asio::io_context io{1};` is the way to tell the library that
// one thread runs it.
//
// co_spawn is never handed the caller's token directly: on Boost 1.81 `co_spawn(..., deferred)`
// with a non-void result does not compile (chriskohlhoff/asio#1205).

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <new>
#include <system_error>
#include <utility>

namespace takeoff::detail {

namespace asio = boost::asio;

/// The result every internal coroutine produces: an error code and a value.
template <class T>
struct op_result {
    boost::system::error_code ec;
    T value{};
};

// Shared between the deadline timer, the caller's cancellation slot and the completion.
struct op_state {
    explicit op_state(const asio::any_io_executor& executor) : timer(executor) {}
    asio::cancellation_signal signal;
    asio::steady_timer timer;
    bool deadline_passed = false;
};

inline boost::system::error_code error_from_exception(const std::exception_ptr& e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
        return se.code();
    } catch (const std::bad_alloc&) {
        return make_error_code(boost::system::errc::not_enough_memory);
    } catch (...) {
        return make_error_code(boost::system::errc::state_not_recoverable);
    }
}

/// True when handlers given to executor can never run concurrently: a strand, or an io_context
/// whose concurrency hint promises a single thread.
inline bool is_serialised(const asio::any_io_executor& executor) {
    if (executor.target<asio::strand<asio::io_context::executor_type>>() != nullptr ||
        executor.target<asio::strand<asio::any_io_executor>>() != nullptr)
        return true;
#if !defined(BOOST_ASIO_HAS_IOCP)
    if (const auto* io = executor.target<asio::io_context::executor_type>()) {
        const int hint = asio::use_service<asio::detail::scheduler>(io->context()).concurrency_hint();
        return hint == 1 || !BOOST_ASIO_CONCURRENCY_HINT_IS_LOCKING(SCHEDULER, hint);
    }
#endif
    return false;
}

/// The executor an operation's coroutine runs on (see the file comment).
inline asio::any_io_executor operation_executor(const asio::any_io_executor& executor) {
    if (is_serialised(executor)) return executor;
    return asio::make_strand(executor);
}

/// Starts `make()` (returning asio::awaitable<op_result<T>>) and completes token with
/// void(error_code, T). A zero deadline means none. Supported cancellation: terminal, partial and
/// total are all forwarded into the coroutine; any of them ends the operation with
/// operation_aborted (request_timeout when it was the deadline).
template <class T, class Factory, class CompletionToken>
auto async_run(asio::any_io_executor executor, std::chrono::steady_clock::duration deadline, Factory make,
               CompletionToken&& token) {
    auto initiation = [executor, deadline](auto handler, Factory factory) {
        const asio::any_io_executor ex = operation_executor(executor);
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto handler_executor = asio::get_associated_executor(handler, executor);

        // With a deadline: our own signal, fed by the caller's slot and by the deadline timer.
        // Without: co_spawn forwards the caller's slot itself (hopping onto ex).
        std::shared_ptr<op_state> state;
        if (deadline > std::chrono::steady_clock::duration::zero()) {
            state = std::make_shared<op_state>(ex);
            if (slot.is_connected()) {
                // The caller may cancel from its own executor: hop onto the operation's first.
                slot.assign([state, ex](asio::cancellation_type type) {
                    asio::dispatch(ex, [state, type] { state->signal.emit(type); });
                });
            }
            state->timer.expires_after(deadline);
            state->timer.async_wait([weak = std::weak_ptr<op_state>(state)](boost::system::error_code ec) {
                auto s = weak.lock();
                if (ec || !s) return;
                s->deadline_passed = true;
                s->signal.emit(asio::cancellation_type::terminal);
            });
        }

        auto completion = [handler = std::move(handler), state, slot](std::exception_ptr e,
                                                                      op_result<T> result) mutable {
            if (state) state->timer.cancel();
            if (slot.is_connected()) slot.clear();
            if (e) result.ec = error_from_exception(e);
            if (state && state->deadline_passed && result.ec == asio::error::operation_aborted)
                result.ec = make_error_code(errc::request_timeout);
            std::move(handler)(result.ec, std::move(result.value));
        };
        asio::co_spawn(ex, factory(),
                       asio::bind_cancellation_slot(state ? state->signal.slot() : slot,
                                                    asio::bind_executor(handler_executor, std::move(completion))));
    };
    return asio::async_initiate<CompletionToken, void(boost::system::error_code, T)>(std::move(initiation), token,
                                                                                     std::move(make));
}

} // namespace takeoff::detail
