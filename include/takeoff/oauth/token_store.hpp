#pragma once
// Token stores: where the tokens of a sign-in are kept between calls and between runs, so that a
// refresh token saves the user a browser sign-in. memory_token_store lives as long as the process;
// file_token_store keeps them in a JSON file (reference: snowflake-auth.md section 7, "Token
// cache": the official drivers' Linux cache is a 0600 JSON file with an owner check and a lock file).
//
// File rules (POSIX). The file is opened with O_NOFOLLOW and checked after opening (fstat): it must
// be a regular file owned by the effective user with no group or other permission bits. Anything
// else is ignored with a diagnostic and never used: a corrupt file (not JSON, not the format below),
// a group- or world-accessible one, one owned by another user, a symbolic link. A write goes to a
// temporary file in the same directory (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), is fsync'ed and
// renamed over the file, so that a reader sees the old file or the new one, never half of one.
// Every read holds a shared flock(2), and every read-modify-write (save, erase) an exclusive one,
// on the sibling lock file `<path>.lock` (0600), so that two processes never lose each other's
// entries. A missing directory is created with mode 0700.
//
// Format: {"version":1,"entries":[{"account":…,"client_id":…,"scope":…,"access_token":…,
// "expires_at":<unix s>,"refresh_token":…,"refresh_token_expires_at":<unix s>,"username":…,
// "granted_scope":…}]}. The optional members are absent when unknown; granted_scope only when the
// granted scope differs from the key's scope. The tokens are in plain text, protected by the file's
// mode, as the official drivers keep them on Linux.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/file.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/secret_json.hpp>
#include <takeoff/oauth/token_set.hpp>

#include <boost/json/memory_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace takeoff::oauth {

/// What a token set is stored under: the exact (account, client id, scope) triple. The account is
/// compared as given; pass snowflake::account_url::base() so that one account has one spelling.
struct token_key {
    std::string account;
    std::string client_id;
    std::string scope;

    friend bool operator==(const token_key&, const token_key&) = default;
    /// Prints the three parts (none of them is a secret).
    friend std::ostream& operator<<(std::ostream& os, const token_key& k) {
        return os << "token_key{account=\"" << k.account << "\", client_id=\"" << k.client_id << "\", scope=\""
                  << k.scope << "\"}";
    }
};

/// Where sign-ins are kept between calls or runs. Implementations are thread-safe.
///
/// load() gives the stored set or none. A store that cannot be used (a file that is ignored, see
/// file_token_store) gives none and says why in diag: not an error, because signing in again is the
/// way out. Errors are for what is truly wrong, such as an I/O error other than "absent".
/// Every operation clears diag first; diag may hold a note even when the operation succeeds.
class token_store {
public:
    virtual ~token_store() = default;
    /// The set stored under `key`, or none.
    virtual boost::system::result<std::optional<token_set>> load(const token_key& key, diagnostics& diag) = 0;
    /// Stores `tokens` under `key`, replacing what was stored under it.
    virtual boost::system::error_code save(const token_key& key, const token_set& tokens, diagnostics& diag) = 0;
    /// Forgets what is stored under `key` (nothing stored is not an error).
    virtual boost::system::error_code erase(const token_key& key, diagnostics& diag) = 0;
};

/// A token store in memory, for one process (tests, short-lived tools, services with no disk).
class memory_token_store final : public token_store {
public:
    boost::system::result<std::optional<token_set>> load(const token_key& key, diagnostics& diag) override {
        diag.clear();
        std::lock_guard lock(mutex_);
        for (const auto& [k, tokens] : entries_)
            if (k == key) return std::optional<token_set>(tokens);
        return std::optional<token_set>();
    }

    boost::system::error_code save(const token_key& key, const token_set& tokens, diagnostics& diag) override {
        diag.clear();
        std::lock_guard lock(mutex_);
        for (auto& [k, stored] : entries_)
            if (k == key) {
                stored = tokens;
                return {};
            }
        entries_.emplace_back(key, tokens);
        return {};
    }

    boost::system::error_code erase(const token_key& key, diagnostics& diag) override {
        diag.clear();
        std::lock_guard lock(mutex_);
        std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
        return {};
    }

private:
    std::mutex mutex_;
    std::vector<std::pair<token_key, token_set>> entries_;
};

