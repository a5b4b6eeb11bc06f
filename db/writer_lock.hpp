// The one-writer rule of a database file (docs/database.md, "One writer"): an exclusive flock on
// the file itself for the writer's lifetime, and "<real path>-lock" naming the process that holds
// it. Internal to db/ (database.cpp opens and closes with it; database_writer reads it).
#pragma once
#include <sys/types.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckv::db_detail {

// POSIX record locks, which SQLite takes on the database file, belong to a process and an inode:
// closing ANY descriptor of that file drops every one of them the process holds, those of
// another open connection included. So a descriptor ckv-sweep opens on a database file itself is
// closed only when no Database of this process has the file open; until then it is parked (as
// SQLite does with its own). Keyed by (device, inode): every path of the file is the same file.
class DatabaseFiles {
 public:
  using Key = std::pair<dev_t, ino_t>;
  static DatabaseFiles& instance() {
    static DatabaseFiles files;
    return files;
  }
  void add_user(Key key) {
    std::lock_guard lock(mutex_);
    ++files_[key].users;
  }
  void remove_user(Key key) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(key);
    if (it == files_.end()) return;
    if (--it->second.users > 0) return;
    for (int fd : it->second.parked) ::close(fd);
    files_.erase(it);
  }
  // A descriptor of the file we no longer need (its flock already released).
  void release(Key key, int fd) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(key);
    if (it == files_.end() || it->second.users == 0) {
      ::close(fd);
      return;
    }
    it->second.parked.push_back(fd);
  }

 private:
  struct File {
    int users = 0;
    std::vector<int> parked;
  };
  std::mutex mutex_;
  std::map<Key, File> files_;
};

// The file's identity (device, inode) from a descriptor; nullopt when fstat fails.
std::optional<DatabaseFiles::Key> file_key(int fd);

// Takes the exclusive flock on the database file (fd), retrying for a second; throws naming
// the holder when another writer has it. Returns false (after a warning) on a file system
// without flock.
bool lock_database_file(int fd, const std::string& path, std::optional<DatabaseFiles::Key> key);

// Records "pid N on host H" in "<real path>-lock" and locks that file too. Returns the
// descriptor (and sets `holder_path`), or -1 when the record could not be made.
int record_holder(const std::string& path, std::string& holder_path);

// "pid N on host H" of the holder, from the record or (a hard link elsewhere) /proc/locks.
std::string read_holder(const std::string& path, std::optional<DatabaseFiles::Key> key = std::nullopt);

}  // namespace ckv::db_detail
