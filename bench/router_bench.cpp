// router: how fast henvis-router drains a backlog of offers, against a raw
// consume of the same topic with the same client library and SQLite's
// ceiling for batched writes of the same count, in the same run.
//
// The offers go through intake's HTTP API first (they are sealed with data
// keys intake holds); then, in each run, the router starts on an empty
// database, so it reads henvis.offers.v1 from the beginning, and the run
// ends when its consumer has taken every offer.
//
// The cost curve: the same drain on a router whose database already holds
// 10 000, 100 000 or 1 000 000 referrals (filled in this process through the
// router's own Applier and consumer loop, as years of offers would leave it),
// so that the per-event cost's growth with the stored data shows.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "../tests/robustness/robust_stack.hpp"
#include "../tests/unit/support.hpp"
#include "bench.hpp"
#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/ids.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "router.hpp"

using namespace henvis;
using namespace henvis::bench;
namespace fs = std::filesystem;

namespace {
// Clients posting the backlog to intake.
constexpr int POSTERS = 8;
// Rows per commit in the SQLite anchor: a consumer loop's poll batch.
constexpr int BATCH = 500;
// About an offer event's size (sealed contact, CloudEvents headers apart).
constexpr std::size_t EVENT_BYTES = 700;
constexpr auto DRAIN_LIMIT = std::chrono::minutes(30);

// Starts the broker and intake of `s` and registers `n` offers through
// intake's API: the backlog the router drains.
void post_backlog(robustness::RobustStack& s, const char* run, std::int64_t n) {
  s.start_broker();
  s.start("intake");
  robustness::OfferStream st;
  robustness::post_offers(st, run, static_cast<int>(n), POSTERS, s.port("intake"));
  INFO(st.failure);
  REQUIRE(st.accepted.load() == n);
}

// The programme municipalities of deploy/config/dev/directory.textproto, and
// one outside it (an unroutable referral).
constexpr int KOMMUNER[] = {657, 661, 665, 671, 740, 756, 760, 773, 779, 787, 791, 751};
constexpr std::int64_t FIVE_YEARS_S = 5LL * 365 * 86400;

// splitmix64's finaliser: a well-spread hash of i.
std::uint64_t mix(std::int64_t i) {
  std::uint64_t h = static_cast<std::uint64_t>(i) + 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// The i-th stored offer: charged at a pseudo-random time within the last five
// years (so that every prefix of them spreads over the five years), a person
// who was charged before in one case in five.
v1::OfferRecorded stored_offer(std::int64_t i, std::int64_t now) {
  v1::OfferRecorded o;
  // The offer id is the officer's app's (random); the referral id intake's.
  char offer_id[40];
  std::snprintf(offer_id, sizeof offer_id, "%016llx%016llx",
                static_cast<unsigned long long>(mix(2 * i)),
                static_cast<unsigned long long>(mix(2 * i + 1)));
  o.set_offer_id(offer_id);
  o.set_referral_id(new_uuid());
  o.set_journal_number("4100-84123-00042-24");
  o.set_offence(i % 3 == 0 ? v1::OFFENCE_DRUG : v1::OFFENCE_DRUNK);
  const std::int64_t charged =
      now - static_cast<std::int64_t>(mix(-i - 1) % static_cast<std::uint64_t>(FIVE_YEARS_S));
  o.mutable_charged_at()->set_seconds(charged);
  o.set_officer_id("officer-17");
  o.set_district_id("mvj");
  o.set_answer(v1::ANSWER_YES);
  o.set_kommunekode(KOMMUNER[i % std::size(KOMMUNER)]);
  // Distinct persons but for one in five, whose number repeats an earlier one
  // (7th digit 4-9 with a 00-36 year: born 2000-2036; never the drain's
  // offers' numbers, which are 19xx).
  const std::int64_t person = i % 5 == 4 ? i / 2 : i;
  char cpr[16];
  std::snprintf(cpr, sizeof cpr, "%02d%02d%02d%04d", static_cast<int>(person % 28 + 1),
                static_cast<int>((person / 28) % 12 + 1), static_cast<int>((person / 336) % 37),
                static_cast<int>(4000 + (person / 12432) % 6000));
  auto* p = o.mutable_person();
  p->set_cpr(cpr);
  p->set_name("Bench Person");
  p->set_phone("+4523456789");
  auto* c = o.mutable_consent();
  c->set_text_version("consent-v1");
  c->mutable_given_at()->set_seconds(charged + 300);
  o.mutable_recorded_at()->set_seconds(charged + 360);
  o.set_covered(true);
  return o;
}

// What years of work leave of the referrals: those charged more than 60 days
// ago are closed, declined, unreachable or expired a month after their
// charge (the centres recorded their outcomes), so that only the recent ones
// wait on a centre; then the router's own retention pass erases the contact
// data of those final for longer than its default period (180 days).
void age_referrals(sqlite::Db& db, const fs::path& path, std::int64_t now) {
  constexpr std::int64_t DAY_MS = 86400000;
  {
    sqlite::Transaction tx(db);
    auto q = db.query(
        "UPDATE referrals SET status = CASE abs(charged_at / 1000) % 4 WHEN 0 THEN ? WHEN 1 "
        "THEN ? WHEN 2 THEN ? ELSE ? END, updated_at = charged_at + ?, last_activity_at = "
        "charged_at + ? WHERE charged_at < ? AND status IN (?, ?)");
    q->bind(1, static_cast<int>(v1::REFERRAL_STATUS_CLOSED))
        .bind(2, static_cast<int>(v1::REFERRAL_STATUS_DECLINED))
        .bind(3, static_cast<int>(v1::REFERRAL_STATUS_UNREACHABLE))
        .bind(4, static_cast<int>(v1::REFERRAL_STATUS_EXPIRED))
        .bind(5, 30 * DAY_MS)
        .bind(6, 30 * DAY_MS)
        .bind(7, now * 1000 - 60 * DAY_MS)
        .bind(8, static_cast<int>(v1::REFERRAL_STATUS_ROUTED))
        .bind(9, static_cast<int>(v1::REFERRAL_STATUS_UNROUTABLE))
        .run();
    tx.commit();
  }
  SystemClock clock;
  router::ContactRetention(path.string(), router::Settings::from(v1::RouterSettings()), clock,
                           nullptr)
      .run_once(db);
}

// Fills the router's database at `path` with referrals through its Applier in
// the consumer loop's batches, and copies it to `snapshots[k]` once it holds
// `sizes[k]` of them (ascending), aged (age_referrals). Removes what a running
// router would not keep (its outbox is sent, its consumed ids pruned after
// the horizon) and the consumer offsets of these made-up events, so that a
// router started on a copy reads henvis.offers.v1 from its beginning.
void fill_router(const fs::path& path, const std::vector<std::int64_t>& sizes,
                 const std::vector<fs::path>& snapshots) {
  SystemClock clock;
  sqlite::Db db(path.string());
  db.migrate(router::migrations());
  router::Settings settings;
  settings.person_key = router::load_person_key(db, "", true);
  router::Applier applier(test::dev_directory(), settings, clock);
  ConsumerLoop loop("router", path.string(), "", applier.subscriptions(), nullptr, nullptr);
  // The Applier logs every referral; a million lines would drown the figures.
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::warn);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  std::int64_t i = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    while (i < sizes[k]) {
      std::vector<kafka::Message> batch;
      for (; batch.size() < static_cast<std::size_t>(BATCH) && i < sizes[k]; ++i) {
        const v1::OfferRecorded o = stored_offer(i, now);
        kafka::Message m = test::message(topics::OFFERS, event_types::OFFER_RECORDED,
                                         o.referral_id(), o.SerializeAsString());
        m.offset = i;
        batch.push_back(std::move(m));
      }
      {
        // The data key intake made for each offer, as the router keeps it
        // after the first fetch: the notifications are sealed under it.
        sqlite::Transaction tx(db);
        router::Store store(db);
        for (const auto& m : batch) store.put_data_key(m.key, std::string(32, 'k'));
        tx.commit();
      }
      loop.apply_batch(db, batch);
      sqlite::Transaction tx(db);
      db.exec("DELETE FROM outbox");
      tx.commit();
    }
    {
      sqlite::Transaction tx(db);
      db.exec("DELETE FROM processed_events; DELETE FROM consumer_offsets");
      tx.commit();
    }
    // Every made-up offer became a referral (none refused).
    REQUIRE(loop.applied() == static_cast<std::uint64_t>(i));
    age_referrals(db, path, now);
    REQUIRE(db.checkpoint_truncate());
    fs::copy_file(path, snapshots[k], fs::copy_options::overwrite_existing);
  }
  spdlog::set_level(level);
}
}  // namespace