namespace detail::token_file {

/// Closes a file descriptor when it goes out of scope.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~unique_fd() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Closes now, giving close()'s error (0 when fine).
    int reset() noexcept {
        int rc = 0;
        if (fd_ >= 0) rc = ::close(fd_);
        fd_ = -1;
        return rc == 0 ? 0 : errno;
    }

private:
    int fd_ = -1;
};

inline boost::system::error_code errno_code(int e) noexcept { return {e, boost::system::system_category()}; }

/// One entry of the token file.
struct stored_tokens {
    token_key key;
    token_set tokens;
};

/// What reading the token file found.
struct token_file_contents {
    enum class state {
        absent,   ///< no file: an empty store
        valid,    ///< entries were read (malformed entries skipped, see note)
        ignored,  ///< a file of ours that cannot be used (corrupt, accessible by others): a save replaces it
        refused,  ///< a file the store never touches (another owner, a symbolic link, not a regular file)
    };
    state what = state::absent;
    std::vector<stored_tokens> entries;
    /// Why the file is ignored or refused, or which entries were skipped; never a secret.
    std::string note;
};

inline bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        // overlong forms, surrogates and values past U+10FFFF
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/// Appends `s` as a JSON string.
inline void append_json_string(std::string& out, std::string_view s) {
    constexpr const char* hex = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
}

