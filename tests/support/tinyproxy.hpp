#pragma once
// A real tinyproxy (Debian package) on a free 127.0.0.1 port, for the proxy tests, from a config
// template in tests/ (@PORT@, @PREFIX@, @BASIC_AUTH@).
//
// Knowing when it listens, without polling: tinyproxy 1.11 daemonises *before* it binds its port
// (and has no readiness-notification option), so a daemonised start returns too early. It is run in
// the foreground (-d) instead, as a child whose stdout and stderr go to a pipe, and the constructor
// reads its log until "Accepting connections", which tinyproxy prints after listen(). A thread
// then keeps draining the pipe (so tinyproxy never blocks on a full pipe) into a log that tests can
// inspect. The destructor stops it by its process id (SIGTERM) and reaps it.

#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace takeoff::test {

class tinyproxy_server {
public:
    /// Basic credentials the proxy demands (BasicAuth); none means an open proxy.
    struct credentials {
        std::string user;
        std::string password;
    };

    /// Starts tinyproxy; returns once it accepts connections. Throws std::runtime_error with its
    /// output when it does not start.
    explicit tinyproxy_server(const std::filesystem::path& config_template,
                              std::optional<credentials> auth = std::nullopt)
        : directory_("takeoff-tinyproxy"), port_(free_loopback_port()) {
        const auto config = directory_.path() / "tinyproxy.conf";
        write_from_template(config_template, config,
                            {{"PORT", std::to_string(port_)},
                             {"PREFIX", directory_.path().string()},
                             {"BASIC_AUTH", auth ? "BasicAuth " + auth->user + " " + auth->password : std::string()}});
        start(config);
    }

    tinyproxy_server(const tinyproxy_server&) = delete;
    tinyproxy_server& operator=(const tinyproxy_server&) = delete;

    ~tinyproxy_server() { stop(); }

    std::uint16_t port() const noexcept { return port_; }

    /// "http://127.0.0.1:PORT", or with "user:password@" when credentials are given.
    std::string url(const std::optional<credentials>& with = std::nullopt) const {
        std::string out = "http://";
        if (with) out += with->user + ":" + with->password + "@";
        return out + "127.0.0.1:" + std::to_string(port_);
    }

    /// Everything tinyproxy logged so far.
    std::string log() const {
        std::lock_guard lock(mutex_);
        return log_;
    }

    /// How many times needle occurs in the log read so far.
    std::size_t count(std::string_view needle) const {
        std::lock_guard lock(mutex_);
        return count_locked(needle);
    }

    /// Waits (on a condition variable, fed by the reader thread) until needle occurs `times` times
    /// in the log; false when it did not within `timeout` or tinyproxy exited. tinyproxy logs a
    /// request line before it answers the request, so once a client has its answer, the line is in
    /// the pipe and this returns promptly.
    bool wait_for(std::string_view needle, std::size_t times = 1,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return count_locked(needle) >= times || ended_; }) &&
               count_locked(needle) >= times;
    }

private:
    std::size_t count_locked(std::string_view needle) const {
        std::size_t n = 0;
        for (auto at = log_.find(needle); at != std::string::npos; at = log_.find(needle, at + needle.size())) ++n;
        return n;
    }

    static std::string binary() {
        for (const char* candidate : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"})
            if (std::filesystem::exists(candidate)) return candidate;
        return "tinyproxy";
    }

    void start(const std::filesystem::path& config) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("tinyproxy: cannot create a pipe");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
        std::vector<std::string> argv{binary(), "-d", "-c", config.string()};
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const int spawned = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        read_fd_ = fds[0];
        if (spawned != 0) {
            pid_ = -1;
            ::close(read_fd_);
            read_fd_ = -1;
            throw std::runtime_error("cannot start tinyproxy: " + std::string(std::strerror(spawned)));
        }

        // Read the log until tinyproxy says it accepts connections. The 10 s bound only turns a
        // broken tinyproxy into a failure instead of a hang; it is not a wait for readiness.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (;;) {
            if (log_.find("Accepting connections") != std::string::npos) break;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
            pollfd p{read_fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
                stop();
                throw std::runtime_error("tinyproxy did not start listening:\n" + log_);
            }
            char chunk[4096];
            const auto n = ::read(read_fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                stop();
                throw std::runtime_error("tinyproxy exited before listening:\n" + log_);
            }
            log_.append(chunk, static_cast<std::size_t>(n));
        }
        reader_ = std::thread([this] { drain(); });
    }

    void drain() {
        char chunk[4096];
        for (;;) {
            const auto n = ::read(read_fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            std::lock_guard lock(mutex_);
            if (n <= 0) {
                ended_ = true;
                changed_.notify_all();
                return;
            }
            log_.append(chunk, static_cast<std::size_t>(n));
            changed_.notify_all();
        }
    }

    void stop() noexcept {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            pid_ = -1;
        }
        // tinyproxy has exited, so the pipe reaches end of file and the reader ends.
        if (reader_.joinable()) reader_.join();
        if (read_fd_ >= 0) {
            ::close(read_fd_);
            read_fd_ = -1;
        }
    }

    temp_directory directory_;
    std::uint16_t port_;
    pid_t pid_ = -1;
    int read_fd_ = -1;
    std::thread reader_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::string log_;
    bool ended_ = false;
};

} // namespace takeoff::test
