#include "henvisctl/cli.hpp"

#include <google/protobuf/util/time_util.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <sstream>

#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/v1/stats.pb.h"
#include "henvis/workdays.hpp"
#include "henvisctl/journal.hpp"

namespace henvis::ctl {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

// ---------------------------------------------------------------- arguments

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = options.find(name);
  return it == options.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) throw UsageError("--" + name + " is required");
  return it->second;
}

Args parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
                const std::set<std::string>& flag_options) {
  Args a;
  bool only_positional = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (only_positional || s.size() < 3 || s.rfind("--", 0) != 0) {
      if (s == "--") {
        only_positional = true;
        continue;
      }
      a.positional.push_back(s);
      continue;
    }
    std::string name = s.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (flag_options.count(name)) {
      if (inline_value) throw UsageError("--" + name + " takes no value");
      a.flags.insert(name);
    } else if (value_options.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError("--" + name + " needs a value");
        value = argv[++i];
      }
      a.options[name] = value;
    } else {
      std::vector<std::string> known;
      for (const auto* set : {&value_options, &flag_options})
        for (const auto& o : *set) known.push_back(o);
      std::string msg = "unknown option --" + name;
      if (auto guess = did_you_mean(name, known)) msg += " (did you mean --" + *guess + "?)";
      throw UsageError(msg);
    }
  }
  return a;
}

// Levenshtein distance, the textbook two-row version: twenty lines are less
// than a dependency for suggesting a command name.
std::optional<std::string> did_you_mean(const std::string& word,
                                        const std::vector<std::string>& candidates) {
  const auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  const std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
  std::optional<std::string> best;
  std::size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

// ---------------------------------------------------------------- output

namespace {
using events::status_name;
std::string offence_str(v1::Offence o) {
  return events::enum_word(v1::Offence_Name(o), "OFFENCE_");
}
std::string answer_str(v1::Answer a) { return events::enum_word(v1::Answer_Name(a), "ANSWER_"); }
std::string kind_str(v1::NotificationKind k) {
  return events::enum_word(v1::NotificationKind_Name(k), "NOTIFICATION_KIND_");
}

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;  // count code points, not UTF-8 bytes
  return n;
}

const date::time_zone* copenhagen() {
  static const date::time_zone* tz = date::locate_zone("Europe/Copenhagen");
  return tz;
}

bool numeric(const std::string& s) {
  if (s.empty()) return false;
  return s.find_first_not_of("0123456789.-%") == std::string::npos &&
         s.find_first_of("0123456789") != std::string::npos;
}
}  // namespace

std::string short_time(const Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  // Danish users read Danish wall-clock time (CET/CEST), to the minute.
  const auto local =
      date::make_zoned(copenhagen(), date::sys_seconds{std::chrono::seconds(t.seconds())});
  return date::format("%Y-%m-%d %H:%M", date::floor<std::chrono::minutes>(local.get_local_time()));
}

Timestamp parse_time(const std::string& option, const std::string& v) {
  Timestamp t;
  if (v == "now") return TimeUtil::GetCurrentTime();
  if (v.size() == 10) {  // a calendar day: its start in Copenhagen
    std::istringstream in(v);
    date::year_month_day day{};
    in >> date::parse("%F", day);
    if (!in.fail() && day.ok() && in.peek() == std::char_traits<char>::eof()) {
      const std::chrono::year_month_day d{std::chrono::year(static_cast<int>(day.year())),
                                          std::chrono::month(static_cast<unsigned>(day.month())),
                                          std::chrono::day(static_cast<unsigned>(day.day()))};
      t.set_seconds(workdays::at_local(d, std::chrono::minutes(0)).time_since_epoch().count());
      return t;
    }
  } else if (TimeUtil::FromString(v, &t)) {
    return t;
  }
  throw UsageError("--" + option +
                   " must be an RFC 3339 time such as 2020-03-14T22:30:00+01:00, a date "
                   "YYYY-MM-DD (its start in Copenhagen) or \"now\"");
}

namespace {
// A cell wider than this is cut with an ellipsis: a long note or name must not
// push every other column off the screen.
constexpr std::size_t MAX_CELL = 40;

std::string fit_cell(const std::string& cell) {
  if (display_width(cell) <= MAX_CELL) return cell;
  std::string cut;
  std::size_t n = 0;
  for (char ch : cell) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80 && ++n == MAX_CELL) break;
    cut += ch;
  }
  return cut + "\u2026";
}

// One table of the columns `cols` (indices into header/rows).
void print_columns(std::ostream& out, const std::vector<std::string>& header,
                   const std::vector<std::vector<std::string>>& rows,
                   const std::vector<std::size_t>& cols, const std::vector<std::size_t>& w,
                   const std::vector<bool>& right) {
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const std::size_t c = cols[i];
      const std::string cell = c < r.size() ? r[c] : "";
      const std::string pad(w[c] - display_width(cell), ' ');
      if (i) s += "  ";
      s += right[c] ? pad + cell : cell + pad;
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  if (std::any_of(header.begin(), header.end(), [](const std::string& h) { return !h.empty(); }))
    line(header);
  for (const auto& r : rows) line(r);
}
}  // namespace

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows_in, std::size_t key_columns) {
  std::vector<std::vector<std::string>> rows = rows_in;
  for (auto& r : rows)
    for (auto& cell : r) cell = fit_cell(cell);
  std::vector<std::size_t> w(header.size(), 0);
  std::vector<bool> right(header.size(), true);
  for (std::size_t c = 0; c < header.size(); ++c) w[c] = display_width(header[c]);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size() && c < w.size(); ++c) {
      w[c] = std::max(w[c], display_width(r[c]));
      if (!r[c].empty() && !numeric(r[c])) right[c] = false;
    }
  if (rows.empty()) std::fill(right.begin(), right.end(), false);
  // Too wide for TABLE_WIDTH: the columns after the key columns are split into
  // tables of their own that each fit, every one repeating the key columns.
  key_columns = std::min(key_columns, header.size());
  std::vector<std::size_t> keys;
  std::size_t keys_width = 0;
  for (std::size_t c = 0; c < key_columns; ++c) {
    keys.push_back(c);
    keys_width += w[c] + (c ? 2 : 0);
  }
  std::vector<std::size_t> cols = keys;
  std::size_t width = keys_width;
  bool first = true;
  for (std::size_t c = key_columns; c < header.size(); ++c) {
    const std::size_t add = w[c] + (cols.empty() ? 0 : 2);
    if (cols.size() > keys.size() && width + add > TABLE_WIDTH) {
      if (!first) out << "\n";
      print_columns(out, header, rows, cols, w, right);
      first = false;
      cols = keys;
      width = keys_width;
    }
    cols.push_back(c);
    width += w[c] + (cols.size() > 1 ? 2 : 0);
  }
  if (!first) out << "\n";
  print_columns(out, header, rows, cols, w, right);
}

// ---------------------------------------------------------------- commands

std::string paging_query(const Args& a, std::vector<std::pair<std::string, std::string>> more) {
  more.emplace_back("limit", a.get("limit"));
  more.emplace_back("cursor", a.get("cursor"));
  std::string q;
  for (const auto& [k, v] : more)
    if (!v.empty()) q += (q.empty() ? "" : "&") + k + "=" + client::url_encode(v);
  return q;
}

