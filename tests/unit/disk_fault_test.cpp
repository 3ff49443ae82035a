// Disk faults (issue 5, "Disk faults"): a SQLite VFS shim that wraps the
// default VFS and fails the Nth xWrite or xSync (once, or from then on),
// under the consumer loop's batch application (ConsumerLoop::apply_batch:
// the router's Applier, processed ce_ids, offsets and dead letters through
// the outbox, in one transaction), for N = 1, 2, ... until the batch
// completes without reaching N. After every failure:
//  - no commit is reported unless the data is there (a second connection,
//    as a restarted process would, sees the whole batch);
//  - PRAGMA integrity_check is ok;
//  - the database holds the whole batch or none of it (offsets, ce_ids and
//    state move together);
//  - retrying (on the same connection after a one-off fault, as the loop
//    does; on a new connection after a permanent one, as a restarted
//    process does) completes the batch with the same state as a run without
//    faults: nothing skipped, nothing applied twice.
// It counts what it did and prints it (WARN so that it shows in ctest -V).

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "router.hpp"
#include "support.hpp"

namespace {

namespace v1 = henvis::v1;
using henvis::test::dev_directory;
using henvis::test::TempDir;

// ------------------------------------------------------------- the shim

struct Faults {
  std::atomic<int> writes{0}, syncs{0}, triggered{0};
  int fail_write_at = 0, fail_sync_at = 0;  // 0 = never
  bool forever = false;
  void arm(int write_at, int sync_at, bool always) {
    writes = syncs = triggered = 0;
    fail_write_at = write_at;
    fail_sync_at = sync_at;
    forever = always;
  }
  void disarm() { fail_write_at = fail_sync_at = 0; }
  bool hit(std::atomic<int>& counter, int& at) {
    const int n = ++counter;
    if (at == 0 || n < at || (n > at && !forever)) return false;
    ++triggered;
    if (!forever) at = 0;
    return true;
  }
};
Faults faults;

sqlite3_vfs* real_vfs = nullptr;

struct FaultFile {
  const sqlite3_io_methods* methods;  // must come first: this is a sqlite3_file
  sqlite3_file* real;
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int f_close(sqlite3_file* f) {
  int rc = real_of(f)->pMethods->xClose(real_of(f));
  return rc;
}
int f_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), p, n, off);
}
int f_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  if (faults.hit(faults.writes, faults.fail_write_at)) return SQLITE_IOERR_WRITE;
  return real_of(f)->pMethods->xWrite(real_of(f), p, n, off);
}
int f_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int f_sync(sqlite3_file* f, int flags) {
  if (faults.hit(faults.syncs, faults.fail_sync_at)) return SQLITE_IOERR_FSYNC;
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int f_size(sqlite3_file* f, sqlite3_int64* size) {
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int f_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int f_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int f_check(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int f_fcntl(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int f_sector(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int f_dev(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int f_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, pp);
}
int f_shm_lock(sqlite3_file* f, int off, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}
void f_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int f_shm_unmap(sqlite3_file* f, int del) {
  return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}
int f_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, n, pp);
}
int f_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

const sqlite3_io_methods fault_methods = {
    3,          f_close,       f_read,      f_write, f_truncate, f_sync, f_size,
    f_lock,     f_unlock,      f_check,     f_fcntl, f_sector,   f_dev,  f_shm_map,
    f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch};

int f_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(file);
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  std::memset(ff->real, 0, static_cast<std::size_t>(real_vfs->szOsFile));
  const int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
  // The methods this file has depend on the real file's version (1..3).
  ff->methods = ff->real->pMethods ? &fault_methods : nullptr;
  return rc;
}

sqlite3_vfs fault_vfs;

// Makes the shim the default VFS for the life of the object.
struct FaultyVfs {
  FaultyVfs() {
    real_vfs = sqlite3_vfs_find(nullptr);
    REQUIRE(real_vfs);
    REQUIRE(real_vfs->iVersion >= 2);
    fault_vfs = *real_vfs;
    fault_vfs.zName = "henvis-faulty";
    fault_vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + real_vfs->szOsFile;
    fault_vfs.xOpen = f_open;
    fault_vfs.pNext = nullptr;
    REQUIRE(sqlite3_vfs_register(&fault_vfs, 1) == SQLITE_OK);
    faults.disarm();
  }
  ~FaultyVfs() {
    faults.disarm();
    sqlite3_vfs_register(real_vfs, 1);
    sqlite3_vfs_unregister(&fault_vfs);
  }
};

// ------------------------------------------------------------- the batch

constexpr std::int64_t T0 = 1714557600;

henvis::kafka::Message msg(const std::string& topic, const std::string& type,
                           const std::string& payload, const std::string& id, std::int64_t offset) {
  henvis::kafka::Message m;
  m.topic = topic;
  m.partition = 0;
  m.offset = offset;
  m.key = "k-" + id;
  m.payload = payload;
  m.headers = {{henvis::kafka::header::ID, id}, {henvis::kafka::header::TYPE, type}};
  return m;
}

std::vector<henvis::kafka::Message> batch() {
  std::vector<henvis::kafka::Message> b;
  std::int64_t off = 100;
  for (int i = 0; i < 6; ++i) {
    v1::OfferRecorded o;
    const std::string id = std::to_string(i);
    o.set_offer_id("o-" + id);
    o.set_referral_id("r-" + id);
    o.set_journal_number("4100-84123-00042-24");
    o.set_offence(v1::OFFENCE_DRUNK);
    o.mutable_charged_at()->set_seconds(T0 - 3600 * i);
    o.set_district_id("mvj");
    o.set_answer(i == 5 ? v1::ANSWER_NO : v1::ANSWER_YES);
    o.set_kommunekode(i == 4 ? 751 : 657);
    o.mutable_person()->set_cpr("0101901234");
    o.mutable_person()->set_name("Jens Testesen");
    o.mutable_person()->set_phone("+4523456789");
    o.mutable_consent()->set_text_version("consent-v1");
    b.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED,
                    o.SerializeAsString(), "offer-" + id, off++));
  }
  // A poison event (dead-lettered through the outbox) and a duplicate ce_id.
  b.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "\xff\xff junk",
                  "poison", off++));
  b.push_back(b.front());
  b.back().offset = off++;
  v1::DeliveryEvent d;
  d.set_notification_id("n-0");
  d.set_recipient_id("rusmiddelcenter-657");
  d.set_referral_id("r-0");
  d.set_status(v1::DELIVERY_STATUS_DELIVERED);
  b.push_back(msg(henvis::topics::DELIVERIES, "henvis.delivery.delivered", d.SerializeAsString(),
                  "delivery-0", 7));
  return b;
}

