#include "robust_stack.hpp"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "../integration/real_kafka.hpp"
#include "henvis/http_client.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/common.pb.h"
#include "henvis/v1/events.pb.h"

namespace henvis::robustness {

namespace fs = std::filesystem;
using testing::eventually;
using testing::HttpResult;
using testing::Process;

namespace {
// Sanitizer builds start slowly; a restart under load takes longer still.
constexpr auto READY_TIMEOUT = std::chrono::seconds(120);
// One HTTP request may take this long before the client calls it a
// connection error and retries (the intake fsyncs every offer).
constexpr auto REQUEST_TIMEOUT = std::chrono::seconds(60);
// Pause before retrying a refused or failed request (a restart is under way).
constexpr auto RETRY_PAUSE = std::chrono::milliseconds(50);
// How long the broker may take to apply a control command.
constexpr auto CONTROL_TIMEOUT = std::chrono::seconds(10);
constexpr const char* SERVICES[] = {"intake", "router", "notifier"};
// The programme municipalities of deploy/config/dev/directory.textproto.
constexpr int PROGRAMME[] = {657, 661, 665, 671, 740, 756, 760, 773, 779, 787, 791};
constexpr int AARHUS = 751;  // not in the programme

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}
}  // namespace

std::int64_t env_int(const char* name, std::int64_t dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  return std::stoll(v);
}

// The crash test posts 100 000 offers as one officer from loopback as fast as
// the intake takes them: above the default rate limits, on purpose.
const char* const UNLIMITED =
    "rate_limit { per_address_per_second: 1000000 "
    "per_address_burst: 1000000 per_principal_per_second: 1000000 "
    "per_principal_burst: 1000000 }";

RobustStack::RobustStack(Options o) : opt_(o), dir_(testing::make_temp_dir("henvis-robust")) {
  for (const std::string s : SERVICES) testing::write_service_config(dir_, s, "", UNLIMITED);
}

