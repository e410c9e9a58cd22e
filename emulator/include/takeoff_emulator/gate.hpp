#pragma once
// takeoff::emulator::gate — an async condition that handlers wait on and tests open from any
// thread (the server's hold gate), so "many callers wait, then all are released" needs no sleep.

#include <takeoff/core/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>

namespace takeoff::emulator {

namespace asio = boost::asio;

/// An async condition for handlers: async_wait() completes once the gate is open (at once if it
/// already is). open()/close() may be called from any thread; async_wait() runs on the server's
/// thread. A server stop cancels every waiter.
class gate {
public:
    explicit gate(const asio::any_io_executor& executor)
        : timer_(executor, asio::steady_timer::time_point::max()) {}

    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;

    /// Lets current and future waiters through until close() is called.
    void open()
    {
        open_.store(true);
        // The timer is a condition variable: cancelling it wakes every waiter (on the server thread).
        asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
    }

    /// Makes later waiters wait again.
    void close() noexcept { open_.store(false); }

    bool is_open() const noexcept { return open_.load(); }

    /// Waits until the gate is open; throws operation_aborted if the server stops first.
    asio::awaitable<void> async_wait()
    {
        while (!open_.load()) {
            auto result = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
            (void)result; // woken by open() or by cancellation; the loop and the check below decide
            asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
            if (state.cancelled() != asio::cancellation_type::none)
                throw boost::system::system_error(asio::error::operation_aborted);
        }
    }

private:
    std::atomic<bool> open_{false};
    asio::steady_timer timer_;
};

} // namespace takeoff::emulator
