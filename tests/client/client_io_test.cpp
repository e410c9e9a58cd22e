// takeoff::client against the emulated Takeoff (tests/support/takeoff_site.hpp) over real sockets
// on 127.0.0.1: generation buffered and streamed, over HTTP and HTTPS, the stream's ends (normal,
// dropped, cut inside an event, close-delimited), cancellation, the failure knobs (503 until ready,
// 429) with the transport's retries, server errors, and what a client without a provider sends.
// Expected texts come from the emulator's own generator (takeoff_emulator/generation.hpp).

#include <takeoff/client.hpp>
#include <takeoff_emulator/generation.hpp>

#include "../support/takeoff_site.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <regex>
#include <thread>
#include <tuple>
#include <utility>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace emu = takeoff::emulator;
using takeoff::errc;
using takeoff::test::run;
using takeoff::test::scheme;
using takeoff::test::takeoff_site;
namespace api = takeoff::api;

using takeoff::test::tuple;

namespace {
// Reads a stream to its end or its first error: the tokens read and that error.
template <class Stream>
asio::awaitable<std::pair<std::vector<std::string>, boost::system::error_code>> read_all(Stream& stream,
                                                                                          takeoff::diagnostics& diag) {
    std::vector<std::string> tokens;
    for (;;) {
        auto [ec, token] = co_await stream.async_next(diag, tuple);
        if (ec || !token) co_return std::make_pair(std::move(tokens), ec);
        tokens.push_back(std::move(*token));
    }
}
} // namespace

TEST_CASE("client: generate of one prompt gives the emulator's text, over HTTP and HTTPS") {
    for (auto s : {scheme::http, scheme::https}) {
        CAPTURE(takeoff::test::to_string(s));
        takeoff_site site(s);
        asio::io_context io;
        takeoff::client client(io.get_executor(), site.client_options());
        std::string by_default, five, with_minimum;
        run(io, [&]() -> asio::awaitable<void> {
            by_default = co_await client.async_generate("List three things to do in London: ");
            five = co_await client.async_generate(api::generate("Tell me a joke").max_new_tokens(5));
            with_minimum = co_await client.async_send(api::generate("x").max_new_tokens(2).min_new_tokens(7));
        });
        CHECK(by_default == emu::generated_text("List three things to do in London: ", 16));
        CHECK(five == emu::generated_text("Tell me a joke", 5));
        CHECK(with_minimum == emu::generated_text("x", 7));
        CHECK(site.takeoff.generate_requests() == 3);
        // Three requests, one connection: the pool keeps it.
        CHECK(client.transport().connections_opened() == 1);
    }
}

TEST_CASE("client: generate of a batch gives one text per prompt, in order") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<std::string> texts;
    run(io, [&]() -> asio::awaitable<void> {
        std::vector<std::string> prompts{"a b", "c d", "e f"};
        auto request = api::generate(std::move(prompts)).max_new_tokens(3);
        texts = co_await client.async_generate(request);
    });
    CHECK(texts == std::vector<std::string>{emu::generated_text("a b", 3), emu::generated_text("c d", 3),
                                            emu::generated_text("e f", 3)});
}

TEST_CASE("client: constrained generation sends the regex or the schema, and the output follows it") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::string number, json;
    run(io, [&]() -> asio::awaitable<void> {
        number = co_await client.async_generate(api::generate("The value of pi is ").regex("[+-]?[0-9]+\\.[0-9]{2}"));
        auto schema = boost::json::parse(
            R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]})");
        auto request = api::generate("A person: ").json_schema(schema);
        json = co_await client.async_generate(request);
    });
    CHECK(std::regex_match(number, std::regex("[+-]?[0-9]+\\.[0-9]{2}")));
    const auto parsed = boost::json::parse(json);
    REQUIRE(parsed.is_object());
    CHECK(parsed.as_object().at("name").is_string());
    CHECK(parsed.as_object().at("age").is_int64());
    const auto sent = site.server.requests();
    REQUIRE(sent.size() == 2);
    CHECK(boost::json::parse(sent[0].body).as_object().at("regex_string") == "[+-]?[0-9]+\\.[0-9]{2}");
    CHECK(boost::json::parse(sent[1].body).as_object().contains("json_schema"));
}

TEST_CASE("client: a stream of one prompt yields each token exactly, newlines included, and ends after the last") {
    for (auto s : {scheme::http, scheme::https}) {
        CAPTURE(takeoff::test::to_string(s));
        takeoff_site site(s);
        asio::io_context io;
        takeoff::client client(io.get_executor(), site.client_options());
        std::vector<std::string> tokens;
        bool ended = false;
        run(io, [&]() -> asio::awaitable<void> {
            auto stream = co_await client.async_generate_stream(api::generate_stream("Once upon a time").max_new_tokens(12));
            CHECK(stream.status() == 200);
            while (auto token = co_await stream.async_next()) tokens.push_back(*token);
            ended = stream.done();
            // A second call after the end gives nothing again.
            auto again = co_await stream.async_next();
            CHECK_FALSE(again.has_value());
        });
        CHECK(tokens == emu::generated_tokens("Once upon a time", 12));
        CHECK(tokens[4].find('\n') != std::string::npos); // the emulator's fifth token holds a newline
        CHECK(ended);
        // The stream was read to its end: its connection went back to the pool.
        CHECK(client.transport().idle_connections() == 1);
    }
}