inline std::int64_t unix_seconds(token_clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

/// The file's text for `entries`. The caller wipes it after writing.
inline std::string serialize_token_file(const std::vector<stored_tokens>& entries) {
    std::string out = "{\"version\":1,\"entries\":[";
    bool first = true;
    for (const auto& e : entries) {
        out += first ? "\n" : ",\n";
        first = false;
        out += "{\"account\":";
        append_json_string(out, e.key.account);
        out += ",\"client_id\":";
        append_json_string(out, e.key.client_id);
        out += ",\"scope\":";
        append_json_string(out, e.key.scope);
        out += ",\"access_token\":";
        append_json_string(out, e.tokens.access_token.reveal());
        if (e.tokens.expires_at) out += ",\"expires_at\":" + std::to_string(unix_seconds(*e.tokens.expires_at));
        if (e.tokens.refresh_token) {
            out += ",\"refresh_token\":";
            append_json_string(out, e.tokens.refresh_token->reveal());
        }
        if (e.tokens.refresh_token_expires_at)
            out += ",\"refresh_token_expires_at\":" + std::to_string(unix_seconds(*e.tokens.refresh_token_expires_at));
        if (!e.tokens.username.empty()) {
            out += ",\"username\":";
            append_json_string(out, e.tokens.username);
        }
        if (e.tokens.scope != e.key.scope) {
            out += ",\"granted_scope\":";
            append_json_string(out, e.tokens.scope);
        }
        out += '}';
    }
    out += "\n]}\n";
    return out;
}

/// Reads one entry; on failure `why` names the field (never its value).
inline bool parse_token_entry(const boost::json::value& v, stored_tokens& out, std::string& why) {
    const auto* obj = v.if_object();
    if (!obj) {
        why = "it is not an object";
        return false;
    }
    auto string_field = [&](const char* name, bool required, std::string& to) {
        const auto* f = obj->if_contains(name);
        if (!f || f->is_null()) {
            if (!required) return true;
            why = std::string("field '") + name + "' is missing";
            return false;
        }
        if (!f->is_string()) {
            why = std::string("field '") + name + "' must be a string";
            return false;
        }
        to.assign(f->get_string().data(), f->get_string().size());
        return true;
    };
    auto secret_field = [&](const char* name, bool required, std::optional<secret>& to) {
        std::string text;
        const bool present = obj->if_contains(name) && !obj->at(name).is_null();
        if (!string_field(name, required, text)) return false;
        if (present) to.emplace(std::move(text));
        return true;
    };
    auto time_field = [&](const char* name, std::optional<token_clock::time_point>& to) {
        const auto* f = obj->if_contains(name);
        if (!f || f->is_null()) return true;
        constexpr std::int64_t max_seconds =
            std::chrono::duration_cast<std::chrono::seconds>(token_clock::duration::max()).count();
        std::int64_t n = 0;
        if (f->is_int64()) n = f->get_int64();
        else if (f->is_uint64() && f->get_uint64() <= static_cast<std::uint64_t>(max_seconds))
            n = static_cast<std::int64_t>(f->get_uint64());
        else {
            why = std::string("field '") + name + "' must be an integer (seconds since 1970)";
            return false;
        }
        if (n < 0 || n > max_seconds) {
            why = std::string("field '") + name + "' is out of range";
            return false;
        }
        to = token_clock::time_point(std::chrono::duration_cast<token_clock::duration>(std::chrono::seconds(n)));
        return true;
    };
    std::optional<secret> access_token;
    std::optional<std::string> granted;
    std::string granted_text;
    if (!string_field("account", true, out.key.account) || !string_field("client_id", true, out.key.client_id) ||
        !string_field("scope", true, out.key.scope) || !secret_field("access_token", true, access_token) ||
        !time_field("expires_at", out.tokens.expires_at) ||
        !secret_field("refresh_token", false, out.tokens.refresh_token) ||
        !time_field("refresh_token_expires_at", out.tokens.refresh_token_expires_at) ||
        !string_field("username", false, out.tokens.username) || !string_field("granted_scope", false, granted_text))
        return false;
    out.tokens.access_token = std::move(*access_token);
    const bool has_granted = obj->if_contains("granted_scope") && !obj->at("granted_scope").is_null();
    out.tokens.scope = has_granted ? granted_text : out.key.scope;
    return true;
}

/// Largest token file read; a bigger one is ignored as corrupt.
inline constexpr std::size_t max_token_file_size = 8 * 1024 * 1024;

/// Parses the text of a token file into `out` (state valid or ignored).
inline void parse_token_file(std::string_view text, const std::string& name, token_file_contents& out) {
    using state = token_file_contents::state;
    const takeoff::detail::secret_json parsed(text);
    if (!parsed.value()) {
        out.what = state::ignored;
        out.note = name + " is not valid JSON; ignoring it";
        return;
    }
    const auto* obj = parsed.object();
    const auto* version = obj ? obj->if_contains("version") : nullptr;
    const auto* entries = obj ? obj->if_contains("entries") : nullptr;
    if (!version || !version->is_number() || !entries || !entries->is_array()) {
        out.what = state::ignored;
        out.note = name + " is not a token file (expected {\"version\":1,\"entries\":[...]}); ignoring it";
        return;
    }
    if (!(version->is_int64() && version->get_int64() == 1) && !(version->is_uint64() && version->get_uint64() == 1)) {
        out.what = state::ignored;
        out.note = name + " has a format version other than 1; ignoring it";
        return;
    }
    out.what = state::valid;
    std::size_t skipped = 0;
    std::string first_reason;
    std::size_t index = 0;
    for (const auto& v : entries->get_array()) {
        stored_tokens entry;
        std::string why;
        if (parse_token_entry(v, entry, why)) {
            out.entries.push_back(std::move(entry));
        } else if (skipped++ == 0) {
            first_reason = "entry " + std::to_string(index) + ": " + why;
        }
        ++index;
    }
    if (skipped == 1) out.note = name + ": ignoring a malformed entry (" + first_reason + ")";
    else if (skipped > 1)
        out.note = name + ": ignoring " + std::to_string(skipped) + " malformed entries (first: " + first_reason + ")";
}

/// Reads the token file at `path` (the caller holds the lock). I/O errors other than "absent" are errors.
inline boost::system::result<token_file_contents> read_token_file(const std::filesystem::path& path) {
    using state = token_file_contents::state;
    token_file_contents out;
    const std::string name = "token file '" + path.string() + "'";
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
        const int e = errno;
        if (e == ENOENT) return out;
        if (e == ELOOP) {
            out.what = state::refused;
            out.note = name + " is a symbolic link; ignoring it";
            return out;
        }
        return errno_code(e);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_code(errno);
    if (!S_ISREG(st.st_mode)) {
        out.what = state::refused;
        out.note = name + " is not a regular file; ignoring it";
        return out;
    }
    if (st.st_uid != ::geteuid()) {
        out.what = state::refused;
        out.note = name + " is owned by uid " + std::to_string(st.st_uid) + ", not you; ignoring it";
        return out;
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        out.what = state::ignored;
        out.note = name + " (mode " + mode + ") is " +
                   ((st.st_mode & 044) != 0 ? "readable" : "writable") + " by group or others; ignoring it";
        return out;
    }
    if (static_cast<std::uint64_t>(st.st_size) > max_token_file_size) {
        out.what = state::ignored;
        out.note = name + " is larger than 8 MiB; ignoring it";
        return out;
    }
    std::string text;
    struct wipe_on_exit {
        std::string& s;
        ~wipe_on_exit() { takeoff::detail::wipe_string(s); }
    } wipe{text};
    text.reserve(static_cast<std::size_t>(st.st_size) + 1);
    char buffer[4096];
    while (true) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            volatile char* b = buffer;
            for (std::size_t i = 0; i < sizeof buffer; ++i) b[i] = 0;
            return errno_code(e);
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > max_token_file_size) break;
    }
    {
        volatile char* b = buffer;
        for (std::size_t i = 0; i < sizeof buffer; ++i) b[i] = 0;
    }
    if (text.size() > max_token_file_size) {
        out.what = state::ignored;
        out.note = name + " is larger than 8 MiB; ignoring it";
        return out;
    }
    parse_token_file(text, name, out);
    return out;
}

