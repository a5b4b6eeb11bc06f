#include "tools/ckv_sweep/options.hpp"

#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/suggest.hpp"

namespace ckv::cli {

bool parse_options(int argc, char** argv, const std::string& usage, po::options_description& options,
                   const po::positional_options_description& positional, po::variables_map& vm) {
  options.add_options()("help,h", "show this help");
  try {
    // Long options by their exact name only: Boost's default style also takes an unambiguous
    // prefix (`--thr 1` as `--threads 1`), which silently reads a typo as another option.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).style(style).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n"
                << options << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::vector<std::string> names;
    for (const auto& option : options.options())
      if (!option->long_name().empty()) names.push_back("--" + option->long_name());
    throw UsageError(std::string(argv[0]) + ": " + e.what() + did_you_mean(e.get_option_name(), names) +
                     " (see: ckv-sweep " + argv[0] + " --help)");
  } catch (const po::error& e) {
    throw UsageError(std::string(argv[0]) + ": " + e.what() + " (see: ckv-sweep " + argv[0] + " --help)");
  }
  return true;
}

void usage_check(bool condition, const std::string& command, const std::string& message) {
  if (!condition) throw UsageError(command + ": " + message + " (see: ckv-sweep " + command + " --help)");
}

}  // namespace ckv::cli
