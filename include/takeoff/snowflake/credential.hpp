#pragma once
// SPCS ingress credentials: what a request to a Snowpark Container Services public endpoint carries
// (`Authorization: Snowflake Token="<token>"`, or the same value in X-SF-SPCS-Authorization), and the
// providers that make them.
//
// One interface, token_provider: async_get_token gives the credential to send now, invalidate() says
// that the ingress rejected one. Two kinds of provider implement it:
//
// - static_token_provider: a token that never changes (a programmatic access token, or a token
//   made elsewhere);
// - refreshing_token_provider: the base of every provider that makes its credentials (OAuth ->
//   session token, OAuth access token, key-pair JWT exchange; providers.hpp). It holds the current
//   credential and fetches a new one when it is missing, invalidated or about to expire, **once**
//   however many callers wait: the first caller's wait starts a fetch that runs as an operation of
//   its own (so one caller's cancellation fails nobody else's wait), the others queue behind it, and
//   all get its result. A credential counts as expiring `margin` (2 min) before its expiry, the
//   margin clamped to half its lifetime so that short-lived tokens are still reused. When a fetch
//   fails while the old credential is still valid, the old one is served (and the next caller
//   tries again). The clock is injectable.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/oauth/token_set.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/prefer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <list>

namespace takeoff::snowflake {

namespace asio = boost::asio;

/// The header a credential goes in. The ingress accepts both and strips both; the second leaves
/// `Authorization` to the service behind the ingress.
enum class credential_header { authorization, spcs_authorization };

/// "Authorization" or "X-SF-SPCS-Authorization".
constexpr std::string_view header_name(credential_header header) noexcept {
    return header == credential_header::authorization ? std::string_view("Authorization")
                                                      : std::string_view("X-SF-SPCS-Authorization");
}

/// A token the ingress accepts, and until when.
struct credential {
    /// The token itself (a session token, an OAuth access token, an exchanged JWT or a PAT).
    secret token;
    /// When it stops being valid; empty when unknown (a PAT, a static token).
    std::optional<oauth::token_clock::time_point> expires_at;
    /// Tells the credentials of one provider apart (invalidate() names the one that was rejected).
    std::uint64_t generation = 0;

    /// `Snowflake Token="<token>"`: the header's value.
    secret header_value() const {
        std::string value = "Snowflake Token=\"";
        value += token.reveal();
        value += '"';
        return secret(std::move(value));
    }

    /// Prints the generation and the expiry; the token shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const credential& c) {
        os << "credential{token=" << c.token << ", generation=" << c.generation << ", expires_at=";
        if (c.expires_at)
            os << std::chrono::duration_cast<std::chrono::seconds>(c.expires_at->time_since_epoch()).count();
        else
            os << "(unknown)";
        return os << '}';
    }
};

/// What a provider's task-level calls complete with.
using credential_result = takeoff::detail::op_result<credential>;

/// Where a request's credential comes from. Thread-safe: any number of operations, from any
/// threads. A provider must outlive the operations that use it.
class token_provider {
public:
    using executor_type = asio::any_io_executor;

    token_provider(executor_type executor, credential_header header) : executor_(std::move(executor)), header_(header) {}
    token_provider(const token_provider&) = delete;
    token_provider& operator=(const token_provider&) = delete;
    virtual ~token_provider() = default;

    executor_type get_executor() const noexcept { return executor_; }
    /// The header its credentials go in.
    credential_header header() const noexcept { return header_; }

    /// The credential to send now, fetched first when needed. Completes with
    /// `void(error_code, credential)`; diag says why it failed.
    template <class CompletionToken = default_token>
    auto async_get_token(diagnostics& diag, CompletionToken&& token = {}) {
        return start(&diag, std::forward<CompletionToken>(token));
    }
    /// As above; the diagnostics go only into the default token's exception.
    template <class CompletionToken = default_token>
    auto async_get_token(CompletionToken&& token = {}) {
        return start(nullptr, std::forward<CompletionToken>(token));
    }

    /// The credential that async_get_token would give at once, without fetching; empty when it
    /// would have to fetch. (The request decorator's fast path.)
    virtual std::optional<credential> cached() const = 0;

    /// For the library's composed operations: async_get_token as a step of the calling task.
    virtual takeoff::detail::task<credential_result> token_task(diagnostics& diag) = 0;

    /// The ingress rejected `used`: it is not given out again. True when another credential can be
    /// made (so a rejected request is worth sending again), false when not (a static token).
    virtual bool invalidate(const credential& used) = 0;

private:
    template <class CompletionToken>
    auto start(diagnostics* diag, CompletionToken&& token) {
        return takeoff::detail::async_run<credential>(
            executor_, false, std::chrono::steady_clock::duration::zero(), diag,
            [](diagnostics* d, token_provider* self, diagnostics& own) { return self->token_task(d ? *d : own); },
            std::forward<CompletionToken>(token), this, diagnostics{});
    }

