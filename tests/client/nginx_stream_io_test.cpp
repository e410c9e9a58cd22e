// Streaming through a real TLS-terminating proxy: nginx (Debian's nginx-light, started from
// tests/http/nginx-tls-proxy.conf.in with proxy_buffering off) in front of the emulated Takeoff on
// plain HTTP, as an ingress or gateway sits in front of Takeoff. nginx re-frames the chunked body;
// the tokens must come through exactly, and the connection back to nginx must be reused.

#include <takeoff/client.hpp>
#include <takeoff_emulator/generation.hpp>

#include "../support/nginx.hpp"
#include "../support/process.hpp"
#include "../support/takeoff_site.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace emu = takeoff::emulator;
namespace api = takeoff::api;
using takeoff::test::run;

namespace {

// nginx with a certificate of the site's test CA, proxying to the site's plain HTTP server.
struct proxied_site {
    takeoff::test::takeoff_site site;
    takeoff::test::temp_directory certificates{"takeoff-nginx-certs"};
    emu::certificate_files files;
    takeoff::test::nginx_server nginx;

    explicit proxied_site(emu::takeoff_options options = {})
        : site(takeoff::test::scheme::http, std::move(options)),
          files(site.authority.issue().write_files(certificates.path(), "nginx")),
          nginx(std::filesystem::path(__FILE__).parent_path().parent_path() / "http" / "nginx-tls-proxy.conf.in",
                {{"UPSTREAM_PORT", std::to_string(site.server.port())},
                 {"CERT", files.certificate.string()},
                 {"KEY", files.private_key.string()}}) {}

    takeoff::client_options client_options() const {
        auto o = site.client_options();
        const std::string url = "https://127.0.0.1:" + std::to_string(nginx.port());
        o.inference_url = api::inference_url::runtime(url).value();
        o.openai_url = api::openai_url::runtime(url).value();
        return o;
    }
};

} // namespace

TEST_CASE("nginx TLS proxy: generate_stream and a streamed batch come through token for token, on one connection") {
    proxied_site proxied;
    asio::io_context io;
    takeoff::client client(io.get_executor(), proxied.client_options());
    std::vector<std::string> tokens;
    std::vector<std::string> rebuilt(2);
    run(io, [&]() -> asio::awaitable<void> {
        auto single = api::generate_stream("through nginx").max_new_tokens(25);
        auto stream = co_await client.async_generate_stream(single);
        while (auto t = co_await stream.async_next()) tokens.push_back(*t);
        std::vector<std::string> prompts{"left", "right"};
        auto batch = api::generate_stream(std::move(prompts)).max_new_tokens(9);
        auto events = co_await client.async_generate_stream(batch);
        while (auto ev = co_await events.async_next()) rebuilt.at(ev->batch_id) += ev->text;
    });
    CHECK(tokens == emu::generated_tokens("through nginx", 25));
    CHECK(rebuilt[0] == emu::generated_text("left", 9));
    CHECK(rebuilt[1] == emu::generated_text("right", 9));
    CHECK(client.transport().connections_opened() == 1);
}

TEST_CASE("nginx TLS proxy: a streamed OpenAI chat ends at data: [DONE] with the whole answer") {
    proxied_site proxied;
    asio::io_context io;
    takeoff::client client(io.get_executor(), proxied.client_options());
    std::string text;
    std::size_t chunks = 0;
    run(io, [&]() -> asio::awaitable<void> {
        std::vector<api::chat_message> messages{{"user", "stream it"}};
        auto stream = co_await client.async_chat_stream(api::consumer_group::primary(), messages);
        while (auto chunk = co_await stream.async_next()) {
            text += chunk->content;
            ++chunks;
        }
    });
    CHECK(text == emu::generated_text("stream it", 16));
    CHECK(chunks == 18); // the role chunk, 16 tokens, the finish chunk
}

TEST_CASE("nginx TLS proxy: an upstream that drops mid-stream reaches the client as errc::stream_truncated") {
    emu::takeoff_options options;
    options.drop_stream_after_tokens = 4;
    proxied_site proxied(options);
    asio::io_context io;
    takeoff::client client(io.get_executor(), proxied.client_options());
    std::vector<std::string> tokens;
    boost::system::error_code failure;
    run(io, [&]() -> asio::awaitable<void> {
        auto request = api::generate_stream("cut").max_new_tokens(10);
        auto stream = co_await client.async_generate_stream(request);
        for (;;) {
            auto [ec, token] = co_await stream.async_next(asio::as_tuple(asio::deferred));
            if (ec || !token) {
                failure = ec;
                break;
            }
            tokens.push_back(*token);
        }
    });
    CHECK(tokens == emu::generated_tokens("cut", 4));
    CHECK(failure == takeoff::errc::stream_truncated);
}
