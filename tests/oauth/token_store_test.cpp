#include <takeoff/oauth/token_store.hpp>

#include "../support/doctest_helpers.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using takeoff::diagnostics;
using takeoff::secret;
using takeoff::oauth::file_token_store;
using takeoff::oauth::memory_token_store;
using takeoff::oauth::token_clock;
using takeoff::oauth::token_key;
using takeoff::oauth::token_set;

namespace {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "takeoff-store-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

token_clock::time_point at(long long unix_seconds) {
    return token_clock::time_point(std::chrono::seconds(unix_seconds));
}

const token_key key_a{"https://myorg-a.snowflakecomputing.com", "client-a", "refresh_token session:role:ANALYST"};
const token_key key_b{"https://myorg-b.snowflakecomputing.com", "client-a", "refresh_token session:role:ANALYST"};

token_set full_set() {
    token_set t;
    t.access_token = secret("ver:1-hint:access-SECRET-A");
    t.expires_at = at(1700000600);
    t.refresh_token = secret("ver:2-hint:refresh-SECRET-R");
    t.refresh_token_expires_at = at(1707776000);
    t.scope = "refresh_token session:role:ANALYST";
    t.username = "JANE";
    return t;
}

token_set minimal_set(std::string access) {
    token_set t;
    t.access_token = secret(access);
    t.scope = key_a.scope;
    return t;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& p, const std::string& text, mode_t mode = 0600) {
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << text;
    }
    REQUIRE(::chmod(p.c_str(), mode) == 0);
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
}

// Loads `key` and expects success; gives the set (or none).
std::optional<token_set> load_ok(takeoff::oauth::token_store& store, const token_key& key, diagnostics& diag) {
    auto r = store.load(key, diag);
    REQUIRE(r);
    return *r;
}

void check_same(const token_set& a, const token_set& b) {
    CHECK(a.access_token.reveal() == b.access_token.reveal());
    CHECK(a.expires_at == b.expires_at);
    CHECK(a.refresh_token.has_value() == b.refresh_token.has_value());
    if (a.refresh_token && b.refresh_token) CHECK(a.refresh_token->reveal() == b.refresh_token->reveal());
    CHECK(a.refresh_token_expires_at == b.refresh_token_expires_at);
    CHECK(a.scope == b.scope);
    CHECK(a.username == b.username);
}

const std::string valid_file_with_a =
    R"({"version":1,"entries":[{"account":"https://myorg-a.snowflakecomputing.com","client_id":"client-a",)"
    R"("scope":"refresh_token session:role:ANALYST","access_token":"ver:1-hint:access-SECRET-A"}]})";

} // namespace

TEST_CASE("token_key compares all three parts and prints them") {
    CHECK(key_a == key_a);
    CHECK_FALSE(key_a == key_b);
    CHECK_FALSE(key_a == token_key{key_a.account, "client-b", key_a.scope});
    CHECK_FALSE(key_a == token_key{key_a.account, key_a.client_id, "refresh_token"});
    std::ostringstream os;
    os << key_a;
    CHECK(os.str() == "token_key{account=\"https://myorg-a.snowflakecomputing.com\", client_id=\"client-a\", "
                      "scope=\"refresh_token session:role:ANALYST\"}");
}

TEST_CASE("memory_token_store: round trip, keys kept apart, replace and erase") {
    memory_token_store store;
    diagnostics diag;
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK_FALSE(store.save(key_a, full_set(), diag));
    CHECK_FALSE(store.save(key_b, minimal_set("access-B"), diag));
    auto a = load_ok(store, key_a, diag);
    REQUIRE(a);
    check_same(*a, full_set());
    auto b = load_ok(store, key_b, diag);
    REQUIRE(b);
    CHECK(b->access_token.reveal() == "access-B");

    CHECK_FALSE(store.save(key_a, minimal_set("access-A2"), diag));
    a = load_ok(store, key_a, diag);
    REQUIRE(a);
    CHECK(a->access_token.reveal() == "access-A2");
    CHECK_FALSE(a->refresh_token.has_value());

    CHECK_FALSE(store.erase(key_a, diag));
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(load_ok(store, key_b, diag).has_value());
    CHECK_FALSE(store.erase(key_a, diag)); // nothing stored: fine
    CHECK(diag.empty());
}

