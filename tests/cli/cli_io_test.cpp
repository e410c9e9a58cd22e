// The takeoff CLI's commands, run in-process (takeoff::cli::run) against the emulated Snowflake
// account, SPCS ingress and Takeoff over HTTPS with a test CA: login (browser and pasted
// redirect), logout, whoami, config import-secrets, status, generate (one, batch, stdin, stream,
// constrained, JSON), embed, classify, readers, chat; silent renewal after the session expired and
// the way back to `takeoff login`; bad configurations; nothing secret ever printed.
#include <takeoff_cli/app.hpp>

#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/generation.hpp>
#include <takeoff_emulator/snowflake.hpp>
#include <takeoff_emulator/takeoff.hpp>

#include "../support/client_helpers.hpp"
#include "../support/emulated_account.hpp"
#include "../support/process.hpp"
#include "../support/scripted_browser.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace cli = takeoff::cli;
namespace emu = takeoff::emulator;
namespace json = boost::json;
using takeoff::test::temp_directory;

namespace {

constexpr const char* scope = "refresh_token session:role:CONTAINER_USER_ROLE";

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& p, const std::string& text, ::mode_t mode = 0600) {
    std::ofstream(p, std::ios::binary) << text;
    ::chmod(p.c_str(), mode);
}

// What one run printed and returned.
struct outcome {
    int code = -1;
    std::string out;
    std::string err;
};

// The emulated site (account routes, and the Takeoff routes behind the ingress; management under
// /management) over HTTPS, a directory with its CA, a configuration and a token cache, and the
// CLI run in-process against it.
struct site {
    emu::certificate_authority authority;
    emu::server server{emu::server_options{authority.issue()}};
    emu::snowflake_emulator account;
    emu::takeoff_emulator takeoff;
    temp_directory dir{"takeoff-cli"};
    std::filesystem::path config_file = dir.path() / "config.json";
    std::filesystem::path ca_file = dir.path() / "ca.pem";
    std::filesystem::path cache_file = dir.path() / "cache" / "tokens.json";
    std::map<std::string, std::string> env{{"HOME", dir.path().string()}, {"PATH", "/nonexistent"}};
    takeoff::test::scripted_browser browser;

    explicit site(emu::snowflake_options options = {}) : account(std::move(options)) {
        account.install(server);
        auto wrap = [this](emu::handler h) { return account.ingress(std::move(h)); };
        takeoff.install_inference(server, "", wrap);
        takeoff.install_openai(server, "", wrap);
        takeoff.install_management(server, "/management", wrap);
        write_file(ca_file, authority.certificate_pem(), 0644);
        write_config(config());
    }

    // The configuration of this site with auth "oauth" (as `takeoff-emulator --print-config` writes it).
    json::object config() const {
        return {{"account_url", server.url()},
                {"endpoint_url", server.url()},
                {"management_url", server.url() + "/management"},
                {"openai_url", server.url()},
                {"consumer_group", "primary"},
                {"ca_file", ca_file.string()},
                {"auth", "oauth"},
                {"oauth",
                 {{"client_id", account.options().client_id},
                  {"client_secret", account.options().client_secret},
                  {"scope", scope},
                  {"redirect_uri", "http://127.0.0.1/callback"}}}};
    }

    void write_config(const json::object& c) { write_file(config_file, json::serialize(c)); }

    outcome run(std::vector<std::string> args, const std::string& input = {}, bool interactive = false,
                std::streambuf* input_buffer = nullptr) {
        std::istringstream in(input);
        if (input_buffer) in.std::ios::rdbuf(input_buffer);
        std::ostringstream out, err;
        cli::context ctx{in, out, err};
        ctx.env = [this](std::string_view name) -> std::optional<std::string> {
            auto it = env.find(std::string(name));
            if (it == env.end()) return std::nullopt;
            return it->second;
        };
        ctx.interactive = interactive;
        ctx.open_url = [this](const std::string& url) {
            browser.visit_done = std::async(std::launch::async, [url, this] { return takeoff::test::visit(url, authority); });
        };
        ctx.adjust = [](takeoff::snowflake::connection_options& o) {
            o.http.proxy_from_environment = false;
            o.http.defaults.retries.initial_backoff = std::chrono::milliseconds(1);
            o.http.defaults.retries.max_backoff = std::chrono::milliseconds(2);
        };
        args.insert(args.begin(), {"--config", config_file.string(), "--token-cache", cache_file.string()});
        outcome o;
        o.code = cli::run(args, ctx);
        o.out = out.str();
        o.err = err.str();
        return o;
    }

