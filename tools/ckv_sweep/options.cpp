#include "tools/ckv_sweep/options.hpp"

#include "common/error.hpp"

namespace ckv::cli {

bool parse_options(int argc, char** argv, const std::string& usage, po::options_description& options,
                   const po::positional_options_description& positional, po::variables_map& vm) {
  options.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << options << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(argv[0]) + ": " + e.what() + " (see: ckv-sweep " + argv[0] + " --help)");
  }
  return true;
}

void usage_check(bool condition, const std::string& command, const std::string& message) {
  if (!condition) throw UsageError(command + ": " + message + " (see: ckv-sweep " + command + " --help)");
}

}  // namespace ckv::cli
