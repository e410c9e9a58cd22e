// Requests per second of http::client on keep-alive connections: small JSON POSTs (a 100-byte
// body, Content-Type application/json) to a local nginx that answers every request with a fixed
// JSON body (tests/http/nginx-fixed-json.conf.in), from 1 and from 64 coroutines sharing one client
// on one io_context run by one thread. In the same run, wrk sends the same POST to the same nginx
// with 1 and 64 connections: the ceiling. nginx and the load generator share the machine's cores
// in both cases.
//
// Prints `BENCH http_rps_c1 <n> req/s`, `BENCH http_rps_c1_wrk ...`, `BENCH http_rps_c1_ratio_vs_wrk
// <x> ratio`, and the same for c64: the best of 5 rounds, each a client run (3 s measured after a
// 0.5 s warm-up) then a wrk run (3 s). Exits non-zero when a request fails or wrk cannot be run.
// `bench_http_rps --client-only N` runs the client alone at concurrency N, one round, and adds its
// CPU time and operator new calls per request; under callgrind (--collect-atstart=no) it collects
// the measured window only.
//
// Run: `bash tools/bench.sh http_rps` (needs nginx and wrk). The latest figures are in
// docs/benchmarks.md, not here, where they would go stale.

#include <takeoff/http/client.hpp>

#include "../tests/support/nginx.hpp"
#include "../tests/support/process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h> // no-ops unless the program runs under callgrind
#define TAKEOFF_BENCH_TOGGLE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define TAKEOFF_BENCH_TOGGLE_COLLECT() ((void)0)
#endif

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>

// Heap allocations through operator new, counted to print allocations per request.
// (Out of line, so that the compiler does not pair malloc/free with new/delete itself.)
namespace {
std::atomic<std::uint64_t> allocations{0};
[[gnu::noinline]] void* counted_malloc(std::size_t n) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] void plain_free(void* p) noexcept { std::free(p); }
} // namespace

void* operator new(std::size_t n) {
    if (void* p = counted_malloc(n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { plain_free(p); }
void operator delete[](void* p) noexcept { plain_free(p); }
void operator delete(void* p, std::size_t) noexcept { plain_free(p); }
void operator delete[](void* p, std::size_t) noexcept { plain_free(p); }

namespace {

namespace asio = boost::asio;
namespace http = takeoff::http;
using namespace std::chrono_literals;

constexpr auto warm_up = 500ms;
constexpr auto measured = 3s;
constexpr int rounds = 5;

// 100 bytes, the size of a small generate request.
const std::string request_body =
    R"({"text":"What is the capital of France? One word.","max_new_tokens":16,"sampling_temperature":0.25})";

struct figures {
    double requests_per_second = 0;
    double cpu_us_per_request = 0;  // the client process's user + system CPU time per request
    double user_us_per_request = 0; // the user part alone (steadier on a loaded machine)
    double allocations_per_request = 0; // operator new calls per request
    std::size_t failures = 0;
    std::size_t connections = 0;
    std::size_t measured_requests = 0; // completed in the measured window
};

struct cpu_time {
    double user = 0, total = 0; // seconds
};

cpu_time cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const double user = static_cast<double>(usage.ru_utime.tv_sec) + static_cast<double>(usage.ru_utime.tv_usec) / 1e6;
    const double sys = static_cast<double>(usage.ru_stime.tv_sec) + static_cast<double>(usage.ru_stime.tv_usec) / 1e6;
    return {user, user + sys};
}

figures measure_client(const std::string& url, std::size_t concurrency) {
    asio::io_context io(1);
    http::client_options options;
    options.proxy = http::proxy_config{}; // straight to nginx whatever the environment says
    options.pool.max_connections_per_origin = concurrency;
    options.defaults.retries = http::retry_policy::none();
    options.single_threaded_executor = true; // one thread runs io: no strand per operation
    http::client client(io.get_executor(), options);
    const http::request prototype = http::request::post(boost::urls::url(url), request_body, "application/json");

    bool stop = false;
    std::size_t completed = 0;
    std::size_t failures = 0;
    for (std::size_t i = 0; i < concurrency; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                while (!stop) {
                    auto [ec, response] = co_await client.async_request(prototype, asio::as_tuple(asio::deferred));
                    if (ec || response.body.empty()) {
                        if (failures++ == 0) std::fprintf(stderr, "http_rps: request failed: %s\n", ec.message().c_str());
                        if (failures > 100) stop = true;
                    } else {
                        ++completed;
                    }
                }
            },
            asio::detached);
    }

    // The measured window is opened and closed by timers on the same io_context.
    std::size_t completed_at_start = 0;
    std::chrono::steady_clock::time_point started;
    cpu_time cpu_at_start;
    std::uint64_t allocations_at_start = 0;
    figures out;
    asio::steady_timer timer(io, warm_up);
    timer.async_wait([&](boost::system::error_code) {
        completed_at_start = completed;
        started = std::chrono::steady_clock::now();
        cpu_at_start = cpu_seconds();
        allocations_at_start = allocations.load(std::memory_order_relaxed);
        TAKEOFF_BENCH_TOGGLE_COLLECT();
        timer.expires_after(measured);
        timer.async_wait([&](boost::system::error_code) {
            TAKEOFF_BENCH_TOGGLE_COLLECT();
            const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
            const auto requests = static_cast<double>(completed - completed_at_start);
            out.requests_per_second = requests / elapsed.count();
            out.measured_requests = completed - completed_at_start;
            const cpu_time cpu = cpu_seconds();
            out.cpu_us_per_request = requests > 0 ? (cpu.total - cpu_at_start.total) * 1e6 / requests : 0;
            out.user_us_per_request = requests > 0 ? (cpu.user - cpu_at_start.user) * 1e6 / requests : 0;
            out.allocations_per_request =
                requests > 0
                    ? static_cast<double>(allocations.load(std::memory_order_relaxed) - allocations_at_start) / requests
                    : 0;
            stop = true;
        });
    });
    io.run();
    out.failures = failures;
    std::fprintf(stderr, "http_rps: %zu requests completed in all (warm-up included), %zu in the measured window\n",
                 completed, out.measured_requests);
    out.connections = client.connections_opened();
    return out;
}

std::optional<double> measure_wrk(const std::string& url, std::size_t concurrency,
                                  const std::filesystem::path& script) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(measured).count();
    const auto result =
        takeoff::test::run_process({"wrk", "-t1", "-c" + std::to_string(concurrency),
                                    "-d" + std::to_string(seconds) + "s", "-s", script.string(), url});
    std::smatch match;
    static const std::regex rate(R"(Requests/sec:\s*([0-9.]+))");
    if (result.exit_code != 0 || !std::regex_search(result.output, match, rate)) {
        std::fprintf(stderr, "http_rps: wrk failed (exit %d):\n%s\n", result.exit_code, result.output.c_str());
        return std::nullopt;
    }
    if (result.output.find("Non-2xx") != std::string::npos || result.output.find("Socket errors") != std::string::npos)
        std::fprintf(stderr, "http_rps: wrk reported errors:\n%s\n", result.output.c_str());
    return std::stod(match[1].str());
}

