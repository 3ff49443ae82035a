// socialsog's HTTP API: scans for coordinators; underretninger for the
// municipality that received them and the coordinators of their districts;
// receipt (kvittering) and responses from the municipality; receipt and
// forwarding by a coordinator for a municipality without a henvis account.
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>

#include "henvis/access_log.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/ids.hpp"
#include "henvis/paging.hpp"
#include "henvis/validate.hpp"
#include "outgoing.hpp"
#include "socialsog.hpp"
#include "store.hpp"

namespace henvis::socialsog {

namespace {
constexpr std::size_t MAX_NOTE = 500;
using sqlite::Instant;
// A scan window's ends must fit the clock's time points (nanoseconds end in
// 2262; a year 232 overflowed them, found by schemathesis): 1970 to 2200.
constexpr std::int64_t MAX_WINDOW_SECONDS = 7258118400;  // 2200-01-01T00:00:00Z

void check_window_end(std::optional<Instant>& t, const std::string& field,
                      std::vector<http::FieldError>& errors) {
  if (!t) return;
  const auto s = std::chrono::floor<std::chrono::seconds>(*t).time_since_epoch().count();
  if (s < 0 || s >= MAX_WINDOW_SECONDS) {
    errors.push_back({field, "must be a time from 1970 to 2200"});
    t.reset();
  }
}

bool owns(const http::Request& req, const v1::UnderretningView& v) {
  return req.principal.role == v1::ROLE_MUNICIPALITY && !v.recipient_id().empty() &&
         v.recipient_id() == req.principal.scope;
}

// Sent to a coordinator because its municipality has no henvis account (or
// is unknown): no municipality can confirm it in henvis.
bool without_account(const v1::UnderretningView& v) { return !v.notice().reason().empty(); }

http::Response not_found() { return http::problem(404, "Not Found", "no such underretning"); }

// Runs a handler, answering a Problem it throws (a bad parameter, an
// underretning the principal may not see) as the router would.
template <class F>
http::Response answering(F handle) {
  try {
    return handle();
  } catch (const http::Problem& p) {
    return p.response;
  }
}

// proto3 JSON with zero counts and empty fields printed (a scan that found
// nothing says 0, not nothing).
http::Response json_all_fields(int status, const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok())
    return http::problem(500, "Internal Server Error", "response could not be encoded");
  return http::Response{status, "application/json", out};
}

template <class M>
M body_of(const http::Request& req) {
  M m;
  if (!req.body.empty()) http::parse_json(req.body, m);
  return m;
}

std::optional<std::chrono::year_month_day> parse_day(const std::string& s) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3)
    return std::nullopt;
  const std::chrono::year_month_day day{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  return day.ok() ? std::optional(day) : std::nullopt;
}

// An RFC 3339 time, or a date YYYY-MM-DD: 00:00 Europe/Copenhagen of the day,
// or of the next day when `end_of_day`. nullopt (and an error naming `field`)
// when it is neither.
std::optional<Instant> parse_when(const std::string& field, const std::string& text,
                                  bool end_of_day, std::vector<http::FieldError>& errors) {
  if (auto day = parse_day(text)) {
    std::chrono::sys_days d{*day};
    if (end_of_day) d += std::chrono::days(1);
    return workdays::at_local(std::chrono::year_month_day(d), std::chrono::minutes(0));
  }
  try {
    const auto t = parse_timestamp(text);
    if (valid_event_time(t)) return sqlite::as_stored(to_time_point(t));
  } catch (const std::invalid_argument&) {
  }
  errors.push_back({field, "must be an RFC 3339 time or a date YYYY-MM-DD"});
  return std::nullopt;
}

// When something about an underretning happened, from `text` (default
// `now`): not before it was sent, not in the future. A date is the start of
// that day, or the sending if it was sent that day. Throws a 400 Problem
// naming `field`.
Instant happened_at(const std::string& field, const std::string& text,
                    const v1::UnderretningView& v, Instant now) {
  if (text.empty()) return now;
  std::vector<http::FieldError> errors;
  auto at = parse_when(field, text, false, errors);
  const Instant sent = to_time_point(v.notice().created_at());
  if (at && parse_day(text) && *at < sent &&
      workdays::local_day(std::chrono::floor<std::chrono::seconds>(sent)) == *parse_day(text))
    at = sent;
  if (at && *at < sent) errors.push_back({field, "must not be before the underretning was sent"});
  if (at && *at > now) errors.push_back({field, "must not be in the future"});
  if (!errors.empty()) throw http::Problem(400, "Bad Request", "the time is invalid", errors);
  return *at;
}

