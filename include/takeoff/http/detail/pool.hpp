#pragma once
// The connection pool: per origin (scheme, host, port), at most max_connections_per_origin open at
// once, idle ones reused most-recent-first, expired or peer-closed ones dropped when found.
// Requests beyond the limit wait, first come first served, for a connection (or for the right to
// open one) handed over directly by release().
//
// Thread safety: every member function may be called from any thread concurrently. The state is
// guarded by a mutex that is never held across an await (the deadline monitor's, which registers
// the connections in use under it); a waiting request is woken through its own concurrent_channel.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/http/detail/connection.hpp>
#include <takeoff/http/detail/deadline_monitor.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/http/origin.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/tls.hpp>

#include <boost/asio/experimental/concurrent_channel.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace takeoff::http::detail {

class connection_pool {
public:
    /// A connection handed out by acquire(); `reused` tells whether it carried requests before.
    struct lease {
        std::unique_ptr<connection> conn;
        bool reused = false;
    };

    connection_pool(asio::any_io_executor executor, pool_options options, tls_options tls, proxy_config proxies)
        : executor_(std::move(executor)),
          options_(options),
          tls_(std::move(tls)),
          proxies_(std::move(proxies)),
          monitor_(std::make_shared<deadline_monitor>(executor_)),
          mutex_(monitor_->mutex()) {
        if (options_.max_connections_per_origin == 0) options_.max_connections_per_origin = 1;
    }

    ~connection_pool() { monitor_->shutdown(); }

    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;

    /// An idle connection to origin, a new one, or, at the limit, the next one released. `fresh`:
    /// a new connection in any case (an idle or released one is closed and its place used).
    /// Cancellation: any type; a connection received at the same moment goes back to the pool.
    takeoff::detail::task<takeoff::detail::op_result<lease>> acquire(const origin& target, const timeouts& limits,
                                                                      bool fresh, diagnostics& diag) {
        const auto& executor = co_await takeoff::detail::this_task::executor;
        std::shared_ptr<waiter> wait_for;
        {
            std::lock_guard lock(mutex_);
            origin_pool& pool = pools_[target];
            if (!fresh) {
                if (auto conn = take_idle_locked(pool))
                    co_return takeoff::detail::op_result<lease>{{}, lease{std::move(conn), true}};
            }
            if (pool.open < options_.max_connections_per_origin) {
                ++pool.open; // reserved for the connection opened below
            } else {
                wait_for = std::make_shared<waiter>(executor);
                pool.waiters.push_back(wait_for);
            }
        }

        if (wait_for) {
            auto [ec, handed] = co_await wait_for->channel.async_receive(as_tuple_deferred);
            if (ec) {
                give_back_abandoned(target, wait_for);
                co_return takeoff::detail::op_result<lease>{asio::error::operation_aborted, {}};
            }
            if (handed && !fresh) co_return takeoff::detail::op_result<lease>{{}, lease{std::move(handed), true}};
            if (handed) drop_in_use(std::move(handed)); // its place is ours
            // Otherwise a slot was handed over: open a connection in it.
        }

        std::shared_ptr<asio::ssl::context> tls_context;
        if (target.scheme == scheme::https) {
            auto made = tls_.get(diag);
            if (!made) {
                release_slot(target);
                co_return takeoff::detail::op_result<lease>{made.error(), {}};
            }
            tls_context = std::move(*made);
        }
        auto conn = std::make_unique<connection>(executor_, target, std::move(tls_context), monitor_);
        if (auto faults = injector()) conn->inject_faults(std::move(faults));
        const std::optional<proxy_settings> proxy = proxy_for(proxies_, target);
        auto ec = co_await conn->async_connect(limits, proxy ? &*proxy : nullptr, diag);
        if (ec) {
            conn->unwatch();
            conn->close();
            release_slot(target, conn.get());
            co_return takeoff::detail::op_result<lease>{ec, {}};
        }
        connections_opened_.fetch_add(1, std::memory_order_relaxed);
        co_return takeoff::detail::op_result<lease>{{}, lease{std::move(conn), false}};
    }

    /// An idle connection to origin that can carry a request at once, or null. What acquire()
    /// tries first; callers on a hot path try it themselves to skip acquire's coroutine frame.
    std::unique_ptr<connection> take_idle(const origin& target) {
        std::lock_guard lock(mutex_);
        auto it = pools_.find(target);
        return it == pools_.end() ? nullptr : take_idle_locked(it->second);
    }

    /// Takes a connection back: kept for reuse when `reusable`, closed otherwise. A waiting
    /// request gets it (or its slot) at once.
    void release(std::unique_ptr<connection> conn, bool reusable) {
        if (!conn) return;
        conn->unwatch();
        const origin& target = conn->origin(); // conn (and so target) lives until the end
        if (!reusable) {
            conn->close();
            release_slot(target, conn.get());
            return;
        }
        conn->mark_idle();
        std::lock_guard lock(mutex_);
        origin_pool& pool = pools_[target];
        if (hand_over(pool, conn)) return; // in use again: it stays on the monitor's list
        monitor_->remove_locked(*conn->watch_entry());
        pool.idle.push_back(std::move(conn));
        drop_expired(pool);
    }

