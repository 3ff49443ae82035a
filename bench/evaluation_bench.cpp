// evaluation: the documented statistics queries against a store of 10 000,
// 100 000 and 1 000 000 referrals (the cost curve), each timed over HTTP on
// the real henvis-evaluation binary, against GET /healthz (a route that does
// nothing) on the same server in the same run; the process's RSS after.
//
// The store is filled through the service's own store code (store.hpp), not
// through Kafka, to reach 1 M quickly: offers, outcomes, deliveries and
// underretninger as the appliers write them, spread like a country's (98
// municipalities, 12 police districts, 36 months). The cells are then marked
// unbuilt, so each start of the service builds them from the facts as after
// the migration that introduced them (timed too: the start to /readyz).

#include <google/protobuf/util/json_util.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>

#include "../tests/robustness/robust_stack.hpp"
#include "aggregates.hpp"
#include "bench.hpp"
#include "evaluation.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/common.pb.h"
#include "henvis/v1/socialsog.pb.h"

using namespace henvis;
using namespace henvis::bench;
namespace ev = henvis::evaluation;

namespace {

constexpr int MUNICIPALITIES = 98;
constexpr int DISTRICTS = 12;
constexpr int MONTHS = 36;  // 2023-01 .. 2025-12
// Facts written per transaction while filling the store.
constexpr std::int64_t FILL_BATCH = 10000;
// Requests not timed before each query's timed ones (connection, caches).
constexpr int WARMUP = 3;

// The documented queries (services/evaluation/openapi.json): the funnel's
// total, the common and the largest groupings, a window, CSV, and the
// underretning table by both date bases. The largest groupings over the
// whole 36 months have more rows than the service's cap (max_rows, 5 000) at
// the larger stores and are refused (400, timed as well); the same groupings
// over two months and a quarter are answered.
const std::vector<std::string> QUERIES = {
    "/v1/stats/referrals",
    "/v1/stats/referrals?groupBy=municipality,month",
    "/v1/stats/referrals?groupBy=municipality,month,offence,district",
    "/v1/stats/referrals?groupBy=municipality,month,offence,district&from=2025-11-01&to=2026-01-01",
    "/v1/stats/referrals?groupBy=district,offence&from=2025-01-01&to=2026-01-01",
    "/v1/stats/referrals?groupBy=month&format=csv",
    "/v1/stats/underretninger?groupBy=week,municipality,district",
    "/v1/stats/underretninger?groupBy=week,municipality,district&from=2025-10-01&to=2026-01-01",
    "/v1/stats/underretninger?groupBy=municipality&dateBasis=incident&from=2025-01-01",
};
// The queries over the cap at the larger stores; every other one must be answered.
const std::set<std::string> MAY_BE_REFUSED = {
    "/v1/stats/referrals?groupBy=municipality,month,offence,district",
    "/v1/stats/underretninger?groupBy=week,municipality,district",
};

std::string day(int month_index, int day_of_month) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", 2023 + month_index / 12, month_index % 12 + 1,
                day_of_month);
  return buf;
}
// `d` days after a 'YYYY-MM-DD' of this generator (days 1..28), crossing into
// the next month past the 28th.
std::string later(int month_index, int day_of_month, int d) {
  const int total = day_of_month + d;
  return total <= 28 ? day(month_index, total) : day(month_index + 1, total - 28);
}

int kommunekode(int m) { return 101 + 8 * m; }
std::string district(int m) { return "district-" + std::to_string(m % DISTRICTS); }

std::int64_t bit(v1::ReferralStatus s) { return std::int64_t{1} << static_cast<int>(s); }

