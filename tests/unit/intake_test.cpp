// intake: offer validation, idempotent POST /v1/offers, the outbox event, and
// that a "no" keeps no personal data (docs/design.md "Drink/drug-driving referral",
// "Exactly-once effect").

#include "intake.hpp"

#include <catch2/catch.hpp>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

using henvis::test::dev_directory;
using henvis::test::scalar;
using henvis::test::TempDir;
using henvis::test::ts;

constexpr const char* CPR = "010190-1234";
constexpr const char* CPR_DIGITS = "0101901234";
constexpr const char* NAME = "Jens Kristian Testesen";

// A valid "yes" for Herning, charged 2024-05-01.
henvis::v1::OfferRequest valid_yes() {
  henvis::v1::OfferRequest r;
  r.set_offer_id("offer-1");
  r.set_journal_number("4100-84123-00042-24");
  r.set_offence(henvis::v1::OFFENCE_DRUNK);
  *r.mutable_charged_at() = ts("2024-05-01T10:00:00Z");
  r.set_officer_id("officer-17");
  r.set_answer(henvis::v1::ANSWER_YES);
  r.set_kommunekode(657);
  auto* p = r.mutable_person();
  p->set_cpr(CPR);
  p->set_name(NAME);
  p->set_phone("23456789");
  auto* c = r.mutable_consent();
  c->set_text_version("consent-v1");
  *c->mutable_given_at() = ts("2024-05-01T10:05:00Z");
  return r;
}

const std::int64_t NOW = 1714564800;  // 2024-05-01T12:00:00Z

std::vector<std::string> fields(const std::vector<henvis::http::FieldError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.field);
  return out;
}

bool names(const std::vector<henvis::http::FieldError>& errors, const std::string& field) {
  return std::any_of(errors.begin(), errors.end(), [&](const auto& e) { return e.field == field; });
}

std::string to_json(const henvis::v1::OfferRequest& r) {
  std::string out;
  REQUIRE(google::protobuf::util::MessageToJsonString(r, &out).ok());
  return out;
}

henvis::http::Request offer_request(const std::string& body) {
  henvis::http::Request req;
  req.method = "POST";
  req.path = "/v1/offers";
  req.body = body;
  req.principal = henvis::auth::Principal{"dev-officer-mvj", henvis::v1::ROLE_OFFICER, "mvj", {}};
  return req;
}

henvis::v1::OfferResponse parse_response(const henvis::http::Response& r) {
  henvis::v1::OfferResponse out;
  INFO(r.body);
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  return out;
}

// scalar() on a connection of its own to the database at `db_path`.
std::int64_t count(const std::string& db_path, const std::string& sql) {
  henvis::sqlite::Db db(db_path);
  return scalar(db, sql);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Intake's clock in these tests.
const henvis::ManualClock CLOCK{std::chrono::system_clock::from_time_t(NOW)};

// The host migrates intake's store before building it; so do these tests.
std::string migrated(const std::string& db_path) {
  henvis::sqlite::Db db(db_path);
  db.migrate(henvis::intake::migrations());
  return db_path;
}

}  // namespace

// ---------------------------------------------------------------- check_offer

using henvis::intake::check_offer;

TEST_CASE("check_offer: a complete yes is valid", "[intake]") {
  // Given a complete yes for Herning
  const auto dir = dev_directory();
  // When checked / Then no field is bad
  const auto errors = check_offer(valid_yes(), dir, NOW);
  CAPTURE(fields(errors));
  CHECK(errors.empty());
}

TEST_CASE("check_offer: a malformed journal number is named journalNumber", "[intake]") {
  // Given a valid yes with one (or every) field spoiled / When checked
  // Then exactly the spoiled fields are named
  auto r = valid_yes();
  r.set_journal_number("4100-84123-42-24");
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  CHECK(fields(errors) == std::vector<std::string>{"journalNumber"});
}