TEST_CASE("memory_token_store and file_token_store: saves from two threads are all kept") {
    temp_dir dir;
    memory_token_store memory;
    file_token_store file(dir.path / "tokens.json");
    for (takeoff::oauth::token_store* store : {static_cast<takeoff::oauth::token_store*>(&memory),
                                               static_cast<takeoff::oauth::token_store*>(&file)}) {
        auto work = [store](int thread) {
            for (int i = 0; i < 20; ++i) {
                diagnostics diag;
                const std::string n = std::to_string(thread) + "-" + std::to_string(i);
                if (store->save(token_key{"acct", "client-" + n, "s"}, minimal_set("access-" + n), diag)) std::abort();
            }
        };
        std::thread t1(work, 1), t2(work, 2);
        t1.join();
        t2.join();
        for (int thread = 1; thread <= 2; ++thread)
            for (int i = 0; i < 20; ++i) {
                diagnostics diag;
                const std::string n = std::to_string(thread) + "-" + std::to_string(i);
                auto t = load_ok(*store, token_key{"acct", "client-" + n, "s"}, diag);
                REQUIRE(t);
                CHECK(t->access_token.reveal() == "access-" + n);
            }
    }
}

TEST_CASE("file_token_store: a missing file, or a missing directory, loads as none with no note") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    CHECK(store.path() == dir.path / "tokens.json");
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(diag.empty());
    file_token_store nested(dir.path / "no" / "such" / "tokens.json");
    CHECK_FALSE(load_ok(nested, key_a, diag).has_value());
    CHECK(diag.empty());
    CHECK_FALSE(fs::exists(dir.path / "no")); // a load creates no directory
    CHECK_FALSE(nested.erase(key_a, diag));   // nor does an erase with nothing to erase
    CHECK_FALSE(fs::exists(dir.path / "no"));
}

TEST_CASE("file_token_store: round trip of every field, and of a set without the optional ones") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    REQUIRE_FALSE(store.save(key_a, full_set(), diag));
    CHECK(diag.empty());
    token_set minimal = minimal_set("access-B");
    minimal.scope = "";
    REQUIRE_FALSE(store.save(key_b, minimal, diag));

    file_token_store other(dir.path / "tokens.json"); // as another run would
    auto a = load_ok(other, key_a, diag);
    REQUIRE(a);
    check_same(*a, full_set());
    auto b = load_ok(other, key_b, diag);
    REQUIRE(b);
    check_same(*b, minimal);
    CHECK_FALSE(b->expires_at.has_value());
    CHECK_FALSE(b->refresh_token.has_value());
    CHECK_FALSE(b->refresh_token_expires_at.has_value());
    CHECK(b->username.empty());
    CHECK(b->scope.empty()); // the granted scope, kept apart from the key's
    CHECK(diag.empty());
}

TEST_CASE("file_token_store: the file holds the documented format") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    token_set t = full_set();
    t.scope = "session:role:ANALYST"; // granted less than asked
    t.username = "J\"\\\n";
    REQUIRE_FALSE(store.save(key_a, t, diag));
    REQUIRE_FALSE(store.save(key_b, minimal_set("access-B"), diag));
    CHECK(read_text(store.path()) ==
          "{\"version\":1,\"entries\":[\n"
          "{\"account\":\"https://myorg-a.snowflakecomputing.com\",\"client_id\":\"client-a\","
          "\"scope\":\"refresh_token session:role:ANALYST\",\"access_token\":\"ver:1-hint:access-SECRET-A\","
          "\"expires_at\":1700000600,\"refresh_token\":\"ver:2-hint:refresh-SECRET-R\","
          "\"refresh_token_expires_at\":1707776000,\"username\":\"J\\\"\\\\\\u000a\","
          "\"granted_scope\":\"session:role:ANALYST\"},\n"
          "{\"account\":\"https://myorg-b.snowflakecomputing.com\",\"client_id\":\"client-a\","
          "\"scope\":\"refresh_token session:role:ANALYST\",\"access_token\":\"access-B\"}\n"
          "]}\n");
    auto back = load_ok(store, key_a, diag);
    REQUIRE(back);
    check_same(*back, t);
}

