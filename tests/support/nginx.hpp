#pragma once
// A real nginx started on a free 127.0.0.1 port with a configuration made from a template in
// tests/ (@NAME@ placeholders). nginx daemonises only after it has bound its listening sockets, so
// when the start command returns, the port accepts connections: no waiting or polling. Templates
// must put the pid file at @PREFIX@/nginx.pid (the destructor waits on that process's exit).

#include "process.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace takeoff::test {

class nginx_server {
public:
    /// Starts nginx. values fill the template's placeholders; PORT (the port nginx listens on)
    /// and PREFIX (its working directory) are added.
    nginx_server(const std::filesystem::path& config_template, std::map<std::string, std::string> values)
        : directory_("takeoff-nginx"), port_(free_loopback_port()) {
        values["PORT"] = std::to_string(port_);
        values["PREFIX"] = directory_.path().string();
        config_ = directory_.path() / "nginx.conf";
        write_from_template(config_template, config_, values);
        const auto started = run_process(command({}));
        if (started.exit_code != 0) throw std::runtime_error("nginx did not start: " + started.output);
    }

    nginx_server(const nginx_server&) = delete;
    nginx_server& operator=(const nginx_server&) = delete;

    ~nginx_server() {
        // `nginx -s stop` only signals the daemon. Its pidfd becomes readable when it has exited, so
        // waiting on it (bounded, in case of a wedged nginx) means nothing of nginx outlives this
        // object or writes into the directory removed next.
        const int pidfd = open_pidfd();
        run_process(command({"-s", "stop"}));
        if (pidfd >= 0) {
            pollfd exited{pidfd, POLLIN, 0};
            ::poll(&exited, 1, 10'000);
            ::close(pidfd);
        }
    }

    std::uint16_t port() const noexcept { return port_; }
    const std::filesystem::path& directory() const noexcept { return directory_.path(); }

private:
    std::vector<std::string> command(std::vector<std::string> extra) const {
        std::vector<std::string> argv{nginx_binary(), "-p", directory_.path().string(), "-c", config_.string(),
                                      "-e", (directory_.path() / "error.log").string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    // The daemon's pid, from the pid file every template puts at @PREFIX@/nginx.pid.
    int open_pidfd() const {
        std::ifstream in(directory_.path() / "nginx.pid");
        long pid = 0;
        if (!(in >> pid) || pid <= 0) return -1;
        return static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
    }

    static std::string nginx_binary() {
        for (const char* candidate : {"/usr/sbin/nginx", "/usr/local/sbin/nginx"})
            if (std::filesystem::exists(candidate)) return candidate;
        return "nginx";
    }

    temp_directory directory_;
    std::uint16_t port_;
    std::filesystem::path config_;
};

} // namespace takeoff::test
