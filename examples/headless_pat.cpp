// Headless access with a programmatic access token (auth "pat"): no browser, nothing stored; every
// request carries Authorization: Snowflake Token="<PAT>". For services and CI.
//
//   A real account:  TAKEOFF_PAT=... example_headless_pat --config takeoff.json
//                    (auth "pat"; the PAT from ALTER USER ... ADD PROGRAMMATIC ACCESS TOKEN; keep it
//                    in the environment rather than in the file)
//   The emulator:    takeoff-emulator --https --auth pat --cert-dir /tmp/emu -- example_headless_pat
//                    (it makes a PAT at start and writes it into the config it passes on)
#include "harness.hpp"

#include <iostream>
#include <string>

namespace api = takeoff::api;
namespace snowflake = takeoff::snowflake;

boost::asio::awaitable<void> run(example::context& ex) {
    example::expect(ex.config.auth == snowflake::auth_mode::pat, "the configuration's auth is not \"pat\"");
    auto request = api::generate(ex.arg(0, "Say hello to a headless service: ")).max_new_tokens(32).consumer_group(ex.group());

    ex.step = "generate";
    std::string text = co_await ex.client().async_generate(request);
    std::cout << text << '\n';
    example::expect(!text.empty(), "the generated text is empty");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[PROMPT]", run); }
