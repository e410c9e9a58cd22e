#pragma once
// Many requests with bounded concurrency: the batch helper.
//
//     std::vector<std::string> prompts = ...;                       // 1,000 of them
//     takeoff::batch_options options;
//     options.progress = [](std::size_t done, std::size_t total) { std::cerr << done << '/' << total << '\r'; };
//     auto results = co_await takeoff::async_generate_batch(client, prompts, options);
//     for (auto& r : results) if (r.ec) ...; else use(r.value);
//
// At most options.concurrency requests are in flight at once (default 32; the transport's pool
// also caps connections per origin). Results come back in input order, one batch_item per request,
// each with its own error code and diagnostics: one failure loses nothing else. Cancelling the
// operation cancels the requests in flight and starts no more; it then completes with
// operation_aborted and every item (those not started have operation_aborted).

#include <takeoff/api/generate.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/client.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/with_diagnostics.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace takeoff {

/// How a batch runs.
struct batch_options {
    /// The most requests in flight at once (at least 1).
    std::size_t concurrency = 32;
    /// Called after each request completes with (completed so far, total); on one thread at a
    /// time (the batch's strand), never concurrently. Must not block.
    std::function<void(std::size_t completed, std::size_t total)> progress;
    /// Overrides of the transport's defaults for each request (a deadline per request, say).
    http::request_options request;
};

/// The outcome of one request of a batch.
template <class T>
struct batch_item {
    boost::system::error_code ec;
    T value{};
    /// Why it failed (empty when it succeeded).
    diagnostics diag;
    bool ok() const noexcept { return !ec; }
};

namespace detail {

template <class Request, class Handler>
class batch_operation : public std::enable_shared_from_this<batch_operation<Request, Handler>> {
public:
    using value_type = typename Request::response_type;
    using results_type = std::vector<batch_item<value_type>>;

    batch_operation(takeoff::client c, std::vector<Request> requests, batch_options options, Handler handler)
        : client_(std::move(c)), requests_(std::move(requests)), options_(std::move(options)),
          results_(requests_.size()), handler_(std::move(handler)),
          strand_(boost::asio::make_strand(client_.get_executor())),
          work_(boost::asio::make_work_guard(boost::asio::get_associated_executor(handler_, client_.get_executor()))),
          width_(std::max<std::size_t>(1, std::min(options_.concurrency, std::max<std::size_t>(requests_.size(), 1)))),
          signals_(new boost::asio::cancellation_signal[width_]) {
        for (std::size_t i = 0; i < width_; ++i) free_.push_back(width_ - 1 - i);
    }

    void start() {
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) {
            std::weak_ptr<batch_operation> weak = this->shared_from_this();
            slot.assign([weak, strand = strand_](boost::asio::cancellation_type) {
                if (auto self = weak.lock()) boost::asio::dispatch(strand, [self] { self->cancel(); });
            });
        }
        boost::asio::dispatch(strand_, [self = this->shared_from_this()] { self->launch(); });
    }

private:
    void launch() {
        while (!cancelled_ && in_flight_ < width_ && next_ < requests_.size()) {
            const std::size_t index = next_++;
            const std::size_t lane = free_.back();
            free_.pop_back();
            ++in_flight_;
            // Completions come back on the client's executor and move onto the batch's strand.
            auto done = [self = this->shared_from_this(), index, lane](boost::system::error_code ec, value_type v) {
                auto strand = self->strand_;
                boost::asio::dispatch(strand, [self = std::move(self), index, lane, ec, v = std::move(v)]() mutable {
                    self->completed(index, lane, ec, std::move(v));
                });
            };
            client_.async_send(std::move(requests_[index]), options_.request, results_[index].diag,
                               boost::asio::bind_cancellation_slot(signals_[lane].slot(), std::move(done)));
        }
        if (in_flight_ == 0 && (cancelled_ || next_ == requests_.size())) finish();
    }