TEST_CASE("file_token_store: lifetimes are stored in whole seconds, rounded down") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    token_set t = full_set();
    t.expires_at = at(1700000600) + std::chrono::milliseconds(999);
    REQUIRE_FALSE(store.save(key_a, t, diag));
    auto back = load_ok(store, key_a, diag);
    REQUIRE(back);
    CHECK(back->expires_at == at(1700000600));
}

TEST_CASE("file_token_store: keys differing in any one part are kept apart") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    const std::vector<token_key> keys = {key_a, key_b, {key_a.account, "client-b", key_a.scope},
                                         {key_a.account, key_a.client_id, "refresh_token"}};
    for (std::size_t i = 0; i < keys.size(); ++i)
        REQUIRE_FALSE(store.save(keys[i], minimal_set("access-" + std::to_string(i)), diag));
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto t = load_ok(store, keys[i], diag);
        REQUIRE(t);
        CHECK(t->access_token.reveal() == "access-" + std::to_string(i));
    }
    CHECK_FALSE(load_ok(store, token_key{"HTTPS://MYORG-A.SNOWFLAKECOMPUTING.COM", "client-a", key_a.scope}, diag));
}

TEST_CASE("file_token_store: save replaces the set of its key; erase forgets one key and keeps the others") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    REQUIRE_FALSE(store.save(key_a, full_set(), diag));
    REQUIRE_FALSE(store.save(key_b, minimal_set("access-B"), diag));
    REQUIRE_FALSE(store.save(key_a, minimal_set("access-A2"), diag));
    auto a = load_ok(store, key_a, diag);
    REQUIRE(a);
    CHECK(a->access_token.reveal() == "access-A2");
    CHECK_FALSE(a->refresh_token.has_value());

    CHECK_FALSE(store.erase(key_a, diag));
    CHECK(diag.empty());
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    auto b = load_ok(store, key_b, diag);
    REQUIRE(b);
    CHECK(b->access_token.reveal() == "access-B");
    CHECK_FALSE(store.erase(key_a, diag)); // already gone
    CHECK(diag.empty());
    CHECK(read_text(store.path()).find("myorg-a") == std::string::npos);
}

TEST_CASE("file_token_store: the file is 0600, created directories 0700, and no temporary file is left") {
    temp_dir dir;
    diagnostics diag;
    const mode_t old_umask = ::umask(0);
    file_token_store store(dir.path / "cache" / "takeoff" / "tokens.json");
    auto ec = store.save(key_a, full_set(), diag);
    ::umask(old_umask);
    REQUIRE_FALSE(ec);
    CHECK(mode_of(store.path()) == 0600);
    CHECK(mode_of(dir.path / "cache" / "takeoff") == 0700);
    CHECK(mode_of(dir.path / "cache") == 0700);
    CHECK(mode_of(dir.path / "cache" / "takeoff" / "tokens.json.lock") == 0600);
    REQUIRE_FALSE(store.save(key_b, full_set(), diag));
    REQUIRE_FALSE(store.erase(key_a, diag));
    CHECK(mode_of(store.path()) == 0600);
    CHECK(names_in(dir.path / "cache" / "takeoff") == std::set<std::string>{"tokens.json", "tokens.json.lock"});
}

