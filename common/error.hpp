// Errors in two tiers (docs/spec/STYLE.md): ckv::Error stops a run (bad spec, unreadable database);
// per-unit failures are values (see worker/), recorded as failed units.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace ckv {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown for a problem located in an input file: message already reads "file:line:col: ...".
class InputError : public Error {
 public:
  using Error::Error;
};

// The command line is wrong (unknown option, bad value, missing argument): exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

std::string hostname();

}  // namespace ckv

// CKV_FAIL("fmt", args...) throws ckv::Error; the source location is kept only in debug builds
// messages meant for the user should already name the file/sample they concern.
#define CKV_FAIL(...) throw ::ckv::Error(::fmt::format(__VA_ARGS__))
#define CKV_CHECK(cond, ...)                                     \
  do {                                                           \
    if (!(cond)) throw ::ckv::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)