// The working days from `now` to the receipt deadline `due`: those left
// (today included) before it, or minus those since it (0 on the day it passed).
int working_days_left(const workdays::Calendar& cal, Instant now, Instant due) {
  using namespace std::chrono;
  const sys_days today{workdays::local_day(floor<seconds>(now))};
  const sys_days deadline{workdays::local_day(floor<seconds>(due))};
  const bool left = now < due;
  sys_days from = left ? today : deadline, to = left ? deadline : today;
  int n = 0;
  for (int guard = 0; from < to && guard < 4000; from += days(1), ++guard)
    n += cal.is_working_day(year_month_day(from)) ? 1 : 0;
  return left ? n : -n;
}

// A cursor's number part; the lists' keys go to SQL as they are, any value.
std::int64_t cursor_number(const std::string& s) {
  return http::cursor_number(s, INT64_MIN, INT64_MAX);
}

const std::set<std::string>& list_statuses() {
  static const std::set<std::string> s{"pending", "overdue", "received", "responded"};
  return s;
}

const std::set<std::string>& channels() {
  static const std::set<std::string> s{"e-mail", "letter", "phone", "other"};
  return s;
}
}  // namespace

Api::Api(const std::string& db_path, Scanner& scanner, outbox::Relay* relay)
    : dbs_(db_path), scanner_(scanner), relay_(relay) {}

void Api::register_routes(http::Router& router) {
  router.add("POST", "/v1/scans", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return post_scan(r); });
  router.add("GET", "/v1/scans", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return list_scans(r); });
  router.add("GET", "/v1/scans/{id}", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return get_scan(r); });
  router.add("GET", "/v1/underretninger", {v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return list(r); });
  router.add("GET", "/v1/underretninger/{id}", {v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return get_underretning(r); });
  router.add("POST", "/v1/underretninger/{id}/receipt",
             {v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return receipt(r); });
  router.add("POST", "/v1/underretninger/{id}/response", {v1::ROLE_MUNICIPALITY},
             [this](http::Request& r) { return response(r); });
  router.add("POST", "/v1/underretninger/{id}/forwarding", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return forwarding(r); });
  access_log::add_routes(router, dbs_);
  router.add("POST", "/v1/internal/underretning-keys", {v1::ROLE_SERVICE},
             [this](http::Request& r) { return underretning_keys(r); });
}

// The notifier's whole batch in one request and one transaction
// (docs/decisions.md 22): each key handed out is one access-log row.
http::Response Api::underretning_keys(const http::Request& req) {
  return answering([&] {
    if (req.principal.scope != "notifier")
      return http::problem(403, "Forbidden", "only the notifier fetches underretning keys");
    const auto in = body_of<v1::UnderretningKeysRequest>(req);
    const std::set<std::string> ids =
        data_keys::requested_ids(in.underretning_ids(), "underretningIds", "underretning ids");
    v1::UnderretningKeysResponse res;
    sqlite::Transaction tx(db());
    for (const auto& id : ids) {
      std::optional<std::string> key = store::find_underretning_key(db(), id);
      if (!key) {
        *(store::persons_erased(db(), id) ? res.add_destroyed() : res.add_unknown()) = id;
        continue;
      }
      // The key opens the children's and adults' data: a disclosure.
      access_log::record(db(), req.principal, id, "data_key");
      auto* k = res.add_keys();
      k->set_underretning_id(id);
      k->set_key(std::move(*key));
    }
    tx.commit();
    return http::json(200, res);
  });
}

http::Response Api::post_scan(const http::Request& req) {
  return answering([&] {
    const auto r = body_of<v1::ScanWindowRequest>(req);
    std::vector<http::FieldError> errors;
    if (r.from().empty() != r.to().empty())
      errors.push_back({r.from().empty() ? "from" : "to", "give both from and to, or neither"});
    std::optional<Instant> from, to;
    if (!r.from().empty()) from = parse_when("from", r.from(), false, errors);
    if (!r.to().empty()) to = parse_when("to", r.to(), true, errors);
    check_window_end(from, "from", errors);
    check_window_end(to, "to", errors);
    if (from && to && *from >= *to) errors.push_back({"to", "must be after from"});
    if (!errors.empty())
      return http::problem(400, "Bad Request", "the scan window is invalid", errors);
    ScanSpec spec;
    if (from && to) {
      using std::chrono::floor, std::chrono::seconds;
      spec.from = floor<seconds>(*from).time_since_epoch().count();
      spec.to = floor<seconds>(*to).time_since_epoch().count();
    }
    spec.requested_by = req.principal.label;
    v1::ScanView v = scanner_.scan(db(), spec);
    if (relay_) relay_->notify();
    return json_all_fields(200, v);
  });
}

http::Response Api::get_scan(const http::Request& req) {
  auto v = store::find_scan(db(), req.params.at("id"));
  if (!v) return http::problem(404, "Not Found", "no such scan");
  return json_all_fields(200, *v);
}