TEST_CASE("file_token_store: a file readable by group or others is ignored, then replaced by save") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    write_text(store.path(), valid_file_with_a, 0640);
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(diag.client_message() ==
          "token file '" + store.path().string() + "' (mode 0640) is readable by group or others; ignoring it");

    write_text(store.path(), valid_file_with_a, 0602);
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(diag.client_message() ==
          "token file '" + store.path().string() + "' (mode 0602) is writable by group or others; ignoring it");

    write_text(store.path(), valid_file_with_a, 0644);
    REQUIRE_FALSE(store.save(key_b, minimal_set("access-B"), diag));
    CHECK(diag.client_message() == "token file '" + store.path().string() +
                                       "' (mode 0644) is readable by group or others; ignoring it; replacing it "
                                       "with a new file (its content is lost)");
    CHECK(mode_of(store.path()) == 0600);
    CHECK_FALSE(load_ok(store, key_a, diag).has_value()); // the ignored content is gone
    CHECK(load_ok(store, key_b, diag).has_value());
    CHECK(diag.empty());
}

TEST_CASE("file_token_store: erase over a file readable by others replaces it, so its tokens leave the disk") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    write_text(store.path(), valid_file_with_a, 0644);
    REQUIRE_FALSE(store.erase(key_a, diag));
    CHECK(diag.client_message().ends_with("; replacing it with a new file (its content is lost)"));
    CHECK(mode_of(store.path()) == 0600);
    CHECK(read_text(store.path()) == "{\"version\":1,\"entries\":[\n]}\n");
}

TEST_CASE("file_token_store: corrupt files are ignored with a diagnostic, never a crash, and save replaces them") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    const std::string name = "token file '" + store.path().string() + "'";
    struct corrupt_case {
        std::string text;
        std::string message;
    };
    const std::vector<corrupt_case> cases = {
        {"{\"version\":1,\"entries\":[{\"access_token\":\"ver:1-hint:access-SECRET-A\"", name + " is not valid JSON; ignoring it"},
        {"", name + " is not valid JSON; ignoring it"},
        {std::string("\0\xff\xfe", 3), name + " is not valid JSON; ignoring it"},
        {"[]", name + " is not a token file (expected {\"version\":1,\"entries\":[...]}); ignoring it"},
        {"{\"version\":1}", name + " is not a token file (expected {\"version\":1,\"entries\":[...]}); ignoring it"},
        {"{\"version\":\"1\",\"entries\":[]}", name + " is not a token file (expected {\"version\":1,\"entries\":[...]}); ignoring it"},
        {"{\"version\":1,\"entries\":{}}", name + " is not a token file (expected {\"version\":1,\"entries\":[...]}); ignoring it"},
        {"{\"version\":2,\"entries\":[]}", name + " has a format version other than 1; ignoring it"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        write_text(store.path(), c.text);
        CHECK_FALSE(load_ok(store, key_a, diag).has_value());
        CHECK(diag.client_message() == c.message);
    }
    write_text(store.path(), "not json at all");
    REQUIRE_FALSE(store.save(key_a, full_set(), diag));
    CHECK(diag.client_message() == name + " is not valid JSON; ignoring it; replacing it with a new file (its content is lost)");
    auto a = load_ok(store, key_a, diag);
    REQUIRE(a);
    check_same(*a, full_set());
    CHECK(names_in(dir.path) == std::set<std::string>{"tokens.json", "tokens.json.lock"});
}

