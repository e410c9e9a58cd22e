#pragma once
// detail::task<T>: the coroutine type of the library's own operations (see async_op.hpp, which
// starts them). It is asio::awaitable cut down to what the library needs: co_spawn of an
// asio::awaitable cost a small request on a pooled connection a fifth of its instructions
// (bench/http_rps: 17,500 with it, 13,800 with this), since co_spawn posts before it starts, runs an
// entry-point coroutine with two work guards and dispatches the result, and every awaited
// operation goes through a frame of its own and the awaitable thread's pump. Here:
//
// - a task awaits another task by symmetric transfer (no scheduler round trip);
// - it awaits an Asio operation made with asio::deferred (or as_tuple(deferred)) directly: the
//   operation gets a handler that resumes the task, bound to the operation's executor and
//   cancellation slot (one that completes inside its initiating call lets the task go on without
//   suspending); co_await gives its completion arguments (one as itself, several as a tuple);
// - frames come from a small per-thread cache (frame_cache), not from malloc each time;
// - an operation of one top-level task (its "context") carries the executor everything runs on and
//   the cancellation signal, if the operation can be cancelled. A cancellation that arrives
//   between two awaited operations is remembered: the next awaited operation completes at once
//   with asio::error::operation_aborted (its other arguments value-initialised) without starting.
//
// `co_await this_task::executor` gives the operation's executor. Exceptions propagate to the
// awaiting task as with ordinary functions. When Asio destroys a pending handler without calling it
// (an io_context destroyed with work outstanding) the whole operation, frames included, is
// destroyed with it.

#include <takeoff/core/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace takeoff::detail {

namespace asio = boost::asio;

#ifndef TAKEOFF_FRAME_CACHE_DISABLED
#if defined(__SANITIZE_ADDRESS__)
#define TAKEOFF_FRAME_CACHE_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAKEOFF_FRAME_CACHE_DISABLED 1
#endif
#endif
#endif
#ifndef TAKEOFF_FRAME_CACHE_DISABLED
#define TAKEOFF_FRAME_CACHE_DISABLED 0
#endif

/// Blocks for coroutine frames and operation states, kept per thread for reuse: sizes are rounded
/// up to a multiple of 128 bytes, up to four blocks of each size up to 4 KiB are kept. Under
/// AddressSanitizer every block goes straight to operator new and delete, so that a use after free
/// is still caught.
class frame_cache {
public:
    static void* allocate(std::size_t size) {
#if !TAKEOFF_FRAME_CACHE_DISABLED
        const std::size_t c = size_class(size);
        if (c < classes && !destroyed()) {
            slot& s = local().slots_[c];
            if (s.count > 0) return s.blocks[--s.count];
            return ::operator new(c * granule);
        }
#endif
        return ::operator new(size);
    }

    static void deallocate(void* block, [[maybe_unused]] std::size_t size) noexcept {
#if !TAKEOFF_FRAME_CACHE_DISABLED
        const std::size_t c = size_class(size);
        if (c < classes && !destroyed()) {
            slot& s = local().slots_[c];
            if (s.count < depth) {
                s.blocks[s.count++] = block;
                return;
            }
        }
#endif
        ::operator delete(block);
    }

    frame_cache() = default;
    frame_cache(const frame_cache&) = delete;
    frame_cache& operator=(const frame_cache&) = delete;
    ~frame_cache() {
        destroyed() = true; // frames freed later on this thread go straight to operator delete
        for (auto& s : slots_)
            while (s.count > 0) ::operator delete(s.blocks[--s.count]);
    }

private:
    static constexpr std::size_t granule = 128;
    static constexpr std::size_t classes = 33; // class c holds blocks of c * 128 bytes, up to 4 KiB
    static constexpr std::size_t depth = 4;

    struct slot {
        std::array<void*, depth> blocks{};
        std::size_t count = 0;
    };

    static constexpr std::size_t size_class(std::size_t size) noexcept { return (size + granule - 1) / granule; }

    static frame_cache& local() {
        static thread_local frame_cache cache;
        return cache;
    }
    static bool& destroyed() noexcept {
        static thread_local bool flag = false; // constant-initialised: valid during thread exit
        return flag;
    }

    std::array<slot, classes> slots_{};
};

