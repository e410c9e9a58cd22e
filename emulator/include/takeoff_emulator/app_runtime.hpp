#pragma once
// What the takeoff-emulator program does once its options are parsed (app.hpp): make the
// certificates and credentials its mode needs, start the servers of its layout, write the CA and the
// CLI configuration, print the ready line, then serve until a signal or run a program against
// itself. emulator/src/main.cpp is only the entry point around run_app().
//
// Decisions:
// * Every file is complete before the ready line: the configuration and ca.pem are written to a
//   temporary name in the same directory and renamed, so a reader never sees half a file.
// * The temporary directory (for ca.pem / keypair.pem without --cert-dir, and the configuration a
//   program gets without --print-config FILE) is made with mkdtemp (0700) and removed at exit.
// * With `-- PROGRAM`, SIGTERM is passed on to the program (the emulator keeps serving until it
//   ends); SIGINT is not, since a terminal's Ctrl-C already reaches the whole foreground group.
// * The request log has the method, the path without its query, and the status: never a header,
//   a query (OAuth codes travel there), a token or a body.

#include <takeoff/core/file.hpp>
#include <takeoff_emulator/app.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>
#include <takeoff_emulator/snowflake.hpp>
#include <takeoff_emulator/takeoff.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace takeoff::emulator {

namespace detail::app {

// Writes `text` to `path` through a temporary file in the same directory and a rename (the
// library's writer, which the token store uses too); throws with the step and the reason.
inline void write_file_atomically(const std::filesystem::path& path, const std::string& text, mode_t mode)
{
    if (auto failed = takeoff::detail::write_file_atomically(path, text, mode))
        throw std::runtime_error("cannot write " + path.string() + ": " + failed.step + ": " + std::strerror(failed.error));
}

// A directory made with mkdtemp under $TMPDIR (or /tmp), removed with its contents at the end.
class temporary_directory {
public:
    temporary_directory()
    {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/takeoff-emulator-XXXXXX";
        if (!::mkdtemp(pattern.data()))
            throw std::runtime_error("cannot make a temporary directory from " + pattern + ": " + std::strerror(errno));
        path_ = pattern;
    }
    temporary_directory(const temporary_directory&) = delete;
    temporary_directory& operator=(const temporary_directory&) = delete;
    ~temporary_directory()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

// Blocks SIGINT, SIGTERM and SIGCHLD in the calling thread until release() or the end of scope.
class signal_block {
public:
    signal_block()
    {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGCHLD);
        ::pthread_sigmask(SIG_BLOCK, &set, &previous_);
    }
    signal_block(const signal_block&) = delete;
    signal_block& operator=(const signal_block&) = delete;
    ~signal_block() { release(); }
    void release()
    {
        if (!released_) {
            released_ = true;
            ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
        }
    }

private:
    sigset_t previous_{};
    bool released_ = false;
};

// DIR for --cert-dir (or the config file's folder): made 0700 when missing (parents too), left as
// it is when it exists.
inline void make_private_directory(const std::filesystem::path& directory)
{
    if (std::filesystem::is_directory(directory))
        return;
    std::filesystem::create_directories(directory);
    std::filesystem::permissions(directory, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
}

// 32 lowercase hex characters from 16 random bytes.
inline std::string random_hex_token()
{
    std::array<unsigned char, 16> bytes{};
    if (::RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

// A new RSA 2048 key pair: {private key PEM (PKCS#8), public key PEM}.
inline std::pair<std::string, std::string> make_rsa_key_pair()
{
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};
    if (!key)
        throw std::runtime_error("cannot generate an RSA key");
    const auto pem = [&](bool is_private) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), &BIO_free};
        const int ok = is_private
            ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
            : PEM_write_bio_PUBKEY(bio.get(), key.get());
        if (!bio || ok != 1)
            throw std::runtime_error("cannot write the RSA key as PEM");
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(size));
    };
    return {pem(true), pem(false)};
}

// One line per request on stderr, whole lines even from four server threads.
class request_log {
public:
    explicit request_log(std::string label) : label_(std::move(label)) {}
    void operator()(const exchange& ex) const
    {
        const auto method = ex.request().method_string();
        std::string line;
        if (!label_.empty())
            line += label_ + ": ";
        line.append(method.data(), method.size());
        line += ' ';
        line += ex.path();
        line += ' ';
        line += ex.response_status() ? std::to_string(ex.response_status()) : std::string("-");
        line += '\n';
        static std::mutex mutex;
        std::lock_guard lock(mutex);
        std::fputs(line.c_str(), stderr);
    }

private:
    std::string label_;
};

