// detail::task and detail::async_run (takeoff/detail/task.hpp, async_op.hpp): the coroutine type and
// the wrapper every public async_* operation is built on. Timers and posted handlers only, no socket.

#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using takeoff::detail::async_run;
using takeoff::detail::op_result;
using takeoff::detail::task;
namespace this_task = takeoff::detail::this_task;
using error_code = boost::system::error_code;

namespace {

constexpr auto as_values = asio::as_tuple(asio::deferred);

task<int> add_after(int a, int b, std::chrono::milliseconds delay) {
    asio::steady_timer timer(co_await this_task::executor, delay);
    auto [ec] = co_await timer.async_wait(as_values);
    if (ec) throw boost::system::system_error(ec);
    co_return a + b;
}

task<op_result<std::string>> nested() {
    const int x = co_await add_after(1, 2, 0ms);
    const int y = co_await add_after(x, 10, 1ms);
    co_return op_result<std::string>{{}, std::to_string(y)};
}

task<op_result<int>> throws_after_a_wait() {
    co_await add_after(0, 0, 0ms);
    throw boost::system::system_error(make_error_code(boost::system::errc::invalid_argument));
}

task<op_result<int>> waits_an_hour() {
    const int n = co_await add_after(0, 1, std::chrono::hours(1));
    co_return op_result<int>{{}, n};
}

// Completes with error_code{} through a post, after posting `first` (so `first` runs before the
// awaiting task resumes) and without registering for cancellation.
template <class F, class Token>
auto async_post_after(asio::any_io_executor ex, F first, Token&& token) {
    return asio::async_initiate<Token, void(error_code)>(
        [ex](auto handler, F f) {
            asio::post(ex, std::move(f));
            auto handler_ex = asio::get_associated_executor(handler, ex);
            asio::post(handler_ex, [h = std::move(handler)]() mutable { std::move(h)(error_code{}); });
        },
        token, std::move(first));
}

// The signal is emitted while the first operation's completion is queued (that operation registered
// nothing to cancel): the second must not start, or the task would wait an hour.
task<op_result<int>> cancelled_in_between(asio::cancellation_signal& signal) {
    auto [first] = co_await async_post_after(
        co_await this_task::executor, [&signal] { signal.emit(asio::cancellation_type::partial); }, as_values);
    CHECK_FALSE(first);
    asio::steady_timer timer(co_await this_task::executor, std::chrono::hours(1));
    auto [second] = co_await timer.async_wait(as_values);
    co_return op_result<int>{second, 0};
}

// Completes inside its initiating function, as a composed operation may: the handler runs before
// async_initiate returns. Multiples of 3 fail. `frame`: where on the stack the initiation ran.
template <class Token>
auto async_done_inline(int n, const void*& frame, Token&& token) {
    return asio::async_initiate<Token, void(error_code, int)>(
        [&frame](auto handler, int i) {
            frame = __builtin_frame_address(0);
            if (i % 3 == 0)
                std::move(handler)(make_error_code(asio::error::invalid_argument), -i);
            else
                std::move(handler)(error_code{}, 2 * i);
        },
        token, n);
}

struct inline_tally {
    long sum = 0;     // of the values of the successes
    long failed = 0;  // failures with invalid_argument and -i
    int nested = 0;   // initiations that ran at another stack depth than the one before them
    int waits = 0;    // asynchronous waits in between
};

// Awaits n operations done inline, with a timer wait (a completion from the io_context) every 500,
// the last ones inline (the task ends right after one). A task resumed inside the initiating call
// would run each next initiation deeper in the stack, and end while the calls below still run.
task<op_result<inline_tally>> awaits_inline_completions(int n) {
    inline_tally t;
    const void* previous = nullptr;
    for (int i = 0; i < n; ++i) {
        const void* frame = nullptr;
        auto [ec, v] = co_await async_done_inline(i, frame, as_values);
        if (previous && frame != previous) ++t.nested;
        previous = frame;
        if (!ec)
            t.sum += v;
        else if (ec == asio::error::invalid_argument && v == -i)
            t.failed += 1;
        if (i % 500 == 250) {
            co_await add_after(0, 0, 0ms);
            ++t.waits;
            previous = nullptr; // resumed from the io_context's loop: another stack depth
        }
    }
    co_return op_result<inline_tally>{{}, t};
}

// Counts destructions: shows that frames are destroyed.
struct tracked {
    std::shared_ptr<int> destroyed;
    ~tracked() {
        if (destroyed) ++*destroyed;
    }
};

task<op_result<int>> at_once() { co_return op_result<int>{{}, 7}; }

task<op_result<int>> holds_then_waits(std::shared_ptr<int> destroyed) {
    tracked in_frame{std::move(destroyed)};
    co_return co_await waits_an_hour();
}

task<op_result<bool>> runs_on_its_strand() {
    const auto& own = co_await this_task::executor;
    co_await add_after(0, 0, 1ms);
    const auto* strand = own.target<asio::strand<asio::any_io_executor>>();
    co_return op_result<bool>{{}, strand != nullptr && strand->running_in_this_thread()};
}

} // namespace

