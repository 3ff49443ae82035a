// Delegated principals through the real stack (docs/decisions.md
// "Delegated principals (henvis-web)"): a delegating token, as henvis-web
// holds, acts as the person its Henvis-Person* headers name; the services
// record that person with what they did.

#include <catch2/catch.hpp>
#include <string>

#include "harness.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
const auto CENTRE_657 = person_headers("center-657", "centre", "rusmiddelcenter-657");

// A stack of broker, intake and router with one yes-offer routed to Herning's
// centre; its referral id.
std::string routed_referral(Stack& s, const std::string& offer_id) {
  s.start_broker();
  s.start("intake");
  s.start("router");
  const std::string body = offer_json(offer_id, 657, true);
  const auto r = http("POST", s.port("intake"), "/v1/offers", DELEGATING_TOKEN, body,
                      person_headers("betjent-mvj", "officer", "mvj"));
  REQUIRE(r.status == 201);
  const std::string id = parse<v1::OfferResponse>(r.body).referral_id();
  REQUIRE(eventually([&] {
    return http("GET", s.port("router"), "/v1/referrals/" + id, "dev-center-657").status == 200;
  }));
  return id;
}

HttpResult outcome(Stack& s, const std::string& id, const std::string& token,
                   const std::vector<std::pair<std::string, std::string>>& headers) {
  return http("POST", s.port("router"), "/v1/referrals/" + id + "/outcomes", token,
              R"({"outcome":"REFERRAL_STATUS_CONTACT_ATTEMPTED"})", headers);
}

// The person of the referral's contact-attempted history entry.
std::string outcome_person(const v1::ReferralView& v) {
  for (const auto& h : v.history())
    if (h.status() == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED) return h.person();
  FAIL("no contact-attempted entry in the history");
  return "";
}

// The token label and person of the router's access-log rows for `purpose`.
std::vector<std::pair<std::string, std::string>> access_rows(Stack& s, const std::string& purpose) {
  sqlite::Db db(s.database("router"));
  sqlite::Stmt st(db, "SELECT who, person FROM access_log WHERE purpose = ? ORDER BY id");
  st.bind(1, purpose);
  std::vector<std::pair<std::string, std::string>> out;
  while (st.step()) out.emplace_back(st.text(0), st.text(1));
  return out;
}
}  // namespace

TEST_CASE("Delegation: an outcome recorded for a person shows them in the history and access log",
          "[integration][delegation]") {
  Stack s;
  const std::string id = routed_referral(s, "it-deleg-1");
  // When henvis-web records an outcome for the centre's person
  const auto r = outcome(s, id, DELEGATING_TOKEN, CENTRE_657);
  REQUIRE(r.status == 200);
  // Then the answer's and the coordinator's view of the history name the person
  CHECK(outcome_person(parse<v1::ReferralView>(r.body)) == "center-657");
  const auto v = http("GET", s.port("router"), "/v1/referrals/" + id, "dev-coordinator-mvj");
  REQUIRE(v.status == 200);
  CHECK(outcome_person(parse<v1::ReferralView>(v.body)) == "center-657");
  // And the access log holds the person beside the token's label
  const auto rows = access_rows(s, "outcome");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].first == DELEGATING_TOKEN);
  CHECK(rows[0].second == "center-657");
}

TEST_CASE("Delegation: a delegating token without Henvis-Person is 401 naming the header",
          "[integration][delegation]") {
  Stack s;
  const std::string id = routed_referral(s, "it-deleg-2");
  // When henvis-web's token comes without the person's headers, or with only the person
  const auto none = http("GET", s.port("router"), "/v1/referrals/" + id, DELEGATING_TOKEN);
  const auto no_role = http("GET", s.port("router"), "/v1/referrals/" + id, DELEGATING_TOKEN, "",
                            {{"Henvis-Person", "center-657"}});
  // Then 401 problems naming the missing header
  CHECK(none.status == 401);
  CHECK(none.content_type == "application/problem+json");
  CHECK(none.body.find("\"field\":\"Henvis-Person\"") != std::string::npos);
  CHECK(no_role.status == 401);
  CHECK(no_role.body.find("\"field\":\"Henvis-Person-Role\"") != std::string::npos);
  // And nothing was read for henvis-web (only the centre's own reads while routing was awaited)
  for (const auto& [who, person] : access_rows(s, "read")) CHECK(who == "dev-center-657");
}

TEST_CASE("Delegation: a token that is not delegating records no person despite the headers",
          "[integration][delegation]") {
  Stack s;
  const std::string id = routed_referral(s, "it-deleg-3");
  // When the centre's own token comes with Henvis-Person headers
  const auto r =
      outcome(s, id, "dev-center-657", person_headers("mallory", "centre", "rusmiddelcenter-657"));
  REQUIRE(r.status == 200);
  // Then neither the history nor the access log names a person
  CHECK(outcome_person(parse<v1::ReferralView>(r.body)).empty());
  const auto rows = access_rows(s, "outcome");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].first == "dev-center-657");
  CHECK(rows[0].second.empty());
}

TEST_CASE("Delegation: a person of another centre cannot read or change the referral",
          "[integration][delegation]") {
  Stack s;
  const std::string id = routed_referral(s, "it-deleg-4");
  // When henvis-web asks for Herning's referral as a person of Silkeborg's centre
  const auto other = person_headers("center-661", "centre", "rusmiddelcenter-661");
  const auto read =
      http("GET", s.port("router"), "/v1/referrals/" + id, DELEGATING_TOKEN, "", other);
  // Then it does not exist for them, and no outcome can be recorded
  CHECK(read.status == 404);
  CHECK(outcome(s, id, DELEGATING_TOKEN, other).status == 404);
  // And a person as an officer (a role the route does not allow) is forbidden
  CHECK(http("GET", s.port("router"), "/v1/referrals/" + id, DELEGATING_TOKEN, "",
             person_headers("betjent-mvj", "officer", "mvj"))
            .status == 403);
}

TEST_CASE("Delegation: a withdrawal for a person records and answers who withdrew",
          "[integration][delegation]") {
  Stack s;
  routed_referral(s, "it-deleg-5");
  // When henvis-web withdraws the consent for the officer's person
  const auto r = http("POST", s.port("intake"), "/v1/offers/it-deleg-5/withdrawal",
                      DELEGATING_TOKEN, "", person_headers("betjent-mvj", "officer", "mvj"));
  REQUIRE(r.status == 200);
  // Then the answer names the person, and intake keeps the label and the person
  CHECK(parse<v1::WithdrawalResponse>(r.body).person() == "betjent-mvj");
  sqlite::Db db(s.database("intake"));
  sqlite::Stmt st(db, "SELECT withdrawn_by, withdrawn_by_person FROM offers WHERE offer_id = ?");
  st.bind(1, std::string("it-deleg-5"));
  REQUIRE(st.step());
  CHECK(st.text(0) == DELEGATING_TOKEN);
  CHECK(st.text(1) == "betjent-mvj");
}