// Every scan (as get_scan: a coordinator sees any), newest first.
http::Response Api::list_scans(const http::Request& req) {
  return answering([&] {
    const http::PageRequest page = http::page_request(req, 2);
    std::optional<store::ScanKey> after;
    if (!page.after.empty()) after = store::ScanKey{cursor_number(page.after[0]), page.after[1]};
    auto rows = store::list_scans(db(), after, page.limit + 1);
    v1::ScanList out;
    out.set_next_cursor(http::take_page(rows, page, [](const auto& row) {
      return std::vector<std::string>{std::to_string(row.first.key), row.first.scan_id};
    }));
    for (auto& [key, view] : rows) *out.add_scans() = std::move(view);
    return json_all_fields(200, out);
  });
}

void Api::annotate(v1::UnderretningView& v, Instant now) const {
  const auto& n = v.notice();
  v.clear_working_days_left();
  const bool overdue = n.has_receipt_due_at() && now >= to_time_point(n.receipt_due_at());
  if (v.response() != v1::UNDERRETNING_RESPONSE_UNSPECIFIED)
    v.set_status("responded");
  else if (v.has_receipt_at())
    v.set_status("received");
  else
    v.set_status(overdue ? "overdue" : "pending");
  if (!v.has_receipt_at() && n.has_receipt_due_at())
    v.set_working_days_left(
        working_days_left(scanner_.calendar(), now, to_time_point(n.receipt_due_at())));
}

v1::UnderretningView Api::visible(const http::Request& req) {
  const std::string& id = req.params.at("id");
  auto v = load_underretning(db(), id);
  const bool coordinator = req.principal.role == v1::ROLE_COORDINATOR && v &&
                           store::listed_for_district(db(), id, req.principal.scope);
  // Another municipality's or district's underretning does not exist for it.
  if (!v || !(owns(req, *v) || coordinator)) throw http::Problem(not_found());
  annotate(*v, sqlite::as_stored(scanner_.clock().now()));
  return *v;
}

http::Response Api::get_underretning(const http::Request& req) {
  return answering([&] {
    sqlite::Transaction tx(db());  // the access-log row commits with the read
    const v1::UnderretningView v = visible(req);
    access_log::record(db(), req.principal, v.notice().underretning_id(), "underretning_read");
    tx.commit();
    return http::json(200, v);
  });
}

http::Response Api::list(const http::Request& req) {
  return answering([&] {
    store::ListFilter f;
    f.municipality = req.principal.role == v1::ROLE_MUNICIPALITY;
    f.scope = req.principal.scope;
    if (auto it = req.query.find("status"); it != req.query.end()) f.status = it->second;
    if (!f.status.empty() && !list_statuses().count(f.status))
      return http::problem(400, "Bad Request", "the query parameters are invalid",
                           {{"status", "one of pending, overdue, received, responded"}});
    const http::PageRequest page = http::page_request(req, 3);
    std::optional<store::ListKey> after;
    if (!page.after.empty())
      after =
          store::ListKey{cursor_number(page.after[0]), cursor_number(page.after[1]), page.after[2]};
    f.now = sqlite::as_stored(scanner_.clock().now());
    sqlite::Transaction tx(db());  // the access-log rows commit with the read
    auto keys = store::list_underretninger(db(), f, after, page.limit + 1);
    v1::UnderretningList out;
    out.set_next_cursor(http::take_page(keys, page, [](const store::ListKey& k) {
      return std::vector<std::string>{std::to_string(k.group), std::to_string(k.key),
                                      k.underretning_id};
    }));
    for (const auto& k : keys) {
      auto* v = out.add_underretninger();
      *v = *load_underretning(db(), k.underretning_id);
      annotate(*v, f.now);
      access_log::record(db(), req.principal, k.underretning_id, "underretning_list");
    }
    tx.commit();
    return http::json(200, out);
  });
}

http::Response Api::receipt(const http::Request& req) {
  return answering([&] {
    const auto r = body_of<v1::UnderretningReceiptRequest>(req);
    const std::string id = req.params.at("id");
    const Instant now = sqlite::as_stored(scanner_.clock().now());
    sqlite::Transaction tx(db());
    v1::UnderretningView v = visible(req);
    // A coordinator confirms only for a municipality without a henvis account.
    if (req.principal.role == v1::ROLE_COORDINATOR && !without_account(v)) return not_found();
    if (!v.has_receipt_at()) {  // recording it twice is the same as once
      const Instant at = happened_at("receivedAt", r.received_at(), v, now);
      store::set_receipt(db(), id, at, req.principal.label, req.principal.person);
      *v.mutable_receipt_at() = to_timestamp(at);
      v.set_receipt_recorded_by(req.principal.label);
      v.set_receipt_recorded_by_person(req.principal.person);
      emit_event(db(), v, "receipt_recorded", at);
      spdlog::info("receipt recorded underretning_id={} recipient={} by_role={}", id,
                   v.recipient_id(), v1::Role_Name(req.principal.role));
    }
    access_log::record(db(), req.principal, id, "receipt");
    tx.commit();
    annotate(v, now);
    if (relay_) relay_->notify();
    return http::json(200, v);
  });
}

