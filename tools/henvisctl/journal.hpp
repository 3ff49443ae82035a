#pragma once
// What makes a retried henvisctl command safe (issue 10: "the identical
// command, repeated, has the effect of one").
//
// An offer's body includes its charge time, which defaults to "now": run
// again after a timeout, the same command would send another time and intake
// would refuse it as a different offer (409). The journal fixes the charge
// time an offer id was first sent with and uses it again for 7 days.
//
// An outcome is recorded once per Idempotency-Key. Without --idempotency-key
// the journal makes one for the request before sending it and keeps it until
// the server answers: a retry after a lost answer (the router may or may not
// have recorded it) sends the same key and time and is recorded at most
// once, while running the command again after it was answered is a new
// outcome (a second failed attempt is a real second attempt). A
// coordinator's forwarding and closure keep their keys the same way.
//
// The journal is a SQLite file in $HENVIS_STATE_DIR, else
// $XDG_STATE_HOME/henvisctl, else ~/.local/state/henvisctl. It holds
// SHA-256 hashes of offer ids and requests, times and keys; never a person's
// data, and no offer id in clear (an officer might type a CPR number there).

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace henvis::sqlite {
class Db;
}

namespace henvis::ctl {

class Journal {
 public:
  // Opens (creating) the journal file; `dir` "" = the default place.
  explicit Journal(const std::string& dir = {});
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // The charge time `offer_id` was first sent with (RFC 3339), or records
  // `now` for it and returns that.
  std::string offer_charge_time(const std::string& offer_id, const std::string& now);

  struct Pending {
    std::string idempotency_key;
    std::string at;  // RFC 3339
  };
  // The key and time of an unanswered earlier attempt at the same request
  // (`request` identifies it: referral, outcome, note, explicit time), or a
  // new key with `now`, recorded before the request is sent.
  Pending outcome_attempt(const std::string& request, const std::string& now);
  // Whether an earlier attempt at the same request is still unanswered.
  bool outcome_pending(const std::string& request);
  // The server answered: the attempt is settled.
  void outcome_answered(const std::string& request);

  static std::string default_dir();

 private:
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace henvis::ctl
