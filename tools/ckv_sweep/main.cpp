// ckv-sweep: thin main. Each subcommand lives in its own cmd_*.cpp over the libraries.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/heap.hpp"
#include "common/suggest.hpp"
#include "tools/ckv_sweep/commands.hpp"

int main(int argc, char** argv) {
  using namespace ckv;
  using namespace ckv::cli;
  configure_heap();  // common/heap.hpp: the worker reuses its freed buffers
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage(std::cout);
    return argc < 2 ? kExitUsage : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "ckv-sweep " << CKV_VERSION << "\n";
    return 0;
  }
  std::string first = argv[1];
  const Command* command = find_command(first);
  try {
    if (command) return command->run(argc - 1, argv + 1);
    // `ckv-sweep SPEC.toml [options]` is `run`.
    if (first.size() > 5 && first.substr(first.size() - 5) == ".toml") {
      argv[0] = const_cast<char*>("run");
      return find_command("run")->run(argc, argv);
    }
    std::vector<std::string> names;
    for (const Command& c : commands()) names.push_back(c.name);
    std::cerr << "ckv-sweep: usage error: unknown command '" << first << "'" << did_you_mean(first, names) << "\n";
    print_usage(std::cerr);
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "ckv-sweep: usage error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "ckv-sweep: error: " << e.what() << "\n";
    return kExitError;
  }
}