    // Signs in with the scripted browser; fails the test otherwise.
    void login() {
        auto o = run({"login"});
        REQUIRE_MESSAGE(o.code == 0, o.err);
        browser.visit_done.get();
    }

    // The stored tokens (what must never be printed), when there are any.
    std::optional<takeoff::oauth::token_set> stored_tokens() const {
        takeoff::oauth::file_token_store store(cache_file);
        takeoff::diagnostics diag;
        auto loaded = store.load({takeoff::snowflake::account_url::runtime(server.url()).value().base(),
                                  account.options().client_id, scope},
                                 diag);
        if (!loaded) return std::nullopt;
        return *loaded;
    }
};

// True when no secret of the site appears in `text`.
bool shows_no_secret(const site& s, const std::string& text) {
    if (text.find(s.account.options().client_secret) != std::string::npos) return false;
    if (auto tokens = s.stored_tokens()) {
        if (text.find(tokens->access_token.reveal()) != std::string::npos) return false;
        if (tokens->refresh_token && text.find(tokens->refresh_token->reveal()) != std::string::npos) return false;
    }
    return true;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// The user of `takeoff login --no-browser`: when the CLI reads the pasted line, it takes the
// authorization URL the CLI printed on stderr, signs in with it in its "browser" (the account
// redirects at once) and pastes the URL the browser was sent to.
class pasting_user : public std::streambuf {
public:
    pasting_user(const site& s, const std::string* err) : site_(s), err_(err) {}

    std::string failure; ///< why no line was pasted

protected:
    int_type underflow() override {
        if (done_) return traits_type::eof();
        done_ = true;
        const std::string marker = "Open this URL in a browser to sign in:\n  ";
        const auto at = err_ ? err_->find(marker) : std::string::npos;
        if (at == std::string::npos) {
            failure = "no URL printed";
            return traits_type::eof();
        }
        const auto start = at + marker.size();
        const std::string url = err_->substr(start, err_->find('\n', start) - start);
        // The browser: GET the authorization URL, keep the Location (nothing listens on it).
        boost::asio::io_context io;
        auto options = takeoff::test::trusting(site_.authority);
        options.defaults.redirects.follow = false;
        takeoff::http::client browser(io.get_executor(), options);
        takeoff::diagnostics diag;
        auto [ignored, reply] = takeoff::test::send(io, browser, takeoff::http::request::get(boost::urls::url(url)), {}, diag);
        if (reply.status != 302) { // (not following it is reported as an error code too)
            failure = "the account did not redirect: " + std::to_string(reply.status) + " " + diag.client_message();
            return traits_type::eof();
        }
        line_ = std::string(reply.headers["location"]) + "\n";
        setg(line_.data(), line_.data(), line_.data() + line_.size());
        return traits_type::to_int_type(line_[0]);
    }

private:
    const site& site_;
    const std::string* err_;
    std::string line_;
    bool done_ = false;
};

// An ostringstream whose text the pasting user can see while the CLI runs.
struct shared_err_run {
    static outcome run(site& s, std::vector<std::string> args) {
        // cli::run writes to its own err stream; the user reads it through this pointer.
        struct recording_buffer : std::streambuf {
            std::string text;
            int_type overflow(int_type c) override {
                if (!traits_type::eq_int_type(c, traits_type::eof())) text.push_back(traits_type::to_char_type(c));
                return traits_type::not_eof(c);
            }
            std::streamsize xsputn(const char* p, std::streamsize n) override {
                text.append(p, static_cast<std::size_t>(n));
                return n;
            }
        } err_buffer;
        const std::string& seen = err_buffer.text;
        pasting_user user(s, &seen);
        std::istream in(&user);
        std::ostringstream out;
        std::ostream err(&err_buffer);
        cli::context ctx{in, out, err};
        ctx.env = [&s](std::string_view name) -> std::optional<std::string> {
            auto it = s.env.find(std::string(name));
            if (it == s.env.end()) return std::nullopt;
            return it->second;
        };
        ctx.adjust = [](takeoff::snowflake::connection_options& o) { o.http.proxy_from_environment = false; };
        args.insert(args.begin(), {"--config", s.config_file.string(), "--token-cache", s.cache_file.string()});
        outcome o;
        o.code = cli::run(args, ctx);
        o.out = out.str();
        o.err = seen + user.failure;
        return o;
    }
};

} // namespace

