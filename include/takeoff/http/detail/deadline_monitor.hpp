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
//
// A notice runs on the operation's executor, but the operation may end, and its connection be
// destroyed, on another thread (a body_stream dropped by its owner). So a notice checks that its
// operation is still the current one and calls on_deadline() under the entry's own mutex, and the
// end of an operation waits for a notice in that section. The end takes the mutex only when a
// notice is on its way (a counter); otherwise its ordering with the timer's scan makes any later
// notice see that the operation has ended (see unwatch()).

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
    static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

    explicit watch_state(deadline_target* t) : target_(t) {}

    std::atomic<clock::rep> deadline{none}; // of the current step, in clock ticks; `none`: no limit
    // Guarded by the pool's mutex:
    asio::any_io_executor executor; // the current operation's, where on_deadline() runs
    clock::rep notified = none;     // the deadline a notification was last posted for
    std::size_t index = npos;       // position in the monitor's list (another entry's removal moves it)
    // In the monitor's list. The thread using the connection reads this without the mutex, which
    // it may not do with `index`: only this entry's own registration and removal write it, done
    // by that thread (or by the one handing it the connection, before the hand-over).
    bool registered = false;

    /// The connection is going away: a notice still queued finds no target. After unwatch().
    void detach() noexcept {
        std::lock_guard lock(notice_mutex_);
        target_ = nullptr;
    }

private:
    friend class deadline_monitor;

    // Runs a notice posted for the operation numbered posted_generation.
    void notify(std::uint64_t posted_generation) {
        {
            std::lock_guard lock(notice_mutex_);
            if (target_ && generation_.load(std::memory_order_seq_cst) == posted_generation) target_->on_deadline();
        }
        notices_.fetch_sub(1, std::memory_order_seq_cst);
    }

    std::atomic<std::uint64_t> generation_{0}; // moves on when an operation ends: stale notices do nothing
    // Notices posted and not finished. One destroyed unrun (its io_context going away) leaves the
    // count up: the end of each operation then takes the mutex needlessly, nothing worse.
    std::atomic<std::uint32_t> notices_{0};
    std::mutex notice_mutex_;   // held by a notice from its generation check to on_deadline()'s return
    deadline_target* target_;   // guarded by notice_mutex_; null once the connection is gone
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
        if (w->registered) return;
        w->registered = true;
        w->index = active_.size();
        active_.push_back(w);
    }

    /// A connection is no longer in use: its operation has ended. Called with the mutex held.
    void remove_locked(watch_state& w) {
        set_deadline(w, watch_state::none);
        if (!w.registered) return;
        const std::size_t i = w.index;
        w.registered = false;
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
        // Read without the lock: only the thread using the connection changes them.
        if (!w->registered || w->executor != executor) [[unlikely]] {
            watch_locked(w, deadline, executor);
            return;
        }
        set_deadline(*w, deadline);
        if (deadline < armed_until()) [[unlikely]] {
            std::lock_guard lock(mutex_);
            if (deadline < armed_until()) arm_locked(deadline);
        }
    }

    /// The operation using w has ended: no limit until the next one's first step, a notice posted
    /// for it does nothing, and one calling on_deadline() has returned.
    void unwatch(watch_state& w) {
        // No deadline, then the next generation; the scan (on_timer) reads them in the other order.
        // So a scan that reads the new generation reads no deadline (or the next operation's), and
        // a notice for a deadline of this operation carries the old generation.
        set_deadline(w, watch_state::none);
        w.generation_.fetch_add(1, std::memory_order_seq_cst);
        // A notice not counted yet when this load runs reads the new generation (it is counted
        // before it is posted); one counted may be in its section: wait for it.
        if (w.notices_.load(std::memory_order_seq_cst) != 0) [[unlikely]] {
            w.notice_mutex_.lock();
            w.notice_mutex_.unlock();
        }
    }

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
    // watch() for an entry not registered yet or an operation on another executor.
    void watch_locked(const std::shared_ptr<watch_state>& w, clock::rep deadline, const asio::any_io_executor& executor) {
        std::lock_guard lock(mutex_);
        // The executor before the deadline: a scan that sees this deadline posts to this executor.
        if (w->executor != executor) w->executor = executor;
        add_locked(w);
        set_deadline(*w, deadline);
        if (deadline < armed_until()) arm_locked(deadline);
    }

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
            const std::uint64_t generation = w->generation_.load(std::memory_order_seq_cst); // see unwatch()
            const clock::rep deadline = w->deadline.load(std::memory_order_seq_cst);
            if (deadline == watch_state::none) continue;
            if (deadline > now) {
                next = std::min(next, deadline);
                continue;
            }
            if (w->notified == deadline) continue; // told already; its operation is ending
            w->notified = deadline;
            w->notices_.fetch_add(1, std::memory_order_seq_cst);
            asio::post(w->executor, [w, generation] { w->notify(generation); });
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
            if (watching_.fetch_sub(1, std::memory_order_seq_cst) == 1) post_idle_check();
        }
    }

    // Kept out of set_deadline(), which the steps inline.
    void post_idle_check() {
        if (armed_until() != watch_state::none && !idle_check_posted_.exchange(true, std::memory_order_acq_rel))
            asio::post(timer_.get_executor(), [self = shared_from_this()] { self->on_idle_check(); });
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
