#pragma once
// henvis_client: a small synchronous HTTP/1.1 client for the henvis JSON APIs,
// shared by henvisctl and henvis-sim.
//
// Requests are built as henvis.v1 protobuf messages and sent as their proto3
// JSON mapping; responses are parsed with ignore_unknown_fields so that a newer
// server does not break an older client. Errors (application/problem+json)
// surface as ApiError with the fields the server named.

#include <google/protobuf/message.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "henvis/http_client.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/socialsog.pb.h"

namespace henvis::client {

using HttpResponse = http::ClientResponse;

// The server could not be reached or the connection broke (exit code 3).
class ConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "https://host[:port][/base]" (TLS, the server's certificate verified) or
// "http://host[:port][/base]" (a dev stack).
struct Url {
  std::string host;
  std::string port;       // default 443 (https) or 80
  std::string base_path;  // without a trailing '/', may be empty
  bool tls = false;       // https
};
Url parse_url(const std::string& url);  // throws std::invalid_argument

// One keep-alive connection to one base URL; reconnects (once per request)
// when a kept-alive connection turns out to be closed. Every henvis command is
// idempotent, so resending a request on a fresh connection is safe.
class HttpClient {
 public:
  // `ca_file`: for https, the CA certificate(s) (PEM) the server's chain
  // must lead to; empty = the system trust store.
  explicit HttpClient(const std::string& base_url,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30),
                      const std::string& ca_file = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is the path and query, e.g. "/v1/referrals?status=routed".
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& token, const std::string& body = {},
                       const http::Headers& headers = {});
  const std::string& base_url() const { return base_url_; }

 private:
  struct Impl;
  std::string base_url_;
  std::unique_ptr<Impl> impl_;
};

struct FieldError {
  std::string field;
  std::string reason;
};

// An RFC 9457 problem, or whatever the server said instead.
struct Problem {
  int status = 0;
  std::string title;
  std::string detail;
  std::vector<FieldError> errors;
};
Problem parse_problem(const HttpResponse& r);

class ApiError : public std::runtime_error {
 public:
  explicit ApiError(Problem p);
  Problem problem;
};

// proto3 JSON (lowerCamelCase, enums by name).
std::string to_json(const google::protobuf::Message& m, bool pretty = false);
// Throws std::runtime_error when the body is not a `m`; unknown fields ignored.
void from_json(const std::string& body, google::protobuf::Message& m);

// Percent-encodes one path segment or query value.
std::string url_encode(const std::string& s);

struct Endpoints {
  std::string intake = "http://127.0.0.1:8081";
  std::string router = "http://127.0.0.1:8082";
  std::string notifier = "http://127.0.0.1:8084";
  std::string evaluation = "http://127.0.0.1:8085";
  std::string socialsog = "http://127.0.0.1:8083";
  // For https URLs: the CA file to trust instead of the system trust store.
  std::string ca_file{};
};

// The henvis API, one method per call. Copies made with as() share the
// connections and differ only in the bearer token. Not thread-safe.
class Client {
 public:
  Client(const Endpoints& endpoints, std::string token);
  Client as(std::string token) const;
  const std::string& token() const { return token_; }

  // intake. `status`, when given, receives the HTTP status (201 or 200).
  v1::OfferResponse register_offer(const v1::OfferRequest& req, int* status = nullptr);
  v1::WithdrawalResponse withdraw(const std::string& offer_id);
  // router
  // Every referral the token may see (all pages).
  v1::ReferralList referrals(const std::string& status = {});
  // One page: `query` e.g. "status=routed&limit=50&cursor=C" ("" the first page).
  v1::ReferralList referrals_page(const std::string& query);
  v1::ReferralView referral(const std::string& referral_id);
  v1::ReferralView record_outcome(const std::string& referral_id, const v1::OutcomeRequest& req,
                                  const std::string& idempotency_key = {});
  // A coordinator's forwarding and closure of an unroutable referral.
  v1::ReferralView forward(const std::string& referral_id, const v1::ForwardingRequest& req,
                           const std::string& idempotency_key);
  v1::ReferralView close(const std::string& referral_id, const v1::ClosureRequest& req,
                         const std::string& idempotency_key);
  // notifier
  // `page`: "limit=N&cursor=C" or "" (the first page of the default size).
  v1::Inbox inbox(bool all = false, const std::string& page = "");
  // Every entry of the inbox, acknowledged ones included (all pages).
  v1::Inbox whole_inbox();
  v1::InboxEntry ack(const std::string& notification_id);
  // evaluation: the raw body (JSON or CSV); `query` without the leading '?'.
  // GET /v1/stats/<table>?<query> (table: referrals or underretninger): the
  // body as the server sent it (CSV or JSON, as the query's format asks).
  std::string stats(const std::string& table, const std::string& query);
  // socialsog. `query` without the leading '?'; `raw`, when given, receives
  // the server's JSON as it was sent.
  v1::ScanView run_scan(const v1::ScanWindowRequest& req, std::string* raw = nullptr);
  v1::ScanView scan(const std::string& scan_id, std::string* raw = nullptr);
  v1::ScanList scans(const std::string& query, std::string* raw = nullptr);
  v1::UnderretningList underretninger(const std::string& query, std::string* raw = nullptr);
  v1::UnderretningView underretning(const std::string& id, std::string* raw = nullptr);
  v1::UnderretningView record_receipt(const std::string& id,
                                      const v1::UnderretningReceiptRequest& req,
                                      std::string* raw = nullptr);
  v1::UnderretningView record_response(const std::string& id,
                                       const v1::UnderretningResponseRequest& req,
                                       std::string* raw = nullptr);
  v1::UnderretningView record_forwarding(const std::string& id,
                                         const v1::UnderretningForwardingRequest& req,
                                         std::string* raw = nullptr);
  // The access log of `service` (intake, router, notifier or socialsog;
  // std::invalid_argument for another), admin: GET /v1/audit/verify and one
  // page of GET /v1/audit/log?<query>.
  v1::AuditVerification audit_verify(const std::string& service);
  v1::AuditLog audit_log(const std::string& service, const std::string& query);

 private:
  struct Connections {
    HttpClient intake, router, notifier, evaluation, socialsog;
    explicit Connections(const Endpoints& e)
        : intake(e.intake, TIMEOUT, e.ca_file),
          router(e.router, TIMEOUT, e.ca_file),
          notifier(e.notifier, TIMEOUT, e.ca_file),
          evaluation(e.evaluation, TIMEOUT, e.ca_file),
          socialsog(e.socialsog, TIMEOUT, e.ca_file) {}
    static constexpr std::chrono::seconds TIMEOUT{30};
  };
  HttpClient& audited(const std::string& service);
  Client(std::shared_ptr<Connections> c, std::string token)
      : conns_(std::move(c)), token_(std::move(token)) {}
  // Sends, throws ApiError on any status >= 300, parses the body into `out`
  // (and copies it to `raw`, if given).
  void call(HttpClient& h, const std::string& method, const std::string& target,
            const std::string& body, google::protobuf::Message* out,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            int* status = nullptr, std::string* raw = nullptr);

  std::shared_ptr<Connections> conns_;
  std::string token_;
};

}  // namespace henvis::client