// The contents of FILE, or of standard input for "-", given as --`option`.
static std::string read_input(const std::string& option, const std::string& source) {
  if (source == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  std::ifstream in(source, std::ios::binary);
  if (!in) throw UsageError("--" + option + ": cannot read " + source);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A note from --note-file FILE (or - for standard input), its final line
// break dropped; "" without one. Never from --note: a note is free text that
// may name the person, and the command line is visible to every user of the
// machine (ps) and stays in shell history.
std::string note_from(const Args& a) {
  if (a.has("note"))
    throw UsageError(
        "--note: a note may name the person, and the command line is visible to every user "
        "(ps) and stays in shell history; give it with --note-file FILE or --note-file - "
        "(standard input)");
  if (!a.has("note-file")) return "";
  std::string text = read_input("note-file", a.get("note-file"));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void more_hint(const Context& c, const Args& a, const std::string& next_cursor) {
  if (next_cursor.empty()) return;
  c.out << "more: henvisctl " << c.command;
  for (const auto& [k, v] : a.options)
    if (k != "cursor") c.out << " --" << k << " " << v;
  for (const auto& f : a.flags)
    if (f != "json") c.out << " --" << f;
  for (const auto& p : a.positional) c.out << " " << p;
  c.out << " --cursor " << next_cursor << "\n";
}

namespace {

void expect_positional(const Args& a, std::size_t n, const std::string& what) {
  if (a.positional.size() != n) throw UsageError("expected " + what);
}

template <class E>
E parse_enum(const std::string& option, const std::string& value,
             const std::vector<std::pair<std::string, E>>& names) {
  for (const auto& [n, e] : names)
    if (n == value) return e;
  std::string all;
  for (const auto& [n, e] : names) all += (all.empty() ? "" : ", ") + n;
  throw UsageError("--" + option + " must be one of " + all);
}

const std::vector<std::pair<std::string, v1::ReferralStatus>>& outcome_names() {
  static const std::vector<std::pair<std::string, v1::ReferralStatus>> n{
      {"contact_attempted", v1::REFERRAL_STATUS_CONTACT_ATTEMPTED},
      {"reached", v1::REFERRAL_STATUS_REACHED},
      {"conversation_held", v1::REFERRAL_STATUS_CONVERSATION_HELD},
      {"further_sessions_accepted", v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED},
      {"declined", v1::REFERRAL_STATUS_DECLINED},
      {"unreachable", v1::REFERRAL_STATUS_UNREACHABLE},
      {"closed", v1::REFERRAL_STATUS_CLOSED}};
  return n;
}

void kv(std::ostream& out, const std::string& k, const std::string& v) {
  if (v.empty()) return;
  out << std::left << std::setw(25) << (k + ":") << v << "\n";
}

std::string municipality(int kode, const std::string& name) {
  if (!kode) return "";
  return name.empty() ? std::to_string(kode) : name + " (" + std::to_string(kode) + ")";
}

// Runs `send` (a router call with a key from the journal, journal.hpp) and
// settles the journal's attempt at `request` once the router has answered,
// yes or no; after no answer, the key is kept for the same command again.
template <class Send>
v1::ReferralView settled(const Context& c, Journal* journal, const std::string& request,
                         const std::string& what, Send send) {
  v1::ReferralView v;
  try {
    v = send();
  } catch (const client::ApiError&) {
    if (journal) journal->outcome_answered(request);
    throw;
  } catch (const client::ConnectionError&) {
    if (journal)
      c.err << "henvisctl: no answer from the router; the same command again retries this " << what
            << " safely (it is recorded at most once)\n";
    throw;
  }
  if (journal) journal->outcome_answered(request);
  return v;
}

// The person's data from --person FILE (or - for standard input), as the
// API's JSON person object. Never from options of their own: the command
// line is visible to every user of the machine (ps) and kept in shell
// history.
v1::Person person_from(const Args& a) {
  for (const char* opt : {"cpr", "name", "phone", "email", "contact-time"})
    if (a.has(opt))
      throw UsageError(std::string("--") + opt +
                       ": a person's data on the command line is visible to every user (ps) and "
                       "stays in shell history; give it with --person FILE or --person - (JSON "
                       "on standard input)");
  const std::string text = read_input("person", a.get("person"));
  v1::Person p;
  // protobuf's message may quote the input: not repeated here.
  if (!google::protobuf::util::JsonStringToMessage(text, &p).ok())
    throw UsageError(
        "--person: expected a JSON object with cpr, name, phone and optionally email and "
        "preferredContactTime");
  return p;
}

int offer_register(const Context& c, const Args& a) {
  expect_positional(a, 0, "no arguments besides the options");
  v1::OfferRequest r;
  r.set_offer_id(a.required("offer-id"));
  r.set_journal_number(a.required("journal"));
  r.set_offence(parse_enum<v1::Offence>(
      "offence", a.required("offence"),
      {{"drunk", v1::OFFENCE_DRUNK}, {"drug", v1::OFFENCE_DRUG}, {"both", v1::OFFENCE_BOTH}}));
  if (a.has("charged-at")) {
    *r.mutable_charged_at() = parse_time("charged-at", a.get("charged-at"));
  } else {
    // "now" once per offer id: a retried command sends the same body.
    const std::string now = to_rfc3339(parse_time("charged-at", "now"));
    *r.mutable_charged_at() =
        parse_time("charged-at", Journal().offer_charge_time(r.offer_id(), now));
  }
  r.set_officer_id(a.required("officer"));
  r.set_answer(parse_enum<v1::Answer>("answer", a.required("answer"),
                                      {{"yes", v1::ANSWER_YES}, {"no", v1::ANSWER_NO}}));
  const std::string k = a.required("kommunekode");
  if (k.find_first_not_of("0123456789") != std::string::npos || k.size() > 4)
    throw UsageError("--kommunekode must be a municipality code such as 657");
  r.set_kommunekode(std::stoi(k));
  if (a.has("person") || a.has("cpr") || a.has("name") || a.has("phone") || a.has("email") ||
      a.has("contact-time"))
    *r.mutable_person() = person_from(a);
  if (r.answer() == v1::ANSWER_YES) {
    auto* consent = r.mutable_consent();
    consent->set_text_version(a.get("consent-version", "rusmiddel-samtykke-v1"));
    *consent->mutable_given_at() =
        a.has("consent-at") ? parse_time("consent-at", a.get("consent-at")) : r.charged_at();
  }
  int status = 0;
  auto res = c.api().register_offer(r, &status);
  if (c.globals.json) {
    c.out << client::to_json(res, true) << "\n";
    return EXIT_OK;
  }
  c.out << (status == 201 ? "Offer registered" : "Offer already registered (same answer)") << "\n";
  kv(c.out, "offer", res.offer_id());
  kv(c.out, "answer", answer_str(res.answer()));
  kv(c.out, "municipality", municipality(res.kommunekode(), res.municipality_name()));
  kv(c.out, "covered by programme", res.covered() ? "yes" : "no");
  kv(c.out, "referral", res.referral_id());
  if (res.personal_data_dropped()) kv(c.out, "personal data", "dropped (answer was no)");
  kv(c.out, "message", res.message());
  return EXIT_OK;
}

int offer_withdraw(const Context& c, const Args& a) {
  expect_positional(a, 1, "OFFER_ID");
  auto res = c.api().withdraw(a.positional[0]);
  if (c.globals.json) {
    c.out << client::to_json(res, true) << "\n";
    return EXIT_OK;
  }
  c.out << "Consent withdrawn; the contact data is being erased\n";
  kv(c.out, "offer", res.offer_id());
  kv(c.out, "referral", res.referral_id());
  kv(c.out, "withdrawn at", short_time(res.withdrawn_at()));
  return EXIT_OK;
}

int referrals_list(const Context& c, const Args& a) {
  expect_positional(a, 0, "no arguments besides the options");
  auto list = c.api().referrals_page(paging_query(a, {{"status", a.get("status")}}));
  if (c.globals.json) {
    c.out << client::to_json(list, true) << "\n";
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : list.referrals()) {
    rows.push_back(
        {r.referral_id(), status_name(r.status()),
         municipality(r.kommunekode(), r.municipality_name()), offence_str(r.offence()),
         short_time(r.charged_at()).substr(0, 10), r.person().name(), r.person().phone(),
         std::to_string(r.prior_referrals_90d()) + "/" + std::to_string(r.prior_referrals_5y())});
  }
  print_table(
      c.out,
      {"REFERRAL", "STATUS", "MUNICIPALITY", "OFFENCE", "CHARGED", "NAME", "PHONE", "PRIOR 90D/5Y"},
      rows);
  c.out << list.referrals_size() << " referral" << (list.referrals_size() == 1 ? "" : "s") << "\n";
  more_hint(c, a, list.next_cursor());
  return EXIT_OK;
}

int referrals_show(const Context& c, const Args& a) {
  expect_positional(a, 1, "REFERRAL_ID");
  auto r = c.api().referral(a.positional[0]);
  if (c.globals.json) {
    c.out << client::to_json(r, true) << "\n";
    return EXIT_OK;
  }
  kv(c.out, "referral", r.referral_id());
  kv(c.out, "offer", r.offer_id());
  kv(c.out, "status", status_name(r.status()));
  kv(c.out, "reason", r.reason());
  kv(c.out, "centre", r.centre_id());
  kv(c.out, "municipality", municipality(r.kommunekode(), r.municipality_name()));
  kv(c.out, "district", r.district_id());
  kv(c.out, "journal number", r.journal_number());
  kv(c.out, "offence", offence_str(r.offence()));
  kv(c.out, "charged at", short_time(r.charged_at()));
  kv(c.out, "name", r.person().name());
  kv(c.out, "CPR", r.person().cpr());
  kv(c.out, "phone", r.person().phone());
  kv(c.out, "e-mail", r.person().email());
  kv(c.out, "preferred contact", r.person().preferred_contact_time());
  if (r.has_consent())
    kv(c.out, "consent",
       r.consent().text_version() + " given " + short_time(r.consent().given_at()));
  kv(c.out, "failed contact attempts", std::to_string(r.contact_attempts()));
  if (r.attempts_left()) kv(c.out, "attempts left", std::to_string(r.attempts_left()));
  kv(c.out, "prior referrals",
     std::to_string(r.prior_referrals_90d()) + " in 90 days, " +
         std::to_string(r.prior_referrals_5y()) + " in 5 years");
  kv(c.out, "directory version", r.directory_version());
  if (r.history_size()) {
    c.out << "\nhistory:\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : r.history())
      rows.push_back({short_time(h.at()), status_name(h.status()), short_time(h.occurred_at()),
                      h.reason(), h.note()});
    print_table(c.out, {"RECORDED", "STATUS", "HAPPENED", "REASON", "NOTE"}, rows);
  }
  return EXIT_OK;
}

// Whether recording a failed contact attempt on the referral now would make
// it unreachable (the router's attemptsLeft is 1).
bool last_attempt(const Context& c, const std::string& referral_id) {
  return c.api().referral(referral_id).attempts_left() == 1;
}

int outcome_record(const Context& c, const Args& a) {
  expect_positional(a, 2, "REFERRAL_ID OUTCOME");
  v1::OutcomeRequest r;
  r.set_outcome(parse_enum<v1::ReferralStatus>("OUTCOME", a.positional[1], outcome_names()));
  r.set_note(note_from(a));
  std::string key = a.get("idempotency-key");
  std::optional<Journal> journal;
  const std::string request =
      a.positional[0] + '\0' + a.positional[1] + '\0' + r.note() + '\0' + a.get("at");
  if (key.empty()) journal.emplace();
  // A retry of an unanswered attempt is not a new attempt: no warning.
  const bool warn = r.outcome() == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED &&
                    !a.flag("confirm-unreachable") &&
                    !(journal && journal->outcome_pending(request));
  if (journal) {
    // One key per attempt until the server answers (journal.hpp).
    const auto pending =
        journal->outcome_attempt(request, to_rfc3339(parse_time("at", a.get("at", "now"))));
    key = pending.idempotency_key;
    *r.mutable_at() = parse_time("at", pending.at);
  } else {
    *r.mutable_at() = parse_time("at", a.get("at", "now"));
  }
  bool refused = false;
  const v1::ReferralView v = settled(c, journal ? &*journal : nullptr, request, "outcome", [&] {
    if (warn && last_attempt(c, a.positional[0])) {
      refused = true;
      return v1::ReferralView();
    }
    return c.api().record_outcome(a.positional[0], r, key);
  });
  if (refused) {
    c.err << "henvisctl: this is the last attempt: the referral becomes unreachable; add "
             "--confirm-unreachable to record it\n";
    return EXIT_USAGE;
  }
  if (c.globals.json) {
    c.out << client::to_json(v, true) << "\n";
    return EXIT_OK;
  }
  c.out << "referral " << v.referral_id() << " is now " << status_name(v.status());
  if (v.contact_attempts()) c.out << " (failed contact attempts: " << v.contact_attempts() << ")";
  c.out << "\n";
  return EXIT_OK;
}

// Sends a coordinator's action (forwarding, closure) with a key the journal
// keeps until the router answers, and prints the referral as it now is.
template <class Send>
int coordinator_action(const Context& c, const std::string& what, const std::string& request,
                       Send send) {
  Journal journal;
  const std::string key = journal.outcome_attempt(what + '\0' + request, "").idempotency_key;
  const v1::ReferralView v =
      settled(c, &journal, what + '\0' + request, what, [&] { return send(key); });
  if (c.globals.json) {
    c.out << client::to_json(v, true) << "\n";
    return EXIT_OK;
  }
  c.out << "referral " << v.referral_id() << " is now " << status_name(v.status());
  if (!v.centre_id().empty()) c.out << " (centre " << v.centre_id() << ")";
  c.out << "\n";
  return EXIT_OK;
}

int referrals_forward(const Context& c, const Args& a) {
  expect_positional(a, 1, "REFERRAL_ID");
  v1::ForwardingRequest r;
  r.set_centre_id(a.required("centre"));
  if (!a.has("note-file") && !a.has("note"))
    throw UsageError("--note-file is required: why the referral goes to this centre");
  r.set_note(note_from(a));
  const std::string& id = a.positional[0];
  return coordinator_action(c, "forwarding", id + '\0' + r.centre_id() + '\0' + r.note(),
                            [&](const std::string& key) { return c.api().forward(id, r, key); });
}

int referrals_close(const Context& c, const Args& a) {
  expect_positional(a, 1, "REFERRAL_ID");
  v1::ClosureRequest r;
  r.set_reason(a.required("reason"));
  r.set_note(note_from(a));
  const std::string& id = a.positional[0];
  return coordinator_action(c, "closure", id + '\0' + r.reason() + '\0' + r.note(),
                            [&](const std::string& key) { return c.api().close(id, r, key); });
}

int inbox_show(const Context& c, const Args& a) {
  expect_positional(a, 0, "no arguments besides --all, --limit and --cursor");
  auto in = c.api().inbox(a.flag("all"), paging_query(a));
  if (c.globals.json) {
    c.out << client::to_json(in, true) << "\n";
    return EXIT_OK;
  }
  c.out << "inbox of " << (in.recipient_id().empty() ? "?" : in.recipient_id()) << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : in.entries()) {
    const auto& r = e.referral();
    rows.push_back({e.notification_id(), kind_str(e.kind()), r.referral_id(),
                    municipality(r.kommunekode(), r.municipality_name()), offence_str(r.offence()),
                    r.person().name(), r.person().cpr(), r.person().phone(),
                    short_time(e.delivered_at()), short_time(e.acknowledged_at())});
  }
  print_table(c.out,
              {"NOTIFICATION", "KIND", "REFERRAL", "MUNICIPALITY", "OFFENCE", "NAME", "CPR",
               "PHONE", "DELIVERED", "ACKNOWLEDGED"},
              rows);
  c.out << in.entries_size() << " entr" << (in.entries_size() == 1 ? "y" : "ies") << "\n";
  more_hint(c, a, in.next_cursor());
  return EXIT_OK;
}

int inbox_ack(const Context& c, const Args& a) {
  expect_positional(a, 1, "NOTIFICATION_ID");
  auto e = c.api().ack(a.positional[0]);
  if (c.globals.json) {
    c.out << client::to_json(e, true) << "\n";
    return EXIT_OK;
  }
  c.out << "acknowledged " << e.notification_id();
  if (!e.referral().referral_id().empty())
    c.out << " (referral " << e.referral().referral_id() << ")";
  c.out << "\n";
  return EXIT_OK;
}

}  // namespace

// "OFFENCE_" for enum Offence: the prefix its value names carry.
namespace {
std::string enum_prefix(const google::protobuf::EnumDescriptor& e) {
  std::string p;
  for (char ch : e.name()) {
    if (std::isupper(static_cast<unsigned char>(ch)) && !p.empty()) p += '_';
    p += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return p + "_";
}

}  // namespace

// A statistics value as the table shows it: counts as numbers, rates and
// shares (0..1) as percentages, a withheld count as "<N" and any other
// withheld value as "-".
static std::string stats_cell(const google::protobuf::Message& row,
                              const google::protobuf::FieldDescriptor* f, bool withheld,
                              int min_cell) {
  using google::protobuf::FieldDescriptor;
  const auto* refl = row.GetReflection();
  if (withheld)
    return f->type() == FieldDescriptor::TYPE_INT32 ? "<" + std::to_string(min_cell) : "-";
  if (f->has_presence() && !refl->HasField(row, f)) return "";
  std::ostringstream o;
  switch (f->type()) {
    case FieldDescriptor::TYPE_INT32: {
      const int v = refl->GetInt32(row, f);
      if (v != 0 || f->has_presence()) o << v;  // a group's 0 is "not grouped by"
      break;
    }
    case FieldDescriptor::TYPE_DOUBLE: {
      const double v = refl->GetDouble(row, f);
      const bool share =
          f->name().size() > 5 && (f->name().rfind("_rate") == f->name().size() - 5 ||
                                   f->name().rfind("_share") == f->name().size() - 6);
      if (share)
        o << std::fixed << std::setprecision(1) << v * 100 << "%";
      else
        o << std::fixed << std::setprecision(1) << v;
      break;
    }
    case FieldDescriptor::TYPE_ENUM:  // the unspecified value is "not grouped by"
      if (refl->GetEnumValue(row, f) != 0)
        o << events::enum_word(refl->GetEnum(row, f)->name(), enum_prefix(*f->enum_type()));
      break;
    case FieldDescriptor::TYPE_STRING:
      o << refl->GetString(row, f);
      break;
    default:
      break;
  }
  return o.str();
}

// A statistics answer (ReferralStats or UnderretningStats) as a table: the
// columns any row has, in the message's order, groups first and repeated in
// every part of a table too wide for the screen.
void print_stats(std::ostream& out, const google::protobuf::Message& stats) {
  using google::protobuf::FieldDescriptor;
  const auto* desc = stats.GetDescriptor();
  const auto* refl = stats.GetReflection();
  const int min_cell = refl->GetInt32(stats, desc->FindFieldByName("min_cell"));
  std::vector<const google::protobuf::Message*> rows;
  const auto* rows_f = desc->FindFieldByName("rows");
  for (int i = 0; i < refl->FieldSize(stats, rows_f); ++i)
    rows.push_back(&refl->GetRepeatedMessage(stats, rows_f, i));
  rows.push_back(&refl->GetMessage(stats, desc->FindFieldByName("total")));
  const auto* row_desc = rows_f->message_type();
  const auto* suppressed_f = row_desc->FindFieldByName("suppressed");
  std::vector<const FieldDescriptor*> cols;
  std::size_t groups = 0;
  for (int i = 0; i < row_desc->field_count(); ++i) {
    const auto* f = row_desc->field(i);
    if (f == suppressed_f || f->name() == "total") continue;
    const bool group = !f->has_presence();
    const bool used = std::any_of(rows.begin(), rows.end(), [&](const auto* r) {
      return !stats_cell(*r, f, false, min_cell).empty();
    });
    if (group && !used) continue;
    cols.push_back(f);
    if (group) ++groups;
  }
  std::vector<std::string> header;
  for (const auto* f : cols) {
    std::string h = f->name();
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char ch) {
      return ch == '_' ? ' ' : static_cast<char>(std::toupper(ch));
    });
    header.push_back(h);
  }
  std::vector<std::vector<std::string>> table;
  bool any_withheld = false;
  for (const auto* r : rows) {
    std::set<std::string> withheld;
    for (int i = 0; i < r->GetReflection()->FieldSize(*r, suppressed_f); ++i)
      withheld.insert(r->GetReflection()->GetRepeatedString(*r, suppressed_f, i));
    std::vector<std::string> line;
    for (const auto* f : cols)
      line.push_back(stats_cell(*r, f, withheld.count(f->json_name()) != 0, min_cell));
    if (r == rows.back() && !line.empty() && groups) line[0] = "total";
    any_withheld = any_withheld || !withheld.empty();
    table.push_back(std::move(line));
  }
  if (groups == 0) {  // the total alone: a list reads better than a wide table
    std::vector<std::vector<std::string>> list;
    for (std::size_t i = 0; i < header.size(); ++i) list.push_back({header[i], table[0][i]});
    print_table(out, {"", ""}, list);
  } else {
    print_table(out, header, table, groups);
  }
  if (any_withheld)
    out << "<" << min_cell << ": withheld, fewer than " << min_cell
        << " persons or so that such a cell cannot be worked out from the others; "
           "-: withheld with them\n";
}

namespace {

// Both statistics tables: the server's CSV or JSON as is, or its JSON as a table.
int stats_table(const Context& c, const Args& a, const std::string& table,
                google::protobuf::Message&& stats) {
  expect_positional(a, 0, "no arguments besides the options");
  std::string q;
  auto add = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    q += (q.empty() ? "" : "&") + k + "=" + client::url_encode(v);
  };
  add("from", a.get("from"));
  add("to", a.get("to"));
  add("groupBy", a.get("group-by"));
  const bool csv = a.flag("csv");
  add("format", csv ? "csv" : "json");
  const std::string body = c.api().stats(table, q);
  if (c.globals.json || csv) {
    c.out << body << (body.empty() || body.back() == '\n' ? "" : "\n");
    return EXIT_OK;
  }
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;  // a newer server's fields are left out
  if (!google::protobuf::util::JsonStringToMessage(body, &stats, lenient).ok())
    throw std::runtime_error("the evaluation service answered with unreadable statistics");
  print_stats(c.out, stats);
  return EXIT_OK;
}

int stats_referrals(const Context& c, const Args& a) {
  return stats_table(c, a, "referrals", v1::ReferralStats());
}
int stats_underretninger(const Context& c, const Args& a) {
  return stats_table(c, a, "underretninger", v1::UnderretningStats());
}

}  // namespace

