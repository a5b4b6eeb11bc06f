// Shared Boost.Program_options plumbing for the subcommands.
#pragma once
#include <iostream>
#include <string>

#include <boost/program_options.hpp>

namespace ckv::cli {

namespace po = boost::program_options;

// Parses argv (argv[0] = command name). Returns false when --help was printed. A wrong command
// line (unknown option, missing argument, two values for one) throws ckv::UsageError (exit 2).
bool parse_options(int argc, char** argv, const std::string& usage, po::options_description& options,
                   const po::positional_options_description& positional, po::variables_map& vm);

// Throws ckv::UsageError "COMMAND: MESSAGE (see: ckv-sweep COMMAND --help)" unless `condition`:
// for option values the parser cannot check (ranges, choices).
void usage_check(bool condition, const std::string& command, const std::string& message);

}  // namespace ckv::cli