http::Response Api::response(const http::Request& req) {
  return answering([&] {
    v1::UnderretningResponseRequest r;
    http::parse_json(req.body, r);
    std::vector<http::FieldError> errors;
    if (r.response() != v1::UNDERRETNING_RESPONSE_NO_ACTION &&
        r.response() != v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED &&
        r.response() != v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE)
      errors.push_back({"response",
                        "one of UNDERRETNING_RESPONSE_NO_ACTION, _ASSESSMENT_STARTED, "
                        "_SUPPORT_MEASURE"});
    if (auto why = validate::text(r.note(), MAX_NOTE, /*multiline=*/true))
      errors.push_back({"note", *why});
    if (!errors.empty())
      return http::problem(400, "Bad Request", "the response has invalid fields", errors);
    const std::string id = req.params.at("id");
    const Instant now = sqlite::as_stored(scanner_.clock().now());
    sqlite::Transaction tx(db());
    v1::UnderretningView v = visible(req);
    if (!v.has_receipt_at()) {
      // Responding is confirming receipt.
      store::set_receipt(db(), id, now, req.principal.label, req.principal.person);
      *v.mutable_receipt_at() = to_timestamp(now);
      v.set_receipt_recorded_by(req.principal.label);
      v.set_receipt_recorded_by_person(req.principal.person);
      emit_event(db(), v, "receipt_recorded", now);
    }
    if (v.response() != r.response() || v.response_note() != r.note()) {
      // A later response (assessment started, then a support measure) becomes
      // the current one and joins the history; each is an event. The same
      // response again (a retry) changes nothing.
      v1::UnderretningResponseEntry e;
      e.set_response(r.response());
      e.set_note(r.note());
      *e.mutable_at() = to_timestamp(now);
      e.set_recorded_by(req.principal.label);
      e.set_recorded_by_person(req.principal.person);
      store::add_response(db(), id, e);
      v.set_response(r.response());
      *v.mutable_response_at() = e.at();
      v.set_response_note(r.note());
      *v.add_responses() = e;
      emit_event(db(), v, "response_recorded", now);
      spdlog::info("response recorded underretning_id={} response={}", id,
                   v1::UnderretningResponse_Name(r.response()));
    }
    access_log::record(db(), req.principal, id, "response");
    tx.commit();
    annotate(v, now);
    if (relay_) relay_->notify();
    return http::json(200, v);
  });
}

http::Response Api::forwarding(const http::Request& req) {
  return answering([&] {
    const auto r = body_of<v1::UnderretningForwardingRequest>(req);
    std::vector<http::FieldError> errors;
    const std::string channel = r.channel().empty() ? "other" : r.channel();
    if (!channels().count(channel))
      errors.push_back({"channel", "one of e-mail, letter, phone, other"});
    if (auto why = validate::text(r.note(), MAX_NOTE, /*multiline=*/true))
      errors.push_back({"note", *why});
    if (!errors.empty())
      return http::problem(400, "Bad Request", "the forwarding has invalid fields", errors);
    const std::string id = req.params.at("id");
    const Instant now = sqlite::as_stored(scanner_.clock().now());
    sqlite::Transaction tx(db());
    v1::UnderretningView v = visible(req);
    if (!without_account(v)) return not_found();  // the municipality has it in henvis
    const Instant at = happened_at("forwardedAt", r.forwarded_at(), v, now);
    if (v.has_forwarding()) {
      // Recorded once: the same again (a retry) answers as before.
      const auto& f = v.forwarding();
      if (f.channel() != channel || f.note() != r.note() ||
          (!r.forwarded_at().empty() && to_time_point(f.forwarded_at()) != at))
        return http::problem(409, "Conflict", "a different forwarding is already recorded");
    } else {
      auto* f = v.mutable_forwarding();
      *f->mutable_forwarded_at() = to_timestamp(at);
      f->set_channel(channel);
      f->set_note(r.note());
      f->set_recorded_by(req.principal.label);
      f->set_recorded_by_person(req.principal.person);
      *f->mutable_recorded_at() = to_timestamp(now);
      store::set_forwarding(db(), id, *f);
      emit_event(db(), v, "forwarded", now);
      spdlog::info("forwarding recorded underretning_id={} channel={}", id, channel);
    }
    access_log::record(db(), req.principal, id, "forwarding");
    tx.commit();
    if (relay_) relay_->notify();
    return http::json(200, v);
  });
}

}  // namespace henvis::socialsog