int config_check(const Context& c, const Args& a);      // config_check.cpp
int audit_verify(const Context& c, const Args& a);      // audit.cpp
int audit_export(const Context& c, const Args& a);      // audit.cpp
int dlq_list(const Context& c, const Args& a);          // dlq.cpp
int dlq_replay(const Context& c, const Args& a);        // dlq.cpp
int incidents_import(const Context& c, const Args& a);  // incidents.cpp
// socialsog_cmds.cpp
int scans_run(const Context& c, const Args& a);
int scans_show(const Context& c, const Args& a);
int scans_list(const Context& c, const Args& a);
int underretninger_list(const Context& c, const Args& a);
int underretninger_show(const Context& c, const Args& a);
int underretninger_receipt(const Context& c, const Args& a);
int underretninger_response(const Context& c, const Args& a);
int underretninger_forward(const Context& c, const Args& a);

const std::vector<Command>& commands() {
  static const std::vector<Command> all{
      {{"offer", "register"},
       "--offer-id ID --journal N --offence drunk|drug|both --officer ID --answer yes|no "
       "--kommunekode K [options]",
       "Register an offer and the person's answer at the roadside (officer).\n"
       "  --offer-id ID          your id for this offer; replaying it with the same body\n"
       "                         returns the first answer, another body is refused (409)\n"
       "  --journal N            police journal number NNNN-NNNNN-NNNNN-YY\n"
       "  --offence O            drunk (§ 53), drug (§ 54) or both\n"
       "  --charged-at T         charge time, RFC 3339 or YYYY-MM-DD (default now)\n"
       "  --officer ID           the officer's id\n"
       "  --answer yes|no        the person's answer\n"
       "  --kommunekode K        the person's home municipality, e.g. 657\n"
       "  on yes: --person FILE  the person as JSON ({\"cpr\": \"DDMMYY-SSSS\", \"name\": ...,\n"
       "                         \"phone\": ..., \"email\": ..., \"preferredContactTime\": ...});\n"
       "                         --person - reads it from standard input. Never as options:\n"
       "                         the command line is visible to every user (ps)\n"
       "          [--consent-version V (default rusmiddel-samtykke-v1)]\n"
       "          [--consent-at T (default the charge time)]\n"
       "Without --charged-at, the time an offer id was first sent with is sent again, so\n"
       "running the same command again (e.g. after a timeout) registers it once.\n",
       {"offer-id", "journal", "offence", "charged-at", "officer", "answer", "kommunekode",
        "person", "cpr", "name", "phone", "email", "contact-time", "consent-version", "consent-at"},
       {},
       offer_register},
      {{"offer", "withdraw"},
       "OFFER_ID",
       "Withdraw the person's consent (officer, or the centre owning the referral): the\n"
       "referral becomes withdrawn and its contact data is erased everywhere.\n",
       {},
       {},
       offer_withdraw},
      {{"referrals", "list"},
       "[--status S] [--limit N] [--cursor C]",
       "List the referrals you may see (a centre its own, a coordinator its district's),\n"
       "oldest first, one page at a time; a next page is shown as the command to get it.\n"
       "  --status S             only this status, e.g. routed, unroutable, conversation_held\n"
       "  --limit N              at most N a page, 1-500 (default the server's, 100)\n"
       "  --cursor C             the page after the one that printed this cursor\n",
       {"status", "limit", "cursor"},
       {},
       referrals_list},
      {{"referrals", "show"},
       "REFERRAL_ID",
       "Show one referral with its contact data and history.\n",
       {},
       {},
       referrals_show},
      {{"referrals", "forward"},
       "REFERRAL_ID --centre ID --note-file F|-",
       "Route an unroutable referral of your district by hand (coordinator): the centre is\n"
       "told as of any new referral. The history keeps the note, you and the directory\n"
       "version. Running the same command again after a lost answer forwards it once.\n"
       "  --centre ID            a centre the directory routes to today, e.g.\n"
       "                         rusmiddelcenter-657\n"
       "  --note-file F          why (required, at most 500 characters), from file F or - for\n"
       "                         standard input: a note may name the person\n",
       {"centre", "note-file", "note"},
       {},
       referrals_forward},
      {{"referrals", "close"},
       "REFERRAL_ID --reason R [--note-file F|-]",
       "Close an unroutable referral of your district (coordinator).\n"
       "  --reason R             duplicate, person_moved_abroad, handled_outside_henvis or\n"
       "                         other (other needs a note)\n"
       "  --note-file F          a note (at most 500 characters) from file F or - for\n"
       "                         standard input\n",
       {"reason", "note-file", "note"},
       {},
       referrals_close},
      {{"outcome", "record"},
       "REFERRAL_ID OUTCOME [--at T] [--note-file F|-] [--idempotency-key K] "
       "[--confirm-unreachable]",
       "Record what came of a referral (centre). OUTCOME is one of contact_attempted\n"
       "(a failed attempt), reached, conversation_held, further_sessions_accepted, declined,\n"
       "unreachable, closed. An illegal transition is refused naming the allowed ones.\n"
       "  --at T                 when it happened, RFC 3339 or YYYY-MM-DD (default now)\n"
       "  --note-file F          a note kept with the referral (never sent in events), from\n"
       "                         file F or - for standard input: a note may name the person\n"
       "  --idempotency-key K    resending with the same key records it once. Without it,\n"
       "                         henvisctl keeps a key per request until the router answers:\n"
       "                         the same command after a lost answer is recorded once\n"
       "  --confirm-unreachable  record the failed attempt that makes the referral\n"
       "                         unreachable (without it, that attempt is refused, exit 2)\n",
       {"at", "note", "note-file", "idempotency-key"},
       {"confirm-unreachable"},
       outcome_record},
      {{"inbox", "show"},
       "[--all] [--limit N] [--cursor C]",
       "Show your inbox (centre, municipality, coordinator); reading marks entries read.\n"
       "  --all                  include acknowledged entries\n"
       "  --limit N              at most N entries (default 100, at most 500)\n"
       "  --cursor C             the page after the one that printed this cursor\n",
       {"limit", "cursor"},
       {"all"},
       inbox_show},
      {{"inbox", "ack"},
       "NOTIFICATION_ID",
       "Acknowledge an inbox entry (the referral becomes acknowledged).\n",
       {},
       {},
       inbox_ack},
      {{"stats", "referrals"},
       "[--from D] [--to D] [--group-by LIST] [--csv]",
       "The evaluators' funnel: offered, accepted, declined, routed, ... (evaluator).\n"
       "Small cells are suppressed and counts perturbed by -2..+2 by the server\n"
       "(docs/statistics.md). Printed as a table by default.\n"
       "  --from D, --to D       period, YYYY-MM-DD, each the first day of a month\n"
       "  --group-by LIST        comma-separated: municipality, month, offence, district\n"
       "  --csv                  print the server's CSV as is (--json: its JSON)\n",
       {"from", "to", "group-by"},
       {"csv"},
       stats_referrals},
      {{"stats", "underretninger"},
       "[--from D] [--to D] [--group-by LIST] [--csv]",
       "Socialsøg for evaluators: underretninger, children flagged, cross-district share,\n"
       "receipts on time, municipalities' responses (evaluator). Small cells are\n"
       "suppressed and counts perturbed by the server. Printed as a table by default.\n"
       "  --from D, --to D       period, YYYY-MM-DD, each the first day of a month\n"
       "  --group-by LIST        comma-separated: week, municipality, district\n"
       "  --csv                  print the server's CSV as is (--json: its JSON)\n",
       {"from", "to", "group-by"},
       {"csv"},
       stats_underretninger},
      {{"config", "check"},
       "FILE...",
       "Check configuration files offline, as the services would at start. A service\n"
       "configuration (henvis.v1.ServiceConfig) is checked with the directory and tokens\n"
       "files it names, its numbers' ranges, the notifier's channels and Socialsøg's\n"
       "settings; a directory, tokens or Socialsøg settings file on its own is recognised\n"
       "and checked as that. Unknown fields are refused; placeholder code lists are\n"
       "warned about. Exit 0 when all are valid. Needs no server.\n",
       {},
       {},
       config_check},
      {{"audit", "verify"},
       "--service SERVICE",
       "Verify a service's access log (admin token): its rows are hash-chained and\n"
       "append-only, and this finds the first edited, deleted or reordered row. Prints the\n"
       "row count and the head hash (keep it: a later head must continue from it).\n"
       "  --service SERVICE      intake, router, notifier, socialsog, or all of them\n"
       "Exit 0 when intact, 4 when a log is broken.\n",
       {"service"},
       {},
       audit_verify},
      {{"audit", "export"},
       "--service SERVICE [--from T] [--to T] [--person USER] [--subject ID] [--format F] "
       "[--out FILE]",
       "Export a service's access log (admin token) for the data-protection officer, oldest\n"
       "first: who (token label and person), when, role, recipient, which referral or\n"
       "underretning, why, and each row's hashes.\n"
       "  --service SERVICE      intake, router, notifier or socialsog\n"
       "  --from T, --to T       [from, to): RFC 3339 or YYYY-MM-DD (00:00 Copenhagen)\n"
       "  --person USER          only what this henvis-web user did\n"
       "  --subject ID           only rows about this referral or underretning id\n"
       "  --format F             csv (default; cells neutralised for spreadsheets) or jsonl\n"
       "  --out FILE             write to FILE (created 0600) instead of standard output\n",
       {"service", "from", "to", "person", "subject", "format", "out"},
       {},
       audit_export},
      {{"dlq", "list"},
       "[--topic T] (--bootstrap HOST:PORT | --bootstrap-file FILE | --kafka-config FILE)",
       "List dead-letter topics and their entries (operator). Without --topic: every DLQ\n"
       "topic of the cluster with its entries and how many were replayed. With --topic: its\n"
       "entries' partition, offset, service, origin topic/partition/offset, ce_type, payload\n"
       "size, whether replayed, and reason; never the payload. An unknown topic is refused.\n"
       "  --topic T              e.g. henvis.offers.v1.dlq.router\n"
       "  --bootstrap HOST:PORT  Kafka bootstrap servers\n"
       "  --bootstrap-file FILE  a file whose first line is that (henvis-devbroker's)\n"
       "  --kafka-config FILE    a henvis.v1.KafkaSettings text file: the cluster's address and\n"
       "                         security settings (TLS, SASL), as in a service's `kafka`\n",
       {"topic", "bootstrap", "bootstrap-file", "kafka-config"},
       {},
       dlq_list},
      {{"dlq", "replay"},
       "--topic T (--offset N [--partition P] | --all) (--bootstrap ... | --bootstrap-file ...)",
       "Re-produce dead-lettered events to their origin topic (operator). Each keeps its key,\n"
       "payload and original headers, under a new ce_id derived from the entry (the old one\n"
       "was recorded as processed; replaying one entry twice still applies it once).\n"
       "  --offset N             the entry at offset N (--partition P if several have it)\n"
       "  --all                  every entry of the topic\n",
       {"topic", "offset", "partition", "bootstrap", "bootstrap-file", "kafka-config"},
       {"all"},
       dlq_replay},
      {{"incidents", "import"},
       "FILE.jsonl (--bootstrap HOST:PORT | --bootstrap-file FILE | --kafka-config FILE | "
       "--dry-run)",
       "Produce police incidents (proto3 JSON, one henvis.v1.Incident a line) to\n"
       "police.incidents.v1, validated as socialsog does; bad lines are reported as\n"
       "'line N: field: reason' (never a value) and skipped. Exit 0 when all lines were\n"
       "imported, 1 when some were bad (the good ones are imported). Needs no token.\n"
       "  --dry-run              check the file only\n",
       {"bootstrap", "bootstrap-file", "kafka-config"},
       {"dry-run"},
       incidents_import},
      {{"scans", "run"},
       "[--from D --to D]",
       "Run a Socialsøg scan now (coordinator). Without a window: the incidents received\n"
       "since the last weekly scan (its watermark is not moved). The window scanned and\n"
       "every count (0 included) are printed.\n"
       "  --from D, --to D       the incidents that occurred in the window: a date YYYY-MM-DD\n"
       "                         (from = 00:00 Europe/Copenhagen of D, to = the END of day D)\n"
       "                         or an RFC 3339 time\n",
       {"from", "to"},
       {},
       scans_run},
      {{"scans", "show"},
       "SCAN_ID",
       "Show one scan: its window, counts and the underretninger it created (coordinator).\n",
       {},
       {},
       scans_show},
      {{"scans", "list"},
       "[--limit N] [--cursor C]",
       "List the scans, newest first (coordinator).\n"
       "  --limit N              at most N (default 100); more: --cursor as printed\n"
       "  --cursor C             continue where the previous page ended\n",
       {"limit", "cursor"},
       {},
       scans_list},
      {{"underretninger", "list"},
       "[--pending|--overdue|--status S] [--limit N] [--cursor C]",
       "List your underretninger (a municipality its own, a coordinator its district's):\n"
       "those awaiting a receipt first by deadline, then the rest newest first.\n"
       "  --pending              no receipt yet (overdue ones included)\n"
       "  --overdue              no receipt and the receipt deadline has passed\n"
       "  --status S             pending, overdue, received (no response yet) or responded\n"
       "  --limit N              at most N (default 100); more: --cursor as printed\n"
       "  --cursor C             continue where the previous page ended\n",
       {"status", "limit", "cursor"},
       {"pending", "overdue"},
       underretninger_list},
      {{"underretninger", "show"},
       "UNDERRETNING_ID",
       "Show one underretning: children, incidents, receipt, responses, forwarding.\n",
       {},
       {},
       underretninger_show},
      {{"underretninger", "receipt"},
       "UNDERRETNING_ID [--at T]",
       "Record the receipt (kvittering) of an underretning (municipality; a coordinator for\n"
       "a municipality without a henvis account). Recording it again changes nothing.\n"
       "  --at T                 when it was received, RFC 3339 or YYYY-MM-DD (default now)\n",
       {"at"},
       {},
       underretninger_receipt},
      {{"underretninger", "response"},
       "UNDERRETNING_ID RESPONSE [--note-file F|-]",
       "Record the municipality's response: no_action, assessment_started or\n"
       "support_measure. Every response is kept; the same one again is recorded once.\n"
       "  --note-file F          a note (at most 500 characters) from file F, - for stdin\n",
       {"note-file"},
       {},
       underretninger_response},
      {{"underretninger", "forward"},
       "UNDERRETNING_ID [--at T] [--channel C] [--note-file F]",
       "Record that an underretning for a municipality without a henvis account was\n"
       "forwarded to it by other means (coordinator).\n"
       "  --at T                 when, RFC 3339 or YYYY-MM-DD (default now)\n"
       "  --channel C            e-mail, letter, phone or other (default other)\n"
       "  --note-file F          a note (at most 500 characters) from file F, - for stdin\n",
       {"at", "channel", "note-file"},
       {},
       underretninger_forward},
  };
  return all;
}

