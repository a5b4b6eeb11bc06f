#include "db/writer_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/database.hpp"

namespace ckv {

namespace db_detail {

namespace fs = std::filesystem;

std::optional<DatabaseFiles::Key> file_key(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return DatabaseFiles::Key{st.st_dev, st.st_ino};
}

namespace {

// "<real path>-lock": who holds the writer lock, for the second writer's message and `status`.
std::string holder_path_for(const std::string& path) {
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  return (ec ? fs::path(path) : real).string() + "-lock";
}

// The process of this host holding an exclusive flock on the file (key), from /proc/locks
// ("1: FLOCK  ADVISORY  WRITE 4242 fe:00:10952910 0 EOF"): names the writer when the holder
// file is not where this path would put it (a hard link in another directory).
std::string flock_holder_on_this_host(DatabaseFiles::Key key) {
  std::ifstream locks("/proc/locks");
  const std::string device = fmt::format("{:02x}:{:02x}:{}", major(key.first), minor(key.first), key.second);
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string number, kind, advisory, mode, pid, where;
    if (!(fields >> number >> kind >> advisory >> mode >> pid >> where)) continue;
    if (kind == "FLOCK" && mode == "WRITE" && where == device) return fmt::format("pid {} on host {}", pid, hostname());
  }
  return "";
}

}  // namespace

std::string read_holder(const std::string& path, std::optional<DatabaseFiles::Key> key) {
  std::string who;
  const int fd = ::open(holder_path_for(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char text[256] = {0};
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    if (n > 0) who.assign(text, size_t(n));
    ::close(fd);
  }
  while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
  if (who.empty() && key) who = flock_holder_on_this_host(*key);
  return who.empty() ? std::string("unknown process, perhaps on another host") : who;
}

// SQLite's own locks only cover a transaction; two schedulers alternating transactions on one
// database would both dispatch the same units and each call the other's running units lost.
// An exclusive flock on the database file itself, held for the writer's lifetime, makes the
// second one stop at open, whatever path it used (a symlink, `..`, a bind mount or a hard link
// name the same inode, and flock locks the inode). flock and SQLite's POSIX locks do not
// interact on Linux, and the kernel drops the flock when the process dies, so a killed run
// leaves no stale lock. Returns false (after a warning) on a file system without flock.
bool lock_database_file(int fd, const std::string& path, std::optional<DatabaseFiles::Key> key) {
  // A reader checking for a live writer (active_writer) holds a shared lock for an instant;
  // retry briefly so that such a check never makes a writer fail.
  const double deadline = monotonic_seconds() + 1.0;
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    const int error = errno;
    if (error == EWOULDBLOCK || error == EINTR) {
      if (monotonic_seconds() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      CKV_FAIL(
          "{}: database is locked by another writer ({}); only one ckv-sweep run may write "
          "to a database at a time",
          path, read_holder(path, key));
    }
    if (error == ENOLCK || error == ENOSYS || error == EINVAL || error == EOPNOTSUPP) {
      // Some cluster file systems are mounted without flock; SQLite's transaction lock still
      // keeps the file consistent, only the early "second writer" check is lost.
      spdlog::warn(
          "{}: the file system does not support flock ({}); a second concurrent writer "
          "will not be detected",
          path, std::strerror(error));
      return false;
    }
    CKV_FAIL("{}: cannot lock the database file: {}", path, std::strerror(error));
  }
}

// The record also keeps out an older ckv-sweep (which locked only that file). Best effort beyond
// that: the database file's lock is the guarantee.
int record_holder(const std::string& path, std::string& holder_path) {
  holder_path = holder_path_for(path);
  const int fd = ::open(holder_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    spdlog::debug("{}: could not record the writer in {}: {}", path, holder_path, std::strerror(errno));
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    ::close(fd);
    CKV_FAIL(
        "{}: database is locked by another writer ({}, holding {}); only one ckv-sweep run may "
        "write to a database at a time",
        path, read_holder(path), holder_path);
  }
  const std::string holder = fmt::format("pid {} on host {}\n", ::getpid(), hostname());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, holder.data(), holder.size(), 0) < 0)
    spdlog::debug("{}: could not record the writer in {}", path, holder_path);
  return fd;
}

}  // namespace db_detail

std::optional<std::string> database_writer(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const auto key = db_detail::file_key(fd);
  std::optional<std::string> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0)
    ::flock(fd, LOCK_UN);
  else if (errno == EWOULDBLOCK)
    holder = db_detail::read_holder(path, key);
  if (key) db_detail::DatabaseFiles::instance().release(*key, fd);  // never drop this process's SQLite locks
  else ::close(fd);
  return holder;
}

}  // namespace ckv
