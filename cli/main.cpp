// The takeoff command-line tool: the process's streams, environment and terminal state handed to
// takeoff::cli::run (cli/include/takeoff_cli/app.hpp), which is the whole program.

#include <takeoff_cli/app.hpp>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

int main(int argc, char** argv) {
    // A closed pipe (`takeoff generate ... | head -1`) ends the write with an error, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    std::ios::sync_with_stdio(false);
    std::vector<std::string> args(argv + 1, argv + argc);
    takeoff::cli::context ctx{std::cin, std::cout, std::cerr};
    ctx.interactive = ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1;
    ctx.input_is_terminal = ::isatty(STDIN_FILENO) == 1;
    const int code = takeoff::cli::run(args, ctx);
    std::cout.flush();
    return code;
}