TEST_CASE("bench router: drain a backlog of offers against a raw consume and SQLite batches",
          "[router]") {
  const std::int64_t n = size("HENVIS_BENCH_N", 20000, 60);
  robustness::RobustStack s({});
  post_backlog(s, "bench-router", n);

  std::vector<double> drain, cpu_us, rss, raw, sqlite_batched;
  Stored rows;
  std::vector<std::pair<std::string, std::int64_t>> sent;
  for (int rep = 0; rep < reps(); ++rep) {
    raw.push_back(raw_consume_per_second(s.bootstrap(), topics::OFFERS, n));

    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.database("router") + suffix);
    const auto t0 = std::chrono::steady_clock::now();
    s.start("router");
    const int port = s.port("router");
    REQUIRE(testing::eventually([&] { return consumer_taken(port) >= static_cast<double>(n); },
                                DRAIN_LIMIT));
    drain.push_back(static_cast<double>(n) / robustness::seconds_since(t0));
    const ProcStats p = proc_stats(s.pid("router"));
    cpu_us.push_back(p.cpu_seconds * 1e6 / static_cast<double>(n));
    rss.push_back(p.rss_mib);
    // The rows it wrote: once the relay has sent every outbox row (each is
    // deleted once Kafka confirms it), the tables' rows and the rows sent.
    REQUIRE(testing::eventually(
        [&] {
          rows = stored_rows(s.database("router"));
          return std::none_of(rows.rows.begin(), rows.rows.end(),
                              [](const auto& r) { return r.first == "outbox"; });
        },
        std::chrono::seconds(60)));
    sent = {{"outbox",
             static_cast<std::int64_t>(testing::metric(port, "henvis_outbox_published_total"))}};
    CHECK(s.stop("router") == 0);

    sqlite_batched.push_back(sqlite_rows_per_second(s.dir(), n, BATCH, EVENT_BYTES));
  }

  std::printf(
      "router drain of %lld offers (router started on an empty database, timed from its "
      "start to the last offer taken):\n",
      static_cast<long long>(n));
  CHECK(
      report("router drain", "events/s", drain,
             {{"raw consume of " + std::string(topics::OFFERS), "msg/s", raw},
              {"SQLite " + std::to_string(BATCH) + " rows per commit", "rows/s", sqlite_batched}}));
  report("router CPU per event", "us", cpu_us);
  report("router RSS after the drain", "MiB", rss);
  // Issue 14's target, a third of the raw consume, against what SQLite can
  // write durably on this disk for the rows a routed offer needs.
  CHECK(report_durable_ceiling("router, durable ceiling", s.dir(), rows, sent, n, BATCH, raw,
                               1.0 / 3));
}

