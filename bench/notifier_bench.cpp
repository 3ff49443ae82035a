// notifier: its CPU per notification and its RSS while it holds 10 000,
// 100 000 and 1 000 000 inbox rows (issue 14: every service under 64 MiB
// with 1 M referrals stored).
//
// Offers go through intake's HTTP API and henvis-router routes them, so that
// henvis.notifications.v1 holds a contact-list entry per routable offer,
// sealed as in production. Then, in each run, henvis-notifier starts on a
// copy of an inbox filled in this process through the notifier's own Store
// (rows delivered in the last 20 days, every third acknowledged: what its
// retention keeps), reads the topic from its beginning and unseals each
// entry with the keys it fetches from intake. The run ends when its
// consumer has taken every message of the topic.

#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "../tests/robustness/robust_stack.hpp"
#include "../tests/unit/support.hpp"
#include "bench.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "notifier.hpp"
#include "store.hpp"

using namespace henvis;
using namespace henvis::bench;
namespace fs = std::filesystem;

namespace {
constexpr int POSTERS = 8;
constexpr auto DRAIN_LIMIT = std::chrono::minutes(30);
// Inbox rows written per transaction while filling.
constexpr std::int64_t FILL_BATCH = 10000;
// The dev directory's centres (deploy/config/dev/directory.textproto).
constexpr int CENTRES[] = {657, 661, 665, 671, 740, 756, 760, 773, 779, 787, 791};

// Every message `topic` holds now: read from its beginning until it has
// been quiet for two seconds.
std::int64_t messages_in(const std::string& bootstrap, const std::string& topic) {
  kafka::Consumer c(bootstrap, "henvis-bench-count-" + new_uuid());
  c.assign({topic}, {}, 30000);
  std::int64_t n = 0;
  for (int quiet = 0; quiet < 10;) {
    const auto got = c.poll_batch(500, 200).size();
    quiet = got == 0 ? quiet + 1 : 0;
    n += static_cast<std::int64_t>(got);
  }
  return n;
}

// Fills the notifier's database at `path` through its Store and copies it to
// `snapshots[k]` once it holds `sizes[k]` rows (ascending).
void fill_notifier(const fs::path& path, const std::vector<std::int64_t>& sizes,
                   const std::vector<fs::path>& snapshots) {
  sqlite::Db db(path.string());
  db.migrate(notifier::migrations());
  notifier::Store store(db);
  const auto now = std::chrono::system_clock::now();
  const auto spread =
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::hours(24 * 20)) /
      sizes.back();
  std::int64_t i = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    while (i < sizes[k]) {
      sqlite::Transaction tx(db);
      for (const std::int64_t end = std::min(sizes[k], i + FILL_BATCH); i < end; ++i) {
        const int kommune = CENTRES[i % std::size(CENTRES)];
        notifier::NewInboxRow r;
        r.notification_id = new_uuid();
        r.recipient_id = "rusmiddelcenter-" + std::to_string(kommune);
        r.kind = v1::NOTIFICATION_KIND_NEW_REFERRAL;
        auto& c = r.contact;
        c.set_referral_id(new_uuid());
        c.set_journal_number("4100-84123-00042-24");
        c.set_offence(i % 3 == 0 ? v1::OFFENCE_DRUG : v1::OFFENCE_DRUNK);
        c.set_kommunekode(kommune);
        c.set_centre_id(r.recipient_id);
        c.mutable_person()->set_cpr("0101904000");
        c.mutable_person()->set_name("Bench Person");
        c.mutable_person()->set_phone("+4523456789");
        // Delivered over the last 20 days, in order.
        const auto at = now - spread * (sizes.back() - i);
        c.mutable_charged_at()->set_seconds(
            std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count() - 3600);
        r.requested_at = at;
        r.available_at = at;
        r.state = notifier::STATE_DELIVERED;
        r.channel = "inbox";
        REQUIRE(store.add(r));
        if (i % 3 == 0) store.mark_acked(r.notification_id, at + std::chrono::hours(1));
      }
      tx.commit();
    }
    REQUIRE(db.checkpoint_truncate());
    fs::copy_file(path, snapshots[k], fs::copy_options::overwrite_existing);
  }
}
}  // namespace

