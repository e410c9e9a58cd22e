// The takeoff CLI's command line: global flags before and after the command, each command's own
// options, `--` and `-`, and the usage errors.
#include <takeoff_cli/arguments.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using takeoff::cli::parse_command_line;
using words = std::vector<std::string>;

TEST_CASE("cli arguments: global flags before and after the command are the same flags") {
    auto before = parse_command_line({"--config", "c.json", "--json", "embed", "hello"});
    auto after = parse_command_line({"embed", "hello", "--json", "--config=c.json"});
    for (auto* p : {&before, &after}) {
        REQUIRE(p->line.has_value());
        CHECK(p->line->globals.config == "c.json");
        CHECK(p->line->globals.json);
        CHECK_FALSE(p->line->globals.verbose);
        CHECK(p->line->words == words{"embed", "hello"});
    }
    auto all = parse_command_line({"--ca-file", "ca.pem", "status", "--token-cache", "t.json", "--verbose"});
    REQUIRE(all.line.has_value());
    CHECK(all.line->globals.ca_file == "ca.pem");
    CHECK(all.line->globals.token_cache == "t.json");
    CHECK(all.line->globals.verbose);
    CHECK(all.line->words == words{"status"});
}

TEST_CASE("cli arguments: a command's options, with a value or as a flag; the last repeat wins") {
    auto p = parse_command_line({"generate", "--stream", "--max-new-tokens", "5", "--temperature=0.5", "--top-k", "3",
                                 "--top-k", "4", "a prompt", "another"});
    REQUIRE(p.line.has_value());
    CHECK(p.line->words == words{"generate", "a prompt", "another"});
    CHECK(p.line->has("stream"));
    CHECK(p.line->value("stream") == "");
    CHECK(p.line->value("max-new-tokens") == "5");
    CHECK(p.line->value("temperature") == "0.5");
    CHECK(p.line->value("top-k") == "4");
    CHECK_FALSE(p.line->has("top-p"));
}

TEST_CASE("cli arguments: after -- every word is an argument; - alone is an argument") {
    auto p = parse_command_line({"generate", "-", "--", "--json", "--stream"});
    REQUIRE(p.line.has_value());
    CHECK(p.line->words == words{"generate", "-", "--json", "--stream"});
    CHECK_FALSE(p.line->globals.json);
    CHECK_FALSE(p.line->has("stream"));
}

TEST_CASE("cli arguments: usage errors name the option and the command") {
    CHECK(parse_command_line({"embed", "--stream", "x"}).error == "unknown option '--stream' for 'takeoff embed'");
    CHECK(parse_command_line({"--bogus"}).error == "unknown option '--bogus'");
    CHECK(parse_command_line({"generate", "-x"}).error == "unknown option '-x' for 'takeoff generate'");
    CHECK(parse_command_line({"generate", "--max-new-tokens"}).error == "option '--max-new-tokens' needs a value");
    CHECK(parse_command_line({"--config"}).error == "option '--config' needs a value");
    CHECK(parse_command_line({"status", "--json=yes"}).error == "option '--json' takes no value");
    CHECK(parse_command_line({"generate", "--stream=1", "p"}).error == "option '--stream' takes no value");
}

TEST_CASE("cli arguments: --help, -h and --version anywhere") {
    CHECK(parse_command_line({"-h"}).line->globals.help);
    CHECK(parse_command_line({"generate", "--help"}).line->globals.help);
    CHECK(parse_command_line({"--version"}).line->globals.version);
}
