// Streamed generation through the whole stack: 1,000 concurrent generate_stream requests of 200
// tokens each (max_new_tokens 200) through takeoff::client, against the emulated Takeoff over HTTPS
// behind the emulated SPCS ingress (every request carries a session token and is checked).
//
// The server (emulator) runs in a child process (bench/support/emulated_takeoff.hpp), pinned to
// CPU 0 on a machine with two or more CPUs, so that none of its memory is in this process's RSS;
// the client runs here on one thread (one io_context, single_threaded_executor), pinned to CPU 1.
// The emulator writes every token as soon as the last one is written (token_interval 0,
// first_token_delay 0): the server is as fast as it can be, and what is measured is the stack.
// Three phases, each stream's tokens checked against the emulator's generator:
//
// - memory: after one warm-up stream (so that what exists once, TLS context and pool entry, is in
//   the baseline), 1,000 streams are opened at once (999 of them on new connections), and each is
//   read to its 10th token, where it waits until all 1,000 have got there; the growth of the
//   resident set (/proc/self/statm) from before their opening to that moment, divided by 1,000, is
//   `api_stream_bytes_per_stream` (connection, TLS state, read buffers, event_stream, the
//   coroutine reading it), and the growth of the heap, counted by replaced allocators
//   (support/counting_allocators.hpp), `api_stream_heap_bytes_per_stream` split into C++ and
//   OpenSSL. Then all of them are read to their end.
// - throughput: 1,000 streams opened at once again (on the connections pooled by the first phase)
//   and read to their end: `api_stream_tokens_per_s` = tokens received / the time from the first
//   opening to the last end.
// - time to first token: 200 streams one after the other (no queueing). For each, the client's
//   time from calling async_generate_stream to the first token from async_next, minus the
//   server's own from its handler's start (after the ingress check) to the completion of the first
//   token's write (the emulator's stream_timings, in the same order); the median is
//   `api_stream_added_ttft_us`, with the medians of both parts as `_client_ttft_us` and
//   `_server_ttft_us`. (Matched by order: one stream at a time, so nothing can be mismatched.)
//
// `bench_api_stream --ttft-only N` runs the warm-up and the last phase alone, N streams long (for
// perf record). Run: `bash tools/bench.sh api_stream`. The latest figures are in docs/benchmarks.md.

#include <takeoff/api/base_url.hpp>
#include <takeoff/api/generate.hpp>
#include <takeoff/client.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff_emulator/generation.hpp>

#include "support/counting_allocators.hpp"
#include "support/emulated_takeoff.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace api = takeoff::api;
namespace snowflake = takeoff::snowflake;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t stream_count = 1'000;
constexpr std::size_t tokens_per_stream = 200;
constexpr std::size_t hold_at_token = 10;
constexpr std::size_t ttft_samples = 200;

struct bench_client {
    asio::io_context io{1};
    snowflake::static_token_provider provider;
    takeoff::client client;

    explicit bench_client(takeoff::bench::takeoff_server_process& server)
        : provider(io.get_executor(), server.session_token(), "the session token"),
          client(io.get_executor(), options(server), &provider) {}

    static takeoff::client_options options(takeoff::bench::takeoff_server_process& server) {
        takeoff::client_options o;
        o.inference_url = api::inference_url::runtime(server.url()).value();
        o.http.proxy_from_environment = false;
        o.http.tls.use_system_trust = false;
        o.http.tls.ca_pem = server.ca_pem();
        o.http.pool.max_connections_per_origin = stream_count;
        o.http.pool.idle_timeout = std::chrono::minutes(10);
        o.http.defaults.retries = takeoff::http::retry_policy::none();
        // 1,000 handshakes at once queue at the single-threaded server.
        o.http.defaults.timeouts.connect = o.http.defaults.timeouts.tls_handshake = std::chrono::seconds(60);
        o.http.single_threaded_executor = true;
        return o;
    }
};

