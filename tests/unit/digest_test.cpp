// henvis/digest.hpp: SHA-256, HMAC-SHA256 and the idempotency hash, pinned
// against published test vectors and against the bytes stored hashes were
// made of.
#include "henvis/digest.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "henvis/v1/api.pb.h"

namespace {

henvis::v1::OutcomeRequest outcome_note_x() {
  henvis::v1::OutcomeRequest r;
  r.set_note("x");  // serialized: 1a 01 78
  return r;
}

}  // namespace

TEST_CASE("sha256_hex gives the FIPS 180-2 digest of \"abc\" and of nothing", "[digest]") {
  CHECK(henvis::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(henvis::sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("hmac_sha256_hex matches RFC 4231 test cases 1 and 2", "[digest]") {
  CHECK(henvis::hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(henvis::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("hmac_sha256_hex keeps bytes after a NUL in key and data", "[digest]") {
  const std::string key("k\0a", 3), data("d\0b", 3);
  CHECK(henvis::hmac_sha256_hex(key, data) != henvis::hmac_sha256_hex("k", data));
  CHECK(henvis::hmac_sha256_hex(key, data) != henvis::hmac_sha256_hex(key, "d"));
}

TEST_CASE("to_hex writes two lowercase digits a byte", "[digest]") {
  const unsigned char b[] = {0x00, 0x0f, 0xa0, 0xff};
  CHECK(henvis::to_hex(b, sizeof b) == "000fa0ff");
  CHECK(henvis::to_hex(b, 0).empty());
}

TEST_CASE("idempotency_hash is SHA-256 of each scope part and a NUL, then the request bytes",
          "[digest]") {
  // The router's recipe (no scope): SHA-256 of 1a 01 78.
  CHECK(henvis::idempotency_hash({}, outcome_note_x()) ==
        "30f03e9db0872f01dcaa2530826fc35eec4fc3d45dda08fff32f62217c2200e0");
  // Intake's recipe (the officer scope): SHA-256 of "s" 00 1a 01 78.
  CHECK(henvis::idempotency_hash({"s"}, outcome_note_x()) ==
        "74988093e1b9f8648aff5092bae8c91ef55b61cd3e451ba45f13d47a39cf56ae");
  // Two parts, fields in field-number order: "a" 00 "b" 00 08 05 1a 01 78.
  auto r = outcome_note_x();
  r.set_outcome(henvis::v1::REFERRAL_STATUS_CONTACT_ATTEMPTED);
  CHECK(henvis::idempotency_hash({"a", "b"}, r) ==
        "78f7a572a5fa554815f2435f6cfad209b9cce0ba0acd359503a11b34e1044f28");
}

TEST_CASE("idempotency_hash tells scopes apart that concatenate alike", "[digest]") {
  const auto r = outcome_note_x();
  CHECK(henvis::idempotency_hash({"ab"}, r) != henvis::idempotency_hash({"a", "b"}, r));
  CHECK(henvis::idempotency_hash({"a"}, r) != henvis::idempotency_hash({}, r));
}