namespace {

std::string command_name(const Command& c) { return c.words[0] + " " + c.words[1]; }

// One line of a command list: the command and the first sentence of its help.
void summary_line(std::ostream& o, const Command& c) {
  std::string first = c.help.substr(0, std::min(c.help.find(". "), c.help.find(".\n")));
  std::replace(first.begin(), first.end(), '\n', ' ');
  o << "  " << std::left << std::setw(22) << command_name(c) << first << "\n";
}

// The commands whose first word is `word` ("offer": offer register, offer withdraw).
std::vector<const Command*> group(const std::string& word) {
  std::vector<const Command*> g;
  for (const auto& c : commands())
    if (c.words[0] == word) g.push_back(&c);
  return g;
}

void group_usage(std::ostream& o, const std::string& word) {
  o << "usage: henvisctl [global options] " << word << " COMMAND [options]\n\ncommands:\n";
  for (const auto* c : group(word)) summary_line(o, *c);
  o << "\n(henvisctl " << word << " COMMAND --help for a command's options)\n";
}

void usage(std::ostream& o) {
  o << "usage: henvisctl [global options] COMMAND [options]\n\n"
       "global options:\n"
       "  --token-file FILE      a file holding the bearer token (default: $HENVIS_TOKEN);\n"
       "                         never the token itself: the command line is visible to all\n"
       "  --intake URL           default http://127.0.0.1:8081 ($HENVIS_INTAKE)\n"
       "  --router URL           default http://127.0.0.1:8082 ($HENVIS_ROUTER)\n"
       "  --notifier URL         default http://127.0.0.1:8084 ($HENVIS_NOTIFIER)\n"
       "  --evaluation URL       default http://127.0.0.1:8085 ($HENVIS_EVALUATION)\n"
       "  --socialsog URL        default http://127.0.0.1:8083 ($HENVIS_SOCIALSOG)\n"
       "                         (https://... for a service with TLS: its certificate is\n"
       "                         verified against the system's CAs or --ca-file)\n"
       "  --ca-file FILE         the CA certificate(s) (PEM) https servers must be signed by,\n"
       "                         instead of the system's ($HENVIS_CA_FILE)\n"
       "  --json                 print the server's JSON instead of a table\n"
       "  --help, -h             this text; COMMAND --help (or help COMMAND) for a command's\n"
       "  --version              henvisctl's version\n\n"
       "commands:\n";
  for (const auto& c : commands()) summary_line(o, c);
  o << "\nexit status: 0 ok, 1 the server refused (its reasons are printed as field: reason),\n"
       "2 bad command line, 3 the server could not be reached.\n";
}

void command_help(std::ostream& o, const Command& c) {
  o << "usage: henvisctl [global options] " << command_name(c) << " " << c.synopsis << "\n\n"
    << c.help;
}

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

void print_problem(std::ostream& err, const client::Problem& p) {
  err << "error: HTTP " << p.status << " " << p.title;
  if (!p.detail.empty()) err << ": " << p.detail;
  err << "\n";
  for (const auto& e : p.errors) err << e.field << ": " << e.reason << "\n";
}

const std::set<std::string>& global_values() {
  static const std::set<std::string> v{"token",    "token-file", "intake",    "router",
                                       "notifier", "evaluation", "socialsog", "ca-file"};
  return v;
}

// The global options from the environment; the command line may override them.
Globals env_globals() {
  Globals g;
  g.endpoints.intake = env("HENVIS_INTAKE", g.endpoints.intake);
  g.endpoints.router = env("HENVIS_ROUTER", g.endpoints.router);
  g.endpoints.notifier = env("HENVIS_NOTIFIER", g.endpoints.notifier);
  g.endpoints.evaluation = env("HENVIS_EVALUATION", g.endpoints.evaluation);
  g.endpoints.socialsog = env("HENVIS_SOCIALSOG", g.endpoints.socialsog);
  g.endpoints.ca_file = env("HENVIS_CA_FILE", "");
  g.token = env("HENVIS_TOKEN", "");
  return g;
}

// The command the first two words of argv name (global options may come
// anywhere), or nullptr; `words` gets those words.
const Command* find_command(const std::vector<std::string>& argv, std::vector<std::string>& words) {
  for (std::size_t i = 0; i < argv.size() && words.size() < 2; ++i) {
    if (argv[i].rfind("--", 0) == 0) {
      const std::string name = argv[i].substr(2, argv[i].find('=') - 2);
      if (global_values().count(name) && argv[i].find('=') == std::string::npos) ++i;
      continue;
    }
    words.push_back(argv[i]);
  }
  const Command* cmd = nullptr;
  for (const auto& c : commands())
    if (words == c.words) cmd = &c;
  return cmd;
}

// Without a command: the usage on --help (or no arguments at all), else a
// UsageError.
int no_command(const Args& a, const std::vector<std::string>& words, bool no_arguments,
               std::ostream& out, std::ostream& err) {
  if (a.flag("version")) {
    out << "henvisctl " << HENVIS_VERSION << "\n";
    return EXIT_OK;
  }
  if (words.size() == 1 && !group(words[0]).empty()) {
    group_usage(out, words[0]);
    return EXIT_OK;
  }
  if (a.flag("help") || no_arguments) {
    usage(a.flag("help") ? out : err);
    return a.flag("help") ? EXIT_OK : EXIT_USAGE;
  }
  if (words.empty()) throw UsageError("no command given");
  const std::string given = words.size() > 1 ? words[0] + " " + words[1] : words[0];
  std::vector<std::string> names;
  for (const auto& c : commands()) names.push_back(words.size() > 1 ? command_name(c) : c.words[0]);
  std::string msg = "unknown command \"" + given + "\"";
  if (auto guess = did_you_mean(given, names)) msg += " (did you mean \"" + *guess + "\"?)";
  throw UsageError(msg);
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token) || token.empty())
    throw UsageError("--token-file: cannot read a token from " + path);
  return token;
}