// What the streams of one phase did.
struct phase_result {
    std::size_t tokens = 0;
    std::size_t failures = 0;
    std::string first_failure;

    void fail(std::string why) {
        if (failures++ == 0) first_failure = std::move(why);
    }
};

// Reads one stream of tokens_per_stream tokens for `prompt` to its end, checking each token.
// `at_hold` (may be empty) is called at the hold_at_token-th token and awaited.
asio::awaitable<void> read_stream(takeoff::client& client, std::string prompt, phase_result& result,
                                  std::function<asio::awaitable<void>()> at_hold,
                                  std::function<void()> on_failure) {
    auto request = api::generate_stream(prompt).max_new_tokens(200);
    takeoff::diagnostics diag;
    auto open = client.async_generate_stream(std::move(request), diag, asio::as_tuple(asio::deferred));
    auto [ec, stream] = co_await std::move(open);
    if (ec) {
        result.fail("open: " + ec.message() + ": " + diag.client_message());
        if (on_failure) on_failure();
        co_return;
    }
    std::size_t n = 0;
    for (;;) {
        auto next = stream.async_next(diag, asio::as_tuple(asio::deferred));
        auto [next_ec, token] = co_await std::move(next);
        if (next_ec) {
            result.fail("next: " + next_ec.message() + ": " + diag.client_message());
            if (n < hold_at_token && on_failure) on_failure();
            co_return;
        }
        if (!token) break;
        if (*token != takeoff::emulator::token_at(prompt, n)) {
            result.fail("token " + std::to_string(n) + " differs: '" + *token + "'");
            if (n < hold_at_token && on_failure) on_failure();
            co_return;
        }
        if (++n == hold_at_token && at_hold) {
            asio::awaitable<void> holding = at_hold();
            co_await std::move(holding);
        }
    }
    result.tokens += n;
    if (n != tokens_per_stream) result.fail("a stream ended after " + std::to_string(n) + " tokens");
    if (n < hold_at_token && on_failure) on_failure();
}

bool report(const char* phase, const phase_result& r) {
    if (r.failures == 0) return true;
    std::fprintf(stderr, "api_stream: %s: %zu streams failed, the first: %s\n", phase, r.failures, r.first_failure.c_str());
    return false;
}

// Growth per stream in the memory phase: resident set, and the heap split into C++ and OpenSSL.
struct memory_result {
    long long rss = 0, cxx = 0, openssl = 0;
};

struct memory_sample {
    long long rss, cxx, openssl;
    static memory_sample now() {
        return {takeoff::bench::resident_bytes(), takeoff::bench::cxx_live_bytes.load(),
                takeoff::bench::openssl_live_bytes.load()};
    }
};

// The memory phase: growth per stream with stream_count streams open at their 10th token.
std::optional<memory_result> memory_phase(bench_client& b) {
    phase_result result;
    asio::steady_timer gate(b.io, steady::time_point::max());
    std::size_t settled = 0; // at the hold, or failed before it
    memory_sample at_hold{};
    auto arrive = [&] {
        if (++settled == stream_count) {
            at_hold = memory_sample::now();
            gate.cancel();
        }
    };
    std::function<asio::awaitable<void>()> hold = [&]() -> asio::awaitable<void> {
        arrive();
        if (settled < stream_count) {
            auto waiting = gate.async_wait(asio::as_tuple(asio::deferred));
            co_await std::move(waiting);
        }
    };
    const memory_sample before = memory_sample::now();
    for (std::size_t i = 0; i < stream_count; ++i)
        asio::co_spawn(b.io, read_stream(b.client, "memory " + std::to_string(i), result, hold, arrive), asio::detached);
    b.io.restart();
    b.io.run();
    if (!report("memory phase", result)) return std::nullopt;
    std::fprintf(stderr, "api_stream: %zu connections opened, RSS %lld bytes before, %lld at the hold\n",
                 b.client.transport().connections_opened(), before.rss, at_hold.rss);
    if (!takeoff::bench::openssl_counted) std::fprintf(stderr, "api_stream: OpenSSL allocations could not be counted\n");
    const auto n = static_cast<long long>(stream_count);
    return memory_result{(at_hold.rss - before.rss) / n, (at_hold.cxx - before.cxx) / n, (at_hold.openssl - before.openssl) / n};
}

