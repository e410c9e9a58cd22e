// Streamed generation: each token is written to the terminal as it arrives (Server-Sent Events,
// pulled one at a time; the stream holds constant memory however long the text).
//
//   A real account:  example_stream --config takeoff.json ["PROMPT"]
//   The emulator:    takeoff-emulator --https --auth pat --token-interval-ms 50 --cert-dir /tmp/emu
//                        -- example_stream         (one command; the interval makes the pacing visible)
#include "harness.hpp"

#include <iostream>
#include <string>

namespace api = takeoff::api;

boost::asio::awaitable<void> run(example::context& ex) {
    auto request = api::generate_stream(ex.arg(0, "Tell me a story about a snowflake: "))
                       .max_new_tokens(100)
                       .consumer_group(ex.group());

    ex.step = "open the stream";
    auto stream = co_await ex.client().async_generate_stream(request);

    ex.step = "read the stream"; // a dropped connection is an error here, never a silent end
    std::size_t tokens = 0;
    std::string text;
    while (auto token = co_await stream.async_next()) {
        std::cout << *token << std::flush;
        text += *token;
        ++tokens;
    }
    std::cout << "\n(" << tokens << " tokens)\n";
    example::expect(tokens > 0 && !text.empty(), "the stream ended without a token");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[PROMPT]", run); }