TEST_CASE("file_token_store: a malformed entry is ignored with a diagnostic and the others are used") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    const std::string name = "token file '" + store.path().string() + "'";
    const std::string good_b =
        R"({"account":"https://myorg-b.snowflakecomputing.com","client_id":"client-a",)"
        R"("scope":"refresh_token session:role:ANALYST","access_token":"access-B","expires_at":1700000600})";
    struct entry_case {
        std::string entry;
        std::string reason;
    };
    const std::vector<entry_case> cases = {
        {R"({"account":"https://myorg-a.snowflakecomputing.com","client_id":"client-a","scope":"refresh_token session:role:ANALYST","access_token":"ver:1-hint:access-SECRET-A","expires_at":"soon"})",
         "entry 0: field 'expires_at' must be an integer (seconds since 1970)"},
        {R"({"account":"https://myorg-a.snowflakecomputing.com","client_id":"client-a","scope":"refresh_token session:role:ANALYST","access_token":42})",
         "entry 0: field 'access_token' must be a string"},
        {R"({"account":"https://myorg-a.snowflakecomputing.com","scope":"refresh_token session:role:ANALYST","access_token":"ver:1-hint:access-SECRET-A"})",
         "entry 0: field 'client_id' is missing"},
        {R"({"account":"https://myorg-a.snowflakecomputing.com","client_id":"client-a","scope":"refresh_token session:role:ANALYST","access_token":"ver:1-hint:access-SECRET-A","refresh_token_expires_at":-5})",
         "entry 0: field 'refresh_token_expires_at' is out of range"},
        {R"({"account":"https://myorg-a.snowflakecomputing.com","client_id":"client-a","scope":"refresh_token session:role:ANALYST","access_token":"ver:1-hint:access-SECRET-A","expires_at":1.5})",
         "entry 0: field 'expires_at' must be an integer (seconds since 1970)"},
        {R"("just a string")", "entry 0: it is not an object"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.entry);
        write_text(store.path(), "{\"version\":1,\"entries\":[" + c.entry + "," + good_b + "]}");
        CHECK_FALSE(load_ok(store, key_a, diag).has_value());
        CHECK(diag.client_message() == name + ": ignoring a malformed entry (" + c.reason + ")");
        auto b = load_ok(store, key_b, diag);
        REQUIRE(b);
        CHECK(b->access_token.reveal() == "access-B");
        CHECK(b->expires_at == at(1700000600));
    }
    write_text(store.path(), "{\"version\":1,\"entries\":[1,2," + good_b + "]}");
    CHECK(load_ok(store, key_b, diag).has_value());
    CHECK(diag.client_message() == name + ": ignoring 2 malformed entries (first: entry 0: it is not an object)");

    // A save keeps the good entries and leaves the malformed ones out.
    REQUIRE_FALSE(store.save(key_a, minimal_set("access-A"), diag));
    CHECK(diag.client_message() ==
          name + ": ignoring 2 malformed entries (first: entry 0: it is not an object); it is left out of the new file");
    CHECK(load_ok(store, key_a, diag).has_value());
    CHECK(load_ok(store, key_b, diag).has_value());
    CHECK(diag.empty());
}

TEST_CASE("file_token_store: unknown members of an entry are ignored, null optional members are absent") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    write_text(store.path(),
               R"({"version":1,"future":true,"entries":[{"account":"https://myorg-a.snowflakecomputing.com",)"
               R"("client_id":"client-a","scope":"refresh_token session:role:ANALYST","access_token":"a",)"
               R"("refresh_token":null,"expires_at":null,"note":"x"}]})");
    auto a = load_ok(store, key_a, diag);
    REQUIRE(a);
    CHECK(a->access_token.reveal() == "a");
    CHECK_FALSE(a->refresh_token.has_value());
    CHECK_FALSE(a->expires_at.has_value());
    CHECK(a->scope == key_a.scope);
    CHECK(diag.empty());
}

TEST_CASE("file_token_store: a symbolic link is never read or written through") {
    temp_dir dir;
    diagnostics diag;
    const fs::path target = dir.path / "elsewhere.json";
    write_text(target, valid_file_with_a);
    file_token_store store(dir.path / "tokens.json");
    fs::create_symlink(target, store.path());
    const std::string name = "token file '" + store.path().string() + "'";

    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(diag.client_message() == name + " is a symbolic link; ignoring it");
    CHECK(store.save(key_b, full_set(), diag) == boost::system::errc::permission_denied);
    CHECK(diag.client_message() == name + " is a symbolic link; ignoring it; not writing it");
    CHECK(store.erase(key_a, diag) == boost::system::errc::permission_denied);
    CHECK(fs::is_symlink(store.path()));
    CHECK(read_text(target) == valid_file_with_a);
}