// The throughput phase: tokens per second with stream_count streams at once.
std::optional<double> throughput_phase(bench_client& b, takeoff::bench::takeoff_server_process& server) {
    phase_result result;
    const double client_cpu = takeoff::bench::own_cpu_seconds();
    const double server_cpu = server.cpu_seconds();
    const auto start = steady::now();
    for (std::size_t i = 0; i < stream_count; ++i)
        asio::co_spawn(b.io, read_stream(b.client, "throughput " + std::to_string(i), result, {}, {}), asio::detached);
    b.io.restart();
    b.io.run();
    const double seconds = std::chrono::duration<double>(steady::now() - start).count();
    if (!report("throughput phase", result)) return std::nullopt;
    std::fprintf(stderr, "api_stream: %zu tokens in %.3f s, client CPU %.3f s, server CPU %.3f s\n", result.tokens, seconds,
                 takeoff::bench::own_cpu_seconds() - client_cpu, server.cpu_seconds() - server_cpu);
    return static_cast<double>(result.tokens) / seconds;
}

// The client's side of one stream's time to first token: wall time from the call to the first
// token, the part of it until the stream was open (response header received), and the CPU time
// this thread used meanwhile (the client's own work; the rest is waiting for the network and the
// server).
struct ttft_sample {
    double wall_us = 0, open_us = 0, cpu_us = 0;
};

