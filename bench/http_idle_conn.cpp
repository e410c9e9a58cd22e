// Memory per idle pooled TLS connection of http::client.
//
// The HTTPS server is the emulator, run in a child process (this program again, with --serve) so
// that none of its memory is in the figures. Its /hold route answers no request until 1,000 have
// arrived, so the client's 1,000 concurrent requests (max_connections_per_origin 1,000) each need a
// connection of their own; once answered, the 1,000 connections sit idle in the pool. The growth
// of the client process between "one idle connection" and "1,000 idle connections", divided by the
// connections added, is reported two ways:
// - heap: the bytes live in operator new (replaced here, counting malloc_usable_size) plus those
//   OpenSSL holds (its allocator replaced with CRYPTO_set_mem_functions before its first use);
// - RSS: resident memory from /proc/self/statm (includes allocator overhead and fragmentation).
//
// Prints `BENCH http_idle_conn_bytes <n> bytes` (heap), `BENCH http_idle_conn_rss_bytes <n> bytes`,
// and the heap split into `..._openssl_bytes` and `..._cxx_bytes`.
//
// Run: `bash tools/bench.sh http_idle_conn`. The latest figures and the target are in
// docs/benchmarks.md, not here, where they would go stale.

#include <takeoff/http/client.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include "../tests/support/process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// ---- counting allocators -------------------------------------------------------------------

namespace {

std::atomic<long long> cxx_live{0};
std::atomic<long long> openssl_live{0};
bool openssl_counted = false;

// Out of line: inlined into the replaced operator delete, std::free would look to GCC like a
// mismatched deallocation (-Wmismatched-new-delete).
[[gnu::noinline]] void* counted_malloc(std::size_t n, std::atomic<long long>& live) {
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p) live.fetch_add(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}

[[gnu::noinline]] void* counted_aligned(std::size_t n, std::size_t alignment) {
    void* p = nullptr;
    if (::posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, n == 0 ? 1 : n) != 0) return nullptr;
    cxx_live.fetch_add(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}

[[gnu::noinline]] void counted_free(void* p, std::atomic<long long>& live) noexcept {
    if (!p) return;
    live.fetch_sub(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}

void* openssl_malloc(std::size_t n, const char*, int) { return counted_malloc(n, openssl_live); }
void* openssl_realloc(void* p, std::size_t n, const char*, int) {
    const auto before = p ? static_cast<long long>(::malloc_usable_size(p)) : 0;
    void* q = std::realloc(p, n);
    if (q || n == 0) openssl_live.fetch_sub(before, std::memory_order_relaxed);
    if (q) openssl_live.fetch_add(static_cast<long long>(::malloc_usable_size(q)), std::memory_order_relaxed);
    return q;
}
void openssl_free(void* p, const char*, int) { counted_free(p, openssl_live); }

// Before any other static initialiser can make OpenSSL allocate.
__attribute__((constructor(101))) void install_openssl_allocator() {
    openssl_counted = CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;
}

} // namespace

void* operator new(std::size_t n) {
    if (void* p = counted_malloc(n, cxx_live)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n, cxx_live); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n, cxx_live); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = counted_aligned(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { counted_free(p, cxx_live); }
void operator delete[](void* p) noexcept { counted_free(p, cxx_live); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p, cxx_live); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p, cxx_live); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p, cxx_live); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p, cxx_live); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p, cxx_live); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p, cxx_live); }

namespace {

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;

constexpr std::size_t connections = 1000;

long long resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    long long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
}

void raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// --serve CERT KEY: the HTTPS emulator. Prints its port, then serves until stdin closes.
int serve(const char* certificate_file, const char* key_file) {
    auto read = [](const char* path) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    };
    emu::server_options options;
    options.tls.emplace(read(certificate_file), read(key_file));
    emu::server server(std::move(options));
    std::atomic<std::size_t> arrived{0};
    server.route(boost::beast::http::verb::get, "/warm",
                 emu::behaviours::respond(boost::beast::http::status::ok, "{}", "application/json"));
    server.route(boost::beast::http::verb::get, "/hold", [&](emu::exchange& ex) -> asio::awaitable<void> {
        if (++arrived == connections) server.hold_gate().open();
        co_await ex.async_wait_released();
        co_await ex.async_respond(emu::make_json_response(boost::beast::http::status::ok, "{}"));
    });
    std::printf("%u\n", static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    char byte;
    while (::read(STDIN_FILENO, &byte, 1) > 0) {
    }
    server.stop();
    return 0;
}

