#include "henvis/group_commit.hpp"

#include <vector>

namespace henvis::sqlite {

// One caller's job, on its caller's stack while it waits.
struct GroupCommit::Pending {
  const std::function<void(Db&)>* job;
  std::exception_ptr error;
  bool done = false;
  std::condition_variable finished;
};

GroupCommit::GroupCommit(std::string db_path)
    : path_(std::move(db_path)), thread_([this] { loop(); }) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void GroupCommit::run(const std::function<void(Db&)>& job) {
  Pending p{&job, nullptr, false, {}};
  std::unique_lock lock(mu_);
  queue_.push_back(&p);
  work_.notify_one();
  p.finished.wait(lock, [&] { return p.done; });
  if (p.error) std::rethrow_exception(p.error);
}

std::size_t GroupCommit::groups() const {
  std::lock_guard lock(mu_);
  return groups_;
}

std::size_t GroupCommit::jobs() const {
  std::lock_guard lock(mu_);
  return jobs_;
}

std::size_t GroupCommit::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void GroupCommit::loop() {
  std::unique_ptr<Db> db;
  std::exception_ptr open_error;
  try {
    db = std::make_unique<Db>(path_);
  } catch (...) {
    open_error = std::current_exception();  // every job fails with it
  }
  std::vector<Pending*> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing is left
      while (!queue_.empty() && group.size() < MAX_GROUP) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    try {
      if (open_error) std::rethrow_exception(open_error);
      Transaction tx(*db);
      for (Pending* p : group) {
        db->exec("SAVEPOINT job");
        try {
          (*p->job)(*db);
          db->exec("RELEASE job");
        } catch (...) {
          p->error = std::current_exception();
          db->exec("ROLLBACK TO job");
          db->exec("RELEASE job");
        }
      }
      tx.commit();
    } catch (...) {
      // Nothing of the group happened: each caller learns why.
      for (Pending* p : group)
        if (!p->error) p->error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      ++groups_;
      jobs_ += group.size();
      for (Pending* p : group) {
        p->done = true;
        p->finished.notify_one();
      }
    }
    group.clear();
  }
}

}  // namespace henvis::sqlite
