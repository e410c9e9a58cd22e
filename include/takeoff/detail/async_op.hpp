#pragma once
// How every public async_* operation of the library is built: the work is a detail::task (task.hpp)
// started through async_initiate, so that any completion token works (deferred by default,
// as_tuple, use_future, callbacks, use_awaitable). The wrapper adds what the task itself cannot:
// the caller's cancellation slot forwarded into it, a whole-operation deadline reported as
// errc::request_timeout, and the completion delivered on the caller's associated executor (at once
// when the caller's executor is the one running, as asio::dispatch would; posted when the task
// finished before the initiating function returned).
//
// The task runs on a strand of its own, so that operations may be started from any thread and the
// timers they own never race with them, unless the executor is already serialised: a strand, or
// an executor the user said only one thread runs (http::client_options::single_threaded_executor;
// a strand costs about a quarter of the CPU time of a small request on keep-alive, bench/http_rps).
// On a serialised executor that is running the caller, the task starts inside the initiating
// function; otherwise it is posted to its executor.
//
// Diagnostics: the operation's task gets a diagnostics* to write into: the caller's, or, when the
// completion token is with_diagnostics (the default), the adapter's own, so that the exception it
// throws carries them.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/task.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <system_error>
#include <tuple>
#include <utility>

namespace takeoff::detail {

namespace asio = boost::asio;

/// The result every internal coroutine produces: an error code and a value.
template <class T>
struct op_result {
    boost::system::error_code ec;
    T value{};
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

/// True when handlers given to executor can never run concurrently as far as its type tells: a
/// strand. (An io_context run by one thread is serialised too, but only its user knows that.)
inline bool is_serialised(const asio::any_io_executor& executor) noexcept {
    return executor.target<asio::strand<asio::io_context::executor_type>>() != nullptr ||
           executor.target<asio::strand<asio::any_io_executor>>() != nullptr;
}

/// The executor an operation's task runs on (see the file comment); serialised: is_serialised(executor).
inline asio::any_io_executor operation_executor(const asio::any_io_executor& executor, bool serialised) {
    if (serialised) return executor;
    return asio::make_strand(executor);
}

/// Whether code running now may start an operation on executor in place: the executor's own
/// thread (or strand) is running this code.
inline bool running_in(const asio::any_io_executor& executor) noexcept {
    if (const auto* io = executor.target<asio::io_context::executor_type>()) return io->running_in_this_thread();
    if (const auto* s = executor.target<asio::strand<asio::io_context::executor_type>>())
        return s->running_in_this_thread();
    if (const auto* s = executor.target<asio::strand<asio::any_io_executor>>()) return s->running_in_this_thread();
    return false;
}

// One started operation: the caller's handler, the top-level task, and, when the operation can be
// cancelled (a connected cancellation slot or a deadline), its cancellation state.
template <class T, class Handler, class... Payload>
class root_operation final : public frame_allocated, private task_owner {
public:
    using handler_executor = asio::associated_executor_t<Handler, asio::any_io_executor>;

    // Shared with the caller's cancellation slot and the deadline timer's handler, which may run
    // after the operation is gone (a cancelled wait's handler still runs).
    struct cancellation_state : task_cancellation {
        bool deadline_passed = false;
    };

    template <class Factory, class... Args>
    root_operation(Handler handler, const asio::any_io_executor& client_executor, asio::any_io_executor executor,
                   std::chrono::steady_clock::duration deadline, diagnostics* diag, Factory& make, Args&&... args)
        : handler_(std::move(handler)),
          work_guard_(asio::get_associated_executor(handler_, client_executor)),
          payload_(std::forward<Args>(args)...),
          task_(std::apply(
              [&make, diag = diagnostics_for(handler_, diag)](auto&... p) {
                  if constexpr (std::is_invocable_v<Factory&, diagnostics*, decltype(p)...>)
                      return make(diag, p...);
                  else
                      return make(p...); // a task that reports no diagnostics
              },
              payload_)) {
        context_.executor = std::move(executor);
        context_.owner = this;
        task_.promise().context = &context_;

        slot_ = asio::get_associated_cancellation_slot(handler_);
        const bool timed = deadline > std::chrono::steady_clock::duration::zero();
        if (!timed && !slot_.is_connected()) return;
        cancellation_ = std::make_shared<cancellation_state>();
        context_.cancellation = cancellation_.get();
        if (slot_.is_connected()) {
            // The caller may cancel from its own executor: hop onto the operation's first.
            slot_.assign([state = cancellation_, executor = context_.executor](asio::cancellation_type type) {
                asio::dispatch(executor, [state, type] { state->cancel(type); });
            });
        }
        if (timed) {
            deadline_timer_.emplace(context_.executor, deadline);
            deadline_timer_->async_wait([weak = std::weak_ptr<cancellation_state>(cancellation_)](
                                                boost::system::error_code ec) {
                auto state = weak.lock();
                if (ec || !state) return;
                state->deadline_passed = true;
                state->cancel(asio::cancellation_type::terminal);
            });
        }
    }

    root_operation(const root_operation&) = delete;
    root_operation& operator=(const root_operation&) = delete;

    /// The executor the task runs on.
    const asio::any_io_executor& executor() const noexcept { return context_.executor; }