TEST_CASE("check_offer: an invalid CPR is named person.cpr without echoing it", "[intake]") {
  // Given a yes with a CPR whose date does not exist
  auto r = valid_yes();
  r.mutable_person()->set_cpr("320190-1234");
  // When checked
  const auto errors = check_offer(r, dev_directory(), NOW);
  // Then exactly person.cpr is named, and the reason does not contain the value
  CAPTURE(fields(errors));
  REQUIRE(fields(errors) == std::vector<std::string>{"person.cpr"});
  CHECK_THAT(errors[0].reason, !Catch::Contains("320190"));
}

TEST_CASE("check_offer: a CPR number whose birth date is after the charge is named person.cpr",
          "[intake][security]") {
  // Given a yes charged 2024-05-01 for a person "born" 2024-06-01 (century 2000)
  auto r = valid_yes();
  r.mutable_person()->set_cpr("010624-4321");
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  REQUIRE(fields(errors) == std::vector<std::string>{"person.cpr"});
  CHECK_THAT(errors[0].reason, !Catch::Contains("010624"));
  // And one born the day of the charge is valid
  r.mutable_person()->set_cpr("010524-4321");
  CHECK(check_offer(r, dev_directory(), NOW).empty());
}

TEST_CASE("check_offer: an offer id that could be a CPR number is refused, never echoed",
          "[intake][security]") {
  for (const char* id : {"0101901234", "010190-1234", "010190 1234", "01.01.90-1234"}) {
    auto r = valid_yes();
    r.set_offer_id(id);
    const auto errors = check_offer(r, dev_directory(), NOW);
    CAPTURE(id, fields(errors));
    REQUIRE(fields(errors) == std::vector<std::string>{"offerId"});
    CHECK_THAT(errors[0].reason, !Catch::Contains("0101"));
  }
  auto r = valid_yes();
  r.set_offer_id("mvj-2024-000123");
  CHECK(check_offer(r, dev_directory(), NOW).empty());
}

TEST_CASE("check_offer: a name is counted in characters and refuses control and bidi characters",
          "[intake][security]") {
  auto r = valid_yes();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "\u00f8";  // 200 characters, 400 bytes
  r.mutable_person()->set_name(name);
  CHECK(check_offer(r, dev_directory(), NOW).empty());
  r.mutable_person()->set_name(name + "x");
  CHECK(fields(check_offer(r, dev_directory(), NOW)) == std::vector<std::string>{"person.name"});
  for (const std::string& bad : {std::string("Jens\0Hansen", 11), std::string("Jens\r\nHansen"),
                                 std::string("Jens \u202eHansen")}) {
    r.mutable_person()->set_name(bad);
    CHECK(fields(check_offer(r, dev_directory(), NOW)) == std::vector<std::string>{"person.name"});
  }
  r.mutable_person()->set_name("Jens Hansen");
  r.mutable_person()->set_preferred_contact_time("efter kl. 16\u2066");
  CHECK(fields(check_offer(r, dev_directory(), NOW)) ==
        std::vector<std::string>{"person.preferredContactTime"});
}

TEST_CASE("check_offer: an invalid phone is named person.phone", "[intake]") {
  // Given a valid yes with one (or every) field spoiled / When checked
  // Then exactly the spoiled fields are named
  auto r = valid_yes();
  r.mutable_person()->set_phone("12");
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  CHECK(fields(errors) == std::vector<std::string>{"person.phone"});
}

TEST_CASE("check_offer: a kommunekode that is no Danish municipality's is named kommunekode",
          "[intake]") {
  // Given a valid yes whose kommunekode no Danish municipality has / When checked
  // Then exactly kommunekode is named
  for (int code : {999, 99999, -1, 102}) {
    auto r = valid_yes();
    r.set_kommunekode(code);
    const auto errors = check_offer(r, dev_directory(), NOW);
    CAPTURE(code, fields(errors));
    CHECK(fields(errors) == std::vector<std::string>{"kommunekode"});
  }
}

TEST_CASE("check_offer: a Danish municipality outside the directory, or none, is valid",
          "[intake]") {
  // Given a yes from a København (101) resident, which the dev directory does
  // not list, and a yes without a home municipality (0) / When checked
  // Then both are valid: the consent becomes an unroutable referral
  for (int code : {101, 0, 851}) {
    auto r = valid_yes();
    r.set_kommunekode(code);
    CAPTURE(code);
    CHECK(check_offer(r, dev_directory(), NOW).empty());
  }
}