// Factories call coroutine functions: a lambda that is itself a coroutine would leave its frame
// referring to the lambda, which async_run does not keep.

TEST_CASE("async_run: nested tasks and Asio operations, with the result on the caller's handler") {
    asio::io_context io(1);
    std::optional<std::string> got;
    error_code got_ec = asio::error::would_block;
    async_run<std::string>(io.get_executor(), true, {}, nullptr, [] { return nested(); }, [&](error_code ec, std::string v) {
        got_ec = ec;
        got = std::move(v);
    });
    CHECK_FALSE(got); // not started before the io_context runs
    io.run();
    CHECK_FALSE(got_ec);
    CHECK(got == "13");
}

TEST_CASE("async_run: an exception thrown in a task completes the operation with its error code") {
    asio::io_context io(1);
    error_code got = {};
    bool called = false;
    async_run<int>(io.get_executor(), true, {}, nullptr, [] { return throws_after_a_wait(); }, [&](error_code ec, int) {
        called = true;
        got = ec;
    });
    io.run();
    CHECK(called);
    CHECK(got == boost::system::errc::invalid_argument);
}

TEST_CASE("async_run: a task that finishes without suspending completes after the initiating function returns") {
    asio::io_context io(1);
    bool called = false;
    bool returned = false;
    asio::post(io, [&] {
        // On the io_context's own thread: the task starts in place and is done at once.
        async_run<int>(io.get_executor(), true, {}, nullptr, [] { return at_once(); },
                       [&](error_code ec, int v) {
                           CHECK(returned);
                           CHECK_FALSE(ec);
                           CHECK(v == 7);
                           called = true;
                       });
        CHECK_FALSE(called);
        returned = true;
    });
    io.run();
    CHECK(called);

    // Started later (the io_context was not running the caller) and done at once: dispatched.
    io.restart();
    int calls = 0;
    async_run<int>(io.get_executor(), true, {}, nullptr, [] { return at_once(); }, [&](error_code ec, int v) {
        CHECK_FALSE(ec);
        CHECK(v == 7);
        ++calls;
    });
    CHECK(calls == 0);
    io.run();
    CHECK(calls == 1);
}

TEST_CASE("async_run: a cancellation between two awaited operations is not lost") {
    asio::io_context io(1);
    asio::cancellation_signal signal;
    error_code got = {};
    async_run<int>(io.get_executor(), true, {}, nullptr, [&signal] { return cancelled_in_between(signal); },
                   asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, int) { got = ec; }));
    io.run_for(10s);
    CHECK(io.stopped());
    CHECK(got == asio::error::operation_aborted);
}

TEST_CASE("async_run: a cancellation while an operation is pending ends it; the deadline gives request_timeout") {
    for (const bool with_deadline : {false, true}) {
        CAPTURE(with_deadline);
        asio::io_context io(1);
        asio::cancellation_signal signal;
        error_code got = {};
        async_run<int>(io.get_executor(), true, with_deadline ? std::chrono::steady_clock::duration(20ms) : 0ms, nullptr,
                       [] { return waits_an_hour(); },
                       asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, int) { got = ec; }));
        if (!with_deadline) asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
        io.run_for(10s);
        CHECK(io.stopped());
        // The task turned the aborted wait into an exception; the wrapper turned it back.
        if (with_deadline)
            CHECK(got == takeoff::errc::request_timeout);
        else
            CHECK(got == asio::error::operation_aborted);
    }
}