    executor_type executor_;
    credential_header header_;
};

/// A token that does not change: a programmatic access token (PAT), or one made elsewhere. Once
/// the ingress has rejected it, it is not offered again: async_get_token fails with
/// errc::token_unavailable, saying what to replace.
class static_token_provider final : public token_provider {
public:
    /// `description` names the token in messages ("the programmatic access token").
    static_token_provider(executor_type executor, secret token, std::string description = "the static token",
                          credential_header header = credential_header::authorization)
        : token_provider(std::move(executor), header), token_(std::move(token)), description_(std::move(description)) {}

    std::optional<credential> cached() const override {
        if (rejected_.load(std::memory_order_acquire) || token_.empty()) return std::nullopt;
        return credential{token_, std::nullopt, 1};
    }

    takeoff::detail::task<credential_result> token_task(diagnostics& diag) override {
        co_return get(diag);
    }

    bool invalidate(const credential&) override {
        rejected_.store(true, std::memory_order_release);
        return false;
    }

private:
    credential_result get(diagnostics& diag) const {
        if (auto c = cached()) return {{}, std::move(*c)};
        diag.set_client_message(token_.empty() ? description_ + " is empty"
                                               : "the ingress rejected " + description_ +
                                                     "; it cannot be renewed here: replace it and try again");
        return {make_error_code(errc::token_unavailable), {}};
    }

    secret token_;
    std::string description_;
    std::atomic<bool> rejected_{false};
};

/// How a refreshing provider decides that its credential is expiring.
struct refresh_settings {
    /// A credential is renewed this long before it expires, but never earlier than half-way
    /// through its lifetime.
    std::chrono::seconds margin{120};
    /// The time now (tests move it on).
    oauth::clock_function clock = [] { return oauth::token_clock::now(); };
};

/// The base of the providers that make their credentials (see the file comment): one fetch at a
/// time for any number of waiting callers. A derived class implements fetch_task().
class refreshing_token_provider : public token_provider {
public:
    refreshing_token_provider(executor_type executor, refresh_settings settings,
                              credential_header header = credential_header::authorization)
        : token_provider(executor, header), state_(std::make_shared<shared_state>(executor, std::move(settings))) {}

    std::optional<credential> cached() const override {
        std::lock_guard lock(state_->mutex);
        return state_->usable(state_->settings.clock());
    }

    bool invalidate(const credential& used) override {
        std::lock_guard lock(state_->mutex);
        if (state_->current && state_->current->generation == used.generation) state_->current.reset();
        return true;
    }

    /// How many fetches have been started (each is one round of token requests).
    std::size_t fetch_count() const {
        std::lock_guard lock(state_->mutex);
        return state_->fetches;
    }

protected:
    /// Makes a new credential (its generation is set by the caller). Never runs twice at once for
    /// one provider. Runs as an operation of its own on the provider's executor.
    virtual takeoff::detail::task<credential_result> fetch_task(diagnostics& diag) = 0;

    /// The time now, by the provider's clock.
    oauth::token_clock::time_point now() const { return state_->settings.clock(); }

private:
    using wait_handler = asio::any_completion_handler<void(boost::system::error_code, credential,
                                                           std::shared_ptr<const diagnostics>)>;

    struct waiter {
        std::uint64_t id;
        wait_handler handler;
    };

    struct shared_state {
        shared_state(executor_type ex, refresh_settings s) : executor(std::move(ex)), settings(std::move(s)) {}

        executor_type executor;
        refresh_settings settings;
        mutable std::mutex mutex;
        std::optional<credential> current;
        oauth::token_clock::time_point obtained_at{};
        std::uint64_t generation = 0;
        std::uint64_t next_waiter = 0;
        std::size_t fetches = 0;
        bool fetching = false;
        // A list: Boost 1.81's any_completion_handler move assignment recurses without end (it
        // constructs from the lvalue), and a vector's erase move-assigns its elements.
        std::list<waiter> waiters;

        // The current credential if it is not expiring at `now` (mutex held).
        std::optional<credential> usable(oauth::token_clock::time_point now) const {
            if (!current) return std::nullopt;
            if (!current->expires_at) return current;
            const auto lifetime = *current->expires_at - obtained_at;
            const auto margin = std::min<oauth::token_clock::duration>(settings.margin, lifetime / 2);
            if (now + margin < *current->expires_at) return current;
            return std::nullopt;
        }

        // The current credential if it has not expired at all (mutex held): what is served when a
        // fetch fails.
        std::optional<credential> still_valid(oauth::token_clock::time_point now) const {
            if (current && (!current->expires_at || now < *current->expires_at)) return current;
            return std::nullopt;
        }
    };