TEST_CASE("check_offer: a yes without consent is named consent", "[intake]") {
  // Given a valid yes with one (or every) field spoiled / When checked
  // Then exactly the spoiled fields are named
  auto r = valid_yes();
  r.clear_consent();
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  CHECK(fields(errors) == std::vector<std::string>{"consent"});
}

TEST_CASE("check_offer: a yes without person is named person", "[intake]") {
  // Given a valid yes with one (or every) field spoiled / When checked
  // Then exactly the spoiled fields are named
  auto r = valid_yes();
  r.clear_person();
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  CHECK(fields(errors) == std::vector<std::string>{"person"});
}

TEST_CASE("check_offer: a charge time in the future is named chargedAt", "[intake]") {
  // Given a charge an hour after "now" (beyond the 10-minute skew allowance)
  auto r = valid_yes();
  r.mutable_charged_at()->set_seconds(NOW + 3600);
  r.mutable_consent()->mutable_given_at()->set_seconds(NOW - 60);
  // When checked / Then chargedAt is named
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  CHECK(fields(errors) == std::vector<std::string>{"chargedAt"});
  // And a few minutes of clock skew is tolerated
  r.mutable_charged_at()->set_seconds(NOW + 120);
  CHECK(check_offer(r, dev_directory(), NOW).empty());
}

TEST_CASE("check_offer: every bad field is named at once", "[intake]") {
  // Given a valid yes with one (or every) field spoiled / When checked
  // Then exactly the spoiled fields are named
  auto r = valid_yes();
  r.set_journal_number("x");
  r.mutable_person()->set_cpr("x");
  r.mutable_person()->set_phone("x");
  r.set_kommunekode(999);
  r.clear_consent();
  r.mutable_charged_at()->set_seconds(NOW + 86400);
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  for (const char* f :
       {"journalNumber", "person.cpr", "person.phone", "kommunekode", "consent", "chargedAt"})
    CHECK(names(errors, f));
}

TEST_CASE("check_offer: a no does not check person or consent", "[intake]") {
  // Given a no carrying an invalid person and no consent
  auto r = valid_yes();
  r.set_answer(henvis::v1::ANSWER_NO);
  r.mutable_person()->set_cpr("garbage");
  r.mutable_person()->set_phone("garbage");
  r.mutable_person()->set_name("");
  r.clear_consent();
  // When checked / Then nothing is named (the person is dropped, not validated)
  const auto errors = check_offer(r, dev_directory(), NOW);
  CAPTURE(fields(errors));
  CHECK(errors.empty());
  // And a no without kommunekode is accepted too
  r.set_kommunekode(0);
  CHECK(check_offer(r, dev_directory(), NOW).empty());
}

// ---------------------------------------------------------------- Intake::post_offer