TEST_CASE("async_run: an awaited operation that completes inside its initiating call gives its results and the "
          "task goes on without resuming inside it") {
    constexpr int n = 3000;
    long sum = 0;
    for (int i = 0; i < n; ++i)
        if (i % 3 != 0) sum += 2 * i;
    auto check = [&](const inline_tally& t) {
        CHECK(t.sum == sum);
        CHECK(t.failed == n / 3);
        CHECK(t.nested == 0);
        CHECK(t.waits == n / 500);
    };

    // A serialised io_context; the task started in place (start(true)) and started later.
    for (const bool in_place : {false, true}) {
        CAPTURE(in_place);
        asio::io_context io(1);
        int calls = 0;
        auto run = [&] {
            async_run<inline_tally>(io.get_executor(), true, {}, nullptr, [] { return awaits_inline_completions(n); },
                                    [&](error_code ec, inline_tally t) {
                                        CHECK_FALSE(ec);
                                        check(t);
                                        ++calls;
                                    });
        };
        if (in_place)
            asio::post(io, run);
        else
            run();
        io.run();
        CHECK(calls == 1);
    }

    // On its own strand of a thread pool.
    asio::thread_pool pool(2);
    auto done = async_run<inline_tally>(asio::any_io_executor(pool.get_executor()), false, {}, nullptr,
                                        [] { return awaits_inline_completions(n); }, asio::use_future);
    check(done.get());
    pool.join();
}

TEST_CASE("async_run: destroying the io_context with an operation pending destroys its frames and handler") {
    auto destroyed = std::make_shared<int>(0);
    auto handler_state = std::make_shared<int>(0);
    bool called = false;
    {
        asio::io_context io(1);
        async_run<int>(io.get_executor(), true, {}, nullptr, [destroyed] { return holds_then_waits(destroyed); },
                       [&called, handler_state](error_code, int) { called = true; });
        CHECK(handler_state.use_count() == 2);
        io.poll(); // started: suspended in the timer's wait
        CHECK(*destroyed == 0);
    }
    CHECK(*destroyed == 1);
    CHECK(handler_state.use_count() == 1);
    CHECK_FALSE(called);
}

TEST_CASE("async_run: an operation never started (its io_context destroyed first) is destroyed too") {
    auto handler_state = std::make_shared<int>(0);
    {
        asio::io_context io(1);
        async_run<int>(io.get_executor(), true, {}, nullptr, [] { return waits_an_hour(); },
                       [handler_state](error_code, int) {});
        CHECK(handler_state.use_count() == 2);
    }
    CHECK(handler_state.use_count() == 1);
}

TEST_CASE("async_run: on an executor that is not serialised, tasks run on a strand; use_future from another thread") {
    asio::thread_pool pool(2);
    auto ex = asio::any_io_executor(pool.get_executor());
    auto work = [] { return runs_on_its_strand(); };
    auto a = async_run<bool>(ex, false, {}, nullptr, work, asio::use_future);
    auto b = async_run<bool>(ex, false, {}, nullptr, work, asio::use_future);
    CHECK(a.get());
    CHECK(b.get());
    pool.join();
}

TEST_CASE("async_run works with co_await from an asio::awaitable (the deferred default token)") {
    asio::io_context io(1);
    std::string got;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto [ec, v] = co_await async_run<std::string>(io.get_executor(), true, {}, nullptr, [] { return nested(); },
                                                         asio::as_tuple(asio::deferred));
            CHECK_FALSE(ec);
            got = v;
        },
        asio::detached);
    io.run();
    CHECK(got == "13");
}

TEST_CASE("frame_cache: a freed block is reused for the next frame of its size class") {
    using takeoff::detail::frame_cache;
    void* a = frame_cache::allocate(300);
    frame_cache::deallocate(a, 300);
    void* b = frame_cache::allocate(270); // the same 384-byte class
#if TAKEOFF_FRAME_CACHE_DISABLED
    MESSAGE("the frame cache is off under AddressSanitizer");
#else
    CHECK(a == b);
#endif
    frame_cache::deallocate(b, 270);
    void* big = frame_cache::allocate(64 * 1024); // above the cached sizes: operator new
    CHECK(big != nullptr);
    frame_cache::deallocate(big, 64 * 1024);
}