RobustStack::~RobustStack() {
  for (const std::string s : {"intake", "router", "notifier", "devbroker"}) procs_.erase(s);
  if (!std::getenv("HENVIS_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string RobustStack::database(const std::string& s) const {
  return (dir_ / (s + ".db")).string();
}

void RobustStack::start_broker() {
  if (testing::use_real_kafka(dir_)) return;
  std::vector<std::string> args{"--bootstrap-file", (dir_ / "bootstrap.txt").string(),
                                "--partitions", std::to_string(opt_.partitions)};
  if (opt_.control_fifo) {
    args.push_back("--control-fifo");
    args.push_back((dir_ / "control.fifo").string());
  }
  procs_["devbroker"] =
      std::make_unique<Process>(std::string(HENVIS_BUILD_DIR) + "/tools/devbroker/henvis-devbroker",
                                args, dir_ / "devbroker.log");
  if (!eventually([&] { return fs::exists(dir_ / "bootstrap.txt"); }, READY_TIMEOUT))
    throw std::runtime_error("devbroker did not start");
}

std::string RobustStack::bootstrap() const {
  std::ifstream in(dir_ / "bootstrap.txt");
  std::string line;
  std::getline(in, line);
  return line;
}

int RobustStack::readyz(const std::string& s) {
  try {
    return testing::http("GET", ports_.at(s), "/readyz").status;
  } catch (const std::exception&) {
    return 0;
  }
}

void RobustStack::start(const std::string& s) {
  const auto intake = ports_.find("intake");
  if (const auto keys =
          testing::data_keys_config(dir_, s, intake == ports_.end() ? 0 : intake->second);
      !keys.empty())
    testing::write_service_config(dir_, s, keys, UNLIMITED);
  procs_.erase(s);
  procs_[s] = testing::start_service(dir_, s, ports_[s], READY_TIMEOUT);
}

void RobustStack::kill(const std::string& s, int sig) {
  procs_.at(s)->signal(sig);
  procs_.at(s)->wait(std::chrono::seconds(20));
}

int RobustStack::stop(const std::string& s) { return procs_.at(s)->stop(); }

bool RobustStack::running(const std::string& s) {
  auto it = procs_.find(s);
  return it != procs_.end() && it->second->running();
}

int RobustStack::pid(const std::string& s) const {
  auto it = procs_.find(s);
  return it == procs_.end() ? -1 : it->second->pid();
}

void RobustStack::control(const std::string& line) {
  const fs::path log = dir_ / "devbroker.log";
  {
    int fd = ::open((dir_ / "control.fifo").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open the control FIFO");
    const std::string l = line + "\n";
    ssize_t n = ::write(fd, l.data(), l.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(l.size())) throw std::runtime_error("short control write");
  }
  ++control_log_seen_;
  std::string text;
  bool seen = eventually(
      [&] {
        text = read_file(log);
        return count_of(text, "control ok: ") + count_of(text, "control error: ") >=
               control_log_seen_;
      },
      CONTROL_TIMEOUT);
  if (!seen) throw std::runtime_error("devbroker did not apply: " + line);
  if (text.find("control error: " + line) != std::string::npos)
    throw std::runtime_error("devbroker refused: " + line);
}

// ---- keep-alive client ----------------------------------------------------

struct KeepAliveClient::Impl {
  std::optional<http::Connection> connection;
};

KeepAliveClient::KeepAliveClient(int port) : impl_(std::make_unique<Impl>()), port_(port) {}
KeepAliveClient::~KeepAliveClient() = default;

std::optional<HttpResult> KeepAliveClient::request(const std::string& method,
                                                   const std::string& target,
                                                   const std::string& token,
                                                   const std::string& body) {
  auto& c = impl_->connection;
  if (!c || !c->is_open())
    c.emplace(http::Endpoint{"127.0.0.1", std::to_string(port_)},
              http::ClientOptions{REQUEST_TIMEOUT});
  try {
    auto r = c->request(method, target, testing::api_headers(token, body), body);
    return HttpResult{r.status, std::move(r.content_type), std::move(r.body), std::move(r.headers)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ---- the offer stream -----------------------------------------------------

Offer make_offer(const std::string& run, int i) {
  Offer o;
  o.id = run + "-" + std::to_string(i);
  int kommune;
  if (i % 10 == 9) {
    o.yes = false;
    kommune = PROGRAMME[i % std::size(PROGRAMME)];
  } else if (i % 50 == 7) {
    o.yes = true;
    kommune = AARHUS;
  } else {
    o.yes = true;
    o.routable = true;
    kommune = PROGRAMME[(i / 3) % std::size(PROGRAMME)];
  }
  // A distinct, valid CPR number per offer (no modulus-11 rule; 7th digit
  // 0-3 means born 1900-1999), so that the router's repeat count per person
  // stays small as in real life.
  char cpr[64];
  std::snprintf(cpr, sizeof cpr, "%02d%02d%02d-%04d", i % 28 + 1, (i / 28) % 12 + 1,
                50 + (i / 336) % 50, (i / 16800) % 4000);
  o.body = testing::offer_json(o.id, kommune, o.yes, cpr);
  return o;
}

ExpectedOffers expected_offers(const std::string& run, int n) {
  ExpectedOffers e;
  for (int i = 0; i < n; ++i) {
    const Offer o = make_offer(run, i);
    e.yes += o.yes;
    e.routable += o.routable;
  }
  return e;
}

void post_offers(OfferStream& st, const std::string& run, int n, int threads, int intake_port,
                 double rate) {
  std::vector<std::thread> ts;
  const auto start = std::chrono::steady_clock::now();
  // Paced from where this call starts: a later call continues the stream.
  const int first = st.next.load();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      KeepAliveClient client(intake_port);
      for (;;) {
        // Take the next index only if it is below n: a later call with a
        // larger n posts the rest.
        int i = st.next.load();
        do {
          if (i >= n || st.failed.load()) return;
        } while (!st.next.compare_exchange_weak(i, i + 1));
        if (rate > 0)
          std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<std::int64_t>(
                                                    (i - first) * 1e6 / rate)));
        const Offer o = make_offer(run, i);
        for (;;) {
          auto r = client.request("POST", "/v1/offers", "dev-officer-mvj", o.body);
          if (r && r->status == 201) break;
          if (r && r->status < 500) {
            st.failure = "offer " + o.id + " got " + std::to_string(r->status) + ": " + r->body;
            st.failed.store(true);
            return;
          }
          ++st.retries;
          std::this_thread::sleep_for(RETRY_PAUSE);
        }
        ++st.accepted;
      }
    });
  }
  for (auto& t : ts) t.join();
}

// ---- Kafka census ---------------------------------------------------------

Census census(const std::string& bootstrap, const std::string& topic) {
  // High watermarks first, then read up to them.
  kafka::Consumer c(bootstrap, "henvis-robustness-census");
  std::int64_t total = 0;
  Census out;
  {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) throw std::runtime_error(err);
    const int parts = kafka::partition_count(rk, topic, 30000);
    for (int p = 0; p < parts; ++p) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000))
        throw std::runtime_error("watermarks of " + topic);
      total += hi - lo;
      if (lo > 0) out.truncated = true;
    }
    rd_kafka_destroy(rk);
  }
  c.assign({topic}, {}, 30000);
  std::set<std::string> ids;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (out.messages < total && std::chrono::steady_clock::now() < deadline) {
    for (const auto& m : c.poll_batch(10000, 500)) {
      ++out.messages;
      ids.insert(m.header(kafka::header::ID).value_or(""));
    }
  }
  out.distinct_ids = static_cast<std::int64_t>(ids.size());
  return out;
}

