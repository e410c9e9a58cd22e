// A program that copied only single_include/takeoff/takeoff.hpp: no other file of this repository,
// no takeoff CMake package, no Boost libraries (this file compiles Boost.JSON and Boost.URL:
// TAKEOFF_BOOST_SOURCES, in exactly one source file of a program). It loads the configuration
// and sends one generate.
//
//   Build:          c++ -std=c++20 -I<dir holding takeoff/takeoff.hpp> main.cpp -lssl -lcrypto -pthread
//   A real account: example_single_header takeoff.json    (auth pat or keypair: no browser here)
//   The emulator:   takeoff-emulator --https --cert-dir /tmp/emu -- example_single_header
//                   (the config comes from $TAKEOFF_CONFIG, which the emulator sets)
#define TAKEOFF_BOOST_SOURCES
#include <takeoff/takeoff.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace snowflake = takeoff::snowflake;

boost::asio::awaitable<void> run(takeoff::client& client, std::string group) {
    auto request = takeoff::api::generate("Hello from a single header").max_new_tokens(16);
    request.consumer_group(takeoff::api::consumer_group(std::move(group)));
    std::string text = co_await client.async_generate(request);
    std::cout << text << '\n';
    if (text.empty()) throw std::runtime_error("the generated text is empty");
}

int main(int argc, char** argv) {
    const char* env = std::getenv("TAKEOFF_CONFIG");
    const std::string path = argc > 1 ? argv[1] : env ? env : "";
    if (path.empty()) {
        std::cerr << "usage: " << argv[0] << " CONFIG.json (or set TAKEOFF_CONFIG)\n";
        return 2;
    }
    try {
        takeoff::diagnostics diag;
        auto config = snowflake::load_connection_config(path, diag);
        if (!config) throw takeoff::error(config.error(), diag);
        takeoff::throw_if_error(snowflake::apply_environment(*config, snowflake::process_environment(), diag), diag);
        if (config->auth == snowflake::auth_mode::oauth || config->auth == snowflake::auth_mode::oauth_direct)
            throw std::runtime_error("this example signs no one in: use auth pat, keypair or none");

        boost::asio::io_context io;
        snowflake::connection_options options;
        if (const char* name = std::getenv("TAKEOFF_ACCOUNT_NAME")) // keypair with the emulator: EMULATOR
            options.keypair_account_identifier = name;
        auto connection = snowflake::connection::make(io.get_executor(), *config, diag, std::move(options));
        if (!connection) throw takeoff::error(connection.error(), diag);

        std::exception_ptr failed;
        boost::asio::co_spawn(io, run((*connection)->client(), config->consumer_group),
                              [&failed](std::exception_ptr e) { failed = e; });
        io.run();
        if (failed) std::rethrow_exception(failed);
        return 0;
    } catch (const takeoff::error& e) { // what() is the library's message: never a secret
        std::cerr << "example_single_header: " << e.code().message() << ": " << e.what() << '\n';
    } catch (const std::exception& e) {
        std::cerr << "example_single_header: " << e.what() << '\n';
    }
    return 1;
}
