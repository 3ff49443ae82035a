#include "henvisctl/client.hpp"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

namespace henvis::client {

Url parse_url(const std::string& url) {
  Url u;
  u.tls = url.rfind("https://", 0) == 0;
  if (!u.tls && url.rfind("http://", 0) != 0)
    throw std::invalid_argument("URL must start with https:// or http:// (got \"" + url + "\")");
  std::string rest = url.substr(u.tls ? 8 : 7);
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    u.base_path = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  }
  std::size_t colon = std::string::npos;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close != std::string::npos && close + 1 < rest.size() && rest[close + 1] == ':')
      colon = close + 1;
  } else {
    colon = rest.rfind(':');
  }
  u.host = rest.substr(0, colon);
  u.port = colon == std::string::npos ? (u.tls ? "443" : "80") : rest.substr(colon + 1);
  if (u.host.size() >= 2 && u.host.front() == '[' && u.host.back() == ']')
    u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty() || u.port.empty() ||
      u.port.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("not a valid http URL: \"" + url + "\"");
  return u;
}

struct HttpClient::Impl {
  Url url;
  http::Connection connection;
  Impl(Url u, std::chrono::milliseconds timeout, const std::string& ca_file)
      : url(u), connection({u.host, u.port, u.tls}, {timeout, http::DEFAULT_BODY_LIMIT, ca_file}) {}

  void connect() {
    try {
      connection.connect();
    } catch (const http::TransportError& e) {
      if (e.step() == "resolve")
        throw ConnectionError("cannot resolve " + url.host + ": " + e.message());
      if (e.step() == "handshake")
        throw ConnectionError("TLS with " + url.host + ":" + url.port + " failed: " + e.message());
      throw ConnectionError("cannot connect to " + url.host + ":" + url.port + ": " + e.message());
    }
  }

  // Returns false when the connection broke before an answer was read.
  bool exchange(const std::string& method, const std::string& target, const http::Headers& headers,
                const std::string& body, HttpResponse& out, std::string& error) {
    try {
      out = connection.request(method, target, headers, body);
      return true;
    } catch (const http::TransportError& e) {
      error = e.message();
      return false;
    }
  }
};

HttpClient::HttpClient(const std::string& base_url, std::chrono::milliseconds timeout,
                       const std::string& ca_file)
    : base_url_(base_url), impl_(std::make_unique<Impl>(parse_url(base_url), timeout, ca_file)) {}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& token, const std::string& body,
                                 const http::Headers& headers) {
  http::Headers all{{"User-Agent", "henvis-client/1"},
                    {"Accept", "application/json, application/problem+json, text/csv"}};
  if (!token.empty()) all.emplace_back("Authorization", "Bearer " + token);
  all.insert(all.end(), headers.begin(), headers.end());
  if (!body.empty()) all.emplace_back("Content-Type", "application/json");
  const std::string path = impl_->url.base_path + target;

  HttpResponse out;
  std::string error;
  const bool reused = impl_->connection.is_open();
  if (!reused) impl_->connect();
  if (impl_->exchange(method, path, all, body, out, error)) return out;
  // A kept-alive connection the server had closed: one fresh attempt.
  if (reused) {
    impl_->connect();
    if (impl_->exchange(method, path, all, body, out, error)) return out;
  }
  throw ConnectionError(method + " " + base_url_ + target + ": " + error);
}

Problem parse_problem(const HttpResponse& r) {
  Problem p;
  p.status = r.status;
  google::protobuf::Struct s;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(r.body, &s, opts).ok()) {
    p.title = "HTTP " + std::to_string(r.status);
    p.detail = r.body.substr(0, 200);
    return p;
  }
  const auto& f = s.fields();
  if (auto it = f.find("title"); it != f.end()) p.title = it->second.string_value();
  if (auto it = f.find("detail"); it != f.end()) p.detail = it->second.string_value();
  if (auto it = f.find("errors"); it != f.end()) {
    for (const auto& v : it->second.list_value().values()) {
      const auto& e = v.struct_value().fields();
      FieldError fe;
      if (auto j = e.find("field"); j != e.end()) fe.field = j->second.string_value();
      if (auto j = e.find("reason"); j != e.end()) fe.reason = j->second.string_value();
      p.errors.push_back(std::move(fe));
    }
  }
  if (p.title.empty()) p.title = "HTTP " + std::to_string(r.status);
  return p;
}