std::map<std::string, Census> census_all(const std::string& bootstrap) {
  std::map<std::string, Census> out;
  for (const char* t : {topics::OFFERS, topics::NOTIFICATIONS, topics::DELIVERIES})
    out[t] = census(bootstrap, t);
  for (const char* t : DLQ_TOPICS) out[t] = census(bootstrap, t);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// ---- audit ----------------------------------------------------------------

namespace {
std::int64_t scalar(sqlite::Db& db, const std::string& sql) {
  sqlite::Stmt s(db, sql);
  if (!s.step()) return -1;
  return s.i64(0);
}

bool integrity(const std::string& path, std::vector<std::string>& problems) {
  sqlite::Db db(path);
  sqlite::Stmt s(db, "PRAGMA integrity_check");
  std::string r = s.step() ? s.text(0) : "no answer";
  if (r != "ok") problems.push_back(path + ": integrity_check: " + r);
  return r == "ok";
}
}  // namespace

bool wait_settled(RobustStack& s, std::int64_t yes, std::int64_t routable,
                  std::chrono::seconds timeout) {
  const std::string delivered = std::to_string(v1::REFERRAL_STATUS_DELIVERED);
  return eventually(
      [&] {
        try {
          sqlite::Db r(s.database("router"));
          sqlite::Db n(s.database("notifier"));
          sqlite::Db i(s.database("intake"));
          return scalar(r, "SELECT count(*) FROM referrals") >= yes &&
                 scalar(n, "SELECT count(*) FROM inbox") >= yes &&
                 scalar(r, "SELECT count(*) FROM referral_history WHERE status = " + delivered) >=
                     routable &&
                 scalar(i, "SELECT count(*) FROM outbox") == 0 &&
                 scalar(r, "SELECT count(*) FROM outbox") == 0 &&
                 scalar(n, "SELECT count(*) FROM outbox") == 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout);
}

Audit audit(RobustStack& s, std::int64_t expected_offers, std::int64_t yes, std::int64_t routable,
            const std::map<std::string, Census>& topics) {
  Audit a;
  for (const std::string svc : SERVICES)
    a.integrity_ok = integrity(s.database(svc), a.problems) && a.integrity_ok;

  auto expect = [&](const std::string& what, std::int64_t got, std::int64_t want,
                    std::int64_t* lost_or_dup_sink = nullptr) {
    if (got != want) {
      a.problems.push_back(what + ": " + std::to_string(got) + ", expected " +
                           std::to_string(want));
      if (lost_or_dup_sink) *lost_or_dup_sink += got < want ? want - got : got - want;
    }
  };
  const std::string YES = std::to_string(v1::ANSWER_YES);
  const std::string RECEIVED = std::to_string(v1::REFERRAL_STATUS_RECEIVED);
  const std::string ROUTED = std::to_string(v1::REFERRAL_STATUS_ROUTED);
  const std::string UNROUTABLE = std::to_string(v1::REFERRAL_STATUS_UNROUTABLE);
  const std::string DELIVERED = std::to_string(v1::REFERRAL_STATUS_DELIVERED);
  const std::string NEW_REFERRAL = std::to_string(v1::NOTIFICATION_KIND_NEW_REFERRAL);

  sqlite::Db db(s.database("router"));
  db.exec("ATTACH DATABASE '" + s.database("intake") + "' AS intake");
  db.exec("ATTACH DATABASE '" + s.database("notifier") + "' AS notifier");

  // Intake: every accepted offer recorded once (offer_id is its key).
  a.offers = scalar(db, "SELECT count(*) FROM intake.offers");
  a.yes = scalar(db, "SELECT count(*) FROM intake.offers WHERE answer = " + YES);
  if (a.offers < expected_offers) a.lost += expected_offers - a.offers;
  expect("intake offers", a.offers, expected_offers);
  expect("intake yes offers", a.yes, yes);

  // Router: every yes offer is exactly one referral.
  a.referrals = scalar(db, "SELECT count(*) FROM referrals");
  a.lost +=
      scalar(db, "SELECT count(*) FROM intake.offers o WHERE o.answer = " + YES +
                     " AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.offer_id = o.offer_id)");
  a.duplicated += a.referrals - scalar(db, "SELECT count(DISTINCT offer_id) FROM referrals");
  expect("referrals", a.referrals, yes);
  expect("referrals from no-offers",
         scalar(db,
                "SELECT count(*) FROM referrals r JOIN intake.offers o USING (offer_id) "
                "WHERE o.answer != " +
                    YES),
         0, &a.duplicated);
  a.routable = scalar(db, "SELECT count(*) FROM referrals WHERE centre_id != ''");
  expect("routable referrals", a.routable, routable);

  // History: received once, routed or unroutable once, delivered once if
  // routed; no (referral, status) pair twice.
  a.duplicated += scalar(db,
                         "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) c FROM "
                         "referral_history GROUP BY referral_id, status HAVING c > 1)");
  expect("history received",
         scalar(db, "SELECT count(*) FROM referral_history WHERE status = " + RECEIVED), yes);
  expect("history routed+unroutable",
         scalar(db, "SELECT count(*) FROM referral_history WHERE status IN (" + ROUTED + "," +
                        UNROUTABLE + ")"),
         yes);
  const std::int64_t delivered = scalar(
      db, "SELECT count(DISTINCT referral_id) FROM referral_history WHERE status = " + DELIVERED);
  if (delivered < routable) a.lost += routable - delivered;
  expect("history delivered", delivered, routable);
  expect("history rows", scalar(db, "SELECT count(*) FROM referral_history"), 2 * yes + routable,
         nullptr);

  // Notifier: every referral in exactly one inbox entry.
  a.inbox = scalar(db, "SELECT count(*) FROM notifier.inbox");
  const std::int64_t new_ref =
      scalar(db, "SELECT count(*) FROM notifier.inbox WHERE kind = " + NEW_REFERRAL);
  a.duplicated += a.inbox - scalar(db, "SELECT count(DISTINCT referral_id) FROM notifier.inbox");
  a.duplicated +=
      new_ref - scalar(db, "SELECT count(DISTINCT referral_id) FROM notifier.inbox WHERE kind = " +
                               NEW_REFERRAL);
  a.lost += scalar(db,
                   "SELECT count(*) FROM referrals r WHERE NOT EXISTS (SELECT 1 FROM "
                   "notifier.inbox i WHERE i.referral_id = r.referral_id)");
  expect("inbox entries", a.inbox, yes);
  expect("inbox NEW_REFERRAL entries", new_ref, routable);
  expect("inbox entries for the referral's centre",
         scalar(db,
                "SELECT count(*) FROM notifier.inbox i JOIN referrals r USING (referral_id) "
                "WHERE r.centre_id != '' AND i.recipient_id = r.centre_id"),
         routable);

  // Nothing left unpublished.
  for (const std::string svc : SERVICES) {
    const std::string schema = svc == "router" ? "main" : svc;
    expect(svc + " outbox rows left", scalar(db, "SELECT count(*) FROM " + schema + ".outbox"), 0);
  }

  // Each event applied once, none skipped: every offer is one event for the
  // router, every inbox entry one delivery event back to it, every referral
  // one notification event for the notifier; the processed-ids tables (one
  // row per applied ce_id) must hold exactly those.
  a.processed_router = scalar(db, "SELECT count(*) FROM processed_events");
  a.processed_notifier = scalar(db, "SELECT count(*) FROM notifier.processed_events");
  expect("router processed events (offers + deliveries)", a.processed_router,
         expected_offers + a.inbox);
  expect("notifier processed events (notifications)", a.processed_notifier, yes);
  a.events = a.processed_router + a.processed_notifier;
  auto topic = [&](const char* t) {
    auto it = topics.find(t);
    return it == topics.end() ? Census{} : it->second;
  };
  const Census offers = topic(topics::OFFERS), deliveries = topic(topics::DELIVERIES),
               notifications = topic(topics::NOTIFICATIONS);
  a.resent = (offers.messages - offers.distinct_ids) +
             (deliveries.messages - deliveries.distinct_ids) +
             (notifications.messages - notifications.distinct_ids);
  // And Kafka carried exactly those events (re-sent copies share a ce_id),
  // where the mock still holds the whole topic: notifications and deliveries
  // are keyed by recipient, so with few recipients their partitions pass the
  // mock's 5 MiB and it drops the oldest (already consumed) messages.
  for (const auto& [name, c] : topics)
    if (c.truncated) a.truncated_topics.push_back(name);
  if (!offers.truncated)
    expect("distinct offer events on Kafka", offers.distinct_ids, expected_offers);
  if (!notifications.truncated)
    expect("distinct notification events on Kafka", notifications.distinct_ids, yes);
  if (!deliveries.truncated)
    expect("distinct delivery events on Kafka", deliveries.distinct_ids, a.inbox);
  // Dead-letter topics stay empty: every event was valid.
  for (const char* dlq : {"henvis.offers.v1.dlq.router", "henvis.deliveries.v1.dlq.router",
                          "henvis.notifications.v1.dlq.notifier"}) {
    auto it = topics.find(dlq);
    if (it != topics.end()) expect(std::string("messages in ") + dlq, it->second.messages, 0);
  }
  return a;
}

}  // namespace henvis::robustness
