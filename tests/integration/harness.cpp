#include "harness.hpp"

#include "real_kafka.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "henvis/digest.hpp"
#include "henvis/http_client.hpp"
#include "henvis/ids.hpp"

extern char** environ;

namespace henvis::testing {

namespace fs = std::filesystem;

namespace {
// A service must be ready this long after start (sanitizer builds are slow).
constexpr auto READY_TIMEOUT = std::chrono::seconds(90);
constexpr auto STOP_GRACE = std::chrono::seconds(20);
constexpr auto POLL_PAUSE = std::chrono::milliseconds(100);

std::string rfc3339_minutes_ago(int minutes) {
  auto t = std::chrono::system_clock::now() - std::chrono::minutes(minutes);
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

fs::path make_temp_dir(const std::string& prefix) {
  fs::path p = fs::temp_directory_path() / (prefix + "-" + new_uuid());
  fs::create_directories(p);
  return p;
}

Process::Process(const std::string& exe, const std::vector<std::string>& args,
                 const fs::path& log) {
  std::vector<std::string> all{exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  // fork + exec rather than posix_spawn, for the one step posix_spawn cannot
  // do: the child asks to be killed when its parent thread ends. Only
  // async-signal-safe calls between fork and exec. The constructor returns
  // once the child has exec'd (the close-on-exec pipe reads EOF), so the
  // death signal is armed before the starting thread could end; an errno
  // read from it means the child never ran `exe`.
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("cannot start " + exe);
  const std::string log_path = log.string();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(ready[0]);
    ::close(ready[1]);
    throw std::runtime_error("cannot start " + exe);
  }
  if (pid_ == 0) {
    ::close(ready[0]);
    int fd = -1;
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 &&
        (fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0 &&
        ::dup2(fd, 1) >= 0 && ::dup2(fd, 2) >= 0)
      ::execve(exe.c_str(), argv.data(), environ);
    const int err = errno;
    (void)!::write(ready[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(ready[1]);
  int err = 0;
  ssize_t n;
  do n = ::read(ready[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  ::close(ready[0]);
  if (n > 0) {
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw std::runtime_error("cannot start " + exe + ": " + std::strerror(err));
  }
}

Process::~Process() {
  if (running()) stop();
}

void Process::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  int r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

int Process::stop() {
  signal(SIGTERM);
  int st = wait(STOP_GRACE);
  if (st == -1) {
    signal(SIGKILL);
    st = wait(STOP_GRACE);
  }
  return st;
}

http::Headers api_headers(const std::string& token, const std::string& body) {
  http::Headers h;
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  if (!body.empty()) h.emplace_back("Content-Type", "application/json");
  return h;
}

HttpResult http(const std::string& method, int port, const std::string& target,
                const std::string& token, const std::string& body) {
  return http(method, port, target, token, body, {});
}

HttpResult http(const std::string& method, int port, const std::string& target,
                const std::string& token, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& extra) {
  auto headers = api_headers(token, body);
  headers.insert(headers.end(), extra.begin(), extra.end());
  http::ClientOptions options;
  if (tls_ca()) options.ca_file = tls_ca()->ca();
  auto r = http::request({"127.0.0.1", std::to_string(port), tls_ca() != nullptr}, method, target,
                         headers, body, options);
  return {r.status, std::move(r.content_type), std::move(r.body), std::move(r.headers)};
}

std::string HttpResult::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
  return {};
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(POLL_PAUSE);
  }
}

std::string read_all_databases(const fs::path& dir) {
  std::string all;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.find(".db") == std::string::npos) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

namespace {
const TestCa* live_tls_ca = nullptr;  // the TLS stack's, while it lives
}  // namespace

const TestCa* tls_ca() { return live_tls_ca; }

Stack::Stack(std::map<std::string, std::string> extra, bool tls)
    : extra_config_(std::move(extra)), dir_(make_temp_dir("henvis-it")) {
  if (tls) {
    if (live_tls_ca) throw std::logic_error("one TLS stack at a time");
    tls_ = make_test_ca(dir_ / "tls");
    live_tls_ca = &*tls_;
  }
  for (const std::string s : {"intake", "router", "notifier", "evaluation", "socialsog"})
    write_service_config(dir_, s, extra_config_[s]);
}

std::vector<std::pair<std::string, std::string>> person_headers(const std::string& person,
                                                                const std::string& role,
                                                                const std::string& scope) {
  return {{"Henvis-Person", person}, {"Henvis-Person-Role", role}, {"Henvis-Person-Scope", scope}};
}

namespace {
// dir/tokens.textproto: the dev tokens and DELEGATING_TOKEN (henvis-web's kind).
fs::path write_tokens(const fs::path& dir, const fs::path& dev_tokens) {
  const fs::path path = dir / "tokens.textproto";
  std::ofstream(path) << slurp(dev_tokens) << "\ntokens {\n  label: \"" << DELEGATING_TOKEN
                      << "\"\n  sha256_hex: \"" << sha256_hex(DELEGATING_TOKEN)
                      << "\"\n  delegating: true\n}\n";
  return path;
}
}  // namespace

namespace {
// The http.tls block of a TLS stack's configs, else "".
std::string tls_block() {
  if (!tls_ca()) return {};
  return "tls { cert_chain_file: \"" + tls_ca()->cert() + "\" key_file: \"" + tls_ca()->key() +
         "\" }";
}
}  // namespace
std::string service_token(const std::string& service) { return "dev-service-" + service; }

std::string data_keys_config(const fs::path& dir, const std::string& service, int intake_port) {
  if ((service != "router" && service != "notifier") || intake_port == 0) return "";
  const fs::path token = dir / (service + "-data-key-token");
  std::ofstream(token) << service_token(service) << "\n";
  const std::string scheme = tls_ca() ? "https" : "http";
  const std::string ca = tls_ca() ? " ca_file: \"" + tls_ca()->ca() + "\"" : "";
  return "\ndata_keys { intake_url: \"" + scheme + "://127.0.0.1:" + std::to_string(intake_port) +
         "\" token_file: \"" + token.string() + "\"" + ca + " }\n";
}

std::string underretning_keys_config(const fs::path& dir, const std::string& service,
                                     int socialsog_port) {
  if (service != "notifier" || socialsog_port == 0) return "";
  const fs::path token = dir / (service + "-data-key-token");
  std::ofstream(token) << service_token(service) << "\n";
  const std::string scheme = tls_ca() ? "https" : "http";
  const std::string ca = tls_ca() ? " ca_file: \"" + tls_ca()->ca() + "\"" : "";
  return "\nunderretning_keys { socialsog_url: \"" + scheme +
         "://127.0.0.1:" + std::to_string(socialsog_port) + "\" token_file: \"" + token.string() +
         "\"" + ca + " }\n";
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("no free port");
  return ntohs(a.sin_port);
}

namespace {
// Outside dev the router's person key, the evaluation's cell key and
// intake's partition key must be files (docs/decisions.md 23, 24): `extra`
// with a key file written into `dir` and named in the service's settings
// block (that block added if absent).
std::string with_key_file(const fs::path& dir, const std::string& service, std::string extra) {
  const std::string field = service == "router"       ? "person_key_file"
                            : service == "evaluation" ? "cell_key_file"
                            : service == "intake"     ? "partition_key_file"
                                                      : "";
  if (field.empty()) return extra;
  const fs::path key = dir / (service + "-key");
  std::ofstream(key) << std::string(32, 'k');
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  const std::string named = field + ": \"" + key.string() + "\" ";
  const std::string block = service + " {";
  const auto at = extra.find(block);
  if (at == std::string::npos) return extra + "\n" + block + " " + named + "}\n";
  return extra.insert(at + block.size(), " " + named);
}
}  // namespace

namespace {
// On henvis-devbroker, the dev configs' short fetch wait (deploy/config/dev):
// librdkafka's mock broker holds an empty fetch for all of fetch.wait.max.ms
// even after data arrived, so with the default 500 ms every hop waited it out.
// Apache Kafka answers as soon as data arrives: nothing is set there.
std::string devbroker_fetch_wait() {
  if (real_kafka_bootstrap()) return "";
  return " properties { key: \"fetch.wait.max.ms\" value: \"10\" }";
}
}  // namespace

void write_service_config(const fs::path& dir, const std::string& service, const std::string& extra,
                          const std::string& http_extra, const std::string& kafka_extra) {
  const fs::path conf = fs::path(HENVIS_SOURCE_DIR) / "deploy/config/dev";
  const fs::path tokens = write_tokens(dir, conf / "tokens.textproto");
  std::ofstream out(dir / (service + ".textproto"));
  out << "service: \"" << service << "\"\n"
      << "kafka { bootstrap_file: \"" << (dir / "bootstrap.txt").string() << "\""
      << kafka_tls_fields(service) << " " << kafka_extra << devbroker_fetch_wait() << " }\n"
      << "http { address: \"127.0.0.1\" port: 0 " << http_extra << tls_block() << " }\n"
      << (tls_ca() ? "" : "dev: true\n") << "database: \"" << (dir / (service + ".db")).string()
      << "\"\n"
      << "directory_file: \"" << (conf / "directory.textproto").string() << "\"\n"
      << "tokens_file: \"" << tokens.string() << "\"\n"
      << (tls_ca() ? with_key_file(dir, service, extra) : extra);
}

std::unique_ptr<Process> start_service(const fs::path& dir, const std::string& service, int& port,
                                       std::chrono::milliseconds timeout) {
  const fs::path port_file = dir / (service + ".port");
  fs::remove(port_file);
  auto proc = std::make_unique<Process>(
      std::string(HENVIS_BUILD_DIR) + "/services/" + service + "/henvis-" + service,
      std::vector<std::string>{"--config", (dir / (service + ".textproto")).string(), "--port",
                               std::to_string(port), "--port-file", port_file.string()},
      dir / (service + ".log"));
  bool ok = eventually(
      [&] {
        if (!proc->running()) throw std::runtime_error(service + " exited; see its log");
        if (port == 0) {
          // Written atomically (renamed into place) once the service listens.
          std::ifstream in(port_file);
          if (!(in >> port)) return false;
        }
        try {
          return http("GET", port, "/readyz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout);
  if (!ok) throw std::runtime_error(service + " did not become ready");
  return proc;
}

void Stack::start_web(const fs::path& assets_dir, const std::string& extra,
                      const std::map<std::string, std::string>& upstreams,
                      const std::string& delegation_token) {
  std::map<std::string, std::string> urls;
  for (const auto& [service, port] : ports_)
    if (service != "web" && service != "devbroker" && procs_.count(service))
      urls[service] = (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port);
  for (const auto& [service, url] : upstreams) urls[service] = url;
  std::ofstream(dir_ / "web-token") << delegation_token << "\n";
  std::ostringstream web;
  web << "web {\n  users_file: \""
      << (fs::path(HENVIS_SOURCE_DIR) / "deploy/config/dev/users.textproto").string() << "\"\n"
      << "  assets_dir: \"" << assets_dir.string() << "\"\n"
      << "  delegation_token_file: \"" << (dir_ / "web-token").string() << "\"\n";
  for (const auto& [service, url] : urls)
    web << "  upstreams { service: \"" << service << "\" url: \"" << url << "\" }\n";
  if (tls_) web << "  upstream_ca_file: \"" << tls_->ca() << "\"\n";
  web << extra << "\n}\n";
  write_service_config(dir_, "web", web.str());
  start("web");
}

Stack::~Stack() {
  for (const std::string s :
       {"web", "intake", "router", "notifier", "evaluation", "socialsog", "devbroker"})
    procs_.erase(s);
  if (tls_) live_tls_ca = nullptr;
  if (!std::getenv("HENVIS_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string Stack::database(const std::string& service) const {
  return (dir_ / (service + ".db")).string();
}

void Stack::start_broker() {
  if (use_real_kafka(dir_)) return;
  procs_["devbroker"] = std::make_unique<Process>(
      std::string(HENVIS_BUILD_DIR) + "/tools/devbroker/henvis-devbroker",
      std::vector<std::string>{"--bootstrap-file", (dir_ / "bootstrap.txt").string()},
      dir_ / "devbroker.log");
  if (!eventually([&] { return fs::exists(dir_ / "bootstrap.txt"); }, READY_TIMEOUT))
    throw std::runtime_error("devbroker did not start");
}

std::string Stack::bootstrap() const {
  std::ifstream in(dir_ / "bootstrap.txt");
  std::string line;
  std::getline(in, line);
  return line;
}

void Stack::start(const std::string& s) {
  const auto intake = ports_.find("intake");
  // The notifier fetches underretning keys from socialsog: socialsog's port
  // is chosen now if socialsog has not started yet (it starts on it later).
  if (s == "notifier" && !ports_.count("socialsog")) ports_["socialsog"] = free_port();
  const std::string keys =
      data_keys_config(dir_, s, intake == ports_.end() ? 0 : intake->second) +
      underretning_keys_config(dir_, s, s == "notifier" ? ports_.at("socialsog") : 0);
  if (!keys.empty()) write_service_config(dir_, s, extra_config_[s] + keys);
  procs_.erase(s);
  procs_[s] = start_service(dir_, s, ports_[s], READY_TIMEOUT);
}

void Stack::kill(const std::string& s, int sig) {
  procs_.at(s)->signal(sig);
  procs_.at(s)->wait(STOP_GRACE);
}

int Stack::stop(const std::string& s) { return procs_.at(s)->stop(); }

double Stack::metric(const std::string& s, const std::string& name) {
  return testing::metric(ports_.at(s), name);
}

std::vector<kafka::Message> every_henvis_message(Stack& s) {
  std::vector<kafka::Message> all;
  for (const auto& t : kafka::list_topics(s.bootstrap(), 10000)) {
    if (t.name.rfind("henvis.", 0) != 0 || t.messages == 0) continue;
    kafka::Consumer c(s.bootstrap(), "it-every-message-" + new_uuid());
    c.assign({t.name}, {}, 10000);
    std::size_t n = 0;
    REQUIRE(eventually([&] {
      for (auto& m : c.poll_batch(500, 200)) {
        all.push_back(std::move(m));
        ++n;
      }
      return n >= static_cast<std::size_t>(t.messages);
    }));
  }
  return all;
}

std::pair<int, std::string> data_key(Stack& s, const std::string& referral_id) {
  auto r = http("GET", s.port("intake"), "/v1/internal/data-keys/" + referral_id,
                service_token("router"));
  if (r.status != 200) return {r.status, ""};
  return {200, parse<v1::DataKeyResponse>(r.body).key()};
}

v1::Inbox inbox(Stack& s, const std::string& token) {
  v1::Inbox all;
  std::string cursor;
  do {  // every page
    auto r =
        http("GET", s.port("notifier"),
             "/v1/inbox?all=true&limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor), token);
    REQUIRE(r.status == 200);
    auto page = parse<v1::Inbox>(r.body);
    all.set_recipient_id(page.recipient_id());
    for (auto& e : *page.mutable_entries()) *all.add_entries() = std::move(e);
    cursor = page.next_cursor();
  } while (!cursor.empty());
  return all;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CtlRun henvisctl(const fs::path& dir, const std::string& args) {
  const auto out = dir / "henvisctl.out";
  const auto err = dir / "henvisctl.err";
  // Its journal of retried requests (journal.hpp) in the test's directory.
  const std::string cmd = "HENVIS_STATE_DIR=" + dir.string() + " " +
                          std::string(HENVIS_BUILD_DIR "/tools/henvisctl/henvisctl ") + args +
                          " >" + out.string() + " 2>" + err.string();
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

double metric(int port, const std::string& name) {
  auto r = http("GET", port, "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return 0;
}

std::string offer_json(const std::string& offer_id, int kommunekode, bool yes,
                       const std::string& cpr, const std::string& name, const std::string& phone) {
  const std::string t = rfc3339_minutes_ago(30);
  std::string j =
      "{\"offerId\":\"" + offer_id +
      "\",\"journalNumber\":\"4100-84123-00042-26\",\"offence\":\"OFFENCE_DRUNK\","
      "\"chargedAt\":\"" +
      t + "\",\"officerId\":\"MVJ-4711\",\"answer\":\"" + (yes ? "ANSWER_YES" : "ANSWER_NO") +
      "\",\"kommunekode\":" + std::to_string(kommunekode) + ",\"person\":{\"cpr\":\"" + cpr +
      "\",\"name\":\"" + name + "\",\"phone\":\"" + phone +
      "\"},\"consent\":{\"textVersion\":\"rusmiddel-samtykke-v1\",\"givenAt\":\"" + t + "\"}}";
  return j;
}

}  // namespace henvis::testing
