#pragma once
// The emulated Takeoff behind the emulated SPCS ingress, over HTTPS, in a child process: what
// bench/api_generate and bench/api_stream measure the client against.
//
// The server runs in a process of its own (this program started again with --serve) so that none
// of its memory is in the client's RSS figures and its thread does not share the client's CPU:
// on a machine with two or more CPUs the server is pinned to CPU 0 and the benchmark (and any
// program it starts, such as the Python client) to CPU 1, so that every load generator meets the
// same placement. The child:
// - serves takeoff_emulator's inference routes, each behind snowflake_emulator::ingress (the
//   credential check is on for every request);
// - prints one line, "<port> <session token>", once it listens (the token is a live session token
//   of the emulated account, valid for an hour);
// - answers each "timings" line on its stdin with the server's own time to first token of every
//   stream so far (a count line, then one line of nanoseconds per stream, in the order they were
//   received);
// - answers each "connections" line with the number of connections it has accepted so far;
// - stops when its stdin closes.

#include <takeoff/core/redact.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>
#include <takeoff_emulator/takeoff.hpp>

#include "../../tests/support/process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace takeoff::bench {

/// The server's settings that the benchmarks choose.
struct takeoff_server_settings {
    /// The emulator's pause between streamed tokens (0: as fast as it writes).
    std::chrono::microseconds token_interval{0};
    /// Keep the server's time to first token of each stream.
    bool record_stream_timings = false;
};

/// Resident set size of this process now (/proc/self/statm).
inline long long resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    long long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
}

/// Peak resident set size of this process so far (VmHWM of /proc/self/status), in bytes.
inline long long peak_resident_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024; // "VmHWM:  1234 kB"
    }
    return -1;
}

/// CPU time (user + system) this process has used so far, in seconds.
inline double own_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// CPU time the calling thread has used so far (CLOCK_THREAD_CPUTIME_ID).
inline std::chrono::nanoseconds thread_cpu_time() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (a benchmark holds a thousand sockets or more).
inline void raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/// Pins the calling process to `cpu` when the machine has more than one CPU; no-op otherwise.
inline void pin_to_cpu(int cpu) {
    if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
}

namespace detail {

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace detail

/// The child's side: `argv` is {program, "--serve", directory, token_interval_us, record(0|1)}.
/// Serves until stdin closes; returns the process's exit status.
inline int serve_takeoff(char** argv) {
    namespace emu = takeoff::emulator;
    pin_to_cpu(0);
    raise_file_limit();
    const std::filesystem::path directory = argv[2];
    emu::server_options options;
    options.tls.emplace(detail::read_text(directory / "server.crt"), detail::read_text(directory / "server.key"));
    emu::server server(std::move(options));
    emu::snowflake_emulator account;
    account.install(server);
    emu::takeoff_options knobs;
    knobs.token_interval = std::chrono::microseconds(std::stoll(argv[3]));
    knobs.first_token_delay = std::chrono::microseconds(0);
    knobs.record_stream_timings = std::string(argv[4]) == "1";
    emu::takeoff_emulator takeoff(knobs);
    takeoff.install_inference(server, "", [&account](emu::handler h) { return account.ingress(std::move(h)); });

    std::cout << server.port() << ' ' << account.issue_session_token() << std::endl;
    std::string command;
    while (std::getline(std::cin, command)) {
        if (command == "connections") {
            std::cout << server.connection_count() << std::endl;
            continue;
        }
        if (command != "timings") continue;
        const auto timings = takeoff.stream_timings();
        std::cout << timings.size() << '\n';
        for (const auto& t : timings)
            std::cout << std::chrono::duration_cast<std::chrono::nanoseconds>(t.first_token_written - t.received).count()
                      << '\n';
        std::cout.flush();
    }
    server.stop();
    return 0;
}

/// The parent's side: makes a CA and a server certificate, starts the child, reads its port and
/// token, and pins this process to CPU 1. Stops the child (closes its stdin, waits) on destruction.
class takeoff_server_process {
public:
    explicit takeoff_server_process(takeoff_server_settings settings) : directory_("takeoff-bench-api") {
        const auto files = authority_.issue().write_files(directory_.path(), "server");
        ca_file_ = files.ca_certificate;
        int to_child[2], from_child[2];
        if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
            throw std::runtime_error("cannot create pipes");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
        std::vector<std::string> argv{"/proc/self/exe", "--serve", directory_.path().string(),
                                      std::to_string(settings.token_interval.count()),
                                      settings.record_stream_timings ? "1" : "0"};
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(to_child[0]);
        ::close(from_child[1]);
        to_child_ = to_child[1];
        from_child_ = from_child[0];
        if (spawned != 0) {
            ::close(to_child_);
            ::close(from_child_);
            throw std::runtime_error("cannot start the server process");
        }
        std::istringstream first(read_line());
        unsigned port = 0;
        std::string token;
        if (!(first >> port >> token)) {
            stop();
            throw std::runtime_error("the server process did not start");
        }
        url_ = "https://127.0.0.1:" + std::to_string(port);
        token_ = secret(std::move(token));
        pin_to_cpu(1);
    }
    takeoff_server_process(const takeoff_server_process&) = delete;
    takeoff_server_process& operator=(const takeoff_server_process&) = delete;
    ~takeoff_server_process() { stop(); }

    /// https://127.0.0.1:<port>
    const std::string& url() const noexcept { return url_; }
    /// A live session token of the emulated account (for `Authorization: Snowflake Token="..."`).
    const secret& session_token() const noexcept { return token_; }
    /// The CA certificate a client must trust (PEM text) and the file it is in.
    std::string ca_pem() const { return authority_.certificate_pem(); }
    const std::filesystem::path& ca_file() const noexcept { return ca_file_; }
    /// A directory for the benchmark's own files, removed at the end.
    const std::filesystem::path& directory() const noexcept { return directory_.path(); }

    /// CPU time (user + system) the server process has used so far, in seconds.
    double cpu_seconds() const {
        std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        // Fields after the command name (which may hold spaces) start after its closing ')'.
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string field;
        unsigned long long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && fields >> field; ++i) {
            if (i == 14) utime = std::stoull(field);
            if (i == 15) stime = std::stoull(field);
        }
        return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }

    /// Connections the server has accepted so far.
    std::size_t connections_accepted() {
        ask("connections");
        return std::stoul(read_line());
    }

    /// The server's time to first token of every stream so far, in the order received.
    std::vector<std::chrono::nanoseconds> stream_ttfts() {
        ask("timings");
        const std::size_t count = std::stoul(read_line());
        std::vector<std::chrono::nanoseconds> result;
        result.reserve(count);
        for (std::size_t i = 0; i < count; ++i) result.emplace_back(std::stoll(read_line()));
        return result;
    }

private:
    void ask(std::string command) {
        command += '\n';
        if (::write(to_child_, command.data(), command.size()) != static_cast<ssize_t>(command.size()))
            throw std::runtime_error("cannot ask the server process");
    }

    std::string read_line() {
        std::string line;
        char c;
        for (;;) {
            const auto n = ::read(from_child_, &c, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n != 1) throw std::runtime_error("the server process closed its output");
            if (c == '\n') return line;
            line += c;
        }
    }

    void stop() {
        if (pid_ <= 0) return;
        ::close(to_child_);
        ::close(from_child_);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    takeoff::emulator::certificate_authority authority_;
    takeoff::test::temp_directory directory_;
    std::filesystem::path ca_file_;
    pid_t pid_ = -1;
    int to_child_ = -1;
    int from_child_ = -1;
    std::string url_;
    secret token_;
};

} // namespace takeoff::bench