inline snowflake_options account_options(const app_options& o)
{
    snowflake_options s;
    if (o.client_id)
        s.client_id = *o.client_id;
    if (o.client_secret)
        s.client_secret = *o.client_secret;
    if (o.access_token_lifetime)
        s.access_token_lifetime = *o.access_token_lifetime;
    if (o.refresh_token_lifetime)
        s.refresh_token_lifetime = *o.refresh_token_lifetime;
    if (o.session_lifetime)
        s.session_lifetime = *o.session_lifetime;
    if (o.code_lifetime)
        s.code_lifetime = *o.code_lifetime;
    s.account_name = o.account_name;
    s.accept_oauth_access_token_at_ingress = o.auth == snowflake::auth_mode::oauth_direct;
    return s;
}

inline takeoff_options server_knobs(const app_options& o)
{
    takeoff_options t;
    if (o.token_interval)
        t.token_interval = *o.token_interval;
    if (o.first_token_delay)
        t.first_token_delay = *o.first_token_delay;
    if (o.max_new_tokens)
        t.default_max_new_tokens = *o.max_new_tokens;
    if (o.embedding_dimensions)
        t.embedding_dimensions = *o.embedding_dimensions;
    t.ready = !o.not_ready;
    t.unavailable_requests = o.unavailable;
    t.too_many_requests_every = o.too_many_every;
    if (o.retry_after)
        t.retry_after = *o.retry_after;
    t.drop_stream_after_tokens = o.drop_after_tokens;
    t.legacy_status_shape = o.legacy_status;
    return t;
}

// Runs the program with TAKEOFF_CONFIG (and TAKEOFF_ACCOUNT_NAME) set, waits for it while
// serving, passes SIGTERM on. `signals` holds SIGCHLD, SIGINT and SIGTERM, registered before the
// spawn so that the child's end cannot be missed. Returns its exit status, 128+signal when a signal
// ended it, 127 when it could not be started.
inline int run_program(boost::asio::io_context& io, boost::asio::signal_set& signals,
                       const std::vector<std::string>& program, const std::string& config_file,
                       const std::string& account_name, std::ostream& err)
{
    std::vector<std::string> environment;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        if (entry.starts_with("TAKEOFF_CONFIG=") || entry.starts_with("TAKEOFF_ACCOUNT_NAME="))
            continue;
        environment.emplace_back(entry);
    }
    environment.push_back("TAKEOFF_CONFIG=" + config_file);
    environment.push_back("TAKEOFF_ACCOUNT_NAME=" + account_name);
    std::vector<char*> envp;
    for (auto& e : environment)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args_copy = program;
    std::vector<char*> argv;
    for (auto& a : args_copy)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    // The program starts with default signal actions (the emulator ignores SIGPIPE) and no mask.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attributes, &empty);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, argv[0], nullptr, &attributes, argv.data(), envp.data());
    posix_spawnattr_destroy(&attributes);
    if (spawned != 0) {
        err << "takeoff-emulator: cannot run " << program.front() << ": " << std::strerror(spawned) << std::endl;
        return 127;
    }

    std::optional<int> status;
    const auto reap = [&] {
        int raw = 0;
        pid_t r;
        do {
            r = ::waitpid(pid, &raw, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == pid)
            status = WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : 1;
    };
    std::function<void()> wait_next;
    wait_next = [&] {
        signals.async_wait([&](const boost::system::error_code& ec, int signal) {
            if (ec)
                return;
            if (signal == SIGTERM)
                ::kill(pid, SIGTERM);
            reap();
            if (!status)
                wait_next();
        });
    };
    reap(); // it may have ended before the first wait
    if (!status) {
        wait_next();
        io.run();
    }
    return status.value_or(1);
}

} // namespace detail::app

