// takeoff-emulator: the emulated Snowflake account, SPCS ingress and Takeoff server as a program,
// for development, CI and the README demo (docs/emulator.md, "The takeoff-emulator program").
// The command line and the configuration it writes are in takeoff_emulator/app.hpp, what it runs
// in takeoff_emulator/app_runtime.hpp.

#include <takeoff_emulator/app_runtime.hpp>

#include <csignal>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    // A reader of the ready line that went away must not kill the emulator with SIGPIPE; the
    // program run after `--` gets the default action back.
    std::signal(SIGPIPE, SIG_IGN);

    const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    const auto parsed = takeoff::emulator::parse_app_options(args);
    if (!parsed) {
        std::cerr << "takeoff-emulator: " << parsed.error() << std::endl;
        return 2;
    }
    if (parsed->help) {
        std::cout << takeoff::emulator::app_usage() << std::flush;
        return 0;
    }
    try {
        return takeoff::emulator::run_app(*parsed, std::cout, std::cerr);
    } catch (const std::exception& error) {
        std::cerr << "takeoff-emulator: " << error.what() << std::endl;
        return 1;
    }
}
