#pragma once
// Danish working days in Europe/Copenhagen: Monday to Friday except public
// holidays (helligdage), the Easter-based ones computed, adjusted by the
// configured calendar (extra closing days; optionally 5 June, 24 and 31
// December, which are customary days off but not public holidays).
//
// Store bededag (4th Friday after Easter) is a public holiday up to and
// including 2023; it was abolished from 2024 (lov nr. 90 af 28.2.2023).

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "henvis/v1/config.pb.h"

namespace henvis::workdays {

using Day = std::chrono::year_month_day;
using Instant = std::chrono::sys_seconds;

// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm, Meeus/
// Jones/Butcher; neither the C++ library nor a Debian package provides it).
Day easter_sunday(int year);

struct Holiday {
  Day day;
  std::string name;  // Danish name, e.g. "Langfredag"
};

class Calendar {
 public:
  // Throws std::invalid_argument for a malformed extra_holidays date.
  explicit Calendar(const v1::Calendar& config = v1::Calendar());

  std::vector<Holiday> holidays(int year) const;
  bool is_holiday(Day d) const;
  bool is_working_day(Day d) const;
  // The first working day strictly after `d`.
  Day next_working_day(Day d) const;
  // The deadline for something that must happen within `n` full working days
  // of `from`: the start (00:00 Europe/Copenhagen) of the day after the n-th
  // working day that begins at or after `from` (a day already begun does not
  // count; one beginning exactly at `from` does).
  Instant deadline(Instant from, int n) const;

 private:
  std::set<std::chrono::sys_days> extra_;
  bool customary_;
};

// The local (Europe/Copenhagen) day of an instant.
Day local_day(Instant t);
// The instant of a local wall-clock time on a local day; a time that does not
// exist (spring forward) maps to the instant after the gap, an ambiguous one
// (fall back) to the earlier instant.
Instant at_local(Day d, std::chrono::minutes time_of_day);

}  // namespace henvis::workdays
