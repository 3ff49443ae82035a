// Fuzz target: event decoding and validation in the consumers.
//
// The input is up to 4 records; each is
//   [selector byte][ce_type byte][length: 2 bytes little-endian][payload]
// (a length past the end takes what is left). The selector picks the
// consumer (router, notifier, evaluation: selector % 3) and the topic
// (selector / 3 % 5: offers, referrals, deliveries, notifications, an
// unknown one); the ce_type byte picks one of the known event types (or an
// unknown one). The records are applied in order through the consumer's
// Applier::apply, in ONE transaction on a temp SQLite database migrated
// once, which is rolled back afterwards, so that later records can meet the
// state of earlier ones (a withdrawal after its offer) and inputs stay
// independent.
//
// henvis::Rejected is the documented refusal (the event goes to the DLQ).
// Anything else escaping apply() is a finding: in the consumer loop it would
// fail the batch again and again and stop the service on one bad event.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluation.hpp"
#include "fuzz_support.hpp"
#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "notifier.hpp"
#include "router.hpp"

namespace {

const char* const TOPICS[] = {henvis::topics::OFFERS, henvis::topics::REFERRALS,
                              henvis::topics::DELIVERIES, henvis::topics::NOTIFICATIONS,
                              "henvis.unknown.v1"};

const char* const TYPES[] = {
    "henvis.offer.recorded",
    "henvis.offer.withdrawn",
    "henvis.notification.requested",
    "henvis.delivery.delivered",
    "henvis.delivery.read",
    "henvis.delivery.acknowledged",
    "henvis.delivery.failed",
    "henvis.referral.received",
    "henvis.referral.routed",
    "henvis.referral.delivered",
    "henvis.referral.acknowledged",
    "henvis.referral.contact_attempted",
    "henvis.referral.reached",
    "henvis.referral.conversation_held",
    "henvis.referral.further_sessions_accepted",
    "henvis.referral.closed",
    "henvis.referral.declined",
    "henvis.referral.unreachable",
    "henvis.referral.withdrawn",
    "henvis.referral.unroutable",
    "henvis.referral.expired",
    "henvis.referral.unspecified",
    "",
    "henvis.delivery.",
    "henvis.bogus",
};
constexpr std::size_t N_TYPES = sizeof(TYPES) / sizeof(TYPES[0]);

// Intake's data keys as the fuzzer sees them: one fixed key for every
// referral, none (withdrawn) for "r-gone"; it never fails, so an exception
// from a sealed event is a finding, not intake being down.
struct FuzzKeys final : henvis::data_keys::Source {
  std::optional<std::string> key(const std::string& referral_id) override {
    if (referral_id == "r-gone") return std::nullopt;
    return std::string(henvis::data_keys::KEY_BYTES, 'k');
  }
};

struct Consumers {
  FuzzKeys keys;
  henvis::ManualClock clock{
      std::chrono::system_clock::time_point(std::chrono::seconds(1714557600))};
  std::unique_ptr<henvis::sqlite::Db> router_db, notifier_db, evaluation_db;
  std::unique_ptr<henvis::router::Applier> router;
  std::unique_ptr<henvis::notifier::Applier> notifier;
  const henvis::evaluation::CellKey cell_key{
      std::string(henvis::evaluation::CellKey::KEY_BYTES, 'k')};
  henvis::evaluation::Applier evaluation{cell_key};

  Consumers() {
    henvis::fuzz::quiet_logs();
    const auto& dir = henvis::fuzz::temp_dir("event");
    router_db = std::make_unique<henvis::sqlite::Db>((dir / "router.db").string());
    router_db->migrate(henvis::router::migrations());
    notifier_db = std::make_unique<henvis::sqlite::Db>((dir / "notifier.db").string());
    notifier_db->migrate(henvis::notifier::migrations());
    evaluation_db = std::make_unique<henvis::sqlite::Db>((dir / "evaluation.db").string());
    evaluation_db->migrate(henvis::evaluation::migrations());
    henvis::router::Settings rs;
    rs.person_key = "fuzz-person-key-0123456789";
    router = std::make_unique<henvis::router::Applier>(henvis::fuzz::dev_directory(), rs, clock);
    notifier = std::make_unique<henvis::notifier::Applier>(henvis::fuzz::dev_directory(),
                                                           henvis::notifier::Settings(), clock);
    router->use_data_keys(&keys);
    notifier->use_data_keys(&keys);
  }
};

Consumers& consumers() {
  static Consumers c;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Consumers& c = consumers();
  struct Record {
    unsigned consumer;
    const char* topic;
    const char* type;
    std::string payload;
  };
  std::vector<Record> records;
  std::size_t i = 0;
  while (records.size() < 4 && i + 2 <= size) {
    const std::uint8_t sel = data[i], type = data[i + 1];
    i += 2;
    std::size_t len = size - i;
    if (i + 2 <= size) {
      len = std::size_t(data[i]) | (std::size_t(data[i + 1]) << 8);
      i += 2;
      len = std::min(len, size - i);
    } else {
      len = 0;
      i = size;
    }
    records.push_back({sel % 3u, TOPICS[(sel / 3u) % 5u], TYPES[type % N_TYPES],
                       std::string(reinterpret_cast<const char*>(data + i), len)});
    i += len;
  }
  if (records.empty()) return 0;

  // All records go to the first record's consumer (one database).
  const unsigned consumer = records[0].consumer;
  henvis::sqlite::Db& db = consumer == 0   ? *c.router_db
                           : consumer == 1 ? *c.notifier_db
                                           : *c.evaluation_db;
  henvis::sqlite::Transaction tx(db);  // rolled back when it goes out of scope
  std::int64_t n = 0;
  for (const auto& r : records) {
    henvis::kafka::Message m;
    m.topic = r.topic;
    m.partition = 0;
    m.offset = n;
    m.key = "k";
    m.payload = r.payload;
    m.headers = {{henvis::kafka::header::ID, "fuzz-" + std::to_string(n++)},
                 {henvis::kafka::header::TYPE, r.type},
                 {henvis::kafka::header::SPECVERSION, "1.0"}};
    // Like the consumer loop: each event in a savepoint, a refusal rolls it back.
    db.exec("SAVEPOINT event");
    try {
      if (consumer == 0) {
        c.router->apply(m, db);
      } else if (consumer == 1) {
        c.notifier->apply(m, db);
      } else {
        c.evaluation.apply(m, db);
      }
      db.exec("RELEASE event");
    } catch (const henvis::Rejected& e) {
      db.exec("ROLLBACK TO event");
      db.exec("RELEASE event");
      // A reason is a constant text naming a rule; it must not be empty.
      if (std::string(e.what()).empty()) henvis::fuzz::finding("empty Rejected reason");
    } catch (const std::exception& e) {
      henvis::fuzz::finding(std::string("non-Rejected exception from apply: ") + e.what());
    }
  }
  return 0;
}
