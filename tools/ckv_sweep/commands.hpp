#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "common/exit_codes.hpp"

namespace ckv::cli {

// Exit codes: common/exit_codes.hpp (one table for every command and both kinds of run).

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is the command name
};

const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
void print_usage(std::ostream& out);

}  // namespace ckv::cli
