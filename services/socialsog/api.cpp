// socialsog's HTTP API: scans for coordinators; underretninger for the
// municipality that received them and the coordinators of their districts;
// receipt (kvittering) and response from the municipality.
#include <spdlog/spdlog.h>

#include "henvis/access_log.hpp"
#include "henvis/ids.hpp"
#include "outgoing.hpp"
#include "socialsog.hpp"
#include "store.hpp"

namespace henvis::socialsog {

namespace {
constexpr std::size_t MAX_NOTE = 500;
// A scan window's ends must fit the clock's time points (nanoseconds end in
// 2262; a year 232 overflowed them, found by schemathesis): 1970 to 2200.
constexpr std::int64_t MAX_WINDOW_SECONDS = 7258118400;  // 2200-01-01T00:00:00Z

void check_window_end(const google::protobuf::Timestamp& t, const std::string& field,
                      std::vector<http::FieldError>& errors) {
  if (t.seconds() < 0 || t.seconds() >= MAX_WINDOW_SECONDS)
    errors.push_back({field, "must be a time from 1970 to 2200"});
}

bool owns(const http::Request& req, const v1::UnderretningView& v) {
  return req.principal.role == v1::ROLE_MUNICIPALITY && !v.recipient_id().empty() &&
         v.recipient_id() == req.principal.scope;
}
}  // namespace

Api::Api(const std::string& db_path, Scanner& scanner, outbox::Relay* relay)
    : db_(db_path), scanner_(scanner), relay_(relay) {}

void Api::register_routes(http::Router& router) {
  router.add("POST", "/v1/scans", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return post_scan(r); });
  router.add("GET", "/v1/scans/{id}", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return get_scan(r); });
  router.add("GET", "/v1/underretninger", {v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return list(r); });
  router.add("POST", "/v1/underretninger/{id}/receipt", {v1::ROLE_MUNICIPALITY},
             [this](http::Request& r) { return receipt(r); });
  router.add("POST", "/v1/underretninger/{id}/response", {v1::ROLE_MUNICIPALITY},
             [this](http::Request& r) { return response(r); });
}

http::Response Api::post_scan(const http::Request& req) {
  v1::ScanRequest r;
  if (!req.body.empty()) http::parse_json(req.body, r);
  std::vector<http::FieldError> errors;
  if (r.has_from() != r.has_to())
    errors.push_back({r.has_from() ? "to" : "from", "give both from and to, or neither"});
  if (r.has_from()) check_window_end(r.from(), "from", errors);
  if (r.has_to()) check_window_end(r.to(), "to", errors);
  if (errors.empty() && r.has_from() && r.has_to() && r.from().seconds() >= r.to().seconds())
    errors.push_back({"to", "must be after from"});
  if (!errors.empty())
    return http::problem(400, "Bad Request", "the scan window is invalid", errors);
  ScanSpec spec;
  if (r.has_from()) {
    spec.from = r.from().seconds();
    spec.to = r.to().seconds();
  }
  spec.requested_by = req.principal.label;
  v1::ScanView v = scanner_.scan(db_, spec);
  if (relay_) relay_->notify();
  return http::json(200, v);
}

http::Response Api::get_scan(const http::Request& req) {
  auto v = store::find_scan(db_, req.params.at("id"));
  if (!v) return http::problem(404, "Not Found", "no such scan");
  return http::json(200, *v);
}

http::Response Api::list(const http::Request& req) {
  const bool municipality = req.principal.role == v1::ROLE_MUNICIPALITY;
  sqlite::Transaction tx(db_);  // the access-log rows commit with the read
  const std::vector<std::string> ids =
      municipality ? store::underretninger_to(db_, req.principal.scope)
                   : store::underretninger_of_district(db_, req.principal.scope);
  v1::UnderretningList out;
  for (const auto& id : ids) {
    *out.add_underretninger() = *load_underretning(db_, id);
    access_log::record(db_, req.principal, id, "underretning_list");
  }
  tx.commit();
  return http::json(200, out);
}

http::Response Api::receipt(const http::Request& req) {
  const std::string id = req.params.at("id");
  const sqlite::Instant now = sqlite::as_stored(scanner_.clock().now());
  sqlite::Transaction tx(db_);
  auto v = load_underretning(db_, id);
  // Another municipality's underretning does not exist for it.
  if (!v || !owns(req, *v)) return http::problem(404, "Not Found", "no such underretning");
  if (!v->has_receipt_at()) {  // recording it twice is the same as once
    store::set_receipt(db_, id, now);
    *v->mutable_receipt_at() = to_timestamp(now);
    emit_event(db_, *v, "receipt_recorded", now);
    spdlog::info("receipt recorded underretning_id={} recipient={}", id, v->recipient_id());
  }
  access_log::record(db_, req.principal, id, "receipt");
  tx.commit();
  if (relay_) relay_->notify();
  return http::json(200, *v);
}

http::Response Api::response(const http::Request& req) {
  v1::UnderretningResponseRequest r;
  http::parse_json(req.body, r);
  std::vector<http::FieldError> errors;
  if (r.response() != v1::UNDERRETNING_RESPONSE_NO_ACTION &&
      r.response() != v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED &&
      r.response() != v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE)
    errors.push_back({"response",
                      "one of UNDERRETNING_RESPONSE_NO_ACTION, _ASSESSMENT_STARTED, "
                      "_SUPPORT_MEASURE"});
  if (r.note().size() > MAX_NOTE) errors.push_back({"note", "at most 500 characters"});
  if (!errors.empty())
    return http::problem(400, "Bad Request", "the response has invalid fields", errors);
  const std::string id = req.params.at("id");
  const sqlite::Instant now = sqlite::as_stored(scanner_.clock().now());
  sqlite::Transaction tx(db_);
  auto v = load_underretning(db_, id);
  if (!v || !owns(req, *v)) return http::problem(404, "Not Found", "no such underretning");
  if (!v->has_receipt_at()) {
    // Responding is confirming receipt.
    store::set_receipt(db_, id, now);
    *v->mutable_receipt_at() = to_timestamp(now);
    emit_event(db_, *v, "receipt_recorded", now);
  }
  if (v->response() != r.response() || v->response_note() != r.note()) {
    // A later response (assessment started, then a support measure) replaces
    // the earlier; each is an event. The same response again changes nothing.
    store::set_response(db_, id, r.response(), now, r.note());
    v->set_response(r.response());
    *v->mutable_response_at() = to_timestamp(now);
    v->set_response_note(r.note());
    emit_event(db_, *v, "response_recorded", now);
    spdlog::info("response recorded underretning_id={} response={}", id,
                 v1::UnderretningResponse_Name(r.response()));
  }
  access_log::record(db_, req.principal, id, "response");
  tx.commit();
  if (relay_) relay_->notify();
  return http::json(200, *v);
}

}  // namespace henvis::socialsog
