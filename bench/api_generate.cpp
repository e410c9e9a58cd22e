// Buffered generation through the whole stack: 10,000 `generate` requests (a short prompt,
// max_new_tokens 16) at 256-way concurrency through takeoff::client, against the emulated Takeoff
// over HTTPS behind the emulated SPCS ingress (every request carries a session token and is
// checked), then the same load from Python as the published Takeoff Python client sends it
// (bench/api_generate_client.py, /usr/bin/python3, httpx), against the same server in the same run.
//
// The server (emulator) runs in a child process (bench/support/emulated_takeoff.hpp), pinned to
// CPU 0 on a machine with two or more CPUs; the C++ client runs here on one thread (one
// io_context, single_threaded_executor), pinned to CPU 1, and the Python client inherits that
// placement. The C++ load: 256 coroutines, each sending its next request as soon as its last one
// has completed, sharing one takeoff::client (pool limit 256 connections) and one
// snowflake::static_token_provider holding the session token. A warm-up of 1,000 requests (each
// reply checked byte for byte against the emulator's generator) opens the connections first. Then
// the C++ load and the Python load alternate, three rounds each, and the best round of each is
// printed (its latencies for the C++ one), so that both meet the same slow phases of a shared
// machine (as bench/http_rps does with wrk).
//
// Prints `BENCH api_generate_rps`, `api_generate_python_rps`, `api_generate_ratio_vs_python`,
// `api_generate_p50_ms` and `api_generate_p99_ms` (each request's time from the call to its
// completion), `api_generate_peak_rss_bytes` (VmHWM of this process: the client's alone, the
// server being in its own process). Run: `bash tools/bench.sh api_generate`. The latest figures are
// in docs/benchmarks.md.

#include <takeoff/api/base_url.hpp>
#include <takeoff/api/generate.hpp>
#include <takeoff/client.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff_emulator/generation.hpp>

#include "support/emulated_takeoff.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace api = takeoff::api;
namespace snowflake = takeoff::snowflake;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t request_count = 10'000;
constexpr std::size_t warm_up_count = 1'000;
constexpr std::size_t concurrency = 256;
constexpr std::size_t new_tokens = 16;
constexpr int rounds = 3;

struct load_result {
    double seconds = 0;
    std::vector<double> latencies_ms; // sorted
    std::size_t errors = 0;
};

// `count` requests from `concurrency` coroutines on io's thread; with `check`, each reply must be
// the emulator's text for its prompt.
load_result run_load(asio::io_context& io, takeoff::client& client, std::size_t count, bool check) {
    load_result result;
    result.latencies_ms.reserve(count);
    std::size_t next = 0;
    std::string first_error;
    auto worker = [&]() -> asio::awaitable<void> {
        while (next < count) {
            const std::size_t i = next++;
            std::string prompt = "prompt " + std::to_string(i);
            auto request = api::generate(prompt).max_new_tokens(16);
            takeoff::diagnostics diag;
            const auto start = steady::now();
            auto op = client.async_generate(std::move(request), diag, asio::as_tuple(asio::deferred));
            auto [ec, text] = co_await std::move(op);
            result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - start).count());
            const bool wrong = !ec && (text.empty() || (check && text != takeoff::emulator::generated_text(prompt, new_tokens)));
            if (ec || wrong) {
                if (result.errors++ == 0)
                    first_error = ec ? ec.message() + ": " + diag.client_message() + " " + diag.server_message()
                                     : "unexpected text: " + text;
            }
        }
    };
    const auto start = steady::now();
    for (std::size_t w = 0; w < concurrency; ++w) asio::co_spawn(io, worker(), asio::detached);
    io.restart();
    io.run();
    result.seconds = std::chrono::duration<double>(steady::now() - start).count();
    std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
    if (result.errors) std::fprintf(stderr, "api_generate: %zu of %zu failed, the first: %s\n", result.errors, count, first_error.c_str());
    return result;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

// The environment without proxy variables (httpx would send loopback requests to a proxy).
std::vector<std::string> environment_without_proxies() {
    std::vector<std::string> result;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        std::string name = entry.substr(0, entry.find('='));
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        if (name == "http_proxy" || name == "https_proxy" || name == "all_proxy") continue;
        result.push_back(std::move(entry));
    }
    return result;
}