TEST_CASE("bench router: per-event cost with 10 000, 100 000 and 1 000 000 referrals stored",
          "[router]") {
  const std::int64_t n = size("HENVIS_BENCH_N", 20000, 60);
  const std::int64_t largest = size("HENVIS_BENCH_STORED", 1000000, 600);
  const std::vector<std::int64_t> sizes{largest / 100, largest / 10, largest};
  robustness::RobustStack s({});
  post_backlog(s, "bench-router-curve", n);

  // HENVIS_BENCH_ROUTER_DBS: keep the filled databases in this directory and
  // use them again on the next run (while developing).
  const char* keep = std::getenv("HENVIS_BENCH_ROUTER_DBS");
  const fs::path dbs = keep && *keep ? fs::path(keep) : s.dir();
  fs::create_directories(dbs);
  std::vector<fs::path> bases;
  for (auto stored : sizes) bases.push_back(dbs / ("router-" + std::to_string(stored) + ".db"));
  if (!(keep && *keep && fs::exists(bases.back()))) {
    const auto t_fill = std::chrono::steady_clock::now();
    fill_router(dbs / "router-fill.db", sizes, bases);
    std::printf("filled the router's database with %lld referrals in %.0f s\n",
                static_cast<long long>(largest), robustness::seconds_since(t_fill));
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(dbs / ("router-fill.db" + std::string(suffix)));
  }

  std::vector<std::vector<double>> cpu_us(sizes.size()), drain(sizes.size()), rss(sizes.size());
  for (int rep = 0; rep < reps(); ++rep) {
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.database("router") + suffix);
      fs::copy_file(bases[k], s.database("router"));
      const auto t0 = std::chrono::steady_clock::now();
      s.start("router");
      const int port = s.port("router");
      REQUIRE(testing::eventually([&] { return consumer_taken(port) >= static_cast<double>(n); },
                                  DRAIN_LIMIT));
      drain[k].push_back(static_cast<double>(n) / robustness::seconds_since(t0));
      const ProcStats p = proc_stats(s.pid("router"));
      cpu_us[k].push_back(p.cpu_seconds * 1e6 / static_cast<double>(n));
      rss[k].push_back(p.rss_mib);
      CHECK(s.stop("router") == 0);
    }
  }
  if (!(keep && *keep))
    for (const auto& b : bases) fs::remove(b);

  std::printf(
      "router drain of %lld offers on a database already holding %lld, %lld and %lld "
      "referrals (a copy per run, timed from the router's start to the last offer taken):\n",
      static_cast<long long>(n), static_cast<long long>(sizes[0]), static_cast<long long>(sizes[1]),
      static_cast<long long>(sizes[2]));
  CHECK(report_curve("router CPU per event", "us", "referrals stored", sizes, cpu_us));
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const std::string stored = num(static_cast<double>(sizes[k])) + " referrals stored";
    report("router drain, " + stored, "events/s", drain[k]);
    report("router RSS after the drain, " + stored, "MiB", rss[k]);
  }
}