/// Runs the emulator as the options say (see app.hpp and docs/emulator.md): returns the exit code.
/// Throws std::runtime_error when it cannot start (a port in use, a file it cannot write); nothing
/// has been printed to `out` then.
inline int run_app(const app_options& options, std::ostream& out, std::ostream& err)
{
    namespace fs = std::filesystem;
    using snowflake::auth_mode;
    using namespace detail::app;

    // SIGINT and SIGTERM wait (blocked) until the signal_set below can take them; the server
    // threads started meanwhile inherit the mask and keep it, so the signals reach this thread.
    signal_block blocked;

    const bool needs_files_dir = options.https || options.auth == auth_mode::keypair;
    const bool needs_config_file_for_program =
        !options.program.empty() && (options.print_config.empty() || options.print_config == "-");
    std::optional<temporary_directory> temporary;
    if ((needs_files_dir && options.cert_dir.empty()) || needs_config_file_for_program)
        temporary.emplace();
    fs::path files_dir;
    if (!options.cert_dir.empty()) {
        files_dir = fs::absolute(options.cert_dir);
        make_private_directory(files_dir);
    } else if (needs_files_dir) {
        files_dir = temporary->path();
    }

    // Credentials and certificates.
    snowflake_options account_settings = account_options(options);
    cli_config_inputs config_inputs;
    config_inputs.auth = options.auth;
    std::optional<server_certificate> certificate;
    if (options.https) {
        const validity_period thirty_days{std::chrono::seconds{-3600}, std::chrono::seconds{30 * 24 * 3600}};
        certificate_authority authority("takeoff-emulator CA", thirty_days);
        certificate_options server_name;
        server_name.validity = thirty_days;
        certificate = authority.issue(server_name);
        const fs::path ca_file = files_dir / "ca.pem";
        write_file_atomically(ca_file, authority.certificate_pem(), 0644);
        config_inputs.ca_file = ca_file.string();
    }
    if (options.auth == auth_mode::pat) {
        config_inputs.pat = random_hex_token();
        account_settings.programmatic_access_tokens.push_back(config_inputs.pat);
    }
    if (options.auth == auth_mode::keypair) {
        auto [private_pem, public_pem] = make_rsa_key_pair();
        const fs::path key_file = files_dir / "keypair.pem";
        write_file_atomically(key_file, private_pem, 0600);
        account_settings.keypair_public_key_pem = public_pem;
        config_inputs.keypair_user = account_settings.keypair_user;
        config_inputs.private_key_file = key_file.string();
    }
    config_inputs.client_id = account_settings.client_id;
    config_inputs.client_secret = account_settings.client_secret;

    // Servers.
    snowflake_emulator account(account_settings);
    takeoff_emulator takeoff(server_knobs(options));
    const auto start_server = [&](std::uint16_t port, std::string label) {
        server_options s;
        if (certificate)
            s.tls.emplace(*certificate);
        s.port = port;
        if (!options.quiet)
            s.on_response = request_log(std::move(label));
        try {
            return std::make_unique<server>(std::move(s));
        } catch (const boost::system::system_error& error) {
            throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                                     error.code().message());
        }
    };
    takeoff_emulator::wrapper guard;
    if (options.auth != auth_mode::none)
        guard = [&account](handler h) { return account.ingress(std::move(h)); };
    std::vector<std::unique_ptr<server>> servers;
    const auto next_port = [&](std::uint16_t index) -> std::uint16_t {
        return options.port == 0 ? 0 : static_cast<std::uint16_t>(options.port + index);
    };
    if (options.port_per_api) {
        servers.push_back(start_server(next_port(0), "account"));
        servers.push_back(start_server(next_port(1), "inference"));
        servers.push_back(start_server(next_port(2), "management"));
        servers.push_back(start_server(next_port(3), "openai"));
        account.install(*servers[0]);
        takeoff.install_inference(*servers[1], "", guard);
        takeoff.install_management(*servers[2], "", guard);
        takeoff.install_openai(*servers[3], "", guard);
    } else {
        servers.push_back(start_server(next_port(0), ""));
        account.install(*servers[0]);
        takeoff.install_inference(*servers[0], "", guard);
        takeoff.install_openai(*servers[0], "", guard);
        takeoff.install_management(*servers[0], "/management", guard);
    }
    std::vector<std::uint16_t> ports;
    for (const auto& s : servers)
        ports.push_back(s->port());
    config_inputs.urls = served_urls(options.https, options.port_per_api, ports);

    // The configuration.
    const std::string config_text = pretty_json(make_cli_config(config_inputs));
    std::string config_file;
    if (!options.print_config.empty() && options.print_config != "-") {
        config_file = fs::absolute(options.print_config).string();
        make_private_directory(fs::path(config_file).parent_path());
        write_file_atomically(config_file, config_text, 0600);
    } else if (!options.program.empty()) {
        config_file = (temporary->path() / "config.json").string();
        write_file_atomically(config_file, config_text, 0600);
    }
    if (options.print_config == "-")
        out << config_text;

    // The signals are caught from here on: a signal sent as soon as the ready line is read still
    // stops the emulator cleanly.
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    if (!options.program.empty())
        signals.add(SIGCHLD);
    blocked.release(); // one that came meanwhile is delivered now, to the signal_set

    out << "takeoff-emulator ready " << config_inputs.urls.endpoint_url << std::endl;

    int code = 0;
    if (options.program.empty()) {
        signals.async_wait([](const boost::system::error_code&, int) {});
        io.run();
    } else {
        code = run_program(io, signals, options.program, config_file, options.account_name, err);
    }

    for (auto& s : servers)
        s->stop();
    return code;
}

} // namespace takeoff::emulator