// The child server process; stdin closed (so it stops) and reaped on destruction.
class server_process {
public:
    server_process(const std::string& certificate_file, const std::string& key_file) {
        int to_child[2], from_child[2];
        if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
            throw std::runtime_error("cannot create pipes");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
        std::vector<std::string> argv{"/proc/self/exe", "--serve", certificate_file, key_file};
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(to_child[0]);
        ::close(from_child[1]);
        to_child_ = to_child[1];
        if (spawned != 0) {
            ::close(from_child[0]);
            throw std::runtime_error("cannot start the server process");
        }
        // The port line arrives once the server listens.
        std::string line;
        char c;
        while (::read(from_child[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(from_child[0]);
        if (line.empty()) throw std::runtime_error("the server process did not start");
        port_ = static_cast<std::uint16_t>(std::stoul(line));
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;
    ~server_process() {
        ::close(to_child_);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    std::uint16_t port() const noexcept { return port_; }

private:
    pid_t pid_ = -1;
    int to_child_ = -1;
    std::uint16_t port_ = 0;
};

struct sample {
    long long cxx, openssl, rss;
};

sample now() {
    return {cxx_live.load(), openssl_live.load(), resident_bytes()};
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--serve") return serve(argv[2], argv[3]);
    raise_file_limit();

    emu::certificate_authority authority;
    takeoff::test::temp_directory directory("takeoff-bench-idle");
    const auto files = authority.issue().write_files(directory.path(), "server");
    server_process server(files.certificate.string(), files.private_key.string());
    const std::string base = "https://127.0.0.1:" + std::to_string(server.port());

    asio::io_context io(1);
    http::client_options options;
    options.proxy = http::proxy_config{};
    options.tls.use_system_trust = false;
    options.tls.ca_pem = authority.certificate_pem();
    options.pool.max_connections_per_origin = connections;
    options.pool.idle_timeout = std::chrono::minutes(10);
    options.defaults.retries = http::retry_policy::none();
    options.defaults.timeouts.connect = options.defaults.timeouts.tls_handshake = std::chrono::seconds(60);
    options.defaults.timeouts.header_read = std::chrono::seconds(120);
    options.single_threaded_executor = true;
    http::client client(io.get_executor(), options);

    std::size_t failures = 0;
    auto fetch = [&](std::string path) -> asio::awaitable<void> {
        auto [ec, response] = co_await client.async_request(http::request::get(boost::urls::url(base + path)),
                                                            asio::as_tuple(asio::deferred));
        if (ec && failures++ == 0) std::fprintf(stderr, "http_idle_conn: request failed: %s\n", ec.message().c_str());
    };

    // One connection first, so that what is made once (TLS context state, Asio services, the
    // pool's per-origin entry) is in the baseline.
    asio::co_spawn(io, fetch("/warm"), asio::detached);
    io.run();
    io.restart();
    const std::size_t idle_before = client.idle_connections();
    const sample before = now();

    for (std::size_t i = 0; i < connections; ++i) asio::co_spawn(io, fetch("/hold"), asio::detached);
    io.run();
    const std::size_t idle_after = client.idle_connections();
    const sample after = now();

    const auto added = static_cast<long long>(idle_after - idle_before);
    if (failures != 0 || added <= 0) {
        std::fprintf(stderr, "http_idle_conn: %zu failures, %lld connections added\n", failures, added);
        return 1;
    }
    const long long cxx = (after.cxx - before.cxx) / added;
    const long long openssl = (after.openssl - before.openssl) / added;
    const long long rss = (after.rss - before.rss) / added;
    if (!openssl_counted) std::fprintf(stderr, "http_idle_conn: OpenSSL allocations could not be counted\n");
    std::printf("BENCH http_idle_conn_bytes %lld bytes\n", cxx + openssl);
    std::printf("BENCH http_idle_conn_cxx_bytes %lld bytes\n", cxx);
    std::printf("BENCH http_idle_conn_openssl_bytes %lld bytes\n", openssl);
    std::printf("BENCH http_idle_conn_rss_bytes %lld bytes\n", rss);
    std::fprintf(stderr, "http_idle_conn: %lld idle connections added (%zu idle, %zu opened)\n", added, idle_after,
                 client.connections_opened());
    return 0;
}