namespace {
std::string problem_text(const Problem& p) {
  std::string s = std::to_string(p.status) + " " + p.title;
  if (!p.detail.empty()) s += ": " + p.detail;
  for (const auto& e : p.errors) s += "; " + e.field + ": " + e.reason;
  return s;
}
}  // namespace

ApiError::ApiError(Problem p) : std::runtime_error(problem_text(p)), problem(std::move(p)) {}

std::string to_json(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = pretty;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!st.ok()) throw std::runtime_error("cannot serialize " + m.GetTypeName());
  return out;
}

void from_json(const std::string& body, google::protobuf::Message& m) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(body, &m, opts);
  if (!st.ok())
    throw std::runtime_error("response is not a " + m.GetTypeName() + ": " + st.ToString());
}

std::string url_encode(const std::string& s) {
  static const char* HEX = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(HEX[c >> 4]);
      out.push_back(HEX[c & 0xf]);
    }
  }
  return out;
}

Client::Client(const Endpoints& endpoints, std::string token)
    : conns_(std::make_shared<Connections>(endpoints)), token_(std::move(token)) {}

Client Client::as(std::string token) const { return Client(conns_, std::move(token)); }

void Client::call(HttpClient& h, const std::string& method, const std::string& target,
                  const std::string& body, google::protobuf::Message* out,
                  const std::vector<std::pair<std::string, std::string>>& headers, int* status,
                  std::string* raw) {
  HttpResponse r = h.request(method, target, token_, body, headers);
  if (status) *status = r.status;
  if (r.status < 200 || r.status >= 300) throw ApiError(parse_problem(r));
  if (raw) *raw = r.body;
  if (out) from_json(r.body, *out);
}

v1::OfferResponse Client::register_offer(const v1::OfferRequest& req, int* status) {
  v1::OfferResponse out;
  call(conns_->intake, "POST", "/v1/offers", to_json(req), &out, {}, status);
  return out;
}

v1::WithdrawalResponse Client::withdraw(const std::string& offer_id) {
  v1::WithdrawalResponse out;
  call(conns_->intake, "POST", "/v1/offers/" + url_encode(offer_id) + "/withdrawal", "", &out);
  return out;
}