    /// Tests only (fault_injection.hpp): connections opened from now on count their operations
    /// with injector (null: none).
    void inject_faults(std::shared_ptr<fault_injector> injector) {
        std::lock_guard lock(mutex_);
        faults_ = std::move(injector);
    }

    /// Connections opened so far (for statistics and tests).
    std::size_t connections_opened() const noexcept { return connections_opened_.load(std::memory_order_relaxed); }

    /// Idle connections currently kept, all origins together.
    std::size_t idle_connections() const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& [o, pool] : pools_) n += pool.idle.size();
        return n;
    }

private:
    using channel_type =
        asio::experimental::concurrent_channel<void(boost::system::error_code, std::unique_ptr<connection>)>;

    struct waiter {
        explicit waiter(const asio::any_io_executor& executor) : channel(executor, 1) {}
        channel_type channel;
    };

    struct origin_pool {
        std::deque<std::unique_ptr<connection>> idle;
        std::size_t open = 0; // idle + in use + being opened
        std::list<std::shared_ptr<waiter>> waiters;
    };

    // The most recently used idle connection still fit for reuse; the unfit ones found on the
    // way are closed. Called with the mutex held.
    std::unique_ptr<connection> take_idle_locked(origin_pool& pool) {
        while (!pool.idle.empty()) {
            std::unique_ptr<connection> conn = std::move(pool.idle.back());
            pool.idle.pop_back();
            const auto idle = connection::clock::now() - conn->idle_since();
            if (fresh(idle) && usable(*conn, idle)) {
                monitor_->add_locked(conn->watch_entry()); // in use from now on
                return conn;
            }
            conn->close();
            --pool.open;
        }
        return nullptr;
    }

    bool fresh(connection::clock::duration idle) const {
        return options_.idle_timeout.count() <= 0 || idle < options_.idle_timeout;
    }

    // Young enough to skip the peek (check_idle_after), or checked with it.
    bool usable(connection& conn, connection::clock::duration idle) const {
        if (idle < options_.check_idle_after) return conn.open_and_drained();
        return conn.usable_after_idle();
    }

    // Closes the idle connections past idle_timeout. pool.idle is in the order the connections went
    // idle (release() appends; reuse takes the newest, from the back), so they are at the front.
    void drop_expired(origin_pool& pool) {
        const auto now = connection::clock::now();
        while (!pool.idle.empty() && !fresh(now - pool.idle.front()->idle_since())) {
            pool.idle.front()->close();
            pool.idle.pop_front();
            --pool.open;
        }
    }

    // Gives conn (or, when conn is null, the right to open one) to the oldest waiter. Called with
    // the mutex held; the send happens under it too so that an abandoning waiter can tell.
    static bool hand_over(origin_pool& pool, std::unique_ptr<connection>& conn) {
        while (!pool.waiters.empty()) {
            std::shared_ptr<waiter> next = std::move(pool.waiters.front());
            pool.waiters.pop_front();
            if (next->channel.try_send(boost::system::error_code{}, std::move(conn))) return true;
        }
        return false;
    }

    std::shared_ptr<fault_injector> injector() {
        std::lock_guard lock(mutex_);
        return faults_;
    }

    // Closes a connection handed over while in use, keeping its place in the origin's count.
    void drop_in_use(std::unique_ptr<connection> conn) {
        conn->close();
        std::lock_guard lock(mutex_);
        monitor_->remove_locked(*conn->watch_entry());
    }

    // Gives up the place of a connection that is closed (conn: the one closed, to take off the
    // monitor's list while the mutex is held).
    void release_slot(const origin& target, connection* conn = nullptr) {
        std::lock_guard lock(mutex_);
        if (conn) monitor_->remove_locked(*conn->watch_entry());
        origin_pool& pool = pools_[target];
        std::unique_ptr<connection> none;
        if (!hand_over(pool, none)) --pool.open;
    }

    // A waiter whose wait was cancelled: if it is still queued, it leaves; if something was already
    // handed to it, that goes back to the pool.
    void give_back_abandoned(const origin& target, const std::shared_ptr<waiter>& w) {
        {
            std::lock_guard lock(mutex_);
            origin_pool& pool = pools_[target];
            auto it = std::find(pool.waiters.begin(), pool.waiters.end(), w);
            if (it != pool.waiters.end()) {
                pool.waiters.erase(it);
                return;
            }
        }
        bool received = false;
        std::unique_ptr<connection> handed;
        w->channel.try_receive([&](boost::system::error_code, std::unique_ptr<connection> c) {
            received = true;
            handed = std::move(c);
        });
        if (!received) return;
        if (handed)
            release(std::move(handed), true);
        else
            release_slot(target);
    }

    asio::any_io_executor executor_;
    pool_options options_;
    tls_context_source tls_;
    proxy_config proxies_;
    std::shared_ptr<deadline_monitor> monitor_; // its mutex guards the pool's state too
    std::mutex& mutex_;
    std::unordered_map<origin, origin_pool> pools_;
    std::atomic<std::size_t> connections_opened_{0};
    std::shared_ptr<fault_injector> faults_; // tests only; guarded by mutex_
};

} // namespace takeoff::http::detail
