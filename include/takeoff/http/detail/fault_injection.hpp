#pragma once
// Fault injection for tests, in the manner of Beast's test::fail_count: the n-th I/O operation of a
// client's connections (counting from 0: connect, TLS handshake, each write, each read) fails with
// a given error instead of starting, so that a test can fail every operation in turn and check
// that each failure is reported with that error and leaves nothing behind. Nothing is injected
// unless a test installs an injector with inject_faults().

#include <takeoff/core/config.hpp>

#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstddef>
#include <memory>

namespace takeoff::http::detail {

class fault_injector {
public:
    fault_injector(std::size_t fail_at, boost::system::error_code error) : fail_at_(fail_at), error_(error) {}

    /// Counts an operation: true (and error() is its result) when it is the one to fail.
    bool fail_now() noexcept { return count_.fetch_add(1, std::memory_order_relaxed) == fail_at_; }
    const boost::system::error_code& error() const noexcept { return error_; }
    /// Operations counted so far.
    std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
    std::size_t fail_at_;
    boost::system::error_code error_;
    std::atomic<std::size_t> count_{0};
};

} // namespace takeoff::http::detail