/// A base for objects allocated from the frame cache.
struct frame_allocated {
    static void* operator new(std::size_t size) { return frame_cache::allocate(size); }
    static void operator delete(void* block, std::size_t size) noexcept { frame_cache::deallocate(block, size); }
};

/// Cancellation of one operation: the signal its awaited Asio operations are bound to, whether it
/// was emitted (a cancellation between two awaited operations is not lost), and whether the
/// operation has had effects that cancelling cannot undo.
///
/// Asio's cancellation types, as the library honours them: terminal and partial always end the
/// operation (the connection in use is closed; the client stays usable, which is what partial
/// promises); total ("as if it never started") only until the operation has had effects
/// (this_task::side_effects: a request written, body bytes consumed), after which a total-only
/// cancellation is ignored, because it could no longer be honoured.
struct task_cancellation {
    asio::cancellation_signal signal;
    bool cancelled = false;
    bool side_effects = false;

    void cancel(asio::cancellation_type type) {
        using ct = asio::cancellation_type;
        if ((type & (ct::terminal | ct::partial)) == ct::none && (side_effects || (type & ct::total) == ct::none))
            return;
        cancelled = true;
        // Every accepted type ends the operation the same way: the connection in use is closed.
        signal.emit(ct::terminal);
    }
};

/// What runs an operation's top-level task (async_op.hpp's root_operation).
class task_owner {
public:
    /// The top-level task has returned (its result is in its promise). May destroy the owner.
    virtual void finish() = 0;
    /// A pending handler of the operation was destroyed uncalled (its io_context is going away):
    /// destroys the owner, the tasks with it.
    virtual void abandon() noexcept = 0;

protected:
    ~task_owner() = default;
};

/// What the tasks of one operation share.
struct task_context {
    asio::any_io_executor executor;           // where the operation runs (its strand, if it has one)
    task_cancellation* cancellation = nullptr; // null when nothing can cancel the operation
    task_owner* owner = nullptr;

    asio::cancellation_slot slot() const noexcept {
        return cancellation ? cancellation->signal.slot() : asio::cancellation_slot();
    }
    bool cancelled() const noexcept { return cancellation && cancellation->cancelled; }
};

template <class T>
class task;

namespace this_task {
/// `co_await this_task::executor` in a task: the operation's executor.
struct executor_t {};
inline constexpr executor_t executor{};
/// `co_await this_task::side_effects` in a task: from now on the operation has had effects that
/// a cancellation cannot undo (see task_cancellation).
struct side_effects_t {};
inline constexpr side_effects_t side_effects{};
} // namespace this_task

template <class Signature>
struct completion_of;
template <class... Args>
struct completion_of<void(Args...)> {
    using type = std::conditional_t<sizeof...(Args) == 1, std::decay_t<std::tuple_element_t<0, std::tuple<Args..., void>>>,
                                    std::tuple<std::decay_t<Args>...>>;
};

template <class Op>
struct deferred_signature {};
template <class Signature, class Initiation, class... InitArgs>
struct deferred_signature<asio::deferred_async_operation<Signature, Initiation, InitArgs...>> {
    using type = Signature;
};

// What an awaited operation gives when the operation was cancelled before it could start.
template <class R>
R aborted_result() {
    if constexpr (std::is_same_v<R, boost::system::error_code>) {
        return asio::error::operation_aborted;
    } else {
        static_assert(std::is_same_v<std::decay_t<std::tuple_element_t<0, R>>, boost::system::error_code>,
                      "a task awaits operations whose first completion argument is an error_code");
        R r{};
        std::get<0>(r) = asio::error::operation_aborted;
        return r;
    }
}

template <class Op, class Result>
class async_awaiter;

// The handler given to an awaited Asio operation: stores the completion and resumes the task.
template <class Awaiter>
class resume_handler {
public:
    using executor_type = asio::any_io_executor;
    using cancellation_slot_type = asio::cancellation_slot;

    explicit resume_handler(Awaiter* awaiter) noexcept : awaiter_(awaiter) {}
    resume_handler(resume_handler&& other) noexcept : awaiter_(std::exchange(other.awaiter_, nullptr)) {}
    resume_handler& operator=(resume_handler&&) = delete;
    ~resume_handler() {
        // Destroyed without being called once the operation started: the io_context is going away.
        if (awaiter_ && awaiter_->started_) awaiter_->context_->owner->abandon();
    }