// Offers [from, to) of the generator (deterministic per index) and, for
// every tenth, an underretning, as the appliers store them.
void fill(sqlite::Db& db, std::int64_t from, std::int64_t to) {
  for (std::int64_t i = from; i < to;) {
    sqlite::Transaction tx(db);
    for (std::int64_t k = 0; k < FILL_BATCH && i < to; ++k, ++i) {
      std::mt19937 rng(static_cast<unsigned>(i));
      auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
      const int m = pick(MUNICIPALITIES);
      const int month = pick(MONTHS);
      const int dom = 1 + pick(28);
      const bool yes = pick(100) < 85;
      const std::string id = "bench-" + std::to_string(i);
      ev::store::OfferRow o;
      o.key = yes ? "ref-" + id : id;
      o.offer_id = id;
      o.referral_id = yes ? "ref-" + id : "";
      o.answer = yes ? v1::ANSWER_YES : v1::ANSWER_NO;
      o.kommunekode = kommunekode(m);
      o.district_id = pick(10) == 0 ? district(pick(DISTRICTS)) : district(m);
      const int r = pick(10);
      o.offence = r < 6 ? v1::OFFENCE_DRUNK : r < 9 ? v1::OFFENCE_DRUG : v1::OFFENCE_BOTH;
      o.charged_day = day(month, dom);
      o.covered = true;
      ev::store::upsert_offer(db, o);
      if (yes) {
        const std::string centre = "rusmiddelcenter-" + std::to_string(o.kommunekode);
        std::int64_t mask = bit(v1::REFERRAL_STATUS_RECEIVED);
        std::optional<std::string> first_contact;
        if (pick(100) < 95) {
          mask |= bit(v1::REFERRAL_STATUS_ROUTED);
          if (pick(100) < 90) ev::store::add_delivery(db, o.referral_id, centre);
          if (pick(100) < 70) {
            mask |= bit(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED);
            first_contact = later(month, dom, pick(21));
            if (pick(100) < 60) mask |= bit(v1::REFERRAL_STATUS_CONVERSATION_HELD);
            if (pick(100) < 25) mask |= bit(v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED);
          }
        } else {
          mask |= bit(v1::REFERRAL_STATUS_UNROUTABLE);
        }
        if (pick(100) < 2) mask |= bit(v1::REFERRAL_STATUS_WITHDRAWN);
        ev::store::merge_referral(
            db, {o.key, o.offer_id, o.referral_id, centre, mask, std::move(first_contact)});
      }
      if (i % 10 == 0) {
        ev::store::UnderretningRow u;
        u.underretning_id = "u-" + id;
        u.created_day = day(month, dom);
        u.kommunekode = pick(20) == 0 ? 0 : o.kommunekode;
        u.district_id = o.district_id;
        u.children = 1 + pick(3);
        u.cross_district = pick(5) == 0;
        u.cross_municipality = pick(8) == 0;
        const auto created =
            std::chrono::sys_days(std::chrono::year{2023 + month / 12} / (month % 12 + 1) / dom);
        if (u.kommunekode != 0) u.receipt_due_at = created + std::chrono::days(8);
        if (u.receipt_due_at && pick(3) != 0) u.receipt_at = created + std::chrono::days(pick(12));
        u.response = pick(4);
        u.state_at = created + std::chrono::days(20);
        if (pick(10) < 8) u.incident_day = day(month, 1 + pick(dom));
        ev::store::merge_underretning(db, u);
      }
    }
    tx.commit();
  }
  // As after the migration that introduced the cells: built at the next start.
  ev::store::set_cells_built_for(db, std::nullopt);
}

// One HTTP/1.1 keep-alive connection to 127.0.0.1 that reads an answer in
// large chunks and keeps only its size: the time is the server's and the
// loopback's, not a client's parsing (on this 2-core machine a client that
// parses a 1.5 MiB answer competes with the server for the CPU).
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("cannot connect to the evaluation");
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // GET `target` as the evaluator: the status and the body's size.
  std::pair<int, std::size_t> get(const std::string& target) {
    const std::string req = "GET " + target +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                            "dev-evaluator\r\nConnection: keep-alive\r\n\r\n";
    for (std::size_t sent = 0; sent < req.size();) {
      const ssize_t n = ::send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
    std::size_t end;
    while ((end = head_.find("\r\n\r\n")) == std::string::npos) fill();
    std::string head = head_.substr(0, end);
    head_.erase(0, end + 4);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto cl = head.find("content-length:");
    if (cl == std::string::npos) throw std::runtime_error("an answer without content-length");
    const std::size_t length = std::stoull(head.substr(cl + 15));
    const int status = std::stoi(head.substr(head.find(' ') + 1));
    std::size_t have = std::min(length, head_.size());
    head_.erase(0, have);
    while (have < length) {
      const ssize_t n = ::recv(fd_, buf_, std::min(sizeof buf_, length - have), 0);
      if (n <= 0) throw std::runtime_error("connection closed");
      have += static_cast<std::size_t>(n);
    }
    return {status, length};
  }

 private:
  void fill() {
    const ssize_t n = ::recv(fd_, buf_, sizeof buf_, 0);
    if (n <= 0) throw std::runtime_error("connection closed");
    head_.append(buf_, static_cast<std::size_t>(n));
  }
  int fd_;
  std::string head_;  // read past the last answer: the next one's start
  char buf_[1 << 16];
};

// `n` GET `target` on one keep-alive connection as the evaluator: each
// request's milliseconds (after WARMUP untimed ones) and the answer's size.
struct Timed {
  std::vector<double> ms;
  std::size_t bytes = 0;
  int status = 0;  // 200, or 400 for a query over the row cap
};
Timed timed(int port, const std::string& target, int n) {
  RawClient client(port);
  Timed out;
  for (int i = 0; i < WARMUP + n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto [status, bytes] = client.get(target);
    const double took = robustness::seconds_since(t0) * 1000;
    if (status != 200 && !(status == 400 && MAY_BE_REFUSED.count(target)))
      throw std::runtime_error(target + ": " + std::to_string(status));
    if (i >= WARMUP) out.ms.push_back(took);
    out.bytes = bytes;
    out.status = status;
  }
  return out;
}