TEST_CASE("file_token_store: something other than a regular file is refused") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    fs::create_directory(store.path());
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(diag.client_message() == "token file '" + store.path().string() + "' is not a regular file; ignoring it");
    CHECK(store.save(key_a, full_set(), diag) == boost::system::errc::permission_denied);
    REQUIRE(::mkfifo((dir.path / "fifo.json").c_str(), 0600) == 0);
    file_token_store fifo(dir.path / "fifo.json");
    CHECK_FALSE(load_ok(fifo, key_a, diag).has_value()); // does not block on the FIFO
    CHECK(diag.client_message() == "token file '" + fifo.path().string() + "' is not a regular file; ignoring it");
}

TEST_CASE("file_token_store: a file owned by another user is ignored and never written") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: changing a file's owner needs root");
        return;
    }
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    write_text(store.path(), valid_file_with_a);
    REQUIRE(::chown(store.path().c_str(), 4242, 4242) == 0);
    const std::string name = "token file '" + store.path().string() + "'";
    CHECK_FALSE(load_ok(store, key_a, diag).has_value());
    CHECK(diag.client_message() == name + " is owned by uid 4242, not you; ignoring it");
    CHECK(store.save(key_b, full_set(), diag) == boost::system::errc::permission_denied);
    CHECK(diag.client_message() == name + " is owned by uid 4242, not you; ignoring it; not writing it");
    CHECK(store.erase(key_a, diag) == boost::system::errc::permission_denied);
    CHECK(read_text(store.path()) == valid_file_with_a);
    struct stat st {};
    REQUIRE(::stat(store.path().c_str(), &st) == 0);
    CHECK(st.st_uid == 4242u);
}

TEST_CASE("file_token_store: an empty path and bad UTF-8 are invalid_argument") {
    diagnostics diag;
    file_token_store store{std::filesystem::path()};
    auto r = store.load(key_a, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == takeoff::errc::invalid_argument);
    CHECK(diag.client_message() == "no token file path: neither XDG_CACHE_HOME nor HOME is set");
    CHECK(store.save(key_a, full_set(), diag) == takeoff::errc::invalid_argument);
    CHECK(store.erase(key_a, diag) == takeoff::errc::invalid_argument);

    temp_dir dir;
    file_token_store file(dir.path / "tokens.json");
    token_set t = full_set();
    t.username = "\xc3";
    CHECK(file.save(key_a, t, diag) == takeoff::errc::invalid_argument);
    CHECK(diag.client_message() == "cannot store a token set whose key or fields are not valid UTF-8");
    CHECK(file.save(token_key{"\xed\xa0\x80", "c", "s"}, full_set(), diag) == takeoff::errc::invalid_argument);
    CHECK_FALSE(fs::exists(file.path()));
    t.username = "J\xc3\xa9r\xc3\xb4me \xf0\x9f\x98\x80";
    CHECK_FALSE(file.save(key_a, t, diag));
    auto back = load_ok(file, key_a, diag);
    REQUIRE(back);
    CHECK(back->username == t.username);
}

TEST_CASE("file_token_store: I/O errors other than absence are errors that name the file") {
    temp_dir dir;
    diagnostics diag;
    write_text(dir.path / "not-a-dir", "x");
    file_token_store store(dir.path / "not-a-dir" / "tokens.json");
    auto r = store.load(key_a, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == boost::system::errc::not_a_directory);
    CHECK(diag.client_message() ==
          "token file '" + store.path().string() + "': cannot lock: " + r.error().message());
    CHECK(store.save(key_a, full_set(), diag) == boost::system::errc::not_a_directory);
    CHECK(diag.client_message().starts_with("token file '" + store.path().string() + "': cannot create its directory: "));
}