    executor_type get_executor() const noexcept { return awaiter_->context_->executor; }
    cancellation_slot_type get_cancellation_slot() const noexcept { return awaiter_->context_->slot(); }

    template <class... Args>
    void operator()(Args&&... args) {
        Awaiter* awaiter = std::exchange(awaiter_, nullptr);
        awaiter->result_.emplace(std::forward<Args>(args)...);
        // Called inside the initiating call (a composed operation done at once): the task is not
        // suspended yet; await_suspend sees the result and does not suspend.
        if (awaiter->started_) awaiter->waiting_.resume();
    }

private:
    Awaiter* awaiter_;
};

template <class Op, class Result>
class async_awaiter {
public:
    template <class O>
    async_awaiter(O&& op, task_context* context) : op_(std::forward<O>(op)), context_(context) {}

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> waiting) {
        if (context_->cancelled()) {
            result_.emplace(aborted_result<Result>());
            return false;
        }
        waiting_ = waiting;
        std::move(op_)(resume_handler<async_awaiter>(this));
        // The handler ran already only if the operation called it inside its initiating call.
        // Otherwise it cannot run before this returns: it runs on the operation's executor, which
        // runs this code now and is serialised (see async_op.hpp).
        if (result_) return false;
        started_ = true;
        return true;
    }
    Result await_resume() { return std::move(*result_); }

private:
    friend class resume_handler<async_awaiter>;
    Op op_;
    task_context* context_;
    std::coroutine_handle<> waiting_;
    std::optional<Result> result_;
    bool started_ = false;
};

struct promise_base : frame_allocated {
    task_context* context = nullptr;
    std::coroutine_handle<> continuation; // the awaiting task; null for the top-level one
    std::exception_ptr exception;

    std::suspend_always initial_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) const noexcept {
            promise_base& p = done.promise();
            if (p.continuation) return p.continuation;
            p.context->owner->finish(); // may destroy this frame: nothing touches it after
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    template <class U>
    auto await_transform(task<U>&& child) noexcept;

    auto await_transform(this_task::executor_t) const noexcept {
        struct ready {
            const asio::any_io_executor& executor;
            bool await_ready() const noexcept { return true; }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            const asio::any_io_executor& await_resume() const noexcept { return executor; }
        };
        return ready{context->executor};
    }

    std::suspend_never await_transform(this_task::side_effects_t) const noexcept {
        if (context->cancellation) context->cancellation->side_effects = true;
        return {};
    }

    template <class Op, class Signature = typename deferred_signature<std::decay_t<Op>>::type>
    auto await_transform(Op&& op) {
        using result = typename completion_of<Signature>::type;
        return async_awaiter<std::decay_t<Op>, result>(std::forward<Op>(op), context);
    }
};

/// A lazily started coroutine producing a T; see the file comment.
template <class T>
class [[nodiscard]] task {
    static_assert(!std::is_void_v<T> && !std::is_reference_v<T>, "a task produces a value");

public:
    struct promise_type : promise_base {
        std::optional<T> value;
        task get_return_object() noexcept { return task(std::coroutine_handle<promise_type>::from_promise(*this)); }
        template <class U>
        void return_value(U&& v) {
            value.emplace(std::forward<U>(v));
        }
    };

    task(task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~task() {
        if (handle_) handle_.destroy();
    }

    /// For the code that runs a top-level task (async_op.hpp).
    promise_type& promise() const noexcept { return handle_.promise(); }
    std::coroutine_handle<promise_type> handle() const noexcept { return handle_; }

    /// The result of a finished task (rethrows what it threw).
    T take_result() {
        auto& p = handle_.promise();
        if (p.exception) std::rethrow_exception(p.exception);
        return std::move(*p.value);
    }

private:
    explicit task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
    std::coroutine_handle<promise_type> handle_;
};

template <class U>
auto promise_base::await_transform(task<U>&& child) noexcept {
    struct awaiter {
        task<U> child;
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> waiting) noexcept {
            child.promise().continuation = waiting;
            return child.handle();
        }
        U await_resume() { return child.take_result(); }
    };
    child.promise().context = context;
    return awaiter{std::move(child)};
}

} // namespace takeoff::detail