TEST_CASE("client: a streamed batch yields {text, batch_id} events that interleave and rebuild each text") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<api::batch_token> events;
    run(io, [&]() -> asio::awaitable<void> {
        std::vector<std::string> prompts{"first", "second"};
        auto request = api::generate_stream(std::move(prompts)).max_new_tokens(6);
        auto stream = co_await client.async_generate_stream(request);
        while (auto ev = co_await stream.async_next()) events.push_back(*ev);
    });
    REQUIRE(events.size() == 12);
    CHECK(events[0].batch_id == 0);
    CHECK(events[1].batch_id == 1);
    std::vector<std::string> rebuilt(2);
    for (const auto& ev : events) rebuilt.at(ev.batch_id) += ev.text;
    CHECK(rebuilt[0] == emu::generated_text("first", 6));
    CHECK(rebuilt[1] == emu::generated_text("second", 6));
}

TEST_CASE("client: a stream whose connection drops after 3 tokens gives those 3, then errc::stream_truncated") {
    for (bool cut_inside_event : {false, true}) {
        CAPTURE(cut_inside_event);
        emu::takeoff_options options;
        options.drop_stream_after_tokens = 3;
        options.truncate_last_event = cut_inside_event;
        takeoff_site site(scheme::http, options);
        asio::io_context io;
        takeoff::client client(io.get_executor(), site.client_options());
        std::vector<std::string> tokens;
        boost::system::error_code failure;
        takeoff::diagnostics diag;
        run(io, [&]() -> asio::awaitable<void> {
            auto stream = co_await client.async_generate_stream(api::generate_stream("p").max_new_tokens(10));
            std::tie(tokens, failure) = co_await read_all(stream, diag);
            CHECK(stream.done());
            auto [after_ec, after] = co_await stream.async_next(tuple);
            CHECK(after_ec == errc::stream_truncated);
            CHECK_FALSE(after.has_value());
        });
        CHECK(tokens == emu::generated_tokens("p", 3));
        CHECK(failure == errc::stream_truncated);
        CHECK_FALSE(diag.client_message().empty());
    }
}

TEST_CASE("client: a body that ends cleanly inside an event is errc::stream_truncated, never a silent end") {
    // A close-delimited body cannot tell a drop from an end, so the drop knob with a cut event is
    // the case the parser must catch: the last chunk is never sent, and the connection closes.
    emu::takeoff_options options;
    options.close_delimited_streams = true;
    options.drop_stream_after_tokens = 2;
    options.truncate_last_event = true;
    takeoff_site site(scheme::http, options);
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<std::string> tokens;
    boost::system::error_code failure;
    takeoff::diagnostics diag;
    run(io, [&]() -> asio::awaitable<void> {
        auto stream = co_await client.async_generate_stream(api::generate_stream("q").max_new_tokens(10));
        std::tie(tokens, failure) = co_await read_all(stream, diag);
    });
    CHECK(tokens == emu::generated_tokens("q", 2));
    CHECK(failure == errc::stream_truncated);
    CHECK(diag.client_message() == "the stream ended inside an event (its blank line never came)");
}

TEST_CASE("client: a close-delimited stream that ends after a complete event ends normally") {
    emu::takeoff_options options;
    options.close_delimited_streams = true;
    takeoff_site site(scheme::http, options);
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::vector<std::string> tokens;
    run(io, [&]() -> asio::awaitable<void> {
        auto stream = co_await client.async_generate_stream(api::generate_stream("r").max_new_tokens(7));
        while (auto token = co_await stream.async_next()) tokens.push_back(*token);
    });
    CHECK(tokens == emu::generated_tokens("r", 7));
}

TEST_CASE("client: cancelling a stream's read ends it with operation_aborted and closes its connection") {
    emu::takeoff_options options;
    options.token_interval = std::chrono::seconds(30); // the second token never comes in time
    takeoff_site site(scheme::http, options);
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    asio::cancellation_signal cancel;
    std::string first;
    boost::system::error_code cancelled, after;
    std::string text_after;
    run(io, [&]() -> asio::awaitable<void> {
        auto stream = co_await client.async_generate_stream(api::generate_stream("s").max_new_tokens(5));
        auto token = co_await stream.async_next();
        first = token.value();
        // The next token is 30 s away: cancel the read once it has started.
        asio::post(io, [&] { cancel.emit(asio::cancellation_type::terminal); }); // runs once the read waits
        auto [ec, none] = co_await stream.async_next(
            asio::bind_cancellation_slot(cancel.slot(), asio::as_tuple(asio::use_awaitable)));
        cancelled = ec;
        CHECK_FALSE(none.has_value());
        auto [again, nothing] = co_await stream.async_next(tuple);
        after = again;
        // The connection was closed, not pooled: the next request opens a new one.
        text_after = co_await client.async_generate(api::generate("t").max_new_tokens(1));
    });
    CHECK(first == emu::generated_tokens("s", 1)[0]);
    CHECK(cancelled == asio::error::operation_aborted);
    CHECK(after == errc::stream_truncated);
    CHECK(text_after == emu::generated_text("t", 1));
    CHECK(client.transport().connections_opened() == 2);
}

