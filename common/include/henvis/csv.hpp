#pragma once
// CSV cells (RFC 4180) that a spreadsheet cannot run: the files henvis writes
// are opened in Excel or LibreOffice by centre staff and evaluators.

#include <string>
#include <string_view>

namespace henvis::csv {

// `v` as one CSV cell: quoted when it holds a comma, quote, CR or LF (quotes
// doubled), and neutralised when a spreadsheet would read it as a formula
// (OWASP "CSV injection"): a cell starting with = + - @, a tab or a CR gets a
// leading apostrophe, unless it is only a number (digits, spaces, + - . ,),
// such as a phone number "+45 22 33 44 55", which cannot call anything.
std::string cell(std::string_view v);

}  // namespace henvis::csv
