// The scheduler's view of the database: campaigns, configurations, samples, units and their
// state machine (pending -> running -> done | failed | lost), attempts and results. Only the
// single writer uses this. Attempt and result writes are buffered and committed together in
// one BEGIN IMMEDIATE transaction at most every `commit_interval` seconds (or on flush()),
// so a SIGKILL loses at most the uncommitted batch and never corrupts the database.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace ckv {

enum class UnitState { Pending,
                       Running,
                       Done,
                       Failed,
                       Lost };
const char* unit_state_name(UnitState state);
UnitState unit_state_from_name(const std::string& name);

struct UnitRow {
  int64_t unit_id = 0;
  int64_t configuration_id = 0;
  int64_t sample_id = 0;
  UnitState state = UnitState::Pending;
  int attempts = 0;
};

// A commit that still failed when its retries ran out (ResultStore::set_commit_retry). The
// buffer is kept; `reason` is the last failure (naming the database), `finishes` the finished
// units whose results it holds.
class CommitError : public Error {
 public:
  CommitError(const std::string& message, std::string reason, size_t finishes, double seconds)
      : Error(message), reason(std::move(reason)), finishes(finishes), seconds(seconds) {}
  std::string reason;
  size_t finishes;
  double seconds;
};

struct SampleRow {
  std::string task, sample_key, path;
  int n_tokens = 0, m_answer = 0;
  std::string fingerprint = "";  // sample_fingerprint() of the file; part of the identity
};

class ResultStore {
 public:
  explicit ResultStore(Database& db, double commit_interval_seconds = 1.0);
  ~ResultStore();  // flushes (errors are logged, not thrown)

  int64_t upsert_campaign(const std::string& name, const std::string& spec_path,
                          const std::string& spec_text);
  int64_t upsert_configuration(const std::string& hash, const std::string& method,
                               const std::string& canonical_json);
  int64_t upsert_sample(const SampleRow& sample);
  // Whether the database holds this task and key under another fingerprint (the file's content
  // changed, or an earlier ckv-sweep identified it differently).
  bool sample_known_otherwise(const SampleRow& sample);

  // What a campaign is now: the spec file that defined it last and its units, by configuration
  // hash and sample identity ("task/key/fingerprint"). nullopt for a new campaign.
  struct CampaignDefinition {
    std::string spec_path;
    std::set<std::string> configurations, samples;
  };
  std::optional<CampaignDefinition> campaign_definition(const std::string& name);
  // Creates missing units as pending and makes them exactly the campaign's units (links of
  // units no longer in the spec are removed; their results stay). Returns the rows in the
  // order given. One transaction.
  std::vector<UnitRow> ensure_units(int64_t campaign_id,
                                    const std::vector<std::pair<int64_t, int64_t>>& config_sample);

  // Units left `running` by a run that died: marked `lost` (their open attempts get outcome
  // 'lost'). Returns how many. Call once at start, before dispatching.
  int recover_interrupted(int64_t campaign_id);

  // Buffered attempt bookkeeping.
  void begin_attempt(int64_t unit_id, int rank, const std::string& host, int64_t pid, double t);
  void finish_done(int64_t unit_id, double t,
                   const std::map<std::string, std::optional<double>>& metrics);
  void finish_failed(int64_t unit_id, double t, const std::string& error);
  void finish_lost(int64_t unit_id, double t, const std::string& why);  // worker vanished / timed out

  // Commits buffered writes if `commit_interval` has passed since the last commit.
  void maybe_flush();
  // Commits the buffer in one transaction. A failure that may pass (another program holds the
  // write lock, the disk is full, an I/O error) is retried with back-off (0.1 s doubling to 2 s)
  // for `commit_retry` seconds; then, or at once for other failures, it throws (CommitError
  // after retries) with the buffer kept whole, so a later flush writes all of it.
  void flush();
  size_t pending_writes() const;
  size_t buffered_finishes() const;  // finished units (done, failed, lost) in the buffer
  void set_commit_retry(double seconds) { commit_retry_ = seconds; }
  // Checked between retries: true ends them at once (CommitError), e.g. on a second signal.
  void set_retry_abort(std::function<bool()> abort) { retry_abort_ = std::move(abort); }
  // Drops the buffer deliberately: the run ends after a CommitError and says so; the units it
  // held are requeued by the next run (begun ones are `running` there, then `lost`).
  void abandon();

  // Read helpers for the scheduler; each flushes first so that it sees the buffered writes.
  std::vector<UnitRow> campaign_units(int64_t campaign_id);      // ordered by sample, configuration
  std::map<std::string, int> state_counts(int64_t campaign_id);  // every state name, 0 if none

 private:
  struct Op;
  // Closes unit op.unit_id's open attempt with `op` (outcome and payload set by the caller):
  // checks there is one, records its attempt id, buffers the op.
  void finish_attempt(Op op);
  void commit_buffer();
  Database& db_;
  double interval_;
  double commit_retry_ = 0;
  std::function<bool()> retry_abort_;
  double last_commit_;
  std::vector<Op> ops_;                      // Op is defined in result_store.cpp
  std::map<int64_t, int64_t> open_attempt_;  // unit -> attempt row id
};

}  // namespace ckv