TEST_CASE(
    "bench notifier: CPU per notification and RSS with 10 000, 100 000 and 1 000 000 inbox rows "
    "stored",
    "[notifier]") {
  const std::int64_t n = size("HENVIS_BENCH_N", 20000, 60);
  const std::int64_t largest = size("HENVIS_BENCH_STORED", 1000000, 600);
  const std::vector<std::int64_t> sizes{largest / 100, largest / 10, largest};
  robustness::RobustStack s({});
  s.start_broker();
  s.start("intake");
  {
    robustness::OfferStream st;
    robustness::post_offers(st, "bench-notifier", static_cast<int>(n), POSTERS, s.port("intake"));
    INFO(st.failure);
    REQUIRE(st.accepted.load() == n);
  }
  s.start("router");
  // The router has routed every offer and its outbox has published all.
  REQUIRE(testing::eventually(
      [&] {
        if (consumer_taken(s.port("router")) < static_cast<double>(n)) return false;
        sqlite::Db db(s.database("router"));
        return test::scalar(db, "SELECT count(*) FROM outbox") == 0;
      },
      DRAIN_LIMIT));
  const std::int64_t notifications = messages_in(s.bootstrap(), topics::NOTIFICATIONS);
  REQUIRE(notifications > 0);

  std::vector<fs::path> bases;
  for (auto stored : sizes)
    bases.push_back(s.dir() / ("notifier-" + std::to_string(stored) + ".db"));
  {
    const auto t_fill = std::chrono::steady_clock::now();
    fill_notifier(s.dir() / "notifier-fill.db", sizes, bases);
    std::printf("filled the notifier's inbox with %lld rows in %.0f s\n",
                static_cast<long long>(largest), robustness::seconds_since(t_fill));
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(s.dir() / ("notifier-fill.db" + std::string(suffix)));
  }

  std::vector<std::vector<double>> cpu_us(sizes.size()), rss(sizes.size()), peak(sizes.size());
  for (int rep = 0; rep < reps(); ++rep) {
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.database("notifier") + suffix);
      fs::copy_file(bases[k], s.database("notifier"));
      s.start("notifier");
      const int port = s.port("notifier");
      REQUIRE(testing::eventually(
          [&] { return consumer_taken(port) >= static_cast<double>(notifications); }, DRAIN_LIMIT));
      const ProcStats p = proc_stats(s.pid("notifier"));
      cpu_us[k].push_back(p.cpu_seconds * 1e6 / static_cast<double>(notifications));
      rss[k].push_back(p.rss_mib);
      peak[k].push_back(p.peak_mib);
      {
        // Every notification is a row of its recipient's inbox now.
        sqlite::Db db(s.database("notifier"));
        CHECK(test::scalar(db, "SELECT count(*) FROM inbox") == sizes[k] + notifications);
      }
      CHECK(s.stop("notifier") == 0);
    }
  }
  for (const auto& b : bases) fs::remove(b);

  std::printf(
      "notifier: %lld notifications from henvis.notifications.v1 (of %lld offers) on an inbox "
      "already holding %lld, %lld and %lld rows (a copy per run, from its start to the last "
      "message taken):\n",
      static_cast<long long>(notifications), static_cast<long long>(n),
      static_cast<long long>(sizes[0]), static_cast<long long>(sizes[1]),
      static_cast<long long>(sizes[2]));
  CHECK(report_curve("notifier CPU per notification", "us", "inbox rows stored", sizes, cpu_us));
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const std::string stored = num(static_cast<double>(sizes[k])) + " inbox rows stored";
    report("notifier RSS after the drain, " + stored, "MiB", rss[k]);
    report("notifier peak RSS (VmHWM), " + stored, "MiB", peak[k]);
  }
}
