#pragma once
// Group commit: concurrent requests share one durable transaction.
//
// A service whose requests each write a little and must be durable before
// they are answered (intake: an offer is committed, synchronous=FULL, before
// its 201) pays one disk sync per request when each commits on its own.
// Here each request hands its writes to run() as a job; one committer thread
// with its own connection takes every job waiting at that moment, runs them
// one after another in ONE transaction, each inside a SAVEPOINT, commits
// once, and only then lets each caller go on. So:
// - nothing is answered before its commit (run() returns after it);
// - a job that throws is undone alone (its savepoint), and its exception is
//   rethrown to its caller; the others commit;
// - a commit that fails fails every job of the group, none of which happened
//   (their callers answer an error; the client's retry with the same key is
//   safe);
// - jobs see each other's writes in order, as serial transactions would.
// A job must not open a transaction of its own.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "henvis/sqlite.hpp"

namespace henvis::sqlite {

class GroupCommit {
 public:
  // At most this many jobs share one transaction.
  static constexpr std::size_t MAX_GROUP = 256;

  explicit GroupCommit(std::string db_path);
  ~GroupCommit();  // finishes the jobs already handed over, then stops
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `job` on the committer's connection inside the next group's
  // transaction and returns once that transaction committed. Rethrows what
  // the job threw (its writes undone), or the commit's failure.
  void run(const std::function<void(Db&)>& job);

  // Groups committed and jobs run so far (jobs / groups = the mean group).
  std::size_t groups() const;
  std::size_t jobs() const;
  // Jobs handed over and not yet taken into a group.
  std::size_t queued() const;

 private:
  struct Pending;
  void loop();
  std::string path_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  std::deque<Pending*> queue_;
  bool stop_ = false;
  std::size_t groups_ = 0, jobs_ = 0;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace henvis::sqlite
