// The batch helper (include/takeoff/batch.hpp) against the emulated Takeoff: input order, one
// failure kept in its item without losing the others, the concurrency bound, progress, and
// cancellation of the whole batch.

#include <takeoff/batch.hpp>
#include <takeoff_emulator/generation.hpp>

#include "../support/takeoff_site.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace emu = takeoff::emulator;
namespace api = takeoff::api;
using takeoff::errc;
using takeoff::test::run;
using takeoff::test::takeoff_site;

TEST_CASE("batch: 40 prompts at concurrency 8 give 40 texts in input order, progress after each, at most 8 connections") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<std::string> prompts;
    for (int i = 0; i < 40; ++i) prompts.push_back("prompt " + std::to_string(i));
    std::vector<std::pair<std::size_t, std::size_t>> progress;
    takeoff::batch_options options;
    options.concurrency = 8;
    options.progress = [&](std::size_t done, std::size_t total) { progress.emplace_back(done, total); };
    std::vector<takeoff::batch_item<std::string>> results;
    run(io, [&]() -> asio::awaitable<void> {
        auto prototype = api::generate("").max_new_tokens(3);
        results = co_await takeoff::async_generate_batch(client, prompts, prototype, options);
    });
    REQUIRE(results.size() == 40);
    for (std::size_t i = 0; i < 40; ++i) {
        CAPTURE(i);
        CHECK(results[i].ok());
        CHECK(results[i].value == emu::generated_text(prompts[i], 3));
    }
    REQUIRE(progress.size() == 40);
    for (std::size_t i = 0; i < 40; ++i) CHECK(progress[i] == std::make_pair(i + 1, std::size_t{40}));
    CHECK(client.transport().connections_opened() <= 8);
    CHECK(client.transport().connections_opened() >= 1);
    CHECK(site.takeoff.generate_requests() == 40);
}

TEST_CASE("batch: a request that fails keeps its error and diagnostics; every other item still has its text") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<api::basic_generate<false, std::string>> requests;
    for (int i = 0; i < 5; ++i) requests.push_back(api::generate("item " + std::to_string(i)).max_new_tokens(2));
    requests[2].consumer_group(api::consumer_group("missing-group"));
    std::vector<takeoff::batch_item<std::string>> results;
    run(io, [&]() -> asio::awaitable<void> {
        results = co_await takeoff::async_send_batch(client, requests, takeoff::batch_options{});
    });
    REQUIRE(results.size() == 5);
    for (std::size_t i : {0u, 1u, 3u, 4u}) {
        CAPTURE(i);
        CHECK(results[i].ok());
        CHECK(results[i].value == emu::generated_text("item " + std::to_string(i), 2));
        CHECK(results[i].diag.http_status() == 0);
    }
    CHECK(results[2].ec == errc::http_status);
    CHECK(results[2].diag.http_status() == 400);
    CHECK(results[2].diag.server_message().find("missing-group") != std::string::npos);
    CHECK(results[2].value.empty());
}

TEST_CASE("batch: cancelling the batch stops it: the operation ends with operation_aborted, finished items are kept") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<std::string> prompts(10, "same");
    asio::cancellation_signal cancel;
    takeoff::batch_options options;
    options.concurrency = 1;
    // After the second result, cancel the whole batch (from the progress callback: deterministic).
    options.progress = [&](std::size_t done, std::size_t) {
        if (done == 2) cancel.emit(asio::cancellation_type::terminal);
    };
    boost::system::error_code ec;
    std::vector<takeoff::batch_item<std::string>> results;
    run(io, [&]() -> asio::awaitable<void> {
        std::tie(ec, results) = co_await takeoff::async_generate_batch(
            client, prompts, options, asio::bind_cancellation_slot(cancel.slot(), asio::as_tuple(asio::use_awaitable)));
    });
    CHECK(ec == asio::error::operation_aborted);
    REQUIRE(results.size() == 10);
    CHECK(results[0].ok());
    CHECK(results[1].ok());
    for (std::size_t i = 2; i < 10; ++i) {
        CAPTURE(i);
        CHECK(results[i].ec == asio::error::operation_aborted);
    }
    CHECK(site.takeoff.generate_requests() == 2);
}

TEST_CASE("batch: an empty batch completes at once with no items") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<takeoff::batch_item<std::string>> results{1};
    run(io, [&]() -> asio::awaitable<void> {
        results = co_await takeoff::async_generate_batch(client, std::vector<std::string>{});
    });
    CHECK(results.empty());
    CHECK(site.server.request_count() == 0);
}