TEST_CASE("post_offer: a yes is recorded once, with one OfferRecorded in the outbox", "[intake]") {
  // Given an Intake on a fresh database
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  // When a valid yes for Herning is posted
  const auto res = intake.post_offer(offer_request(to_json(valid_yes())));
  // Then 201 with a referral id, covered
  INFO(res.body);
  REQUIRE(res.status == 201);
  const auto body = parse_response(res);
  CHECK(body.offer_id() == "offer-1");
  CHECK_FALSE(body.referral_id().empty());
  CHECK(body.covered());
  CHECK(body.municipality_name() == "Herning");
  CHECK_FALSE(body.personal_data_dropped());
  // And one outbox row on henvis.offers.v1, keyed by the person's partition key, carrying the
  // event
  CHECK(count(db_path, "SELECT count(*) FROM outbox") == 1);
  henvis::sqlite::Db db(db_path);
  henvis::sqlite::Stmt s(db, "SELECT topic, key, payload, headers FROM outbox");
  REQUIRE(s.step());
  CHECK(s.text(0) == henvis::topics::OFFERS);
  henvis::v1::OfferRecorded ev;
  REQUIRE(ev.ParseFromString(s.blob(2)));
  CHECK(s.blob(1) == ev.partition_key());
  CHECK(ev.offer_id() == "offer-1");
  CHECK(ev.referral_id() == body.referral_id());
  CHECK(ev.district_id() == "mvj");
  CHECK(ev.covered());
  // The person travels sealed under the referral's data key, kept in intake.db
  CHECK_FALSE(ev.has_person());
  henvis::sqlite::Stmt k(db, "SELECT key FROM data_keys WHERE referral_id = ?");
  k.bind(1, body.referral_id());
  REQUIRE(k.step());
  const auto person = henvis::data_keys::open(
      k.blob(0), ev.sealed_person(), henvis::data_keys::offer_ad("offer-1", body.referral_id()));
  REQUIRE(person);
  CHECK(person->cpr() == CPR_DIGITS);       // normalised
  CHECK(person->phone() == "+4523456789");  // normalised
  henvis::v1::Headers hs;
  REQUIRE(hs.ParseFromString(s.blob(3)));
  std::string type;
  for (const auto& h : hs.header())
    if (h.key() == henvis::kafka::header::TYPE) type = h.value();
  CHECK(type == henvis::event_types::OFFER_RECORDED);
}

TEST_CASE("post_offer: the same offer again returns the first answer byte for byte", "[intake]") {
  // Given a yes already posted
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  const std::string body = to_json(valid_yes());
  const auto first = intake.post_offer(offer_request(body));
  REQUIRE(first.status == 201);
  // When the same body is posted again
  const auto again = intake.post_offer(offer_request(body));
  // Then the same status and byte-identical body, and still one outbox row
  CHECK(again.status == first.status);
  CHECK(again.body == first.body);
  CHECK(again.content_type == first.content_type);
  CHECK(count(db_path, "SELECT count(*) FROM outbox") == 1);
  CHECK(count(db_path, "SELECT count(*) FROM offers") == 1);
}

TEST_CASE("post_offer: the same offerId with another body is a 409 naming offerId", "[intake]") {
  // Given a yes already posted
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  REQUIRE(intake.post_offer(offer_request(to_json(valid_yes()))).status == 201);
  // When the same offerId comes with another phone number
  auto other = valid_yes();
  other.mutable_person()->set_phone("34567890");
  const auto res = intake.post_offer(offer_request(to_json(other)));
  // Then 409 problem naming offerId, nothing more in the outbox
  INFO(res.body);
  CHECK(res.status == 409);
  CHECK(res.content_type == "application/problem+json");
  CHECK_THAT(res.body, Catch::Contains("\"field\":\"offerId\""));
  CHECK(count(db_path, "SELECT count(*) FROM outbox") == 1);
}

TEST_CASE("post_offer: an invalid offer is a 400 naming the fields and records nothing",
          "[intake]") {
  // Given an Intake / When a yes with an impossible CPR is posted
  // Then 400 naming person.cpr without echoing it, and nothing recorded
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  auto r = valid_yes();
  r.mutable_person()->set_cpr("999999-9999");
  const auto res = intake.post_offer(offer_request(to_json(r)));
  INFO(res.body);
  CHECK(res.status == 400);
  CHECK_THAT(res.body, Catch::Contains("\"field\":\"person.cpr\""));
  CHECK_THAT(res.body, !Catch::Contains("999999"));
  CHECK(count(db_path, "SELECT count(*) FROM outbox") == 0);
  CHECK(count(db_path, "SELECT count(*) FROM offers") == 0);
}

