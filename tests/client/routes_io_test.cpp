// Every Takeoff route through takeoff::client against the emulated Takeoff: over plain HTTP, over
// HTTPS, and once behind the emulated SPCS ingress with the default credential (OAuth tokens
// exchanged for a session token, through snowflake::connection). One walk over the routes checks
// each reply against the emulator's own generators; the management API sits under a path prefix
// (/management), as a gateway would put it.

#include <takeoff/client.hpp>
#include <takeoff/connection.hpp>
#include <takeoff_emulator/generation.hpp>

#include "../support/emulated_account.hpp"
#include "../support/process.hpp"
#include "../support/takeoff_site.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>

#include <fstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace emu = takeoff::emulator;
namespace api = takeoff::api;
namespace snowflake = takeoff::snowflake;
using takeoff::errc;
using takeoff::test::run;
using takeoff::test::scheme;

using takeoff::test::tuple;

namespace {

std::vector<float> as_floats(const std::vector<double>& v) {
    return std::vector<float>(v.begin(), v.end());
}

// Calls every route once and checks each answer. `takeoff` is the emulator behind `client`.
asio::awaitable<void> walk_every_route(takeoff::client& client, emu::takeoff_emulator& takeoff) {
    // Inference: generation.
    auto generate = api::generate("g").max_new_tokens(3);
    const std::string generated = co_await client.async_generate(generate);
    CHECK(generated == emu::generated_text("g", 3));
    {
        auto request = api::generate_stream("s").max_new_tokens(6);
        auto stream = co_await client.async_generate_stream(request);
        std::string text;
        while (auto t = co_await stream.async_next()) text += *t;
        CHECK(text == emu::generated_text("s", 6));
    }
    // Embeddings, classification, reranking.
    const std::string one_text = "embed me";
    const auto vector = co_await client.async_embed(one_text);
    CHECK(vector == as_floats(emu::embedding("embed me", 8)));
    std::vector<std::string> two{"one", "two"};
    auto vectors = co_await client.async_embed(two);
    REQUIRE(vectors.size() == 2);
    CHECK(vectors[1] == as_floats(emu::embedding("two", 8)));
    const std::string review = "great film";
    const auto review_scores = co_await client.async_classify(review);
    CHECK(review_scores == emu::classify_scores("great film"));
    auto scores = co_await client.async_classify(two);
    CHECK(scores == std::vector<std::vector<double>>{emu::classify_scores("one"), emu::classify_scores("two")});
    std::vector<std::string> documents{"doc a", "doc b", "doc c"};
    const std::string query = "query";
    auto ranked = co_await client.async_rerank(query, documents);
    REQUIRE(ranked.size() == 3);
    CHECK(ranked[2] == emu::classify_scores("query", "doc c"));

    // The reader of a consumer group, as Dataiku finds it, then the reader-addressed routes.
    auto status = co_await client.async_status();
    CHECK(status.live_readers.size() == 3);
    auto primary = status.readers_in(api::consumer_group::primary());
    REQUIRE(primary.size() == 1);
    CHECK(primary[0] == api::reader_id("primary-0"));
    const std::string sentence = "hello big world";
    auto tokens = co_await client.async_tokenize(primary[0], sentence);
    CHECK(tokens.tokens == std::vector<std::string>{"\u2581hello", "\u2581big", "\u2581world"});
    CHECK(tokens.count == 3);
    const std::string detokenized = co_await client.async_detokenize(primary[0], tokens.tokens);
    CHECK(detokenized == "hello big world");
    std::vector<std::int64_t> ids{4, 2};
    const std::string from_ids = co_await client.async_detokenize(primary[0], ids);
    CHECK(from_ids == "tok4 tok2");
    std::vector<api::chat_message> conversation{{"system", "Be brief."}, {"user", "Hi"}};
    const std::string templated = co_await client.async_chat_template(primary[0], conversation);
    const std::vector<emu::chat_message> same{{"system", "Be brief."}, {"user", "Hi"}};
    CHECK(templated == emu::chat_template(same, false));
    const bool ready = co_await client.async_healthz();
    CHECK(ready);
    takeoff.set_ready(false);
    const bool not_ready = co_await client.async_healthz();
    CHECK_FALSE(not_ready);
    takeoff.set_ready(true);

    // Management (under /management).
    auto groups = co_await client.async_reader_groups();
    REQUIRE(groups.count(api::consumer_group("embed")) == 1);
    CHECK(groups.at(api::consumer_group("embed")).at(0).id == api::reader_id("embed-0"));
    api::reader_config config;
    config.model_name = "org/new-model";
    config.device = "cpu";
    config.consumer_group = api::consumer_group("extra");
    config.max_batch_size = 4;
    auto created = co_await client.async_create_reader(config);
    CHECK(created == api::reader_id("extra-0"));
    auto stored = co_await client.async_reader_config(created);
    CHECK(stored.at("model_name") == "org/new-model");
    CHECK(stored.at("max_batch_size") == 4);
    auto mstatus = co_await client.async_management_status();
    CHECK(mstatus.config.at("port") == 3000);
    REQUIRE(mstatus.status.has_value());
    CHECK(mstatus.status->live_readers.count(created) == 1);
    co_await client.async_delete_reader(created);
    takeoff::diagnostics diag;
    auto config_of = api::reader_config_of(created);
    auto [gone_ec, gone] = co_await client.async_send(config_of, diag, tuple);
    CHECK(gone_ec == errc::not_found);
    // A config the client refuses before sending.
    config.device = "tpu";
    auto create = api::create_reader(config);
    auto [refused_ec, none] = co_await client.async_send(create, diag, tuple);
    CHECK(refused_ec == errc::invalid_argument);
    CHECK(diag.client_message().find("tpu") != std::string::npos);

    // OpenAI-compatible.
    std::vector<api::chat_message> chat{{"user", "Tell me about SPCS"}};
    auto completion = co_await client.async_chat(api::consumer_group::primary(), chat);
    CHECK(completion.text() == emu::generated_text("Tell me about SPCS", 16));
    {
        auto stream = co_await client.async_chat_stream(api::consumer_group::primary(), chat);
        std::string text;
        std::optional<std::string> finish;
        while (auto chunk = co_await stream.async_next()) {
            text += chunk->content;
            if (chunk->finish_reason) finish = chunk->finish_reason;
        }
        CHECK(text == emu::generated_text("Tell me about SPCS", 16));
        CHECK(finish == "length");
    }
    auto embeddings = api::openai::embeddings(api::consumer_group("embed"), std::string("vector"));
    auto embedded = co_await client.async_send(embeddings);
    CHECK(embedded == as_floats(emu::embedding("vector", 8)));
}

} // namespace