    // Completes a waiter on its own executor; its cancellation slot is cleared there first (the
    // slot is emitted from that executor, never concurrently with this). `from_cancellation`: called
    // by the slot's own handler, which must not be cleared while it runs: posted, not dispatched.
    static void complete(shared_state& state, wait_handler handler, boost::system::error_code ec, credential c,
                         std::shared_ptr<const diagnostics> diag, bool from_cancellation = false) {
        auto ex = asio::get_associated_executor(handler, state.executor);
        auto finish = [h = std::move(handler), ec, c = std::move(c), d = std::move(diag)]() mutable {
            auto slot = asio::get_associated_cancellation_slot(h);
            if (slot.is_connected()) slot.clear();
            std::move(h)(ec, std::move(c), std::move(d));
        };
        if (from_cancellation)
            asio::prefer(ex, asio::execution::blocking.never).execute(std::move(finish));
        else
            asio::dispatch(ex, std::move(finish));
    }

    // Waits for the result of the fetch in progress, starting one if none is.
    auto wait_for_fetch() {
        return asio::async_initiate<const asio::deferred_t&,
                                    void(boost::system::error_code, credential, std::shared_ptr<const diagnostics>)>(
            [this](auto handler) {
                std::unique_lock lock(state_->mutex);
                if (auto c = state_->usable(state_->settings.clock())) { // fetched meanwhile
                    lock.unlock();
                    complete(*state_, std::move(handler), {}, std::move(*c), nullptr);
                    return;
                }
                const std::uint64_t id = state_->next_waiter++;
                // The type-erased handler installs its own cancellation state on the caller's slot,
                // so the waiter's cancellation handler goes on the handler's slot, made first.
                wait_handler wrapped(std::move(handler));
                auto slot = wrapped.get_cancellation_slot();
                if (slot.is_connected()) {
                    slot.assign([state = state_, id](asio::cancellation_type type) {
                        if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
                            asio::cancellation_type::none)
                            return; // total: the wait has no effect to undo, but others may wait on it
                        std::unique_lock lock(state->mutex);
                        auto it = std::find_if(state->waiters.begin(), state->waiters.end(),
                                               [id](const waiter& w) { return w.id == id; });
                        if (it == state->waiters.end()) return; // being completed
                        wait_handler h = std::move(it->handler);
                        state->waiters.erase(it);
                        lock.unlock();
                        complete(*state, std::move(h), asio::error::operation_aborted, {}, nullptr, true);
                    });
                }
                state_->waiters.push_back(waiter{id, std::move(wrapped)});
                const bool start = !state_->fetching;
                state_->fetching = true;
                if (start) ++state_->fetches;
                lock.unlock();
                if (start) start_fetch();
            },
            asio::deferred);
    }

public:
    takeoff::detail::task<credential_result> token_task(diagnostics& diag) override {
        if (auto c = cached()) co_return credential_result{{}, std::move(*c)};
        auto wait = wait_for_fetch(); // a named local: GCC 12 and temporaries inside co_await
        auto [ec, cred, fetch_diag] = co_await std::move(wait);
        if (ec && fetch_diag) diag = *fetch_diag;
        co_return credential_result{ec, std::move(cred)};
    }

private:
    void start_fetch() {
        auto fetch_diag = std::make_shared<diagnostics>();
        takeoff::detail::async_run<credential>(
            state_->executor, false, std::chrono::steady_clock::duration::zero(), nullptr,
            [](diagnostics*, refreshing_token_provider* self, std::shared_ptr<diagnostics>& d) {
                return self->fetch_task(*d);
            },
            [state = state_, fetch_diag](boost::system::error_code ec, credential fetched) {
                finish_fetch(*state, ec, std::move(fetched), std::move(fetch_diag));
            },
            this, fetch_diag);
    }

    static void finish_fetch(shared_state& state, boost::system::error_code ec, credential fetched,
                             std::shared_ptr<const diagnostics> diag) {
        std::unique_lock lock(state.mutex);
        state.fetching = false;
        const auto now = state.settings.clock();
        if (!ec) {
            fetched.generation = ++state.generation;
            state.current = fetched;
            state.obtained_at = now;
            diag = nullptr;
        } else if (auto old = state.still_valid(now)) {
            fetched = std::move(*old); // a failed refresh keeps the old credential while it lasts
            ec = {};
            diag = nullptr;
        }
        std::list<waiter> waiters;
        waiters.swap(state.waiters);
        lock.unlock();
        for (auto& w : waiters) complete(state, std::move(w.handler), ec, fetched, diag);
    }

    std::shared_ptr<shared_state> state_;
};

} // namespace takeoff::snowflake