// Moves the global options given on the command line from `a` into `g` and
// checks the URLs (a UsageError).
void take_globals(Args& a, Globals& g) {
  for (const auto& k : global_values()) {
    if (!a.has(k)) continue;
    if (k == "token")
      throw UsageError(
          "--token: a token on the command line is visible to every user (ps); set "
          "HENVIS_TOKEN or give --token-file FILE");
    if (k == "token-file") g.token = read_token_file(a.options[k]);
    if (k == "intake") g.endpoints.intake = a.options[k];
    if (k == "router") g.endpoints.router = a.options[k];
    if (k == "notifier") g.endpoints.notifier = a.options[k];
    if (k == "evaluation") g.endpoints.evaluation = a.options[k];
    if (k == "socialsog") g.endpoints.socialsog = a.options[k];
    if (k == "ca-file") g.endpoints.ca_file = a.options[k];
    a.options.erase(k);
  }
  if (!g.endpoints.ca_file.empty() && !std::ifstream(g.endpoints.ca_file))
    throw UsageError("--ca-file: cannot read " + g.endpoints.ca_file);
  g.json = a.flag("json");
  for (const auto& url : {g.endpoints.intake, g.endpoints.router, g.endpoints.notifier,
                          g.endpoints.evaluation, g.endpoints.socialsog}) {
    try {
      client::parse_url(url);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  }
}

// Parses argv for `cmd` (nullptr: none found) and runs it.
int run_command(const Command* cmd, const std::vector<std::string>& words,
                const std::vector<std::string>& argv, Globals g, std::ostream& out,
                std::ostream& err) {
  std::set<std::string> values = global_values(), flags{"json", "help", "version"};
  if (cmd) {
    values.insert(cmd->value_options.begin(), cmd->value_options.end());
    flags.insert(cmd->flag_options.begin(), cmd->flag_options.end());
  }
  Args a = parse_args(argv, values, flags);
  if (!cmd) return no_command(a, words, argv.empty(), out, err);
  if (a.flag("help")) {
    command_help(out, *cmd);
    return EXIT_OK;
  }
  a.positional.erase(a.positional.begin(), a.positional.begin() + 2);
  take_globals(a, g);
  if (g.token.empty() && cmd->words[0] != "config" && cmd->words[0] != "dlq" &&
      cmd->words[0] != "incidents")
    throw UsageError("no token: set HENVIS_TOKEN or give --token-file FILE");
  Context ctx{g, out, err, command_name(*cmd)};
  return cmd->run(ctx, a);
}

// `-h` is --help, and `help [COMMAND]` is `[COMMAND] --help`.
std::vector<std::string> help_spelled_out(std::vector<std::string> argv) {
  for (auto& s : argv)
    if (s == "-h") s = "--help";
  if (!argv.empty() && argv[0] == "help") {
    argv.erase(argv.begin());
    argv.push_back("--help");
  }
  return argv;
}

}  // namespace