/// Creates `dir` and its missing parents with mode 0700.
inline boost::system::error_code make_private_directories(const std::filesystem::path& dir) {
    if (dir.empty()) return {};
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return {};
        return errno_code(ENOTDIR);
    }
    if (errno != ENOENT) return errno_code(errno);
    if (dir.has_parent_path() && dir.parent_path() != dir)
        if (auto ec = make_private_directories(dir.parent_path())) return ec;
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) return {};
        return errno_code(errno);
    }
    // mkdir's mode is filtered by the umask; make it exactly 0700
    if (::chmod(dir.c_str(), 0700) != 0) return errno_code(errno);
    return {};
}

/// Holds flock(2) on the lock file while alive.
class file_lock {
public:
    /// Opens (creating, 0600) `lock_path` and takes the lock: exclusive, or shared.
    boost::system::error_code lock(const std::filesystem::path& lock_path, bool exclusive) {
        fd_ = unique_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
        if (!fd_) return errno_code(errno);
        while (::flock(fd_.get(), exclusive ? LOCK_EX : LOCK_SH) != 0)
            if (errno != EINTR) return errno_code(errno);
        return {};
    }

private:
    unique_fd fd_; // closing it releases the lock
};

} // namespace detail::token_file

/// Where file_token_store keeps tokens unless told otherwise: $XDG_CACHE_HOME/takeoff/tokens.json
/// (when XDG_CACHE_HOME is an absolute path), else $HOME/.cache/takeoff/tokens.json, else the
/// home directory of the effective user from the password database. Empty when none is known.
inline std::filesystem::path default_token_store_path() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return std::filesystem::path(xdg) / "takeoff" / "tokens.json";
    const char* home = std::getenv("HOME");
    if (home && home[0] != '\0') return std::filesystem::path(home) / ".cache" / "takeoff" / "tokens.json";
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_dir && pw->pw_dir[0] != '\0')
        return std::filesystem::path(pw->pw_dir) / ".cache" / "takeoff" / "tokens.json";
    return {};
}

/// A token store in a JSON file shared by every process of the user (see the file comment for the
/// rules and the format). Thread-safe; each operation opens, locks and closes the file, so several
/// objects (and processes) may use the same path.
///
/// load(): none (no error) when the file is absent or ignored, the reason in diag; errors for I/O
/// failures. save() and erase() replace an ignored file of ours by a fresh one (its content is lost,
/// diag says so) and refuse a file owned by another user, a symbolic link or a non-regular file with
/// boost::system::errc::permission_denied, diag saying why; other failures are the system's errno.
/// An empty path (no home directory known) gives takeoff::errc::invalid_argument.
class file_token_store final : public token_store {
public:
    explicit file_token_store(std::filesystem::path path = default_token_store_path()) : path_(std::move(path)) {}

    /// The token file.
    const std::filesystem::path& path() const noexcept { return path_; }

    boost::system::result<std::optional<token_set>> load(const token_key& key, diagnostics& diag) override {
        using state = detail::token_file::token_file_contents::state;
        diag.clear();
        if (auto ec = check_path(diag)) return ec;
        std::lock_guard guard(mutex_);
        detail::token_file::file_lock lock;
        if (auto ec = lock.lock(lock_path(), false)) {
            if (ec == boost::system::errc::no_such_file_or_directory) return std::optional<token_set>();
            // A directory we may read but not write: the rename keeps readers consistent without a lock.
            if (ec != boost::system::errc::permission_denied && ec != boost::system::errc::read_only_file_system)
                return fail(ec, "cannot lock", diag);
        }
        auto contents = detail::token_file::read_token_file(path_);
        if (!contents) return fail(contents.error(), "cannot read", diag);
        if (!contents->note.empty()) diag.set_client_message(contents->note);
        if (contents->what != state::valid) return std::optional<token_set>();
        for (auto& e : contents->entries)
            if (e.key == key) return std::optional<token_set>(std::move(e.tokens));
        return std::optional<token_set>();
    }