std::string dump(henvis::sqlite::Db& db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.raw(), sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(st, c));
      out.append(p ? p : "∅", p ? static_cast<std::size_t>(sqlite3_column_bytes(st, c)) : 3);
      out += '|';
    }
    out += '\n';
  }
  sqlite3_finalize(st);
  return out;
}

// The state the batch makes (outbox rows by topic and key: their ce_ids are
// fresh; processed ce_ids without their wall-clock time).
std::string state(henvis::sqlite::Db& db) {
  return dump(db, "SELECT * FROM referrals ORDER BY referral_id") +
         dump(db, "SELECT * FROM referral_history ORDER BY id") +
         dump(db, "SELECT * FROM person_index ORDER BY referral_id") +
         dump(db, "SELECT topic, key FROM outbox ORDER BY id") +
         dump(db, "SELECT ce_id FROM processed_events ORDER BY ce_id") +
         dump(db, "SELECT * FROM consumer_offsets ORDER BY topic, partition");
}

std::string integrity(henvis::sqlite::Db& db) {
  henvis::sqlite::Stmt s(db, "PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += s.text(0);
  return out;
}

struct Router {
  henvis::ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(T0))};
  henvis::router::Applier applier{dev_directory(), settings(), clock};
  henvis::ConsumerLoop loop{
      "router",
      "",
      "",
      {{henvis::topics::OFFERS, "henvis.offers.v1.dlq.router"},
       {henvis::topics::DELIVERIES, "henvis.deliveries.v1.dlq.router"}},
      [this](const henvis::kafka::Message& m, henvis::sqlite::Db& db) { applier.apply(m, db); },
      nullptr,
      nullptr};
  static henvis::router::Settings settings() {
    henvis::router::Settings s;
    s.person_key = "disk-fault-test-person-key";
    return s;
  }
};