// Restricts this process (and the processes it starts from now on) to one CPU; false when the
// machine has fewer than two or the call fails.
bool pin_to_cpu(int cpu) {
    if (std::thread::hardware_concurrency() < 2) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

void raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace

int main(int argc, char** argv) {
    raise_file_limit();
    // `bench_http_rps --client-only N`: only the client at concurrency N, one round (for profiling).
    const bool client_only = argc == 3 && std::string(argv[1]) == "--client-only";
    const std::filesystem::path source_dir = TAKEOFF_SOURCE_DIR;
    // With two or more CPUs, nginx gets CPU 0 and the load generator (this process, and wrk, which
    // inherits its affinity) CPU 1: both measurements then see the same placement instead of
    // whatever the scheduler picks per run (placement alone moved results by 30 %).
    const bool pinned = pin_to_cpu(0);
    takeoff::test::nginx_server nginx(source_dir / "tests/http/nginx-fixed-json.conf.in", {});
    if (pinned && !pin_to_cpu(1)) std::fprintf(stderr, "http_rps: cannot pin the load generator to CPU 1\n");
    const std::string url = "http://127.0.0.1:" + std::to_string(nginx.port()) + "/generate";

    // wrk sends the same POST as the client: method, body and Content-Type from a script.
    const auto script = nginx.directory() / "post.lua";
    {
        std::ofstream out(script);
        out << "wrk.method = \"POST\"\n"
            << "wrk.body = '" << request_body << "'\n"
            << "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
    }

    if (client_only) {
        const figures ours = measure_client(url, std::stoul(argv[2]));
        std::printf("BENCH http_rps_c%s %.0f req/s\n", argv[2], ours.requests_per_second);
        std::printf("BENCH http_rps_c%s_cpu_per_request %.2f us\n", argv[2], ours.cpu_us_per_request);
        std::printf("BENCH http_rps_c%s_user_cpu_per_request %.2f us\n", argv[2], ours.user_us_per_request);
        std::printf("BENCH http_rps_c%s_allocations_per_request %.2f count\n", argv[2], ours.allocations_per_request);
        return ours.failures == 0 ? 0 : 1;
    }

    int status = 0;
    for (const std::size_t concurrency : {std::size_t{1}, std::size_t{64}}) {
        const std::string name = "http_rps_c" + std::to_string(concurrency);
        // Rounds alternate the client and wrk, and the best of each is kept: on a shared machine a
        // single run can fall into a slow phase, and alternating exposes both to the same phases.
        double ours_best = 0, wrk_best = 0;
        for (int round = 0; round < rounds; ++round) {
            const figures ours = measure_client(url, concurrency);
            if (ours.failures != 0) {
                std::fprintf(stderr, "http_rps: %zu requests failed at concurrency %zu\n", ours.failures, concurrency);
                status = 1;
            }
            ours_best = std::max(ours_best, ours.requests_per_second);
            const auto wrk = measure_wrk(url, concurrency, script);
            if (!wrk) {
                status = 1;
                break;
            }
            wrk_best = std::max(wrk_best, *wrk);
            std::fprintf(stderr,
                         "http_rps: c%zu round %d: client %.0f req/s (%zu connections, %.2f us CPU per request), "
                         "wrk %.0f req/s\n",
                         concurrency, round + 1, ours.requests_per_second, ours.connections, ours.cpu_us_per_request,
                         *wrk);
        }
        std::printf("BENCH %s %.0f req/s\n", name.c_str(), ours_best);
        if (wrk_best > 0) {
            std::printf("BENCH %s_wrk %.0f req/s\n", name.c_str(), wrk_best);
            std::printf("BENCH %s_ratio_vs_wrk %.2f ratio\n", name.c_str(), ours_best / wrk_best);
        }
        std::fflush(stdout);
    }
    return status;
}
