#pragma once
// Running helper programs (nginx, tinyproxy, wrk) from tests and benchmarks: spawn, wait for exit,
// collect what they printed. No shell is involved, so arguments need no quoting.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace takeoff::test {

/// What a finished program returned and printed (stdout and stderr together).
struct process_result {
    int exit_code = -1;
    std::string output;
};

/// Runs argv[0] (looked up on PATH) to completion.
inline process_result run_process(const std::vector<std::string>& argv) {
    namespace fs = std::filesystem;
    const fs::path log = fs::temp_directory_path() / ("takeoff-process-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(std::rand()) + ".log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    process_result result;
    if (spawned != 0) {
        result.output = "cannot start " + argv[0] + ": " + std::strerror(spawned);
        return result;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    result.output = text.str();
    std::error_code ignored;
    fs::remove(log, ignored);
    return result;
}

/// A port on 127.0.0.1 that was free a moment ago (the kernel picked it), for programs that must be
/// told their port in a configuration file.
inline std::uint16_t free_loopback_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

/// A fresh directory under the system temporary directory, removed with its contents at the end.
class temp_directory {
public:
    explicit temp_directory(const std::string& prefix) {
        std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
        path_ = pattern;
    }
    temp_directory(const temp_directory&) = delete;
    temp_directory& operator=(const temp_directory&) = delete;
    ~temp_directory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// Copies a template file, replacing each @NAME@ by its value.
inline void write_from_template(const std::filesystem::path& from, const std::filesystem::path& to,
                                const std::map<std::string, std::string>& values) {
    std::ifstream in(from);
    if (!in) throw std::runtime_error("cannot read " + from.string());
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    for (const auto& [name, value] : values) {
        const std::string key = "@" + name + "@";
        for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
            text.replace(at, key.size(), value);
    }
    std::ofstream out(to);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + to.string());
}

} // namespace takeoff::test