    void completed(std::size_t index, std::size_t lane, boost::system::error_code ec, value_type v) {
        auto& item = results_[index];
        item.ec = ec;
        if (!ec) item.value = std::move(v);
        --in_flight_;
        signals_[lane].slot().clear();
        free_.push_back(lane);
        ++completed_;
        if (options_.progress) options_.progress(completed_, requests_.size());
        launch();
    }

    void cancel() {
        if (cancelled_ || finished_) return;
        cancelled_ = true;
        // A lane whose slot has a handler carries a request in flight (its completion clears it).
        for (std::size_t lane = 0; lane < width_; ++lane)
            if (signals_[lane].slot().has_handler()) signals_[lane].emit(boost::asio::cancellation_type::terminal);
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        for (std::size_t i = next_; i < results_.size(); ++i) results_[i].ec = boost::asio::error::operation_aborted;
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.clear();
        const boost::system::error_code ec = cancelled_ ? boost::system::error_code(boost::asio::error::operation_aborted)
                                                        : boost::system::error_code();
        auto executor = work_.get_executor();
        work_.reset();
        boost::asio::dispatch(executor, boost::asio::append(std::move(handler_), ec, std::move(results_)));
    }

    takeoff::client client_;
    std::vector<Request> requests_;
    batch_options options_;
    results_type results_;
    Handler handler_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler, boost::asio::any_io_executor>> work_;
    std::size_t width_;
    std::unique_ptr<boost::asio::cancellation_signal[]> signals_;
    std::vector<std::size_t> free_; // lanes (cancellation signals) not carrying a request
    std::size_t next_ = 0, in_flight_ = 0, completed_ = 0;
    bool cancelled_ = false, finished_ = false;
};

} // namespace detail

/// Sends every request of `requests` through `c`, at most options.concurrency at once: completes
/// with void(error_code, std::vector<batch_item<R::response_type>>) in input order (see the file
/// comment). The error code is operation_aborted when the batch was cancelled, otherwise none:
/// each item's own error is in the item.
template <api::buffered_request R, class CompletionToken = default_token>
auto async_send_batch(takeoff::client& c, std::vector<R> requests, batch_options options = {},
                      CompletionToken&& token = {}) {
    using results_type = std::vector<batch_item<typename R::response_type>>;
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, results_type)>(
        [](auto handler, takeoff::client c, std::vector<R> requests, batch_options options) {
            using op = detail::batch_operation<R, std::decay_t<decltype(handler)>>;
            auto self = std::make_shared<op>(std::move(c), std::move(requests), std::move(options), std::move(handler));
            self->start();
        },
        token, c, std::move(requests), std::move(options));
}

/// api::generate of each prompt, sent as a batch (async_send_batch): each item's value is the
/// generated text.
template <class CompletionToken = default_token>
auto async_generate_batch(takeoff::client& c, const std::vector<std::string>& prompts, batch_options options = {},
                          CompletionToken&& token = {}) {
    std::vector<api::basic_generate<false, std::string>> requests;
    requests.reserve(prompts.size());
    for (const auto& p : prompts) requests.push_back(api::generate(p));
    return async_send_batch(c, std::move(requests), std::move(options), std::forward<CompletionToken>(token));
}

/// As above, each request made like `prototype` (its settings and constraint) with its own prompt.
template <class Constraint, class CompletionToken = default_token>
auto async_generate_batch(takeoff::client& c, const std::vector<std::string>& prompts,
                          const api::basic_generate<false, std::string, Constraint>& prototype,
                          batch_options options = {}, CompletionToken&& token = {}) {
    std::vector<api::basic_generate<false, std::string, Constraint>> requests;
    requests.reserve(prompts.size());
    for (const auto& p : prompts) requests.emplace_back(p, prototype.settings(), prototype.constraint());
    return async_send_batch(c, std::move(requests), std::move(options), std::forward<CompletionToken>(token));
}

} // namespace takeoff