TEST_CASE("file_token_store: no diagnostic ever contains a token") {
    temp_dir dir;
    diagnostics diag;
    file_token_store store(dir.path / "tokens.json");
    auto check_clean = [&] {
        CHECK(diag.client_message().find("SECRET") == std::string::npos);
        CHECK(diag.server_message().empty());
    };
    write_text(store.path(), valid_file_with_a, 0644);
    (void)store.load(key_a, diag);
    check_clean();
    write_text(store.path(), "{\"version\":1,\"entries\":[{\"access_token\":\"ver:1-hint:access-SECRET-A\"}]}");
    (void)store.load(key_a, diag);
    CHECK_FALSE(diag.empty());
    check_clean();
    write_text(store.path(), "{\"access_token\":\"ver:1-hint:access-SECRET-A\",");
    (void)store.save(key_a, full_set(), diag);
    CHECK_FALSE(diag.empty());
    check_clean();
    std::ostringstream os;
    os << key_a << full_set();
    CHECK(os.str().find("SECRET") == std::string::npos);
}

TEST_CASE("default_token_store_path: $XDG_CACHE_HOME, else $HOME/.cache") {
    auto saved = [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
    const auto xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");
    auto restore = [](const char* name, const std::optional<std::string>& v) {
        if (v) ::setenv(name, v->c_str(), 1);
        else ::unsetenv(name);
    };
    ::setenv("XDG_CACHE_HOME", "/x/cache", 1);
    ::setenv("HOME", "/home/jane", 1);
    CHECK(takeoff::oauth::default_token_store_path() == fs::path("/x/cache/takeoff/tokens.json"));
    ::setenv("XDG_CACHE_HOME", "relative/cache", 1); // the XDG spec says to ignore a relative path
    CHECK(takeoff::oauth::default_token_store_path() == fs::path("/home/jane/.cache/takeoff/tokens.json"));
    ::unsetenv("XDG_CACHE_HOME");
    CHECK(takeoff::oauth::default_token_store_path() == fs::path("/home/jane/.cache/takeoff/tokens.json"));
    CHECK(file_token_store().path() == fs::path("/home/jane/.cache/takeoff/tokens.json"));
    ::unsetenv("HOME");
    const auto fallback = takeoff::oauth::default_token_store_path(); // from the password database
    CHECK((fallback.empty() || fallback.filename() == "tokens.json"));
    restore("XDG_CACHE_HOME", xdg);
    restore("HOME", home);
}

TEST_CASE("file_token_store: two processes saving 50 keys each at once keep all 100") {
    temp_dir dir;
    const fs::path path = dir.path / "tokens.json";
    std::vector<pid_t> children;
    for (int child = 0; child < 2; ++child) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            // The child: no doctest here; the exit status says how many saves failed.
            file_token_store store(path);
            int failures = 0;
            for (int i = 0; i < 50; ++i) {
                diagnostics diag;
                const std::string n = std::to_string(child) + "-" + std::to_string(i);
                if (store.save(token_key{"acct", "client-" + n, "s"}, minimal_set("access-" + n), diag)) ++failures;
            }
            ::_exit(failures);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    file_token_store store(path);
    int found = 0;
    for (int child = 0; child < 2; ++child)
        for (int i = 0; i < 50; ++i) {
            diagnostics diag;
            const std::string n = std::to_string(child) + "-" + std::to_string(i);
            auto t = load_ok(store, token_key{"acct", "client-" + n, "s"}, diag);
            if (t && t->access_token.reveal() == "access-" + n) ++found;
        }
    CHECK(found == 100);
    CHECK(names_in(dir.path) == std::set<std::string>{"tokens.json", "tokens.json.lock"});
}