TEST_CASE("cli login: the browser sign-in stores the tokens (0600); whoami shows user, scope and lifetimes, never a token") {
    site s;
    auto o = s.run({"login"});
    REQUIRE_MESSAGE(o.code == 0, o.err);
    const auto visit = s.browser.visit_done.get();
    CHECK(visit.status == 200);
    CHECK(o.out == "Signed in to " + s.server.url() + " as EMULATOR_USER.\nThe sign-in is renewed without the browser for 90 days (tokens kept in " +
                       s.cache_file.string() + ").\n");
    struct stat st {};
    REQUIRE(::stat(s.cache_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(s.account.code_grants() == 1);

    auto who = s.run({"whoami"});
    REQUIRE_MESSAGE(who.code == 0, who.err);
    CHECK(who.out == "account:       " + s.server.url() + "\nuser:          EMULATOR_USER\nauth:          oauth\nscope:         " +
                         scope + "\naccess token:  valid for 10 min\nrefresh token: valid for 90 days\n");
    auto who_json = s.run({"whoami", "--json"});
    REQUIRE(who_json.code == 0);
    auto doc = json::parse(who_json.out).as_object();
    CHECK(doc.at("user") == "EMULATOR_USER");
    CHECK(doc.at("scope") == scope);
    CHECK(doc.at("refresh_token") == true);
    CHECK(doc.at("access_token_expires_at").is_int64());
    CHECK(shows_no_secret(s, o.out + o.err + who.out + who.err + who_json.out));
}

TEST_CASE("cli login --no-browser: the URL is printed and the pasted redirect URL signs in") {
    site s;
    // Nothing listens in this mode: the redirect URI names a port, as a registered one does.
    auto c = s.config();
    c.at("oauth").as_object()["redirect_uri"] = "http://127.0.0.1:" + std::to_string(takeoff::test::free_loopback_port()) + "/callback";
    s.write_config(c);
    auto o = shared_err_run::run(s, {"login", "--no-browser"});
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK(o.err.find("Open this URL in a browser to sign in:\n  " + s.server.url() + "/oauth/authorize?response_type=code") !=
          std::string::npos);
    CHECK(o.out.rfind("Signed in to " + s.server.url() + " as EMULATOR_USER.\n", 0) == 0);
    CHECK(s.account.code_grants() == 1);
    auto g = s.run({"generate", "hi"});
    CHECK_MESSAGE(g.code == 0, g.err);
}

TEST_CASE("cli logout: forgets the tokens; then commands exit 4 and say to run takeoff login") {
    site s;
    s.login();
    auto out = s.run({"logout"});
    REQUIRE(out.code == 0);
    CHECK(out.out == "Signed out of " + s.server.url() + ".\n");
    auto again = s.run({"logout"});
    CHECK(again.code == 0);
    CHECK(again.out == "Not signed in to " + s.server.url() + ".\n");
    auto who = s.run({"whoami"});
    CHECK(who.code == cli::exit_sign_in);
    CHECK(who.err == "takeoff: whoami: not signed in to " + s.server.url() + "; run `takeoff login`\n");
    s.server.clear_requests();
    auto gen = s.run({"generate", "hello"});
    CHECK(gen.code == cli::exit_sign_in);
    CHECK(gen.out.empty());
    CHECK(s.server.request_count() == 0); // refused before anything is sent
}

TEST_CASE("cli generate: one prompt prints the text alone; --json prints {\"text\"}; sampling options are sent") {
    site s;
    s.login();
    s.server.clear_requests();
    auto o = s.run({"generate", "--max-new-tokens", "7", "--temperature", "0.5", "--top-p", "0.9", "--top-k", "5",
                    "Hello, Takeoff"});
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK(o.out == emu::generated_text("Hello, Takeoff", 7) + "\n");
    CHECK(o.err.empty());
    const auto log = s.server.requests();
    REQUIRE(log.size() == 2); // login-request, then /generate
    CHECK(log[1].target == "/generate");
    CHECK(json::parse(log[1].body) == json::parse(R"({"text":"Hello, Takeoff","consumer_group":"primary","sampling_temperature":0.5,)"
                                                  R"("sampling_topp":0.9,"sampling_topk":5,"max_new_tokens":7})"));

    auto j = s.run({"--json", "generate", "Hello, Takeoff", "--max-new-tokens=3"});
    REQUIRE(j.code == 0);
    CHECK(json::parse(j.out) == json::value{{"text", emu::generated_text("Hello, Takeoff", 3)}});
}

TEST_CASE("cli generate: several prompts and '-' (stdin, one per line) are a batch, printed in input order") {
    site s;
    s.login();
    auto o = s.run({"generate", "--max-new-tokens", "2", "first", "-", "last"}, "from stdin 1\n\nfrom stdin 2\r\n");
    REQUIRE_MESSAGE(o.code == 0, o.err);
    const std::vector<std::string> prompts{"first", "from stdin 1", "from stdin 2", "last"};
    std::string expected;
    for (const auto& p : prompts) expected += emu::generated_text(p, 2) + "\n";
    CHECK(o.out == expected);
    CHECK(o.err.empty()); // not a terminal: no progress line

    auto j = s.run({"generate", "--json", "--max-new-tokens", "2", "a", "b"});
    REQUIRE(j.code == 0);
    CHECK(json::parse(j.out) ==
          json::parse(R"({"texts":[)" + json::serialize(json::string(emu::generated_text("a", 2))) + "," +
                      json::serialize(json::string(emu::generated_text("b", 2))) + R"(],"failed":0})"));

    auto progress = s.run({"generate", "--max-new-tokens", "1", "--concurrency", "1", "x", "y"}, {}, true);
    REQUIRE(progress.code == 0);
    CHECK(progress.err == "\r1/2 prompts\r2/2 prompts\r\033[K");
}

TEST_CASE("cli generate --stream: the tokens as they arrive, then a newline; a spinner on a terminal only") {
    site s;
    s.login();
    auto o = s.run({"generate", "--stream", "--max-new-tokens", "12", "Tell me a story"});
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK(o.out == emu::generated_text("Tell me a story", 12) + "\n");
    CHECK(o.err.empty());

    auto term = s.run({"generate", "--stream", "--max-new-tokens", "3", "story"}, {}, true);
    REQUIRE(term.code == 0);
    CHECK(term.out == emu::generated_text("story", 3) + "\n");
    // The spinner's line is cleared when the first token arrives (it may not have drawn a frame).
    CHECK(term.err.size() >= 4);
    CHECK(term.err.substr(term.err.size() - 4) == "\r\033[K");

    auto j = s.run({"generate", "--stream", "--json", "--max-new-tokens", "3", "story"});
    REQUIRE(j.code == 0);
    json::array tokens;
    for (auto& t : emu::generated_tokens("story", 3)) tokens.push_back(json::string(t));
    CHECK(json::parse(j.out) == json::value{{"text", emu::generated_text("story", 3)}, {"tokens", tokens}});
}

TEST_CASE("cli generate: --regex and --json-schema constrain the output; both together, or a bad value, is a usage error") {
    site s;
    s.login();
    auto re = s.run({"generate", "--regex", "[0-9]{3}-[a-z]{2}", "code"});
    REQUIRE_MESSAGE(re.code == 0, re.err);
    std::string why;
    CHECK(re.out == *emu::regex_text("[0-9]{3}-[a-z]{2}", "code", why) + "\n");

    const auto schema_file = s.dir.path() / "schema.json";
    write_file(schema_file, R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})");
    auto js = s.run({"generate", "--json-schema", schema_file.string(), "a number"});
    REQUIRE_MESSAGE(js.code == 0, js.err);
    auto parsed = json::parse(js.out);
    CHECK(parsed.as_object().at("n").is_int64());

    auto both = s.run({"generate", "--regex", "x", "--json-schema", schema_file.string(), "p"});
    CHECK(both.code == cli::exit_usage);
    CHECK(both.err == "takeoff: --json-schema and --regex cannot be used together (see `takeoff --help`)\n");
    auto hot = s.run({"generate", "--temperature", "0", "p"});
    CHECK(hot.code == cli::exit_usage);
    CHECK(hot.err == "takeoff: --temperature: sampling temperature must lie in (0, 100] (for greedy decoding use top_k 1) "
                     "(see `takeoff --help`)\n");
    auto nan = s.run({"generate", "--top-k", "three", "p"});
    CHECK(nan.code == cli::exit_usage);
    CHECK(nan.err == "takeoff: --top-k: not a whole number (see `takeoff --help`)\n");
    auto none = s.run({"generate"});
    CHECK(none.code == cli::exit_usage);
}

TEST_CASE("cli embed and classify: one line of numbers per text, exact; --json; --query scores pairs") {
    site s;
    s.login();
    auto e = s.run({"embed", "--consumer-group", "embed", "alpha", "beta"});
    REQUIRE_MESSAGE(e.code == 0, e.err);
    auto rows = lines(e.out);
    REQUIRE(rows.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        std::istringstream row(rows[i]);
        const auto expected = emu::embedding(i == 0 ? "alpha" : "beta", 8);
        std::vector<float> got;
        for (std::string word; row >> word;) got.push_back(std::stof(word));
        REQUIRE(got.size() == 8);
        for (std::size_t k = 0; k < 8; ++k) CHECK(got[k] == static_cast<float>(expected[k]));
    }
    auto ej = s.run({"embed", "--json", "alpha"});
    REQUIRE(ej.code == 0);
    const auto ej_doc = json::parse(ej.out);
    const auto& vectors = ej_doc.as_object().at("embeddings").as_array();
    REQUIRE(vectors.size() == 1);
    CHECK(vectors[0].as_array().size() == 8);
    CHECK(static_cast<float>(vectors[0].as_array()[0].to_number<double>()) == static_cast<float>(emu::embedding("alpha", 8)[0]));

    auto c = s.run({"classify", "--json", "--consumer-group", "classify", "good", "bad"});
    REQUIRE_MESSAGE(c.code == 0, c.err);
    const auto c_doc = json::parse(c.out);
    const auto& scores = c_doc.as_object().at("scores").as_array();
    REQUIRE(scores.size() == 2);
    CHECK(json::value_to<std::vector<double>>(scores[0]) == emu::classify_scores("good"));
    CHECK(json::value_to<std::vector<double>>(scores[1]) == emu::classify_scores("bad"));

    auto q = s.run({"classify", "--json", "--consumer-group", "classify", "--query", "cats?", "doc one", "doc two"});
    REQUIRE_MESSAGE(q.code == 0, q.err);
    const auto q_doc = json::parse(q.out);
    const auto& pair_scores = q_doc.as_object().at("scores").as_array();
    REQUIRE(pair_scores.size() == 2);
    CHECK(json::value_to<std::vector<double>>(pair_scores[1]) == emu::classify_scores("cats?", "doc two"));
}

TEST_CASE("cli status and readers: list, create, see it, delete, gone") {
    site s;
    s.login();
    auto st = s.run({"status"});
    REQUIRE_MESSAGE(st.code == 0, st.err);
    CHECK(st.out == "classify-0  groups: classify  model: emulator/classify  device: cpu\n"
                    "embed-0  groups: embed  model: emulator/embed  device: cpu\n"
                    "primary-0  groups: primary  model: emulator/generate  device: cpu\n");
    auto created = s.run({"readers", "create", "--model", "my/model", "--consumer-group", "extra", "--max-batch-size", "4"});
    REQUIRE_MESSAGE(created.code == 0, created.err);
    const std::string id = created.out.substr(0, created.out.size() - 1);
    CHECK_FALSE(id.empty());
    auto listed = s.run({"readers", "list", "--json"});
    REQUIRE(listed.code == 0);
    const auto groups = json::parse(listed.out).as_object();
    REQUIRE(groups.contains("extra"));
    CHECK(groups.at("extra").as_array().at(0).as_object().at("reader_id").as_string() == id);
    CHECK(groups.at("extra").as_array().at(0).as_object().at("model_name") == "my/model");
    auto deleted = s.run({"readers", "delete", id});
    REQUIRE_MESSAGE(deleted.code == 0, deleted.err);
    CHECK(deleted.out == "Deleted reader " + id + ".\n");
    auto after = s.run({"readers", "list", "--json"});
    CHECK_FALSE(json::parse(after.out).as_object().contains("extra"));
    CHECK(s.run({"readers"}).code == cli::exit_usage);
    CHECK(s.run({"readers", "create"}).code == cli::exit_usage);
}

TEST_CASE("cli chat: each line is a turn, streamed; the history goes with every request") {
    site s;
    s.login();
    s.server.clear_requests();
    auto o = s.run({"chat", "--system", "be brief"}, "hello\n\nhow are you\n");
    REQUIRE_MESSAGE(o.code == 0, o.err);
    // Each answer streamed and ended with a newline: the emulator answers the last user message.
    CHECK(o.out == emu::generated_text("hello", 16) + "\n" + emu::generated_text("how are you", 16) + "\n");
    std::vector<json::value> bodies;
    for (const auto& r : s.server.requests())
        if (r.target == "/v1/chat/completions") bodies.push_back(json::parse(r.body));
    REQUIRE(bodies.size() == 2);
    const auto& second = bodies[1].as_object().at("messages").as_array();
    REQUIRE(second.size() == 4);
    CHECK(second[0] == json::value{{"role", "system"}, {"content", "be brief"}});
    CHECK(second[1] == json::value{{"role", "user"}, {"content", "hello"}});
    CHECK(second[2] == json::value{{"role", "assistant"}, {"content", emu::generated_text("hello", 16)}});
    CHECK(second[3] == json::value{{"role", "user"}, {"content", "how are you"}});
    CHECK(bodies[1].as_object().at("stream") == true);
    CHECK(bodies[1].as_object().at("model") == "primary");
}

TEST_CASE("cli: a run after the access token expired renews it silently; a dead refresh token sends the user to takeoff login") {
    site s;
    s.login();
    // Expire the access token on both sides: the account's clock moves on, and the cache says so.
    s.account.advance_clock(std::chrono::seconds(3600));
    auto cache = json::parse(read_file(s.cache_file)).as_object();
    for (auto& e : cache.at("entries").as_array()) e.as_object()["expires_at"] = 1;
    write_file(s.cache_file, json::serialize(cache));
    const auto refreshes = s.account.refresh_grants();
    auto renewed = s.run({"generate", "--max-new-tokens", "2", "still there?"});
    REQUIRE_MESSAGE(renewed.code == 0, renewed.err);
    CHECK(renewed.out == emu::generated_text("still there?", 2) + "\n");
    CHECK(s.account.refresh_grants() == refreshes + 1);

    s.account.advance_clock(std::chrono::seconds(3600));
    cache = json::parse(read_file(s.cache_file)).as_object();
    for (auto& e : cache.at("entries").as_array()) e.as_object()["expires_at"] = 1;
    write_file(s.cache_file, json::serialize(cache));
    s.account.revoke_refresh_tokens();
    auto dead = s.run({"generate", "anyone?"});
    CHECK(dead.code == cli::exit_sign_in);
    CHECK(dead.out.empty());
    REQUIRE(lines(dead.err).size() == 1);
    CHECK(dead.err.rfind("takeoff: generate: ", 0) == 0);
    CHECK(dead.err.find("; sign in again with `takeoff login`\n") != std::string::npos);
    CHECK(shows_no_secret(s, renewed.err + dead.err));
}

TEST_CASE("cli: --verbose names the files and steps, and never a secret") {
    site s;
    auto login = s.run({"--verbose", "login"});
    REQUIRE(login.code == 0);
    s.browser.visit_done.get();
    auto o = s.run({"generate", "--verbose", "x"});
    REQUIRE(o.code == 0);
    CHECK(o.err.find("takeoff: configuration " + s.config_file.string() + " (from --config), auth oauth, endpoint " +
                     s.server.url() + "\n") != std::string::npos);
    CHECK(o.err.find("takeoff: token cache " + s.cache_file.string() + " (from --token-cache)\n") != std::string::npos);
    CHECK(shows_no_secret(s, login.err + login.out + o.err + o.out));
}

TEST_CASE("cli config import-secrets: from a file or stdin into the config (0600), other fields kept; bad JSON refused") {
    site s;
    auto c = s.config();
    c.at("oauth").as_object().erase("client_secret");
    c.at("oauth").as_object()["client_id"] = "OLD";
    s.write_config(c);
    const std::string secrets = R"({"OAUTH_CLIENT_SECRET_2":"second-secret","OAUTH_CLIENT_SECRET":")" +
                                s.account.options().client_secret + R"(","OAUTH_CLIENT_ID":")" +
                                s.account.options().client_id + "\"}";
    auto o = s.run({"config", "import-secrets", "-"}, secrets);
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK(o.out == "Stored client id " + s.account.options().client_id + " and its secret in " + s.config_file.string() +
                       " (mode 0600).\nThe second secret (OAUTH_CLIENT_SECRET_2) is not stored: the configuration has one "
                       "secret; import again after a rotation.\n");
    CHECK(shows_no_secret(s, o.out + o.err));
    CHECK(o.out.find("second-secret") == std::string::npos);
    auto written = json::parse(read_file(s.config_file)).as_object();
    CHECK(written.at("oauth").at("client_secret").as_string() == s.account.options().client_secret);
    CHECK(written.at("oauth").at("client_id").as_string() == s.account.options().client_id);
    CHECK(written.at("oauth").at("scope").as_string() == scope);
    CHECK(written.at("endpoint_url").as_string() == s.server.url());
    struct stat st {};
    REQUIRE(::stat(s.config_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    s.login(); // the imported secret works

    // Into a new file, from a file.
    const auto fresh = s.dir.path() / "new" / "config.json";
    const auto secrets_file = s.dir.path() / "secrets.json";
    write_file(secrets_file, secrets);
    std::ostringstream out, err;
    std::istringstream in;
    cli::context ctx{in, out, err};
    ctx.env = [](std::string_view) { return std::optional<std::string>(); };
    CHECK(cli::run({"config", "import-secrets", secrets_file.string(), "--config", fresh.string()}, ctx) == 0);
    CHECK(json::parse(read_file(fresh)) == json::parse(R"({"oauth":{"client_id":")" + s.account.options().client_id +
                                                       R"(","client_secret":")" + s.account.options().client_secret + "\"}}"));

    auto bad = s.run({"config", "import-secrets"}, "{not json");
    CHECK(bad.code == cli::exit_failed);
    CHECK(bad.err.rfind("takeoff: config import-secrets: ", 0) == 0);
    CHECK(bad.err.find("SYSTEM$SHOW_OAUTH_CLIENT_SECRETS") != std::string::npos);
}

TEST_CASE("cli auth pat: no sign-in, requests carry the PAT; whoami does not show it") {
    emu::snowflake_options options;
    options.programmatic_access_tokens = {"pat-for-the-cli"};
    site s(options);
    auto c = s.config();
    c["auth"] = "pat";
    c["pat"] = "pat-for-the-cli";
    s.write_config(c);
    auto login = s.run({"login"});
    CHECK(login.code == 0);
    CHECK(login.out == "auth \"pat\" needs no sign-in.\n");
    auto g = s.run({"generate", "--max-new-tokens", "2", "p"});
    REQUIRE_MESSAGE(g.code == 0, g.err);
    CHECK(g.out == emu::generated_text("p", 2) + "\n");
    auto who = s.run({"whoami"});
    CHECK(who.code == 0);
    CHECK(who.out == "account:       " + s.server.url() + "\nauth:          pat\ncredential:    a programmatic access token (not shown)\n");
    CHECK((g.err + who.out + who.err).find("pat-for-the-cli") == std::string::npos);
    // A PAT the ingress does not know: refused, exit 1, with advice.
    c["pat"] = "not-a-known-pat";
    s.write_config(c);
    auto refused = s.run({"status"});
    CHECK(refused.code == cli::exit_failed);
    CHECK(refused.err.find("; the credential was refused: check that the role may use the service, or run `takeoff login`\n") !=
          std::string::npos);
}

TEST_CASE("cli bad configurations: missing field, bad URL, bad scope, unknown field, unreadable CA file, no file: exit 3 naming it") {
    site s;
    auto check = [&](json::object c, const std::string& expected_start) {
        s.write_config(c);
        auto o = s.run({"status"});
        CHECK(o.code == cli::exit_configuration);
        CHECK(lines(o.err).size() == 1);
        CHECK_MESSAGE(o.err.rfind(expected_start, 0) == 0, o.err);
        CHECK(shows_no_secret(s, o.err));
    };
    auto c = s.config();
    c.at("oauth").as_object().erase("client_id");
    check(c, "takeoff: configuration " + s.config_file.string() + ": oauth.client_id: ");
    c = s.config();
    c["endpoint_url"] = "ftp://example.com";
    check(c, "takeoff: configuration " + s.config_file.string() + ": endpoint_url: ");
    c = s.config();
    c["account_url"] = "http://example.com";
    check(c, "takeoff: configuration " + s.config_file.string() + ": account_url: ");
    c = s.config();
    c.at("oauth").as_object()["scope"] = "refresh_token session:role:";
    check(c, "takeoff: configuration " + s.config_file.string() + ": oauth.scope: ");
    c = s.config();
    c["consumer_groups"] = "primary";
    check(c, "takeoff: configuration: " + s.config_file.string() + ": unknown field 'consumer_groups'\n");
    c = s.config();
    c["ca_file"] = (s.dir.path() / "missing-ca.pem").string();
    check(c, "takeoff: configuration: ca_file: cannot read " + (s.dir.path() / "missing-ca.pem").string());
    write_file(s.config_file, "{\"endpoint_url\": ");
    auto broken = s.run({"status"});
    CHECK(broken.code == cli::exit_configuration);
    CHECK(broken.err.rfind("takeoff: configuration: " + s.config_file.string(), 0) == 0);
    std::filesystem::remove(s.config_file);
    auto none = s.run({"status"});
    CHECK(none.code == cli::exit_configuration);
    CHECK(none.err.rfind("takeoff: configuration: no configuration file at " + s.config_file.string(), 0) == 0);
}

TEST_CASE("cli: a corrupt token cache is ignored and named; the user is sent to takeoff login (exit 4)") {
    site s;
    std::filesystem::create_directories(s.cache_file.parent_path());
    write_file(s.cache_file, "this is not JSON");
    auto o = s.run({"generate", "x"});
    CHECK(o.code == cli::exit_sign_in);
    REQUIRE(lines(o.err).size() == 1);
    CHECK(o.err.rfind("takeoff: generate: not signed in to " + s.server.url() + " (", 0) == 0);
    CHECK(o.err.find(s.cache_file.string()) != std::string::npos);
    CHECK(o.err.find("; run `takeoff login`\n") != std::string::npos);
    s.login(); // a sign-in replaces the corrupt file
    CHECK(s.run({"generate", "x"}).code == 0);
}

TEST_CASE("cli: a CA that does not sign the server's certificate fails with the CA advice (exit 1)") {
    site s;
    emu::certificate_authority other;
    write_file(s.ca_file, other.certificate_pem(), 0644);
    auto c = s.config();
    c["auth"] = "none";
    s.write_config(c);
    auto o = s.run({"status"});
    CHECK(o.code == cli::exit_failed);
    REQUIRE(lines(o.err).size() == 1);
    CHECK(o.err.rfind("takeoff: status: ", 0) == 0);
    CHECK_MESSAGE(o.err.find("; check the server's certificate: ca_file in the configuration or --ca-file\n") != std::string::npos,
                  o.err);
}

TEST_CASE("cli: environment variables override the file (TAKEOFF_OAUTH_CLIENT_SECRET, TAKEOFF_AUTH)") {
    site s;
    auto c = s.config();
    c.at("oauth").as_object()["client_secret"] = "wrong";
    s.write_config(c);
    s.env["TAKEOFF_OAUTH_CLIENT_SECRET"] = s.account.options().client_secret;
    s.login();
    s.env["TAKEOFF_AUTH"] = "none";
    auto who = s.run({"whoami"});
    CHECK(who.code == 0);
    CHECK(who.out.find("auth:          none\n") != std::string::npos);
    s.env["TAKEOFF_AUTH"] = "sso";
    auto bad = s.run({"whoami"});
    CHECK(bad.code == cli::exit_configuration);
    CHECK(bad.err == "takeoff: configuration: environment variable TAKEOFF_AUTH is 'sso'; allowed values: oauth, "
                     "oauth-direct, pat, keypair, none\n");
}

TEST_CASE("cli usage: --help, --version, unknown commands and options (exit 2), no command") {
    site s;
    auto help = s.run({"--help"});
    CHECK(help.code == 0);
    CHECK(help.out == cli::usage_text);
    auto version = s.run({"--version"});
    CHECK(version.out == "takeoff " TAKEOFF_CLI_VERSION "\n");
    auto unknown = s.run({"fly"});
    CHECK(unknown.code == cli::exit_usage);
    CHECK(unknown.err == "takeoff: unknown command 'fly' (see `takeoff --help`)\n");
    auto option = s.run({"status", "--fast"});
    CHECK(option.code == cli::exit_usage);
    CHECK(option.err == "takeoff: unknown option '--fast' for 'takeoff status' (see `takeoff --help`)\n");
    auto nothing = s.run({});
    CHECK(nothing.code == cli::exit_usage);
    CHECK(nothing.err == cli::usage_text);
    CHECK(s.run({"config"}).code == cli::exit_usage);
}
