// Keyset paging of list endpoints: limit and cursor parsing, and the cursor
// round trip (common/include/henvis/paging.hpp).
#include <catch2/catch.hpp>

#include "henvis/paging.hpp"

using namespace henvis;

namespace {
http::Request with(std::map<std::string, std::string> query) {
  http::Request r;
  r.query = std::move(query);
  return r;
}

std::string field_of(const http::Problem& p) {
  const auto at = p.response.body.find("\"field\":\"");
  return at == std::string::npos
             ? ""
             : p.response.body.substr(at + 9, p.response.body.find('"', at + 9) - at - 9);
}
}  // namespace

TEST_CASE("A list without paging parameters gets the default page from the start", "[paging]") {
  const auto page = http::page_request(with({}), 2);
  CHECK(page.limit == http::DEFAULT_PAGE_SIZE);
  CHECK(page.after.empty());
}

TEST_CASE("A cursor carries the last item's key parts back to the next page", "[paging]") {
  const std::string cursor = http::next_cursor({"1700000000000", "r-42"});
  const auto page = http::page_request(with({{"cursor", cursor}, {"limit", "7"}}), 2);
  CHECK(page.limit == 7);
  CHECK(page.after == std::vector<std::string>{"1700000000000", "r-42"});
}

TEST_CASE("A limit outside 1..500 or not a number is refused naming limit", "[paging]") {
  for (const char* bad : {"0", "501", "-1", "ten", "", "5x", "99999999999999999999999"}) {
    INFO(bad);
    try {
      http::page_request(with({{"limit", bad}}), 1);
      FAIL("accepted");
    } catch (const http::Problem& p) {
      CHECK(p.response.status == 400);
      CHECK(field_of(p) == "limit");
    }
  }
  CHECK(http::page_request(with({{"limit", "500"}}), 1).limit == 500);
}

TEST_CASE("A cursor this list did not hand out is refused naming cursor", "[paging]") {
  const std::string other_list = http::next_cursor({"a", "b", "c"});
  for (const std::string& bad : {std::string("zz"), std::string("abc"), other_list}) {
    INFO(bad);
    try {
      http::page_request(with({{"cursor", bad}}), 2);
      FAIL("accepted");
    } catch (const http::Problem& p) {
      CHECK(p.response.status == 400);
      CHECK(field_of(p) == "cursor");
    }
  }
}

TEST_CASE("take_page trims to the limit and points after the last item kept", "[paging]") {
  http::PageRequest page;
  page.limit = 2;
  std::vector<int> items{1, 2, 3};
  const std::string next = http::take_page(
      items, page, [](int i) { return std::vector<std::string>{std::to_string(i)}; });
  CHECK(items == std::vector<int>{1, 2});
  CHECK(http::page_request(with({{"cursor", next}}), 1).after == std::vector<std::string>{"2"});
  std::vector<int> last{4};
  CHECK(http::take_page(last, page, [](int i) {
          return std::vector<std::string>{std::to_string(i)};
        }).empty());
}

TEST_CASE("A cursor's number outside the list's range is refused naming cursor, not converted",
          "[paging]") {
  CHECK(http::cursor_number("1700000000000", 0, http::MAX_CURSOR_MS) == 1700000000000);
  for (const char* bad : {"9999999999999999", "-1", "", "12a", "99999999999999999999"}) {
    INFO(bad);
    try {
      http::cursor_number(bad, 0, http::MAX_CURSOR_MS);
      FAIL("accepted");
    } catch (const http::Problem& p) {
      CHECK(p.response.status == 400);
      CHECK(field_of(p) == "cursor");
    }
  }
}
