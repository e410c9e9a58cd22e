// One generation with a few sampling settings; prints the text.
//
//   A real account:  example_generate --config takeoff.json ["PROMPT"]
//   The emulator:    takeoff-emulator --https --auth pat --cert-dir /tmp/emu -- example_generate
//                    (any --auth works; oauth opens $BROWSER once, see sign_in.cpp)
#include "harness.hpp"

#include <iostream>
#include <string>

namespace api = takeoff::api;

boost::asio::awaitable<void> run(example::context& ex) {
    // Literal sampling values are range-checked while compiling (temperature(0) does not build);
    // a value known only at run time goes through api::temperature::runtime(t, diag).
    auto request = api::generate(ex.arg(0, "List three things to do in London: "))
                       .max_new_tokens(64)
                       .temperature(0.7)
                       .top_p(0.9)
                       .top_k(40)
                       .consumer_group(ex.group());

    ex.step = "generate";
    std::string text = co_await ex.client().async_generate(request);
    std::cout << text << '\n';
    example::expect(!text.empty(), "the generated text is empty");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[PROMPT]", run); }
