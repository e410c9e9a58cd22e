#pragma once
// One timer for the step limits of every connection of a pool (connection.hpp's watch()).
//
// A connection in use is registered with the monitor; each step only stores its deadline (an
// atomic) in the connection's watch_state. The monitor's timer waits for the earliest deadline it
// knows; when it fires it posts, for each connection whose deadline has passed, a call to that
// connection's on_deadline() onto the executor of the operation using it (so a timeout never races
// with the operation), and waits again for the earliest deadline still ahead. A step whose deadline
// is earlier than the one the timer waits for moves the timer forward.
//
// With step limits of seconds and requests of milliseconds the timer fires about once per limit,
// whatever the request rate, instead of one timer wait and one cancellation (itself a completion to
// dispatch) per request: that was a tenth of the client's instructions on small keep-alive requests
// (bench/http_rps). When no step has a deadline any more (between the reads of a body_stream too)
// the timer is cancelled, so that an io_context with nothing else to do returns from run().
//
// Thread safety: the monitor's state is guarded by its mutex, which the pool also uses for its own
// state (it already holds it when it hands connections out and takes them back, which is when they
// are registered and removed); watch() takes it only when the timer must move or the operation's
// executor changed. A step's deadline and the timer's expiry are read across threads with
// sequentially consistent atomics: either a step sees that the timer stopped waiting, or the
// timer's scan sees the step's deadline.

#include <takeoff/core/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

namespace takeoff::http::detail {

namespace asio = boost::asio;

/// What a connection implements to be told that its step's deadline has passed.
class deadline_target {
public:
    /// Runs on the executor of the operation that set the deadline; the deadline may have moved
    /// since (the target checks it again).
    virtual void on_deadline() = 0;

protected:
    ~deadline_target() = default;
};

/// A connection's entry in the monitor: shared with the monitor and with pending notifications,
/// which may outlive the connection.
struct watch_state {
    using clock = std::chrono::steady_clock;
    static constexpr clock::rep none = std::numeric_limits<clock::rep>::max();

    explicit watch_state(deadline_target* t) : target(t) {}

    std::atomic<clock::rep> deadline{none}; // of the current step, in clock ticks; `none`: no limit
    std::atomic<std::uint64_t> generation{0}; // moves on when an operation ends: stale notifications do nothing
    deadline_target* target;
    // Guarded by the pool's mutex:
    asio::any_io_executor executor; // the current operation's, where on_deadline() runs
    clock::rep notified = none;     // the deadline a notification was last posted for
    std::size_t index = npos;       // position in the monitor's list; npos when not registered
    static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
};

class deadline_monitor : public std::enable_shared_from_this<deadline_monitor> {
    using clock = watch_state::clock;

public:
    explicit deadline_monitor(const asio::any_io_executor& executor) : timer_(executor) {}

    deadline_monitor(const deadline_monitor&) = delete;
    deadline_monitor& operator=(const deadline_monitor&) = delete;

    /// Guards the monitor, and the pool's own state.
    std::mutex& mutex() noexcept { return mutex_; }

    /// A connection goes into use. Called with the mutex held.
    void add_locked(const std::shared_ptr<watch_state>& w) {
        if (w->index != watch_state::npos) return;
        w->index = active_.size();
        active_.push_back(w);
    }

    /// A connection is no longer in use: its operation has ended. Called with the mutex held.
    void remove_locked(watch_state& w) {
        set_deadline(w, watch_state::none);
        if (w.index == watch_state::npos) return;
        const std::size_t i = w.index;
        w.index = watch_state::npos; // the executor stays: the next operation most likely has the same
        if (i + 1 != active_.size()) {
            active_[i] = std::move(active_.back());
            active_[i]->index = i;
        }
        active_.pop_back();
    }

    /// Records the deadline of a step of w's operation (watch_state::none: no limit), to be
    /// notified on `executor`. Lock-free unless the timer must move or the executor changed.
    void watch(const std::shared_ptr<watch_state>& w, clock::rep deadline, const asio::any_io_executor& executor) {
        set_deadline(*w, deadline);
        // Read without the lock: the executor is only written by the thread using the connection.
        const bool same_executor = w->executor == executor;
        if (same_executor && w->index != watch_state::npos && deadline >= armed_until()) return;
        std::lock_guard lock(mutex_);
        if (!same_executor) w->executor = executor;
        add_locked(w);
        if (deadline < armed_until()) arm_locked(deadline);
    }