TEST_CASE("routes: every inference, management and OpenAI route, over HTTP and over HTTPS") {
    for (auto s : {scheme::http, scheme::https}) {
        CAPTURE(takeoff::test::to_string(s));
        takeoff::test::takeoff_site site(s);
        asio::io_context io;
        takeoff::client client(io.get_executor(), site.client_options());
        run(io, [&]() -> asio::awaitable<void> { co_await walk_every_route(client, site.takeoff); });
        // Streams read to their end (generate and chat, [DONE] included) gave their connections back.
        CHECK(client.transport().connections_opened() == 1);
    }
}

TEST_CASE("routes: every route behind the SPCS ingress with the default OAuth to session-token credential") {
    takeoff::test::emulated_account site;
    emu::takeoff_emulator takeoff;
    auto guard = [&](emu::handler h) { return site.account.ingress(std::move(h)); };
    takeoff.install_inference(site.server, "", guard);
    takeoff.install_openai(site.server, "", guard);
    takeoff.install_management(site.server, "/management", guard);
    takeoff::test::temp_directory directory("takeoff-routes");
    const auto ca_file = directory.path() / "ca.pem";
    std::ofstream(ca_file) << site.authority.certificate_pem();

    snowflake::connection_config config; // auth "oauth" by default
    config.account_url = site.server.url();
    config.endpoint_url = site.server.url();
    config.management_url = site.server.url() + "/management";
    config.openai_url = site.server.url();
    config.ca_file = ca_file.string();
    config.oauth.client_id = site.account.options().client_id;
    config.oauth.client_secret = takeoff::secret(site.account.options().client_secret);
    config.oauth.scope = takeoff::test::account_scope;
    config.oauth.redirect_uri = "http://127.0.0.1:8765/callback";
    takeoff::oauth::memory_token_store store;
    takeoff::diagnostics diag;
    REQUIRE_FALSE(store.save(site.key(), site.signed_in_tokens(), diag));
    snowflake::connection_options options;
    options.http.proxy_from_environment = false;
    options.login = site.login();
    options.token_store = &store;
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), config, diag, options);
    REQUIRE_MESSAGE(made, diag.client_message());
    run(io, [&]() -> asio::awaitable<void> { co_await walk_every_route((*made)->client(), takeoff); });
    CHECK(site.account.login_requests() == 1);
    CHECK(site.account.ingress_rejections() == 0);
    // Every request the walk sends (23; the reader config refused before sending is not one).
    CHECK(site.account.ingress_accepted() == 23);
}
