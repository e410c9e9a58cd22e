// 1,000 prompts through async_generate_batch, at most 32 requests in flight at once, with a
// progress line (rewritten in place on a terminal; on a pipe only the final count) and a summary.
// Results come back in input order, each with its own error: one failure loses nothing else.
//
//   A real account:  example_batch --config takeoff.json [COUNT [CONCURRENCY]]
//   The emulator:    takeoff-emulator --https --auth pat --cert-dir /tmp/emu -- example_batch
#include "harness.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace api = takeoff::api;

boost::asio::awaitable<void> run(example::context& ex) {
    const std::size_t count = std::stoul(ex.arg(0, "1000"));
    std::vector<std::string> prompts;
    for (std::size_t i = 0; i < count; ++i) prompts.push_back("Prompt " + std::to_string(i) + ": name a colour. ");

    takeoff::batch_options options;
    options.concurrency = std::stoul(ex.arg(1, "32"));
    const bool terminal = ::isatty(STDOUT_FILENO) != 0;
    options.progress = [terminal](std::size_t done, std::size_t total) { // one call at a time
        if (terminal) std::cout << '\r' << done << '/' << total << std::flush;
    };
    // Each request is made like this one (its settings), with its own prompt.
    auto prototype = api::generate(std::string()).max_new_tokens(16).consumer_group(ex.group());

    ex.step = "generate the batch";
    const auto start = std::chrono::steady_clock::now();
    auto results = co_await takeoff::async_generate_batch(ex.client(), prompts, prototype, options);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

    std::size_t ok = 0, shown = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (r.ok() && !r.value.empty()) {
            ++ok;
        } else if (++shown <= 5) { // the first few failures, each with its own diagnostics
            if (r.ok()) std::cerr << "example: prompt " << i << ": an empty text\n";
            else example::report("prompt " + std::to_string(i), r.ec, r.diag);
        }
    }
    std::cout << (terminal ? "\r" : "") << results.size() << '/' << count << " done\n";
    std::printf("%zu of %zu texts in %.2f s (%.0f requests/s, %zu in flight at most)\n", ok, count, took.count(),
                took.count() > 0 ? double(count) / took.count() : 0.0, options.concurrency);
    example::expect(results.size() == count && ok == count,
                    std::to_string(count - ok) + " of " + std::to_string(count) + " prompts got no text");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[COUNT [CONCURRENCY]]", run); }