    /// The step of w's operation has ended: no limit until the next one.
    void unwatch(watch_state& w) { set_deadline(w, watch_state::none); }

    /// A connection destroyed while in use (an operation that ended by an exception).
    void remove(watch_state& w) {
        std::lock_guard lock(mutex_);
        remove_locked(w);
    }

    /// Stops the timer for good (the pool is going away).
    void shutdown() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        armed_until_.store(watch_state::none, std::memory_order_relaxed);
        timer_.cancel();
    }

private:
    clock::rep armed_until() const noexcept { return armed_until_.load(std::memory_order_seq_cst); }

    void arm_locked(clock::rep when) {
        if (stopped_) return;
        armed_until_.store(when, std::memory_order_seq_cst);
        timer_.expires_at(clock::time_point(clock::duration(when))); // cancels a pending wait
        timer_.async_wait([self = shared_from_this(), when](boost::system::error_code ec) { self->on_timer(ec, when); });
    }

    void on_timer(boost::system::error_code ec, clock::rep when) {
        std::lock_guard lock(mutex_);
        if (ec || stopped_ || armed_until() != when) return; // moved or cancelled: another wait is in charge
        armed_until_.store(watch_state::none, std::memory_order_seq_cst);
        const clock::rep now = clock::now().time_since_epoch().count();
        clock::rep next = watch_state::none;
        for (const auto& w : active_) {
            const clock::rep deadline = w->deadline.load(std::memory_order_seq_cst);
            if (deadline == watch_state::none) continue;
            if (deadline > now) {
                next = std::min(next, deadline);
                continue;
            }
            if (w->notified == deadline) continue; // told already; its operation is ending
            w->notified = deadline;
            asio::post(w->executor, [w, generation = w->generation.load(std::memory_order_acquire)] {
                if (w->generation.load(std::memory_order_acquire) == generation) w->target->on_deadline();
            });
        }
        if (next != watch_state::none) arm_locked(next);
    }

    // Stores w's deadline and counts the connections with one. When none is left, the timer is
    // stopped by a posted check, unless a step sets a deadline again before it runs (a program
    // that sends one request after another keeps the timer).
    void set_deadline(watch_state& w, clock::rep deadline) {
        const clock::rep previous = w.deadline.exchange(deadline, std::memory_order_seq_cst);
        if (previous == watch_state::none && deadline != watch_state::none) {
            watching_.fetch_add(1, std::memory_order_seq_cst);
        } else if (previous != watch_state::none && deadline == watch_state::none) {
            if (watching_.fetch_sub(1, std::memory_order_seq_cst) == 1 && armed_until() != watch_state::none &&
                !idle_check_posted_.exchange(true, std::memory_order_acq_rel))
                asio::post(timer_.get_executor(), [self = shared_from_this()] { self->on_idle_check(); });
        }
    }

    void on_idle_check() {
        std::lock_guard lock(mutex_);
        idle_check_posted_.store(false, std::memory_order_release);
        if (stopped_ || armed_until() == watch_state::none) return;
        // First say the timer is not waiting, then look: a step that set a deadline meanwhile
        // either sees that (and arms the timer itself, after this) or is seen here.
        armed_until_.store(watch_state::none, std::memory_order_seq_cst);
        if (watching_.load(std::memory_order_seq_cst) == 0) {
            timer_.cancel();
            return;
        }
        clock::rep next = watch_state::none;
        for (const auto& w : active_) next = std::min(next, w->deadline.load(std::memory_order_seq_cst));
        if (next != watch_state::none) arm_locked(next);
        else timer_.cancel();
    }

    std::mutex mutex_;
    asio::steady_timer timer_;
    std::vector<std::shared_ptr<watch_state>> active_;
    std::atomic<clock::rep> armed_until_{watch_state::none}; // when the timer fires; `none`: not armed
    std::atomic<std::size_t> watching_{0};                   // connections whose step has a deadline
    std::atomic<bool> idle_check_posted_{false};
    bool stopped_ = false;
};

} // namespace takeoff::http::detail
