// detail::deadline_monitor (takeoff/http/detail/deadline_monitor.hpp) driven directly, from several
// threads: its timer and the notices run on an io_context run by two threads, the connections are
// fakes used by other threads. No socket: the races are between the monitor's list, its timer and
// the connections' ends, which is what the tsan preset looks at.
#include <takeoff/http/detail/deadline_monitor.hpp>

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using takeoff::http::detail::deadline_monitor;
using takeoff::http::detail::deadline_target;
using takeoff::http::detail::watch_state;

namespace {

using clock_type = watch_state::clock;

// A deadline that has passed already: the timer fires as soon as it is armed.
clock_type::rep passed() { return clock_type::now().time_since_epoch().count(); }

// Stands for a connection: registered, watched and ended as connection.hpp and pool.hpp do.
class fake_connection final : private deadline_target {
public:
    fake_connection(std::shared_ptr<deadline_monitor> monitor, std::atomic<int>& misdirected)
        : monitor_(std::move(monitor)), misdirected_(misdirected), watch_(std::make_shared<watch_state>(static_cast<deadline_target*>(this))) {}

    fake_connection(const fake_connection&) = delete;
    fake_connection& operator=(const fake_connection&) = delete;

    // As connection's destructor. What on_deadline() wrote must be visible once the operation ended.
    ~fake_connection() {
        end();
        if (report_) *report_ += timeouts_;
        watch_->detach();
        if (watch_->registered) monitor_->remove(*watch_);
        gone_ = true;
    }

    // The destructor adds the number of on_deadline() calls to `total`.
    void report_to(int& total) { report_ = &total; }

    // An operation takes the connection (the pool's take_idle) and starts a step.
    void start(clock_type::rep deadline, const asio::any_io_executor& executor) {
        {
            std::lock_guard lock(monitor_->mutex());
            monitor_->add_locked(watch_);
        }
        in_operation_ = true;
        monitor_->watch(watch_, deadline, executor);
    }

    // The operation ends (connection::unwatch).
    void end() {
        monitor_->unwatch(*watch_);
        in_operation_ = false;
    }

    // The connection goes back to the pool's idle list (pool::release).
    void release() {
        std::lock_guard lock(monitor_->mutex());
        monitor_->remove_locked(*watch_);
    }

    // Until the monitor's timer has posted the notice for `deadline`.
    void wait_posted(clock_type::rep deadline) {
        for (;;) {
            {
                std::lock_guard lock(monitor_->mutex());
                if (watch_->notified == deadline) return;
            }
            std::this_thread::yield();
        }
    }

    // Until on_deadline() has been called `n` times in all (it may still be running).
    void wait_told(int n) {
        for (int seen = told_.load(); seen < n; seen = told_.load()) told_.wait(seen);
    }

    // Plain fields, like a connection's: TSan reports an access not ordered with the notice's.
    int timeouts() const { return timeouts_; }

private:
    void on_deadline() override {
        if (!in_operation_ || gone_) misdirected_.fetch_add(1);
        told_.fetch_add(1);
        told_.notify_all();
        ++timeouts_; // after the signal: the end of the operation must still wait for it
    }

    std::shared_ptr<deadline_monitor> monitor_;
    std::atomic<int>& misdirected_; // calls outside an operation or after the destruction
    std::shared_ptr<watch_state> watch_;
    std::atomic<int> told_{0};
    int timeouts_ = 0;
    int* report_ = nullptr;
    bool in_operation_ = false;
    bool gone_ = false;
};

// An io_context run by two threads, for the monitor's timer and the notices.
struct two_runners {
    asio::io_context io{2};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::shared_ptr<deadline_monitor> monitor = std::make_shared<deadline_monitor>(io.get_executor());
    std::array<std::thread, 2> threads{std::thread([this] { io.run(); }), std::thread([this] { io.run(); })};

    ~two_runners() {
        monitor->shutdown();
        work.reset();
        for (auto& t : threads) t.join();
    }
};

} // namespace

TEST_CASE("deadline_monitor: connections watched and released by two threads while the timer fires are each "
          "told once per passed deadline, within its operation") {
    two_runners r;
    constexpr int rounds = 60;
    constexpr int per_thread = 8;
    std::atomic<int> misdirected{0};
    auto make = [&] {
        std::vector<std::unique_ptr<fake_connection>> v;
        for (int i = 0; i < per_thread; ++i) v.push_back(std::make_unique<fake_connection>(r.monitor, misdirected));
        return v;
    };
    std::array<std::vector<std::unique_ptr<fake_connection>>, 2> owned{make(), make()};

    // Each release moves the last entry of the monitor's list into the freed place, rewriting the
    // position of a connection the other thread may be watching at that moment.
    auto use = [&](std::vector<std::unique_ptr<fake_connection>>& conns) {
        for (int round = 1; round <= rounds; ++round) {
            for (auto& c : conns) c->start(passed(), r.io.get_executor());
            for (auto& c : conns) c->wait_told(round);
            for (auto& c : conns) {
                c->end();
                c->release();
            }
        }
    };
    std::thread other([&] { use(owned[1]); });
    use(owned[0]);
    other.join();

    CHECK(misdirected.load() == 0);
    for (const auto& conns : owned)
        for (const auto& c : conns) CHECK(c->timeouts() == rounds);
}

TEST_CASE("deadline_monitor: a notice racing the destruction of its connection on another thread is over before "
          "the destruction ends, or does nothing") {
    two_runners r;
    // The notices go to an io_context of their own, run by one more thread, where a blocker can
    // hold a notice back until the destruction is about to start.
    asio::io_context notices(1);
    auto notices_work = asio::make_work_guard(notices);
    std::thread notices_thread([&] { notices.run(); });

    constexpr int iterations = 300;
    std::atomic<int> misdirected{0};
    int told_while_waited = 0;
    int told_when_racing = 0;
    std::atomic<int> released{0}; // the blockers let go so far (one may still be on its way in)
    for (int i = 0; i < iterations; ++i) {
        auto c = std::make_unique<fake_connection>(r.monitor, misdirected);
        const bool race = i % 2 == 0;
        if (race) {
            asio::post(notices, [&released, mine = i / 2 + 1] {
                for (int n = released.load(); n < mine; n = released.load()) released.wait(n);
            });
        }
        const auto deadline = passed();
        c->start(deadline, notices.get_executor());
        if (race) {
            // The notice is queued behind the blocker: let both go and destroy at once, so that
            // the destruction meets the notice before, inside or after its call.
            c->wait_posted(deadline);
            released.fetch_add(1);
            released.notify_one();
            c->report_to(told_when_racing);
        } else {
            // The notice is inside on_deadline() (or just out of it) when the destruction starts.
            c->wait_told(1);
            c->report_to(told_while_waited);
        }
        c.reset();
    }
    notices_work.reset();
    notices_thread.join();

    MESSAGE(told_when_racing << " of " << iterations / 2 << " connections destroyed as their notice ran were told");
    CHECK(misdirected.load() == 0);
    CHECK(told_while_waited == iterations / 2);
}
