#pragma once
// Replacing a file so that a reader sees the old contents or the new, never half of them: the
// shared write step of the token store, the takeoff CLI's configuration and the emulator's files.

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace takeoff::detail {

/// Why write_file_atomically failed: the errno and the step ("cannot write the temporary file").
/// Empty (false) on success.
struct file_write_failure {
    int error = 0;
    const char* step = nullptr;
    explicit operator bool() const noexcept { return step != nullptr; }
};

/// Writes `text` to a new temporary file next to `path` (O_EXCL | O_NOFOLLOW, mode `mode` whatever
/// the umask), fsyncs it, renames it over `path` and fsyncs the directory (POSIX). On failure the
/// temporary file is removed and `path` is as it was. The directory must exist.
inline file_write_failure write_file_atomically(const std::filesystem::path& path, std::string_view text, mode_t mode) {
    static std::atomic<unsigned> counter{0};
    std::string temp;
    int fd = -1;
    for (int attempt = 0; fd < 0; ++attempt) {
        temp = path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter);
        fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
        if (fd < 0 && (errno != EEXIST || attempt >= 100)) return {errno, "cannot create a temporary file"};
    }
    auto give_up = [&](int e, const char* step) {
        if (fd >= 0) ::close(fd);
        ::unlink(temp.c_str());
        return file_write_failure{e, step};
    };
    if (::fchmod(fd, mode) != 0) return give_up(errno, "cannot set the temporary file's mode");
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return give_up(errno, "cannot write the temporary file");
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return give_up(errno, "cannot flush the temporary file");
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) return give_up(errno, "cannot close the temporary file");
    if (::rename(temp.c_str(), path.c_str()) != 0) return give_up(errno, "cannot replace the file");
    // Make the rename itself durable; a failure here leaves a complete file either way.
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
        ::fsync(d);
        ::close(d);
    }
    return {};
}

} // namespace takeoff::detail
