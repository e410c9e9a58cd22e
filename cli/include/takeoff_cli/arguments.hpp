#pragma once
// The takeoff CLI's command line, without any I/O: global flags (accepted before and after the
// command), the command's words, and each command's own options.
//
//   takeoff [GLOBAL FLAGS] COMMAND [SUBCOMMAND] [OPTIONS] [ARGS...] [GLOBAL FLAGS]
//
// Options are `--name value` or `--name=value`; `--` ends the options (the words after it are
// arguments even when they start with "--"); `-` alone is an argument (stdin).

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace takeoff::cli {

/// The flags every command accepts.
struct global_flags {
    std::optional<std::string> config;      ///< --config FILE
    std::optional<std::string> ca_file;     ///< --ca-file FILE
    std::optional<std::string> token_cache; ///< --token-cache FILE
    bool verbose = false;                   ///< --verbose: the steps on stderr (never a secret)
    bool json = false;                      ///< --json: one JSON document on stdout
    bool help = false;                      ///< --help / -h
    bool version = false;                   ///< --version
};

/// One option a command accepts.
struct option_spec {
    std::string_view name; ///< without the leading "--"
    bool takes_value = false;
};

/// What parse_command_line found: the global flags, the command's words (command, subcommand and
/// arguments, in order) and its options (the last value of a repeated option wins; a flag without
/// value is stored as "").
struct command_line {
    global_flags globals;
    std::vector<std::string> words;
    std::map<std::string, std::string, std::less<>> options;

    /// True when the option was given.
    bool has(std::string_view name) const { return options.find(name) != options.end(); }
    /// The option's value, or none.
    std::optional<std::string> value(std::string_view name) const {
        auto it = options.find(name);
        if (it == options.end()) return std::nullopt;
        return it->second;
    }
};

/// The options of each command (keyed by "command" or "command subcommand"), for
/// parse_command_line. Commands not listed take no option.
inline const std::vector<option_spec>& command_options(std::string_view command) {
    static const std::vector<option_spec> none;
    static const std::map<std::string, std::vector<option_spec>, std::less<>> table = {
        {"login", {{"no-browser", false}}},
        {"generate",
         {{"stream", false},
          {"max-new-tokens", true},
          {"temperature", true},
          {"top-p", true},
          {"top-k", true},
          {"json-schema", true},
          {"regex", true},
          {"consumer-group", true},
          {"concurrency", true}}},
        {"embed", {{"consumer-group", true}}},
        {"classify", {{"consumer-group", true}, {"query", true}}},
        {"readers", {{"model", true}, {"device", true}, {"consumer-group", true}, {"max-batch-size", true}}},
        {"chat", {{"model", true}, {"system", true}}},
    };
    auto it = table.find(command);
    return it == table.end() ? none : it->second;
}

/// The outcome of parsing: the command line, or a usage error's message.
struct parse_outcome {
    std::optional<command_line> line;
    std::string error; ///< set when line is empty: "unknown option '--x' for 'takeoff embed'"
};

/// Splits `args` (argv without the program name) into global flags, the command's words and its
/// options. The command is the first word that is not a global flag; its options are looked up in
/// command_options(command).
inline parse_outcome parse_command_line(const std::vector<std::string>& args) {
    command_line line;
    bool options_ended = false;
    std::string command;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (options_ended || arg == "-" || arg.size() < 2 || arg[0] != '-') {
            if (command.empty()) command = arg;
            line.words.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_ended = true;
            continue;
        }
        if (arg == "-h") {
            line.globals.help = true;
            continue;
        }
        if (arg.rfind("--", 0) != 0)
            return {std::nullopt, "unknown option '" + arg + "'" + (command.empty() ? "" : " for 'takeoff " + command + "'")};
        std::string name = arg.substr(2);
        std::optional<std::string> inline_value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name.resize(eq);
        }
        auto take_value = [&]() -> std::optional<std::string> {
            if (inline_value) return inline_value;
            if (i + 1 < args.size()) return args[++i];
            return std::nullopt;
        };
        auto missing = [&] { return parse_outcome{std::nullopt, "option '--" + name + "' needs a value"}; };

        // Global flags, anywhere.
        if (name == "config" || name == "ca-file" || name == "token-cache") {
            auto v = take_value();
            if (!v) return missing();
            auto& slot = name == "config" ? line.globals.config
                       : name == "ca-file" ? line.globals.ca_file
                                           : line.globals.token_cache;
            slot = std::move(*v);
            continue;
        }
        if (name == "verbose" || name == "json" || name == "help" || name == "version") {
            if (inline_value) return {std::nullopt, "option '--" + name + "' takes no value"};
            (name == "verbose" ? line.globals.verbose
             : name == "json"  ? line.globals.json
             : name == "help"  ? line.globals.help
                               : line.globals.version) = true;
            continue;
        }

        const auto& specs = command_options(command);
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const option_spec& s) { return s.name == name; });
        if (spec == specs.end())
            return {std::nullopt, "unknown option '--" + name + "'" +
                                      (command.empty() ? "" : " for 'takeoff " + command + "'")};
        if (spec->takes_value) {
            auto v = take_value();
            if (!v) return missing();
            line.options[name] = std::move(*v);
        } else {
            if (inline_value) return {std::nullopt, "option '--" + name + "' takes no value"};
            line.options[name] = "";
        }
    }
    return {std::move(line), {}};
}

} // namespace takeoff::cli
