#pragma once
// How every public async_* operation of the library is built: the work is an asio::awaitable run
// by co_spawn on a strand of its own, started through async_initiate so that any completion token
// works (deferred by default, as_tuple, use_future, callbacks, use_awaitable). The wrapper adds
// what the coroutine itself cannot: the caller's cancellation slot forwarded into the coroutine, a
// whole-operation deadline reported as errc::request_timeout, and the completion delivered on the
// caller's associated executor.
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
    explicit op_state(const asio::strand<asio::any_io_executor>& strand) : timer(strand) {}
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

/// Starts `make()` (returning asio::awaitable<op_result<T>>) and completes token with
/// void(error_code, T). A zero deadline means none. Supported cancellation: terminal, partial and
/// total are all forwarded into the coroutine; any of them ends the operation with
/// operation_aborted (request_timeout when it was the deadline).
template <class T, class Factory, class CompletionToken>
auto async_run(asio::any_io_executor executor, std::chrono::steady_clock::duration deadline, Factory make,
               CompletionToken&& token) {
    auto initiation = [executor, deadline](auto handler, Factory factory) {
        auto strand = asio::make_strand(executor);
        auto state = std::make_shared<op_state>(strand);

        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            // The caller may cancel from its own executor: hop onto the operation's strand first.
            slot.assign([state, strand](asio::cancellation_type type) {
                asio::dispatch(strand, [state, type] { state->signal.emit(type); });
            });
        }
        if (deadline > std::chrono::steady_clock::duration::zero()) {
            state->timer.expires_after(deadline);
            state->timer.async_wait([weak = std::weak_ptr<op_state>(state)](boost::system::error_code ec) {
                auto s = weak.lock();
                if (ec || !s) return;
                s->deadline_passed = true;
                s->signal.emit(asio::cancellation_type::terminal);
            });
        }

        auto handler_executor = asio::get_associated_executor(handler, executor);
        auto completion = [handler = std::move(handler), state, slot](std::exception_ptr e,
                                                                      op_result<T> result) mutable {
            state->timer.cancel();
            if (slot.is_connected()) slot.clear();
            if (e) result.ec = error_from_exception(e);
            if (state->deadline_passed && result.ec == asio::error::operation_aborted)
                result.ec = make_error_code(errc::request_timeout);
            std::move(handler)(result.ec, std::move(result.value));
        };
        asio::co_spawn(strand, factory(),
                       asio::bind_cancellation_slot(state->signal.slot(),
                                                    asio::bind_executor(handler_executor, std::move(completion))));
    };
    return asio::async_initiate<CompletionToken, void(boost::system::error_code, T)>(std::move(initiation), token,
                                                                                     std::move(make));
}

} // namespace takeoff::detail