TEST_CASE("client: 503 until ready and 429 are retried by the transport's policy, then succeed") {
    emu::takeoff_options options;
    options.unavailable_requests = 2;
    takeoff_site site(scheme::http, options);
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    std::string text, after_429;
    run(io, [&]() -> asio::awaitable<void> {
        text = co_await client.async_generate(api::generate("u").max_new_tokens(2));
        site.takeoff.configure([](emu::takeoff_options& o) { o.too_many_requests_every = 2; });
        co_await client.async_generate(api::generate("v").max_new_tokens(1)); // request 1 of the count: served
        after_429 = co_await client.async_generate(api::generate("w").max_new_tokens(2)); // 2: 429, then served
    });
    CHECK(text == emu::generated_text("u", 2));
    CHECK(after_429 == emu::generated_text("w", 2));
    CHECK(site.takeoff.requests_refused() == 3);
    CHECK(site.server.request_count() == 6);
}

TEST_CASE("client: 429 on every attempt fails with errc::too_many_requests after max_attempts, status in diagnostics") {
    emu::takeoff_options options;
    options.too_many_requests_every = 1;
    options.retry_after = "";
    takeoff_site site(scheme::http, options);
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    takeoff::diagnostics diag;
    boost::system::error_code ec;
    run(io, [&]() -> asio::awaitable<void> {
        auto [e, text] = co_await client.async_generate(api::generate("x"), diag, tuple);
        ec = e;
        CHECK(text.empty());
    });
    CHECK(ec == errc::too_many_requests);
    CHECK(diag.http_status() == 429);
    CHECK(site.server.request_count() == 3); // retry_policy's default max_attempts
}

TEST_CASE("client: a 400 reply is the errc of its status with the server's body as the untrusted message") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    takeoff::diagnostics diag;
    boost::system::error_code ec;
    run(io, [&]() -> asio::awaitable<void> {
        auto [e, text] = co_await client.async_generate(
            api::generate("x").consumer_group(api::consumer_group("nobody")), diag, tuple);
        ec = e;
    });
    CHECK(ec == errc::http_status);
    CHECK(diag.http_status() == 400);
    CHECK(diag.server_message().find("nobody") != std::string::npos);
    CHECK(site.server.request_count() == 1); // a 400 is not retried
}

TEST_CASE("client: the default token throws takeoff::error carrying the diagnostics") {
    takeoff_site site;
    site.takeoff.set_ready(false);
    asio::io_context io;
    auto options = site.client_options();
    options.http.defaults.retries = takeoff::http::retry_policy::none();
    takeoff::client client(io.get_executor(), options);
    std::optional<takeoff::error> thrown;
    run(io, [&]() -> asio::awaitable<void> {
        try {
            co_await client.async_generate("x");
        } catch (const takeoff::error& e) {
            thrown.emplace(e);
        }
    });
    REQUIRE(thrown.has_value());
    CHECK(thrown->code() == errc::service_unavailable);
    CHECK(thrown->get_diagnostics().http_status() == 503);
}

TEST_CASE("client: without a provider no credential header is sent; the body and content type are JSON") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    run(io, [&]() -> asio::awaitable<void> { co_await client.async_generate(api::generate("x").max_new_tokens(1)); });
    const auto sent = site.server.requests();
    REQUIRE(sent.size() == 1);
    CHECK_FALSE(sent[0].header("Authorization").has_value());
    CHECK_FALSE(sent[0].header("X-SF-SPCS-Authorization").has_value());
    CHECK(sent[0].header("Content-Type") == "application/json");
    CHECK(sent[0].body == R"({"text":"x","max_new_tokens":1})");
    CHECK(sent[0].target == "/generate");
}

TEST_CASE("client: one client shared by 64 coroutines on 4 threads: every reply is its own prompt's") {
    takeoff_site site;
    asio::io_context io;
    takeoff::client client(io.get_executor(), site.client_options());
    constexpr int count = 64;
    std::vector<std::string> texts(count);
    std::atomic<int> finished{0};
    for (int i = 0; i < count; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                const std::string prompt = "thread prompt " + std::to_string(i);
                if (i % 2 == 0) {
                    texts[i] = co_await client.async_generate(api::generate(prompt).max_new_tokens(3));
                } else {
                    auto stream = co_await client.async_generate_stream(api::generate_stream(prompt).max_new_tokens(3));
                    while (auto t = co_await stream.async_next()) texts[i] += *t;
                }
                ++finished;
            },
            asio::detached);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
    for (auto& t : threads) t.join();
    CHECK(finished == count);
    for (int i = 0; i < count; ++i) {
        CAPTURE(i);
        CHECK(texts[i] == emu::generated_text("thread prompt " + std::to_string(i), 3));
    }
}