bool try_batch(Router& r, henvis::sqlite::Db& db, const std::vector<henvis::kafka::Message>& b) {
  try {
    r.loop.apply_batch(db, b);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("disk faults: failing the Nth write or sync never loses, skips or corrupts a batch",
          "[disk-fault][robustness]") {
  TempDir tmp("henvis-disk-fault");
  const auto b = batch();
  const std::string tmpl = tmp.file("template.db");
  {
    henvis::sqlite::Db db(tmpl);
    db.migrate(henvis::router::migrations());
  }  // closed: checkpointed, the WAL is gone
  // The state without faults.
  std::string expected, empty;
  {
    std::filesystem::copy_file(tmpl, tmp.file("ref.db"));
    henvis::sqlite::Db db(tmp.file("ref.db"));
    empty = state(db);
    Router r;
    REQUIRE(try_batch(r, db, b));
    expected = state(db);
    REQUIRE(expected != empty);
  }

  FaultyVfs vfs;
  struct Mode {
    const char* name;
    bool sync, forever;
  };
  int runs = 0, failures = 0, retries = 0;
  for (const Mode mode : {Mode{"write once", false, false}, Mode{"write forever", false, true},
                          Mode{"sync once", true, false}, Mode{"sync forever", true, true}}) {
    int n = 1;
    for (;; ++n) {
      INFO(mode.name << " N=" << n);
      REQUIRE(n < 1000);
      const std::string path = tmp.file(std::string("run-") + std::to_string(runs++) + ".db");
      std::filesystem::copy_file(tmpl, path);
      Router r;
      auto db = std::make_unique<henvis::sqlite::Db>(path);
      faults.arm(mode.sync ? 0 : n, mode.sync ? n : 0, mode.forever);
      const bool committed = try_batch(r, *db, b);
      const bool hit = faults.triggered > 0;
      if (!hit) {
        // N is past every write (sync) the batch needs: done.
        faults.disarm();
        REQUIRE(committed);
        REQUIRE(state(*db) == expected);
        WARN(mode.name << ": the batch needs " << n - 1 << (mode.sync ? " syncs" : " writes"));
        break;
      }
      ++failures;
      {
        // What a restarted process would see now, through a new connection
        // (faults still armed for "forever": reading needs no write).
        henvis::sqlite::Db other(path);
        const std::string seen = state(other);
        if (committed) REQUIRE(seen == expected);      // no commit reported without the data
        REQUIRE((seen == expected || seen == empty));  // all or nothing
      }
      if (!mode.forever) {
        // The loop retries on the same connection after a backoff.
        REQUIRE(integrity(*db) == "ok");
        ++retries;
        REQUIRE(try_batch(r, *db, b));
        REQUIRE(state(*db) == expected);
      } else {
        // Every attempt fails while the disk does; the loop gives up, the
        // process exits and is restarted with a new connection.
        for (int attempt = 0; attempt < 3; ++attempt) {
          if (!committed)
            CHECK_FALSE(try_batch(r, *db, b));
          else
            try_batch(r, *db, b);
        }
        db.reset();
        faults.disarm();
        henvis::sqlite::Db again(path);
        REQUIRE(integrity(again) == "ok");
        const std::string seen = state(again);
        REQUIRE((seen == expected || seen == empty));
        ++retries;
        REQUIRE(try_batch(r, again, b));
        REQUIRE(state(again) == expected);
        REQUIRE(integrity(again) == "ok");
      }
      faults.disarm();
    }
  }
  WARN("disk faults: " << runs << " runs, " << failures << " failed batches, " << retries
                       << " retries, lost 0, duplicated 0, integrity_check ok after each");
}