// One stream, alone: the client's time to its first token; reads it to the end.
asio::awaitable<void> timed_stream(takeoff::client& client, std::string prompt, phase_result& result,
                                   std::vector<ttft_sample>& samples) {
    auto request = api::generate_stream(prompt).max_new_tokens(200);
    takeoff::diagnostics diag;
    const auto cpu_start = takeoff::bench::thread_cpu_time();
    const auto start = steady::now();
    auto open = client.async_generate_stream(std::move(request), diag, asio::as_tuple(asio::deferred));
    auto [ec, stream] = co_await std::move(open);
    const auto opened = steady::now();
    if (ec) {
        result.fail("open: " + ec.message() + ": " + diag.client_message());
        co_return;
    }
    std::size_t n = 0;
    for (;;) {
        auto next = stream.async_next(diag, asio::as_tuple(asio::deferred));
        auto [next_ec, token] = co_await std::move(next);
        if (n == 0) {
            const auto first = steady::now();
            const auto cpu = takeoff::bench::thread_cpu_time() - cpu_start;
            samples.push_back({std::chrono::duration<double, std::micro>(first - start).count(),
                               std::chrono::duration<double, std::micro>(opened - start).count(),
                               std::chrono::duration<double, std::micro>(cpu).count()});
        }
        if (next_ec) {
            result.fail("next: " + next_ec.message() + ": " + diag.client_message());
            co_return;
        }
        if (!token) break;
        if (*token != takeoff::emulator::token_at(prompt, n)) {
            result.fail("token " + std::to_string(n) + " differs");
            co_return;
        }
        ++n;
    }
    result.tokens += n;
    if (n != tokens_per_stream) result.fail("a stream ended after " + std::to_string(n) + " tokens");
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Medians of the time-to-first-token phase.
struct ttft_result {
    double added_us = 0, client_us = 0, server_us = 0;
};

// `samples` streams one after the other: the client's time to first token against the server's.
std::optional<ttft_result> ttft_phase(bench_client& b, takeoff::bench::takeoff_server_process& server,
                                      std::size_t samples = ttft_samples) {
    const std::size_t timings_before = server.stream_ttfts().size();
    phase_result sequential;
    std::vector<ttft_sample> client;
    for (std::size_t i = 0; i < samples; ++i) {
        asio::co_spawn(b.io, timed_stream(b.client, "ttft " + std::to_string(i), sequential, client), asio::detached);
        b.io.restart();
        b.io.run();
    }
    if (!report("time to first token", sequential)) return std::nullopt;
    const auto server_ttfts = server.stream_ttfts();
    if (server_ttfts.size() != timings_before + samples || client.size() != samples) {
        std::fprintf(stderr, "api_stream: %zu server timings for %zu sequential streams\n",
                     server_ttfts.size() - timings_before, client.size());
        return std::nullopt;
    }
    std::vector<double> client_us, open_us, cpu_us, server_us, added_us;
    for (std::size_t i = 0; i < samples; ++i) {
        const double s = std::chrono::duration<double, std::micro>(server_ttfts[timings_before + i]).count();
        client_us.push_back(client[i].wall_us);
        open_us.push_back(client[i].open_us);
        cpu_us.push_back(client[i].cpu_us);
        server_us.push_back(s);
        added_us.push_back(client[i].wall_us - s);
    }
    std::fprintf(stderr, "api_stream: time to first token, medians: client %.1f us (open %.1f us, client thread CPU %.1f us), server %.1f us\n",
                 median(client_us), median(open_us), median(cpu_us), median(server_us));
    return ttft_result{median(added_us), median(client_us), median(server_us)};
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 5 && std::string(argv[1]) == "--serve") return takeoff::bench::serve_takeoff(argv);
    try {
        takeoff::bench::raise_file_limit();
        takeoff::bench::takeoff_server_settings settings;
        settings.token_interval = std::chrono::microseconds(0);
        settings.record_stream_timings = true;
        takeoff::bench::takeoff_server_process server(settings);
        bench_client b(server);

        // Warm-up: one stream (one connection, the TLS context, the pool's entry).
        phase_result warm;
        std::vector<ttft_sample> ignored;
        asio::co_spawn(b.io, timed_stream(b.client, "warm", warm, ignored), asio::detached);
        b.io.run();
        if (!report("warm-up", warm)) return 1;
        if (argc == 3 && std::string(argv[1]) == "--ttft-only") {
            // For profiling (perf record): the time-to-first-token phase alone, N streams long.
            const auto only = ttft_phase(b, server, std::stoul(argv[2]));
            if (!only) return 1;
            std::printf("BENCH api_stream_added_ttft_us %.1f us\n", only->added_us);
            return 0;
        }

        const auto bytes_per_stream = memory_phase(b);
        if (!bytes_per_stream) return 1;
        const auto tokens_per_s = throughput_phase(b, server);
        if (!tokens_per_s) return 1;

        const auto ttft = ttft_phase(b, server);
        if (!ttft) return 1;

        std::printf("BENCH api_stream_tokens_per_s %.0f tokens/s\n", *tokens_per_s);
        std::printf("BENCH api_stream_bytes_per_stream %lld bytes\n", bytes_per_stream->rss);
        std::printf("BENCH api_stream_added_ttft_us %.1f us\n", ttft->added_us);
        std::printf("BENCH api_stream_client_ttft_us %.1f us\n", ttft->client_us);
        std::printf("BENCH api_stream_server_ttft_us %.1f us\n", ttft->server_us);
        std::printf("BENCH api_stream_heap_bytes_per_stream %lld bytes\n", bytes_per_stream->cxx + bytes_per_stream->openssl);
        std::printf("BENCH api_stream_heap_cxx_bytes_per_stream %lld bytes\n", bytes_per_stream->cxx);
        std::printf("BENCH api_stream_heap_openssl_bytes_per_stream %lld bytes\n", bytes_per_stream->openssl);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "api_stream: %s\n", e.what());
        return 1;
    }
}
