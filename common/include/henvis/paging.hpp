#pragma once
// Paging of list endpoints (docs/decisions.md 18): `?limit=N` (1..MAX_PAGE_SIZE,
// default DEFAULT_PAGE_SIZE) and `?cursor=C`, the opaque `nextCursor` of the
// page before. A list answers `nextCursor` only when more items follow.
//
// Keyset paging: the cursor carries the sort key of the last item returned,
// and the next page is the items after it in the list's order, so an item
// inserted or changed meanwhile is neither skipped twice nor repeated the way
// an offset would. The key parts are the list's own (e.g. a deadline and an
// id); they are never personal data, and the cursor is their hex encoding.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "henvis/http.hpp"

namespace henvis::http {

constexpr std::size_t DEFAULT_PAGE_SIZE = 100;
constexpr std::size_t MAX_PAGE_SIZE = 500;

struct PageRequest {
  std::size_t limit = DEFAULT_PAGE_SIZE;
  // The last item's sort key, `key_parts` strings; empty on the first page.
  std::vector<std::string> after;
};

// Reads ?limit= and ?cursor=. Throws Problem 400 naming `limit` or `cursor`
// when either is malformed (a cursor with another number of key parts than
// this list's is malformed).
PageRequest page_request(const Request& req, std::size_t key_parts);

// A cursor's key part that is a number from `min` to `max` (e.g. Unix
// milliseconds, a rowid). Throws Problem 400 naming `cursor` otherwise: a
// crafted cursor must not reach a conversion that overflows.
std::int64_t cursor_number(const std::string& part, std::int64_t min, std::int64_t max);
// Unix milliseconds a cursor may carry: 1970 to the end of year 9999.
constexpr std::int64_t MAX_CURSOR_MS = 253402300799999;

// The cursor that continues after the item with sort key `key`.
std::string next_cursor(const std::vector<std::string>& key);

// Trims `items`, fetched with limit + 1, to the page and returns the cursor
// for the next page ("" when this is the last), `key_of` giving an item's
// sort key.
template <class T, class KeyOf>
std::string take_page(std::vector<T>& items, const PageRequest& page, KeyOf key_of) {
  if (items.size() <= page.limit) return {};
  items.resize(page.limit);
  return next_cursor(key_of(items.back()));
}

}  // namespace henvis::http
