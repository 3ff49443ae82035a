// Fuzz target: the HTTP JSON bodies.
//
// Byte 0 chooses the body type (even: OfferRequest, POST /v1/offers; odd:
// OutcomeRequest, POST /v1/referrals/{id}/outcomes); the rest is the body.
// An offer goes through http::parse_json and intake::check_offer against the
// dev directory. An outcome goes through the router's whole handler,
// router::Api::record_outcome, on a temp database holding one referral
// routed to rusmiddelcenter-657 whose status is reset before each input to
// one chosen by byte 0 (bits 1-3), with an Idempotency-Key if bit 4 is set.
// http::Problem is the documented refusal. Findings: any other exception, a
// crash or sanitizer report, a problem that is not application/problem+json
// or that repeats a 6+ digit run of the body (personal data), an outcome
// answer other than 200/400/409, and an offer that check_offer accepts with
// an offence or answer outside the known values (proto3 JSON accepts any
// integer for an enum).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "digits.hpp"
#include "fuzz_support.hpp"
#include "henvis/clock.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "intake.hpp"
#include "router.hpp"

namespace {

constexpr std::int64_t NOW = 1714557600;  // 2024-05-01T10:00:00Z

const henvis::v1::ReferralStatus START[] = {henvis::v1::REFERRAL_STATUS_ROUTED,
                                            henvis::v1::REFERRAL_STATUS_DELIVERED,
                                            henvis::v1::REFERRAL_STATUS_ACKNOWLEDGED,
                                            henvis::v1::REFERRAL_STATUS_CONTACT_ATTEMPTED,
                                            henvis::v1::REFERRAL_STATUS_REACHED,
                                            henvis::v1::REFERRAL_STATUS_CONVERSATION_HELD,
                                            henvis::v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED,
                                            henvis::v1::REFERRAL_STATUS_CLOSED};

struct RouterApi {
  henvis::ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(NOW))};
  std::string path = (henvis::fuzz::temp_dir("http_json") / "router.db").string();
  std::unique_ptr<henvis::router::Api> api;
  std::unique_ptr<henvis::sqlite::Db> db;  // a second connection, for set-up and resets
  RouterApi() {
    henvis::router::Settings settings;
    settings.person_key = "fuzz-person-key-0123456789";
    api = std::make_unique<henvis::router::Api>(path, henvis::fuzz::dev_directory(), settings,
                                                clock, nullptr);
    db = std::make_unique<henvis::sqlite::Db>(path);
    db->migrate(henvis::router::migrations());  // the host migrates before building the Api
    henvis::router::Applier applier(henvis::fuzz::dev_directory(), settings, clock);
    henvis::v1::OfferRecorded o;
    o.set_offer_id("o-1");
    o.set_referral_id("r-1");
    o.set_journal_number("4100-84123-00042-24");
    o.set_offence(henvis::v1::OFFENCE_DRUNK);
    o.mutable_charged_at()->set_seconds(NOW - 86400);
    o.set_district_id("mvj");
    o.set_answer(henvis::v1::ANSWER_YES);
    o.set_kommunekode(657);
    o.mutable_person()->set_cpr("0101901234");
    o.mutable_person()->set_name("Jens Testesen");
    o.mutable_person()->set_phone("+4523456789");
    o.mutable_consent()->set_text_version("consent-v1");
    o.mutable_consent()->mutable_given_at()->set_seconds(NOW - 86000);
    henvis::kafka::Message m;
    m.topic = henvis::topics::OFFERS;
    m.payload = o.SerializeAsString();
    m.headers = {{henvis::kafka::header::ID, "seed"},
                 {henvis::kafka::header::TYPE, henvis::event_types::OFFER_RECORDED}};
    henvis::sqlite::Transaction tx(*db);
    applier.apply(m, *db);
    tx.commit();
  }
  void reset(henvis::v1::ReferralStatus s) {
    henvis::sqlite::Transaction tx(*db);
    henvis::sqlite::Stmt up(*db, "UPDATE referrals SET status = ?, contact_attempts = 0");
    up.bind(1, static_cast<int>(s)).run();
    db->exec(
        // The access log is append-only (a trigger refuses DELETE): it grows.
        "DELETE FROM idempotency; DELETE FROM outbox; "
        "DELETE FROM referral_history WHERE id > 2;");
    tx.commit();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const henvis::Directory dir = [] {
    henvis::fuzz::quiet_logs();
    return henvis::fuzz::dev_directory();
  }();
  if (size == 0) return 0;
  const bool offer = (data[0] & 1) == 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (offer) {
      henvis::v1::OfferRequest r;
      henvis::http::parse_json(body, r);
      // 2024-05-01T10:00:00Z
      const auto errors = henvis::intake::check_offer(r, dir, 1714557600);
      for (const auto& e : errors) {
        if (e.field.empty() || e.reason.empty())
          henvis::fuzz::finding("field error without field or reason");
        if (henvis::fuzz::leaks_digit_run(e.reason, body) ||
            henvis::fuzz::leaks_digit_run(e.field, body))
          henvis::fuzz::finding("field error repeats digits of the body");
      }
      if (errors.empty()) {
        if (!henvis::v1::Offence_IsValid(r.offence()) ||
            r.offence() == henvis::v1::OFFENCE_UNSPECIFIED)
          henvis::fuzz::finding("offer accepted with an unknown offence");
        if (r.answer() != henvis::v1::ANSWER_YES && r.answer() != henvis::v1::ANSWER_NO)
          henvis::fuzz::finding("offer accepted with an unknown answer");
      }
    } else {
      static RouterApi router;
      router.reset(START[(data[0] >> 1) & 7]);
      henvis::http::Request req;
      req.method = "POST";
      req.path = "/v1/referrals/r-1/outcomes";
      req.params["id"] = "r-1";
      if (data[0] & 16) req.headers["idempotency-key"] = "key-1";
      req.body = body;
      req.principal = {"fuzz", henvis::v1::ROLE_CENTRE, "rusmiddelcenter-657", {}};
      const auto res = router.api->record_outcome(req);
      if (res.status != 200 && res.status != 400 && res.status != 409)
        henvis::fuzz::finding("record_outcome answered " + std::to_string(res.status));
      if (res.status != 200 && res.content_type != "application/problem+json")
        henvis::fuzz::finding("record_outcome refusal is not problem+json");
      if (res.status != 200 && henvis::fuzz::leaks_digit_run(res.body, body))
        henvis::fuzz::finding("record_outcome problem repeats digits of the body");
    }
  } catch (const henvis::http::Problem& p) {
    if (p.response.status != 400) henvis::fuzz::finding("parse_json problem is not 400");
    if (p.response.content_type != "application/problem+json")
      henvis::fuzz::finding("problem is not application/problem+json");
    if (henvis::fuzz::leaks_digit_run(p.response.body, body))
      henvis::fuzz::finding("problem body repeats digits of the request body");
  } catch (const std::exception& e) {
    henvis::fuzz::finding(std::string("non-Problem exception: ") + e.what());
  }
  return 0;
}