TEST_CASE("post_offer: a no with person data drops it and keeps none in the database",
          "[intake][personal-data]") {
  // Given an Intake on a fresh database
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  // When a no is posted carrying a CPR, a name and a phone
  auto r = valid_yes();
  r.set_offer_id("offer-no-1");
  r.set_answer(henvis::v1::ANSWER_NO);
  const auto res = intake.post_offer(offer_request(to_json(r)));
  // Then 201, personalDataDropped, no referral id
  INFO(res.body);
  REQUIRE(res.status == 201);
  const auto body = parse_response(res);
  CHECK(body.personal_data_dropped());
  CHECK(body.referral_id().empty());
  CHECK(body.covered());
  // And the event carries no person and is keyed by the offer id
  {
    henvis::sqlite::Db db(db_path);
    henvis::sqlite::Stmt s(db, "SELECT key, payload FROM outbox");
    REQUIRE(s.step());
    CHECK(s.blob(0) == "offer-no-1");
    henvis::v1::OfferRecorded ev;
    REQUIRE(ev.ParseFromString(s.blob(1)));
    CHECK_FALSE(ev.has_person());
    CHECK_FALSE(ev.has_consent());
    CHECK(ev.kommunekode() == 657);
    CHECK(ev.answer() == henvis::v1::ANSWER_NO);
  }
  // And neither the CPR (either form), the name nor the phone is anywhere in the files
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-journal", "-shm"}) {
    fs::path p = db_path + suffix;
    if (fs::exists(p)) bytes += read_all(p);
  }
  REQUIRE_FALSE(bytes.empty());
  CHECK(bytes.find(CPR_DIGITS) == std::string::npos);
  CHECK(bytes.find(CPR) == std::string::npos);
  CHECK(bytes.find("010190") == std::string::npos);
  CHECK(bytes.find(NAME) == std::string::npos);
  CHECK(bytes.find("Testesen") == std::string::npos);
  CHECK(bytes.find("23456789") == std::string::npos);
}

TEST_CASE("post_offer: covered tells the officer whether the municipality takes part", "[intake]") {
  // Given an Intake with the dev directory (mvj municipalities from 2020-03-01)
  // When offers for covered and uncovered municipalities and dates are posted
  // Then `covered` is the truth for the charge's Copenhagen date
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  SECTION("Herning (657) is covered") {
    auto r = valid_yes();
    const auto res = intake.post_offer(offer_request(to_json(r)));
    INFO(res.body);
    REQUIRE(res.status == 201);
    CHECK(parse_response(res).covered());
  }
  // Posts a valid yes for `kommunekode`: recorded (201), one event.
  const auto post_yes = [&](const std::string& offer_id, int kommunekode) {
    auto r = valid_yes();
    r.set_offer_id(offer_id);
    r.set_kommunekode(kommunekode);
    const auto res = intake.post_offer(offer_request(to_json(r)));
    INFO(res.body);
    REQUIRE(res.status == 201);
    CHECK(count(db_path, "SELECT count(*) FROM outbox") == 1);
    return parse_response(res);
  };
  SECTION("Aarhus (751) is not covered, and the answer still records the yes") {
    const auto body = post_yes("offer-aarhus", 751);
    CHECK_FALSE(body.covered());
    CHECK(body.municipality_name() == "Aarhus");
    CHECK_FALSE(body.referral_id().empty());
  }
  SECTION("København (101), not in the directory, is recorded and not covered") {
    const auto body = post_yes("offer-kbh", 101);
    CHECK_FALSE(body.covered());
    CHECK(body.municipality_name() == "København");
    CHECK(body.message().find("coordinator") != std::string::npos);
    CHECK_FALSE(body.referral_id().empty());
  }
  SECTION("a yes without kommunekode is recorded and not covered") {
    const auto body = post_yes("offer-nowhere", 0);
    CHECK_FALSE(body.covered());
    CHECK(body.message().find("without a home municipality") != std::string::npos);
  }
  SECTION("Herning before 2020-03-01 is not covered") {
    auto r = valid_yes();
    r.set_offer_id("offer-early");
    *r.mutable_charged_at() = ts("2020-02-29T22:30:00Z");  // 23:30 local, still Feb 29
    *r.mutable_consent()->mutable_given_at() = ts("2020-02-29T22:40:00Z");
    const auto res = intake.post_offer(offer_request(to_json(r)));
    INFO(res.body);
    REQUIRE(res.status == 201);
    CHECK_FALSE(parse_response(res).covered());
  }
  SECTION("Herning late on 2020-02-29 UTC is already 2020-03-01 in Copenhagen: covered") {
    auto r = valid_yes();
    r.set_offer_id("offer-boundary");
    *r.mutable_charged_at() = ts("2020-02-29T23:30:00Z");
    *r.mutable_consent()->mutable_given_at() = ts("2020-02-29T23:40:00Z");
    const auto res = intake.post_offer(offer_request(to_json(r)));
    INFO(res.body);
    REQUIRE(res.status == 201);
    CHECK(parse_response(res).covered());
  }
}