    /// Runs the task until its first suspension. `in_initiation`: the caller's initiating function
    /// is still on the stack, so a completion without suspension must be posted, not dispatched.
    void start(bool in_initiation) {
        bool finished = false;
        finished_ = &finished;
        in_initiation_ = in_initiation;
        task_.handle().resume();
        if (finished) return; // this object is gone
        finished_ = nullptr;
        in_initiation_ = false;
    }

    // Owns a started-later operation until it starts (a post that never runs destroys it).
    struct starter {
        root_operation* op;
        explicit starter(root_operation* o) noexcept : op(o) {}
        starter(starter&& other) noexcept : op(std::exchange(other.op, nullptr)) {}
        starter& operator=(starter&&) = delete;
        ~starter() {
            if (op) op->abandon();
        }
        void operator()() { std::exchange(op, nullptr)->start(false); }
    };

private:
    // The diagnostics the task writes into: the caller's, else the with_diagnostics adapter's own.
    static diagnostics* diagnostics_for(Handler& handler, diagnostics* caller) noexcept {
        if constexpr (is_diagnostics_handler<Handler>::value) {
            if (caller) {
                handler.use_diagnostics(caller);
                return caller;
            }
            return handler.own_diagnostics();
        } else {
            return caller;
        }
    }

    void finish() override {
        op_result<T> result;
        try {
            result = task_.take_result();
        } catch (...) {
            result.ec = error_from_exception(std::current_exception());
        }
        if (auto& state = cancellation_) {
            if (state->deadline_passed && result.ec == asio::error::operation_aborted)
                result.ec = make_error_code(errc::request_timeout);
            // A cancellation still on its way (posted by the caller's slot) finds nothing to cancel.
            state->signal.slot().clear();
        }
        if (slot_.is_connected()) slot_.clear();
        auto work_guard = std::move(work_guard_); // the handler's executor, kept busy until it runs
        const handler_executor ex = work_guard.get_executor();
        auto complete = [handler = std::move(handler_), ec = result.ec, value = std::move(result.value)]() mutable {
            std::move(handler)(ec, std::move(value));
        };
        bool* const finished = finished_;
        const bool in_initiation = in_initiation_;
        delete this; // frames freed before the handler runs (and may start the next operation)
        if (finished) *finished = true;
        if (in_initiation) {
            asio::post(ex, std::move(complete));
        } else if constexpr (std::is_same_v<handler_executor, asio::any_io_executor>) {
            if (running_in(ex))
                complete(); // what dispatch would do, without its type-erased call
            else
                asio::dispatch(ex, std::move(complete));
        } else {
            asio::dispatch(ex, std::move(complete));
        }
    }

    // Asio destroyed a pending handler without calling it: the caller's handler goes too, uncalled.
    void abandon() noexcept override { delete this; }

    Handler handler_;
    asio::executor_work_guard<handler_executor> work_guard_;
    asio::cancellation_slot slot_;
    std::shared_ptr<cancellation_state> cancellation_;
    std::optional<asio::steady_timer> deadline_timer_; // destroyed with the operation: its wait ends
    task_context context_;
    std::tuple<Payload...> payload_; // what the task works on, by reference: outlives it
    task<op_result<T>> task_;
    bool* finished_ = nullptr;  // set to true by finish() while start() runs the task
    bool in_initiation_ = false; // start() was called by the initiating function
};

/// Starts `make(diag, args...)` (or `make(args...)`, for a task that reports no diagnostics),
/// which returns task<op_result<T>>, and completes token with void(error_code, T). `diag` is the
/// caller's diagnostics, or, when the token is with_diagnostics
/// and the caller gave none, the adapter's (null otherwise). The args are moved (or copied) into
/// the operation, which keeps them until it completes: make gets lvalue references to them, and
/// the task may keep those references (a request is not moved again into a coroutine frame). make
/// itself is called once, in the initiating function, and is not kept: it must call a coroutine
/// function, not be a coroutine lambda itself (whose frame would refer to the lambda's captures).
/// `serialised`: handlers on executor never run concurrently (see the file comment). A zero
/// deadline means none. Cancellation: see task_cancellation (terminal and partial end the
/// operation with operation_aborted, request_timeout when it was the deadline; total only until
/// the operation has had side effects). The task starts at once when the caller already runs on
/// the operation's executor, otherwise it is posted there.
template <class T, class Factory, class CompletionToken, class... Args>
auto async_run(const asio::any_io_executor& executor, bool serialised, std::chrono::steady_clock::duration deadline,
               diagnostics* diag, Factory make, CompletionToken&& token, Args&&... args) {
    auto initiation = [executor, serialised, deadline, diag](auto handler, Factory factory, auto&&... payload) {
        using operation = root_operation<T, decltype(handler), std::decay_t<decltype(payload)>...>;
        asio::any_io_executor ex = operation_executor(executor, serialised);
        const bool here = serialised && running_in(ex);
        auto* op = new operation(std::move(handler), executor, std::move(ex), deadline, diag, factory,
                                 std::forward<decltype(payload)>(payload)...);
        if (here)
            op->start(true);
        else
            asio::post(op->executor(), typename operation::starter(op));
    };
    return asio::async_initiate<CompletionToken, void(boost::system::error_code, T)>(
        std::move(initiation), token, std::move(make), std::forward<Args>(args)...);
}

} // namespace takeoff::detail