// The query's answer computed in this process, without HTTP: from every fact
// of the store as the service did before the cells (load_facts, the reference
// the unit tests compare the cells with), or from the cells as it does now.
// Milliseconds, the message serialized as an answer is (JSON).
double in_process_ms(const std::string& db_path, const std::map<std::string, std::string>& params,
                     bool from_facts) {
  sqlite::Db db(db_path);
  const ev::CellKey key(std::string(ev::CellKey::KEY_BYTES, 'b'));
  const auto q = ev::parse_query(params);
  const auto t0 = std::chrono::steady_clock::now();
  const auto stats =
      from_facts ? ev::compute(ev::load_facts(db, q, key), q, ev::DEFAULT_MIN_CELL, Directory())
                 : ev::compute(ev::aggregates::referral_cells(db, q), q, ev::DEFAULT_MIN_CELL,
                               Directory());
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(stats, &json).ok() || json.empty())
    throw std::runtime_error("no answer");
  return robustness::seconds_since(t0) * 1000;
}

}  // namespace

TEST_CASE(
    "bench evaluation: statistics queries at 10k, 100k and 1M stored referrals against "
    "healthz",
    "[evaluation]") {
  const std::int64_t largest = size("HENVIS_BENCH_N", 1000000, 1000);
  const int requests = static_cast<int>(size("HENVIS_BENCH_REQUESTS", 50, 3));
  robustness::RobustStack s({});
  s.start_broker();
  testing::write_service_config(s.dir(), "evaluation");
  {
    sqlite::Db db(s.database("evaluation"));
    db.migrate(ev::migrations());
  }

  std::vector<double> largest_p50;
  std::int64_t stored = 0;
  for (const std::int64_t n : {largest / 100, largest / 10, largest}) {
    if (s.running("evaluation")) CHECK(s.stop("evaluation") == 0);
    {
      sqlite::Db db(s.database("evaluation"));
      fill(db, stored, n);
      stored = n;
    }
    const auto t0 = std::chrono::steady_clock::now();
    s.start("evaluation");
    const double start_s = robustness::seconds_since(t0);
    const double start_peak_mib = proc_stats(s.pid("evaluation")).peak_mib;
    const int port = s.port("evaluation");

    std::map<std::string, std::vector<double>> p50, p99;
    std::map<std::string, std::size_t> bytes;
    std::map<std::string, int> status;
    std::vector<double> healthz_p50, healthz_p99, old_path, new_path;
    for (int rep = 0; rep < reps(); ++rep) {
      for (const auto& q : QUERIES) {
        const auto t = timed(port, q, requests);
        p50[q].push_back(percentile(t.ms, 0.5));
        p99[q].push_back(percentile(t.ms, 0.99));
        bytes[q] = t.bytes;
        status[q] = t.status;
      }
      const auto t = timed(port, "/healthz", requests);
      healthz_p50.push_back(percentile(t.ms, 0.5));
      healthz_p99.push_back(percentile(t.ms, 0.99));
      const std::map<std::string, std::string> grouped = {{"groupBy", "municipality,month"}};
      old_path.push_back(in_process_ms(s.database("evaluation"), grouped, true));
      new_path.push_back(in_process_ms(s.database("evaluation"), grouped, false));
    }
    const ProcStats p = proc_stats(s.pid("evaluation"));

    std::printf(
        "evaluation with %lld referrals and %lld underretninger stored (%d requests per query "
        "and run, one keep-alive connection; started in %.1f s with its cells built from the "
        "facts):\n",
        static_cast<long long>(n), static_cast<long long>((n + 9) / 10), requests, start_s);
    double worst = 0;
    for (const auto& q : QUERIES) {
      if (status[q] == 200)
        std::printf("  %s: answer of %s KiB\n", q.c_str(),
                    num(static_cast<double>(bytes[q]) / 1024).c_str());
      else
        std::printf("  %s: refused, 400 (more rows than max_rows)\n", q.c_str());
      CHECK(report("  " + q + " p50", "ms", p50[q],
                   {{"GET /healthz p50 on the same server", "ms", healthz_p50}}));
      CHECK(report("  " + q + " p99", "ms", p99[q],
                   {{"GET /healthz p99 on the same server", "ms", healthz_p99}}));
      worst = std::max(worst, spread(p50[q]).median);
    }
    largest_p50.push_back(worst);
    CHECK(report("  groupBy=municipality,month in the bench process (no HTTP), from the cells",
                 "ms", new_path,
                 {{"from every fact as before the cells (load_facts)", "ms", old_path}}));
    CHECK(report("  evaluation start (cells built from the facts)", "s", {start_s}));
    CHECK(report("  evaluation RSS after the queries", "MiB", {p.rss_mib}));
    CHECK(report("  evaluation peak RSS at start (VmHWM, the cells built from the facts)", "MiB",
                 {start_peak_mib}));
    CHECK(report("  evaluation peak RSS over the start and the queries (VmHWM)", "MiB",
                 {proc_stats(s.pid("evaluation")).peak_mib}));
  }
  std::printf(
      "evaluation cost curve, the slowest query's p50 at %lld / %lld / %lld referrals: %s / %s / "
      "%s ms (ratio of the largest to the smallest store %s)\n",
      static_cast<long long>(largest / 100), static_cast<long long>(largest / 10),
      static_cast<long long>(largest), num(largest_p50[0]).c_str(), num(largest_p50[1]).c_str(),
      num(largest_p50[2]).c_str(), num(largest_p50[2] / largest_p50[0]).c_str());
  CHECK(s.stop("evaluation") == 0);
}