// Runs argv to completion; its stdout is returned, its stderr passes through. nullopt when it
// could not be started or exited with a non-zero status.
std::optional<std::string> run_program(std::vector<std::string> argv) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("cannot create a pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    auto env_strings = environment_without_proxies();
    std::vector<char*> env;
    for (auto& e : env_strings) env.push_back(e.data());
    env.push_back(nullptr);
    pid_t pid = -1;
    const int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (spawned != 0) {
        ::close(out[0]);
        std::fprintf(stderr, "api_generate: cannot start %s\n", argv[0].c_str());
        return std::nullopt;
    }
    std::string output;
    char buffer[4096];
    for (;;) {
        const auto n = ::read(out[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        output.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    return output;
}

// CPU time (user + system) of the children reaped so far (the Python client, once it has ended).
double children_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_CHILDREN, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

const std::string python = "/usr/bin/python3";
const std::string python_script = TAKEOFF_SOURCE_DIR "/bench/api_generate_client.py";

} // namespace

int main(int argc, char** argv) {
    if (argc == 5 && std::string(argv[1]) == "--serve") return takeoff::bench::serve_takeoff(argv);
    try {
        // Fail early, before the C++ half, when the Python half cannot run.
        if (!run_program({python, python_script, "--check"})) {
            std::fprintf(stderr, "api_generate: %s cannot run %s: install python3-httpx (Debian) and run again\n",
                         python.c_str(), python_script.c_str());
            return 1;
        }
        takeoff::bench::raise_file_limit();
        takeoff::bench::takeoff_server_process server({});

        asio::io_context io(1);
        takeoff::client_options options;
        options.inference_url = api::inference_url::runtime(server.url()).value();
        options.http.proxy_from_environment = false;
        options.http.tls.use_system_trust = false;
        options.http.tls.ca_pem = server.ca_pem();
        options.http.pool.max_connections_per_origin = concurrency;
        options.http.single_threaded_executor = true;
        snowflake::static_token_provider provider(io.get_executor(), server.session_token(), "the session token");
        takeoff::client client(io.get_executor(), options, &provider);

        const long long rss_before = takeoff::bench::resident_bytes();
        const auto warm = run_load(io, client, warm_up_count, true);
        if (warm.errors) return 1;
        const auto token_file = server.directory() / "token";
        {
            std::ofstream out(token_file);
            out << server.session_token().reveal() << '\n';
        }

        // The C++ load and the Python load alternate, `rounds` times each, and the best round of
        // each is kept, so that both meet the same slow phases of a shared machine.
        std::optional<load_result> cxx;
        double python_seconds = 0;
        for (int round = 1; round <= rounds; ++round) {
            const double client_cpu_before = takeoff::bench::own_cpu_seconds();
            const double server_cpu_before = server.cpu_seconds();
            auto load = run_load(io, client, request_count, false);
            if (load.errors) return 1;
            // Who was busy: CPU time of the client and of the server against the wall time.
            std::fprintf(stderr, "api_generate: round %d: C++: %zu requests in %.3f s, client CPU %.3f s, server CPU %.3f s "
                         "(%zu connections opened so far)\n",
                         round, request_count, load.seconds, takeoff::bench::own_cpu_seconds() - client_cpu_before,
                         server.cpu_seconds() - server_cpu_before, client.transport().connections_opened());
            if (!cxx || load.seconds < cxx->seconds) cxx = std::move(load);

            const std::size_t connections_before = server.connections_accepted();
            const double python_cpu_before = children_cpu_seconds();
            const double server_cpu_before_python = server.cpu_seconds();
            const auto reply = run_program({python, python_script, "--url", server.url(), "--ca-file",
                                            server.ca_file().string(), "--token-file", token_file.string(), "--count",
                                            std::to_string(request_count), "--concurrency", std::to_string(concurrency),
                                            "--max-new-tokens", std::to_string(new_tokens)});
            if (!reply) {
                std::fprintf(stderr, "api_generate: the Python client failed\n");
                return 1;
            }
            const auto figures = boost::json::parse(*reply).as_object();
            const double seconds = figures.at("seconds").to_number<double>();
            const auto errors = figures.at("errors").to_number<std::int64_t>();
            std::fprintf(stderr, "api_generate: round %d: Python: %zu requests in %.3f s, Python CPU %.3f s, server CPU %.3f s, "
                         "%zu connections, %lld errors\n",
                         round, request_count, seconds, children_cpu_seconds() - python_cpu_before,
                         server.cpu_seconds() - server_cpu_before_python, server.connections_accepted() - connections_before,
                         static_cast<long long>(errors));
            if (errors != 0) return 1;
            if (python_seconds == 0 || seconds < python_seconds) python_seconds = seconds;
        }
        const long long peak_rss = takeoff::bench::peak_resident_bytes();
        std::fprintf(stderr, "api_generate: client RSS %lld bytes before the first request\n", rss_before);

        const double rps = static_cast<double>(request_count) / cxx->seconds;
        const double python_rps = static_cast<double>(request_count) / python_seconds;
        std::printf("BENCH api_generate_rps %.0f req/s\n", rps);
        std::printf("BENCH api_generate_python_rps %.0f req/s\n", python_rps);
        std::printf("BENCH api_generate_ratio_vs_python %.1f ratio\n", rps / python_rps);
        std::printf("BENCH api_generate_p50_ms %.3f ms\n", percentile(cxx->latencies_ms, 0.50));
        std::printf("BENCH api_generate_p99_ms %.3f ms\n", percentile(cxx->latencies_ms, 0.99));
        std::printf("BENCH api_generate_peak_rss_bytes %lld bytes\n", peak_rss);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "api_generate: %s\n", e.what());
        return 1;
    }
}