v1::Inbox Client::whole_inbox() {
  v1::Inbox all;
  std::string cursor;
  do {
    v1::Inbox page = inbox(true, "limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
    all.set_recipient_id(page.recipient_id());
    for (auto& e : *page.mutable_entries()) *all.add_entries() = std::move(e);
    cursor = page.next_cursor();
  } while (!cursor.empty());
  return all;
}

v1::ReferralList Client::referrals(const std::string& status) {
  v1::ReferralList all;
  std::string cursor;
  do {
    std::string query = status.empty() ? "" : "status=" + url_encode(status);
    if (!cursor.empty()) query += (query.empty() ? "" : "&") + ("cursor=" + cursor);
    v1::ReferralList page = referrals_page(query);
    for (auto& r : *page.mutable_referrals()) *all.add_referrals() = std::move(r);
    cursor = page.next_cursor();
  } while (!cursor.empty());
  return all;
}

v1::ReferralList Client::referrals_page(const std::string& query) {
  v1::ReferralList out;
  call(conns_->router, "GET", "/v1/referrals" + (query.empty() ? "" : "?" + query), "", &out);
  return out;
}

v1::ReferralView Client::referral(const std::string& referral_id) {
  v1::ReferralView out;
  call(conns_->router, "GET", "/v1/referrals/" + url_encode(referral_id), "", &out);
  return out;
}

v1::ReferralView Client::record_outcome(const std::string& referral_id,
                                        const v1::OutcomeRequest& req,
                                        const std::string& idempotency_key) {
  v1::ReferralView out;
  std::vector<std::pair<std::string, std::string>> headers;
  if (!idempotency_key.empty()) headers.emplace_back("Idempotency-Key", idempotency_key);
  call(conns_->router, "POST", "/v1/referrals/" + url_encode(referral_id) + "/outcomes",
       to_json(req), &out, headers);
  return out;
}

v1::ReferralView Client::forward(const std::string& referral_id, const v1::ForwardingRequest& req,
                                 const std::string& idempotency_key) {
  v1::ReferralView out;
  call(conns_->router, "POST", "/v1/referrals/" + url_encode(referral_id) + "/forwarding",
       to_json(req), &out, {{"Idempotency-Key", idempotency_key}});
  return out;
}

v1::ReferralView Client::close(const std::string& referral_id, const v1::ClosureRequest& req,
                               const std::string& idempotency_key) {
  v1::ReferralView out;
  call(conns_->router, "POST", "/v1/referrals/" + url_encode(referral_id) + "/closure",
       to_json(req), &out, {{"Idempotency-Key", idempotency_key}});
  return out;
}

v1::Inbox Client::inbox(bool all, const std::string& page) {
  v1::Inbox out;
  std::string query = all ? "all=true" : "";
  if (!page.empty()) query += (query.empty() ? "" : "&") + page;
  call(conns_->notifier, "GET", "/v1/inbox" + (query.empty() ? "" : "?" + query), "", &out);
  return out;
}

v1::InboxEntry Client::ack(const std::string& notification_id) {
  v1::InboxEntry out;
  call(conns_->notifier, "POST", "/v1/inbox/" + url_encode(notification_id) + "/ack", "", &out);
  return out;
}

std::string Client::stats(const std::string& table, const std::string& query) {
  HttpResponse r = conns_->evaluation.request(
      "GET", "/v1/stats/" + table + (query.empty() ? "" : "?" + query), token_);
  if (r.status < 200 || r.status >= 300) throw ApiError(parse_problem(r));
  return r.body;
}

v1::ScanView Client::run_scan(const v1::ScanWindowRequest& req, std::string* raw) {
  v1::ScanView out;
  call(conns_->socialsog, "POST", "/v1/scans", to_json(req), &out, {}, nullptr, raw);
  return out;
}

v1::ScanView Client::scan(const std::string& scan_id, std::string* raw) {
  v1::ScanView out;
  call(conns_->socialsog, "GET", "/v1/scans/" + url_encode(scan_id), "", &out, {}, nullptr, raw);
  return out;
}

v1::ScanList Client::scans(const std::string& query, std::string* raw) {
  v1::ScanList out;
  call(conns_->socialsog, "GET", "/v1/scans" + (query.empty() ? "" : "?" + query), "", &out, {},
       nullptr, raw);
  return out;
}

v1::UnderretningList Client::underretninger(const std::string& query, std::string* raw) {
  v1::UnderretningList out;
  call(conns_->socialsog, "GET", "/v1/underretninger" + (query.empty() ? "" : "?" + query), "",
       &out, {}, nullptr, raw);
  return out;
}

v1::UnderretningView Client::underretning(const std::string& id, std::string* raw) {
  v1::UnderretningView out;
  call(conns_->socialsog, "GET", "/v1/underretninger/" + url_encode(id), "", &out, {}, nullptr,
       raw);
  return out;
}

v1::UnderretningView Client::record_receipt(const std::string& id,
                                            const v1::UnderretningReceiptRequest& req,
                                            std::string* raw) {
  v1::UnderretningView out;
  call(conns_->socialsog, "POST", "/v1/underretninger/" + url_encode(id) + "/receipt", to_json(req),
       &out, {}, nullptr, raw);
  return out;
}

v1::UnderretningView Client::record_response(const std::string& id,
                                             const v1::UnderretningResponseRequest& req,
                                             std::string* raw) {
  v1::UnderretningView out;
  call(conns_->socialsog, "POST", "/v1/underretninger/" + url_encode(id) + "/response",
       to_json(req), &out, {}, nullptr, raw);
  return out;
}

v1::UnderretningView Client::record_forwarding(const std::string& id,
                                               const v1::UnderretningForwardingRequest& req,
                                               std::string* raw) {
  v1::UnderretningView out;
  call(conns_->socialsog, "POST", "/v1/underretninger/" + url_encode(id) + "/forwarding",
       to_json(req), &out, {}, nullptr, raw);
  return out;
}

HttpClient& Client::audited(const std::string& service) {
  if (service == "intake") return conns_->intake;
  if (service == "router") return conns_->router;
  if (service == "notifier") return conns_->notifier;
  if (service == "socialsog") return conns_->socialsog;
  throw std::invalid_argument("one of intake, router, notifier, socialsog");
}

v1::AuditVerification Client::audit_verify(const std::string& service) {
  v1::AuditVerification out;
  call(audited(service), "GET", "/v1/audit/verify", "", &out);
  return out;
}

v1::AuditLog Client::audit_log(const std::string& service, const std::string& query) {
  v1::AuditLog out;
  call(audited(service), "GET", "/v1/audit/log" + (query.empty() ? "" : "?" + query), "", &out);
  return out;
}

}  // namespace henvis::client
