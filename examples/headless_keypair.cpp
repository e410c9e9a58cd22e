// Headless access with a key pair (auth "keypair"): no browser, no stored secret but the private
// key. Each credential is a JWT signed with the user's RSA key, exchanged at <account>/oauth/token
// for a token of the endpoint's ingress host, renewed before it expires. For services and CI.
//
//   A real account:  example_headless_keypair --config takeoff.json
//                    (auth "keypair", keypair.user and keypair.private_key_file: the user whose
//                    RSA_PUBLIC_KEY is set, and its PEM private key; keypair.role optional)
//   The emulator:    takeoff-emulator --https --auth keypair --cert-dir /tmp/emu -- example_headless_keypair
//                    (it makes a key pair at start and writes the private key as /tmp/emu/keypair.pem)
#include "harness.hpp"

#include <iostream>
#include <string>

namespace api = takeoff::api;
namespace snowflake = takeoff::snowflake;

boost::asio::awaitable<void> run(example::context& ex) {
    example::expect(ex.config.auth == snowflake::auth_mode::keypair, "the configuration's auth is not \"keypair\"");
    std::cout << "as " << ex.config.keypair.user << " with the key in " << ex.config.keypair.private_key_file << '\n';
    auto request = api::generate(ex.arg(0, "Say hello to a headless service: ")).max_new_tokens(32).consumer_group(ex.group());

    ex.step = "generate"; // the first request makes the JWT and exchanges it
    std::string text = co_await ex.client().async_generate(request);
    std::cout << text << '\n';
    example::expect(!text.empty(), "the generated text is empty");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[PROMPT]", run); }
