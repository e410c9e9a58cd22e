// Sign in to a Snowflake account with the browser (once: the tokens are kept in the token store and
// refreshed), turn the sign-in into a session token the SPCS ingress accepts, and GET a path of the
// service behind the ingress.
//
//   example_snowflake_sign_in CONFIG.json [PATH]   a real account: CONFIG.json as in
//                                                  docs/configuration.md (auth "oauth"), PATH on
//                                                  endpoint_url (default /healthz)
//   example_snowflake_sign_in                      the same against the bundled emulator, started
//                                                  here, with a stand-in for the user's browser
//                                                  (what ctest runs)
//
// run() is the program; main() only prepares its inputs.

#include <takeoff/takeoff.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace oauth = takeoff::oauth;
namespace snowflake = takeoff::snowflake;

asio::awaitable<void> run(http::client& client, const snowflake::connection_config& config, oauth::token_store& store,
                          const oauth::sign_in_options& browser, const snowflake::login_parameters& login,
                          std::string path) {
    takeoff::diagnostics diag;
    auto resolved = snowflake::resolve_oauth(config, diag); // validates every field first
    if (!resolved) throw takeoff::error(resolved.error(), diag);
    const snowflake::account_url& account = *resolved->account;

    // The tokens of this account, client and scope, kept between runs.
    snowflake::oauth_session session(client, resolved->client, &store,
                                     {account.base(), resolved->client.client_id, resolved->client.scope});
    if (!session.tokens(diag)) {
        std::cout << "signing in to " << account.base() << " ...\n";
        oauth::token_set tokens = co_await oauth::async_sign_in(client, resolved->client, browser);
        if (auto ec = session.set_tokens(std::move(tokens), diag))
            std::cerr << "the sign-in works but cannot be kept: " << diag.client_message() << "\n";
    }

    // OAuth -> session token, renewed when needed; sent as Authorization: Snowflake Token="...".
    snowflake::session_token_provider provider(client, session, account, login);
    auto url = boost::urls::url(config.endpoint_url);
    url.set_path(path);
    http::response reply = co_await snowflake::async_send(client, provider, http::request::get(url));
    std::cout << reply.status << " " << reply.body << "\n";
}

namespace {

// The stand-in for the user's browser in the emulator mode: it follows the authorization URL to the
// account, which signs the user in at once, and the account's redirect to the loopback listener.
void automated_browser(std::string url, std::string ca_pem) {
    asio::io_context io;
    http::client_options options;
    options.tls.ca_pem = std::move(ca_pem);
    options.defaults.redirects.follow = false;
    http::client browser(io.get_executor(), options);
    for (int hop = 0; hop < 2 && !url.empty(); ++hop) {
        takeoff::diagnostics diag;
        browser.async_request(http::request::get(boost::urls::url(url)), diag,
                              [&url](boost::system::error_code, http::response r) {
                                  url = std::string(r.headers["location"]);
                              });
        io.restart();
        io.run();
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        asio::io_context io;
        std::string path = argc > 2 ? argv[2] : "/healthz";
        snowflake::connection_config config;
        oauth::sign_in_options browser; // $BROWSER, else xdg-open, else the URL is printed
        snowflake::login_parameters login; // a real account's name comes from its URL
        std::unique_ptr<takeoff::emulator::certificate_authority> authority;
        std::unique_ptr<takeoff::emulator::server> server;
        std::unique_ptr<takeoff::emulator::snowflake_emulator> account;
        std::jthread user; // the emulator mode's browser (joined before the server goes)
        http::client_options client_options;

        if (argc > 1) {
            takeoff::diagnostics diag;
            auto loaded = snowflake::load_connection_config(argv[1], diag);
            if (!loaded) throw takeoff::error(loaded.error(), diag);
            config = std::move(*loaded);
            if (auto ec = snowflake::apply_environment(config, snowflake::process_environment(), diag))
                throw takeoff::error(ec, diag);
            if (!config.ca_file.empty()) client_options.tls.ca_file = config.ca_file;
        } else {
            // The emulated account over HTTPS, and the service behind its ingress.
            authority = std::make_unique<takeoff::emulator::certificate_authority>();
            server = std::make_unique<takeoff::emulator::server>(takeoff::emulator::server_options{authority->issue()});
            account = std::make_unique<takeoff::emulator::snowflake_emulator>();
            account->install(*server);
            server->route(boost::beast::http::verb::get, "/healthz",
                          account->ingress(takeoff::emulator::behaviours::respond(boost::beast::http::status::ok,
                                                                                  "hello from behind the ingress")));
            config.account_url = server->url();
            config.endpoint_url = server->url();
            config.oauth.client_id = account->options().client_id;
            config.oauth.client_secret = takeoff::secret(account->options().client_secret);
            config.oauth.scope = "refresh_token session:role:ANALYST";
            config.oauth.redirect_uri = "http://127.0.0.1/callback";
            login.account_name = account->options().account_name; // a loopback URL names no account
            client_options.tls.ca_pem = authority->certificate_pem();
            browser.open_url = [&user, ca = authority->certificate_pem()](const std::string& url) {
                user = std::jthread(automated_browser, url, ca);
            };
        }

        http::client client(io.get_executor(), client_options);
        oauth::memory_token_store memory;
        oauth::file_token_store file; // $XDG_CACHE_HOME/takeoff/tokens.json
        oauth::token_store& store = argc > 1 ? static_cast<oauth::token_store&>(file) : memory;
        std::exception_ptr failure;
        asio::co_spawn(io, run(client, config, store, browser, login, path), [&failure](std::exception_ptr e) { failure = e; });
        io.run();
        if (user.joinable()) user.join();
        if (failure) std::rethrow_exception(failure);
        return 0;
    } catch (const takeoff::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        if (!e.get_diagnostics().server_message().empty())
            std::cerr << "the server said: " << e.get_diagnostics().server_message() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}