    boost::system::error_code save(const token_key& key, const token_set& tokens, diagnostics& diag) override {
        diag.clear();
        if (!detail::token_file::is_valid_utf8(key.account) || !detail::token_file::is_valid_utf8(key.client_id) ||
            !detail::token_file::is_valid_utf8(key.scope) || !detail::token_file::is_valid_utf8(tokens.access_token.reveal()) ||
            (tokens.refresh_token && !detail::token_file::is_valid_utf8(tokens.refresh_token->reveal())) ||
            !detail::token_file::is_valid_utf8(tokens.scope) || !detail::token_file::is_valid_utf8(tokens.username)) {
            diag.set_client_message("cannot store a token set whose key or fields are not valid UTF-8");
            return make_error_code(errc::invalid_argument);
        }
        return modify(
            diag, true, [&](std::vector<detail::token_file::stored_tokens>& entries) {
                for (auto& e : entries)
                    if (e.key == key) {
                        e.tokens = tokens;
                        return true;
                    }
                entries.push_back({key, tokens});
                return true;
            });
    }

    boost::system::error_code erase(const token_key& key, diagnostics& diag) override {
        diag.clear();
        return modify(diag, false, [&](std::vector<detail::token_file::stored_tokens>& entries) {
            return std::erase_if(entries, [&](const detail::token_file::stored_tokens& e) { return e.key == key; }) > 0;
        });
    }

private:
    std::filesystem::path lock_path() const { return std::filesystem::path(path_.string() + ".lock"); }
    std::string name() const { return "token file '" + path_.string() + "'"; }

    boost::system::error_code check_path(diagnostics& diag) const {
        if (!path_.empty()) return {};
        diag.set_client_message("no token file path: neither XDG_CACHE_HOME nor HOME is set");
        return make_error_code(errc::invalid_argument);
    }

    boost::system::error_code fail(boost::system::error_code ec, const char* what, diagnostics& diag) const {
        diag.set_client_message(name() + ": " + what + ": " + ec.message());
        return ec;
    }

    // Read-modify-write under the exclusive lock. `change` edits the entries and says whether it
    // changed anything; `create` says whether a missing file (and directory) is to be created.
    template <class Change>
    boost::system::error_code modify(diagnostics& diag, bool create, Change change) {
        using state = detail::token_file::token_file_contents::state;
        if (auto ec = check_path(diag)) return ec;
        std::lock_guard guard(mutex_);
        if (create) {
            if (auto ec = detail::token_file::make_private_directories(path_.parent_path()))
                return fail(ec, "cannot create its directory", diag);
        }
        detail::token_file::file_lock lock;
        if (auto ec = lock.lock(lock_path(), true)) {
            if (!create && ec == boost::system::errc::no_such_file_or_directory) return {};
            return fail(ec, "cannot lock", diag);
        }
        auto contents = detail::token_file::read_token_file(path_);
        if (!contents) return fail(contents.error(), "cannot read", diag);
        switch (contents->what) {
        case state::refused:
            diag.set_client_message(contents->note + "; not writing it");
            return make_error_code(boost::system::errc::permission_denied);
        case state::ignored:
            // Ours but unusable: a fresh file replaces it (for erase too, so that tokens in a file
            // others could read do not stay on disk).
            change(contents->entries);
            diag.set_client_message(contents->note + "; replacing it with a new file (its content is lost)");
            break;
        case state::absent:
            if (!change(contents->entries)) return {};
            break;
        case state::valid:
            if (!change(contents->entries)) return {};
            if (!contents->note.empty()) diag.set_client_message(contents->note + "; it is left out of the new file");
            break;
        }
        return write(contents->entries, diag);
    }

    // Writes a temporary file next to the target and renames it over the target.
    boost::system::error_code write(const std::vector<detail::token_file::stored_tokens>& entries, diagnostics& diag) {
        std::string text = detail::token_file::serialize_token_file(entries);
        struct wipe_on_exit {
            std::string& s;
            ~wipe_on_exit() { takeoff::detail::wipe_string(s); }
        } wipe{text};
        if (auto failed = takeoff::detail::write_file_atomically(path_, text, 0600))
            return fail(detail::token_file::errno_code(failed.error), failed.step, diag);
        return {};
    }

    std::filesystem::path path_;
    std::mutex mutex_;
};

} // namespace takeoff::oauth