namespace {
// With --json, an error is one JSON object on standard error too, so that a
// script reads every answer the same way: the server's problem (status,
// title, detail, errors) or henvisctl's own, with the exit code.
void json_error(std::ostream& err, const std::string& kind, int exit_code,
                const std::string& message, const client::Problem* p = nullptr) {
  google::protobuf::Struct o;
  auto& f = *o.mutable_fields();
  f["error"].set_string_value(kind);
  f["exitCode"].set_number_value(exit_code);
  if (!message.empty()) f["message"].set_string_value(message);
  if (p) {
    f["status"].set_number_value(p->status);
    f["title"].set_string_value(p->title);
    if (!p->detail.empty()) f["detail"].set_string_value(p->detail);
    auto* list = f["errors"].mutable_list_value();
    for (const auto& e : p->errors) {
      auto& item = *list->add_values()->mutable_struct_value()->mutable_fields();
      item["field"].set_string_value(e.field);
      item["reason"].set_string_value(e.reason);
    }
  }
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(o, &text);
  err << text << "\n";
}

bool wants_json(const std::vector<std::string>& argv) {
  return std::find(argv.begin(), argv.end(), "--json") != argv.end();
}
}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const Globals g = env_globals();
  const Command* cmd = nullptr;
  const std::vector<std::string> argv = help_spelled_out(args);
  const bool json = wants_json(argv);
  try {
    std::vector<std::string> words;
    cmd = find_command(argv, words);
    return run_command(cmd, words, argv, g, out, err);
  } catch (const UsageError& e) {
    if (json) {
      json_error(err, "usage", EXIT_USAGE, e.what());
      return EXIT_USAGE;
    }
    err << "henvisctl: " << e.what() << "\n";
    if (cmd)
      err << "usage: henvisctl " << command_name(*cmd) << " " << cmd->synopsis << "\n(henvisctl "
          << command_name(*cmd) << " --help for more)\n";
    else
      err << "(henvisctl --help lists the commands)\n";
    return EXIT_USAGE;
  } catch (const client::ApiError& e) {
    if (json)
      json_error(err, "api", EXIT_API, "", &e.problem);
    else
      print_problem(err, e.problem);
    return EXIT_API;
  } catch (const client::ConnectionError& e) {
    if (json)
      json_error(err, "connection", EXIT_CONNECTION, e.what());
    else
      err << "error: " << e.what() << "\n";
    return EXIT_CONNECTION;
  } catch (const std::exception& e) {
    if (json)
      json_error(err, "failed", EXIT_API, e.what());
    else
      err << "error: " << e.what() << "\n";
    return EXIT_API;
  }
}

}  // namespace henvis::ctl