// BUG (common/src/http.cpp:130-138): protobuf 3.21 reports "surprise: Cannot
// find field." (the name BEFORE the message), but parse_json looks for the
// name after a ':' following "Cannot find field", so the problem names "body"
// (or the parent message) instead of the unknown key.
TEST_CASE("post_offer: an unknown JSON field is a 400 problem naming it", "[intake]") {
  // Given a body with a key the API does not know
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  std::string body = to_json(valid_yes());
  body.insert(1, "\"surprise\":1,");
  // When posted / Then http::Problem 400 naming the key (the Server renders it)
  try {
    (void)intake.post_offer(offer_request(body));
    FAIL("expected http::Problem");
  } catch (const henvis::http::Problem& p) {
    INFO(p.response.body);
    CHECK(p.response.status == 400);
    CHECK_THAT(p.response.body, Catch::Contains("surprise"));
  }
  CHECK(count(db_path, "SELECT count(*) FROM outbox") == 0);
}

TEST_CASE("post_offer: a wrongly typed field is a 400 problem naming it in lowerCamelCase",
          "[intake]") {
  // Given a chargedAt that is not an RFC 3339 time (here a CPR-like value)
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  auto body = to_json(valid_yes());
  const auto at = body.find("\"2024-05-01T10:00:00Z\"");
  REQUIRE(at != std::string::npos);
  body.replace(at, 22, "\"0101901234\"");
  // When posted / Then 400 naming chargedAt (the API's spelling), never echoing the value
  // BUG (common/src/http.cpp:126-129): the path comes from protobuf's message as
  // the proto field name "charged_at", not the JSON name "chargedAt".
  try {
    (void)intake.post_offer(offer_request(body));
    FAIL("expected http::Problem");
  } catch (const henvis::http::Problem& p) {
    INFO(p.response.body);
    CHECK(p.response.status == 400);
    CHECK_THAT(p.response.body, !Catch::Contains("0101901234"));
    CHECK_THAT(p.response.body, Catch::Contains("\"field\":\"chargedAt\""));
  }
}

// ---------------------------------------------------------------- the stored times

TEST_CASE("intake: instants stored as RFC 3339 text become Unix milliseconds", "[intake][time]") {
  // Given a database migrated up to before the conversion, holding a yes for
  // Herning in the old text times
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  const auto steps = henvis::intake::migrations();
  {
    henvis::sqlite::Db db(db_path);
    // (step 3 converts; step 4, who withdrew, came later)
    db.migrate({steps.begin(), steps.begin() + 3});
    db.exec(
        "INSERT INTO offers(offer_id, request_hash, status, response, referral_id, answer, "
        "kommunekode, district_id, created_at, charged_at) VALUES ('offer-old', 'h', 201, '{}', "
        "'ref-old', 1, 657, 'mvj', '2024-05-01T10:00:01.5Z', '2024-05-01T10:00:00Z')");
  }
  // When the database is migrated to the end
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  // Then each instant is its Unix milliseconds, and a missing one stays NULL
  CHECK(count(db_path, "SELECT created_at FROM offers") == 1714557601500);
  CHECK(count(db_path, "SELECT charged_at FROM offers") == 1714557600000);
  CHECK(count(db_path, "SELECT count(*) FROM offers WHERE withdrawn_at IS NULL") == 1);
  // And the centre the charge day routes the offer to may withdraw its consent, at the clock's time
  henvis::http::Request req;
  req.method = "POST";
  req.path = "/v1/offers/offer-old/withdrawal";
  req.params["offerId"] = "offer-old";
  req.principal =
      henvis::auth::Principal{"dev-center-657", henvis::v1::ROLE_CENTRE, "rusmiddelcenter-657", {}};
  const auto res = intake.withdraw(req);
  INFO(res.body);
  CHECK(res.status == 200);
  CHECK(count(db_path, "SELECT withdrawn_at FROM offers") == NOW * 1000);
}

TEST_CASE("partition_key: a bucket p000..p255 from a keyed hash of the CPR number",
          "[intake][partitions]") {
  const std::string secret(32, 's');
  const std::string key = henvis::intake::partition_key(secret, CPR_DIGITS);
  // Then the same person gets the same key, named by no digit of the CPR number
  CHECK(key == henvis::intake::partition_key(secret, CPR_DIGITS));
  REQUIRE(key.size() == 4);
  CHECK(key[0] == 'p');
  CHECK(std::stoi(key.substr(1)) <= 255);
  // And the bucket depends on the secret: without it, nobody computes it from a CPR number
  std::set<std::string> under_other_secrets;
  for (char c = 'a'; c <= 'z'; ++c)
    under_other_secrets.insert(henvis::intake::partition_key(std::string(32, c), CPR_DIGITS));
  CHECK(under_other_secrets.size() > 10);
  // And people spread over (nearly) every bucket
  std::set<std::string> buckets;
  for (int i = 0; i < 2000; ++i) {
    char cpr[16];
    std::snprintf(cpr, sizeof cpr, "%02d%02d70%04d", i % 28 + 1, (i / 28) % 12 + 1, 1000 + i);
    buckets.insert(henvis::intake::partition_key(secret, cpr));
  }
  CHECK(buckets.size() > 240);
}

TEST_CASE(
    "post_offer and withdraw: one person's offers and the withdrawal share one Kafka key, "
    "another person's offer is keyed by their own",
    "[intake][partitions]") {
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  henvis::intake::Intake intake(migrated(db_path), dev_directory(), nullptr, CLOCK);
  // Given two offers of one person and one of another (under the dev secret kept in intake.db)
  auto first = valid_yes();
  auto again = valid_yes();
  again.set_offer_id("offer-2");
  REQUIRE(intake.post_offer(offer_request(to_json(first))).status == 201);
  REQUIRE(intake.post_offer(offer_request(to_json(again))).status == 201);
  henvis::http::Request req;
  req.method = "POST";
  req.path = "/v1/offers/offer-1/withdrawal";
  req.params["offerId"] = "offer-1";
  req.principal = henvis::auth::Principal{"dev-officer-mvj", henvis::v1::ROLE_OFFICER, "mvj", {}};
  // When the first is withdrawn
  REQUIRE(intake.withdraw(req).status == 200);
  // Then the three events in the outbox have one key, the person's partition key
  henvis::sqlite::Db db(db_path);
  henvis::sqlite::Stmt s(db, "SELECT key, payload FROM outbox ORDER BY id");
  std::vector<std::string> keys;
  while (s.step()) keys.push_back(s.blob(0));
  REQUIRE(keys.size() == 3);
  CHECK(keys[0] == keys[1]);
  CHECK(keys[1] == keys[2]);
  // And the secret it comes from is kept in intake.db (a dev config), one only
  CHECK(count(db_path, "SELECT count(*) FROM secrets WHERE name = 'partition_key'") == 1);
  // And intake started again on the database keeps the same key for the person
  henvis::intake::Intake restarted(db_path, dev_directory(), nullptr, CLOCK);
  auto third = valid_yes();
  third.set_offer_id("offer-3");
  REQUIRE(restarted.post_offer(offer_request(to_json(third))).status == 201);
  henvis::sqlite::Stmt last(db, "SELECT key FROM outbox ORDER BY id DESC LIMIT 1");
  REQUIRE(last.step());
  CHECK(last.blob(0) == keys[0]);
}

TEST_CASE("Intake outside dev refuses to start without intake.partition_key_file",
          "[intake][partitions][keys]") {
  TempDir tmp("henvis-intake-test");
  const auto db_path = tmp.file("intake.db");
  CHECK_THROWS_WITH(
      henvis::intake::Intake(migrated(db_path), dev_directory(), nullptr, CLOCK, "", false),
      Catch::StartsWith("intake.partition_key_file is required"));
}
