#include "sim/plan.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "henvisctl/client.hpp"

namespace henvis::sim {

namespace chr = std::chrono;

// ------------------------------------------------------------------ Rng

std::int64_t Rng::uniform(std::int64_t lo, std::int64_t hi) {
  if (hi < lo) throw std::invalid_argument("Rng::uniform: empty range");
  const std::uint64_t range = static_cast<std::uint64_t>(hi - lo) + 1;
  if (range == 0) return static_cast<std::int64_t>(next());  // the full 64-bit range
  // Largest multiple of range that fits; values at or above it are redrawn.
  const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;
  std::uint64_t x;
  do x = next();
  while (x > limit);
  return lo + static_cast<std::int64_t>(x % range);
}

double Rng::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::exponential(double rate) { return -std::log1p(-unit()) / rate; }

std::size_t Rng::weighted(const std::vector<int>& weights) {
  std::int64_t total = 0;
  for (int w : weights) total += w;
  std::int64_t x = uniform(0, total - 1);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (x < weights[i]) return i;
    x -= weights[i];
  }
  return weights.size() - 1;
}

// ------------------------------------------------------------------ data

const std::vector<ProgrammeMunicipality>& programme_municipalities() {
  static const std::vector<ProgrammeMunicipality> m{{657, "Herning", 89000},
                                                    {661, "Holstebro", 59000},
                                                    {665, "Lemvig", 20000},
                                                    {671, "Struer", 21000},
                                                    {740, "Silkeborg", 95000},
                                                    {756, "Ikast-Brande", 41000},
                                                    {760, "Ringkøbing-Skjern", 56000},
                                                    {773, "Morsø", 20000},
                                                    {779, "Skive", 46000},
                                                    {787, "Thisted", 43000},
                                                    {791, "Viborg", 97000}};
  return m;
}

namespace {

// Invented names; any resemblance is the resemblance of common Danish names.
const std::vector<std::string> MALE = {"Anders", "Bo",     "Christian", "Jens",  "Lars",
                                       "Mads",   "Mikkel", "Niels",     "Peter", "Rasmus",
                                       "Søren",  "Thomas", "Jørgen",    "Kasper"};
const std::vector<std::string> FEMALE = {"Anne", "Camilla", "Hanne", "Helle", "Julie",   "Karen",
                                         "Lene", "Louise",  "Mette", "Sofie", "Susanne", "Tina"};
const std::vector<std::string> SURNAMES = {"Andersen",  "Christensen", "Hansen",   "Jensen",
                                           "Jørgensen", "Larsen",      "Madsen",   "Mortensen",
                                           "Nielsen",   "Olsen",       "Pedersen", "Poulsen",
                                           "Rasmussen", "Sørensen",    "Thomsen"};
const std::vector<std::string> CONTACT_TIMES = {"formiddag", "eftermiddag", "efter kl. 16"};

// Offences: drunk 75 %, drug 20 %, both 5 %.
const std::vector<int> OFFENCE_WEIGHTS = {75, 20, 5};
const std::vector<v1::Offence> OFFENCES = {v1::OFFENCE_DRUNK, v1::OFFENCE_DRUG, v1::OFFENCE_BOTH};

constexpr std::int64_t DAY = 86400;
constexpr std::int64_t HOUR = 3600;

// Shares of the people who said yes (the seed's figures) and assumptions.
constexpr double CONVERSATION_SHARE = 0.67;   // seed: had a conversation
constexpr double FURTHER_SHARE = 0.32;        // seed: accepted more than the first
constexpr double WITHDRAWN_SHARE = 0.017;     // assumption: "a couple" in 119
constexpr double UNREACHABLE_OF_REST = 0.55;  // assumption: of those without a conversation
constexpr double REPEAT_SHARE = 0.05;         // assumption: repeat offenders among yes
constexpr double EMAIL_SHARE = 0.3;
constexpr double MALE_SHARE = 0.8;

std::string two(int v) {
  char b[8];
  std::snprintf(b, sizeof b, "%02d", v);
  return b;
}

std::string ascii(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(std::tolower(c));
    } else if (i + 1 < s.size()) {
      const std::string pair = s.substr(i, 2);
      if (pair == "ø" || pair == "Ø")
        out += "oe";
      else if (pair == "æ" || pair == "Æ")
        out += "ae";
      else if (pair == "å" || pair == "Å")
        out += "aa";
      ++i;
    }
  }
  return out;
}

google::protobuf::Timestamp ts(std::int64_t unix_seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(unix_seconds);
  return t;
}

chr::year_month_day ymd_of(std::int64_t unix_seconds) {
  return chr::year_month_day(chr::sys_days(chr::days(unix_seconds / DAY)));
}

// Moves a time on a Saturday or Sunday to the Monday after, same clock time:
// the centres work on weekdays.
std::int64_t weekday(std::int64_t t) {
  const chr::weekday wd{chr::sys_days(chr::days(t / DAY))};
  if (wd == chr::Saturday) return t + 2 * DAY;
  if (wd == chr::Sunday) return t + DAY;
  return t;
}

// A working-hours time (08:00-15:00 UTC, i.e. 09/10-16/17 Danish time) on
// day `day_start + days`.
std::int64_t office_time(Rng& r, std::int64_t day_start, std::int64_t days) {
  return weekday(day_start + days * DAY + r.uniform(8 * HOUR, 15 * HOUR - 1) / 60 * 60);
}

struct Person {
  std::string cpr, name, phone, email, contact_time;
  int kommunekode = 0;
  std::int64_t last_charge = 0;
};

// A Danish 8-digit number, written "+45 DD DD DD DD" as officers type it.
std::string make_phone(Rng& r) {
  std::string d = std::to_string(r.uniform(2, 9));
  for (int i = 0; i < 7; ++i) d += std::to_string(r.uniform(0, 9));
  return "+45 " + d.substr(0, 2) + " " + d.substr(2, 2) + " " + d.substr(4, 2) + " " +
         d.substr(6, 2);
}

Person make_person(Rng& r, std::int64_t charged, int kommunekode, std::set<std::string>& cprs,
                   int serial) {
  Person p;
  const bool male = r.bernoulli(MALE_SHARE);
  const std::string first = male
                                ? MALE[static_cast<std::size_t>(r.uniform(0, MALE.size() - 1))]
                                : FEMALE[static_cast<std::size_t>(r.uniform(0, FEMALE.size() - 1))];
  const std::string last = SURNAMES[static_cast<std::size_t>(r.uniform(0, SURNAMES.size() - 1))];
  p.name = first + " " + last;
  const int year = static_cast<int>(ymd_of(charged).year());
  // Ages 18-75, weighted towards the young.
  const int age =
      r.bernoulli(0.6) ? static_cast<int>(r.uniform(18, 40)) : static_cast<int>(r.uniform(41, 75));
  do p.cpr = make_cpr(r, year - age - 1 + static_cast<int>(r.uniform(0, 1)), male);
  while (!cprs.insert(p.cpr).second);
  p.phone = make_phone(r);
  if (r.bernoulli(EMAIL_SHARE))
    p.email = ascii(first) + "." + ascii(last) + std::to_string(serial) + "@example.com";
  if (r.bernoulli(0.3))
    p.contact_time =
        CONTACT_TIMES[static_cast<std::size_t>(r.uniform(0, CONTACT_TIMES.size() - 1))];
  p.kommunekode = kommunekode;
  return p;
}

std::string pad(int v, int width) {
  std::string s = std::to_string(v);
  return std::string(s.size() < static_cast<std::size_t>(width) ? width - s.size() : 0, '0') + s;
}

std::int64_t parse_date(const std::string& s) {
  int y = 0, m = 0, d = 0;
  char extra = 0;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3)
    throw std::invalid_argument("--start must be a date YYYY-MM-DD");
  chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(m)},
                          chr::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) throw std::invalid_argument("--start is not an existing date");
  return chr::sys_days(ymd).time_since_epoch().count() * DAY;
}

std::int64_t add_months(std::int64_t t, int months) {
  auto ymd = ymd_of(t);
  auto r = ymd + chr::months(months);
  if (!r.ok()) r = r.year() / r.month() / chr::last;
  return chr::sys_days(r).time_since_epoch().count() * DAY;
}

struct Outcomes {
  Plan& plan;
  int offer_index;
  std::string offer_id;
  int n = 0;
  void add(v1::ReferralStatus s, std::int64_t at, const std::string& note, bool unless = false) {
    Action a;
    a.kind = Action::Kind::kOutcome;
    a.offer_index = offer_index;
    a.outcome.set_outcome(s);
    *a.outcome.mutable_at() = ts(at);
    a.outcome.set_note(note);
    a.idempotency_key = offer_id + "-o" + std::to_string(++n);
    a.unless_already = unless;
    plan.actions.push_back(std::move(a));
  }
  void withdraw() {
    Action a;
    a.kind = Action::Kind::kWithdraw;
    a.offer_index = offer_index;
    plan.actions.push_back(std::move(a));
  }
};

// The centre's work on one referral, from the charge time.
void plan_outcomes(Rng& r, Plan& plan, int index, const std::string& offer_id, Fate fate,
                   std::int64_t charged) {
  Outcomes o{plan, index, offer_id};
  const std::int64_t day0 = charged - charged % DAY;
  // First attempt 1-10 days after the charge, then every 1-4 working days.
  std::int64_t t = office_time(r, day0, r.uniform(1, 10));
  auto next_attempt = [&] { t = office_time(r, t - t % DAY, r.uniform(1, 4)); };
  auto failed = [&](int k) {
    for (int i = 0; i < k; ++i) {
      o.add(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, t,
            i % 2 ? "Ingen svar" : "Ingen svar, lagt besked på telefonsvarer");
      next_attempt();
    }
  };
  // Failed attempts before the person is reached: 0 (50 %), 1 (30 %), 2 (20 %).
  auto failures_before_reach = [&] { return static_cast<int>(r.weighted({50, 30, 20})); };
  switch (fate) {
    case Fate::kDeclinedOffer:
      return;
    case Fate::kFurtherSessions:
    case Fate::kConversationOnly: {
      failed(failures_before_reach());
      o.add(v1::REFERRAL_STATUS_REACHED, t, "Kontakt opnået, samtale aftalt");
      t = office_time(r, t - t % DAY, r.uniform(2, 14));
      o.add(v1::REFERRAL_STATUS_CONVERSATION_HELD, t, "Første samtale gennemført");
      if (fate == Fate::kFurtherSessions) {
        t += r.uniform(0, 2) * DAY + r.uniform(0, 60) * 60;
        t = weekday(t);
        o.add(v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED, t, "Forløb aftalt");
        t = office_time(r, t - t % DAY, r.uniform(30, 120));
        o.add(v1::REFERRAL_STATUS_CLOSED, t, "Forløb afsluttet");
      } else {
        t = office_time(r, t - t % DAY, r.uniform(1, 7));
        o.add(v1::REFERRAL_STATUS_CLOSED, t, "Ønsker ikke yderligere forløb");
      }
      return;
    }
    case Fate::kDeclinedByPerson:
      failed(failures_before_reach());
      o.add(v1::REFERRAL_STATUS_REACHED, t, "Kontakt opnået");
      o.add(v1::REFERRAL_STATUS_DECLINED, t + r.uniform(1, 15) * 60, "Ønsker ikke samtale");
      return;
    case Fate::kUnreachable:
      // Three failed attempts; the router makes the third one `unreachable`
      // itself (max_contact_attempts, default 3), otherwise the centre says so.
      failed(3);
      o.add(v1::REFERRAL_STATUS_UNREACHABLE, plan.actions.back().outcome.at().seconds() + 60,
            "Ikke truffet efter tre forsøg",
            /*unless=*/true);
      return;
    case Fate::kWithdrawn:
      if (r.bernoulli(0.5)) failed(1);
      o.withdraw();
      return;
  }
}

}  // namespace

// A fictitious but valid CPR number: an existing birth date and a 7th digit
// consistent with the century (0-3: 1900-1999; 4-9 with a year 00-36:
// 2000-2036), last digit odd for men. No modulus-11 check (not used since 2007).
std::string make_cpr(Rng& r, int birth_year, bool male) {
  const unsigned month = static_cast<unsigned>(r.uniform(1, 12));
  const chr::year_month_day_last last{chr::year{birth_year},
                                      chr::month_day_last{chr::month{month}}};
  const unsigned day = static_cast<unsigned>(r.uniform(1, static_cast<unsigned>(last.day())));
  const int seventh =
      birth_year >= 2000 ? static_cast<int>(r.uniform(4, 9)) : static_cast<int>(r.uniform(0, 3));
  const int middle = static_cast<int>(r.uniform(0, 99));
  int lastd = static_cast<int>(r.uniform(0, 4)) * 2 + (male ? 1 : 0);
  return two(static_cast<int>(day)) + two(static_cast<int>(month)) + two(birth_year % 100) + "-" +
         std::to_string(seventh) + two(middle) + std::to_string(lastd);
}

const char* fate_name(Fate f) {
  switch (f) {
    case Fate::kDeclinedOffer:
      return "declined-offer";
    case Fate::kFurtherSessions:
      return "further-sessions";
    case Fate::kConversationOnly:
      return "conversation-only";
    case Fate::kDeclinedByPerson:
      return "declined-by-person";
    case Fate::kUnreachable:
      return "unreachable";
    case Fate::kWithdrawn:
      return "withdrawn";
  }
  return "?";
}

namespace {

// The options with the run id filled in; throws std::invalid_argument for
// options the planner cannot honour.
Options checked(Options opt) {
  if (opt.scenario != "default")
    throw std::invalid_argument("unknown scenario \"" + opt.scenario + "\" (known: default)");
  if (opt.yes < 0 || opt.yes > 100000) throw std::invalid_argument("--yes must be 0-100000");
  if (opt.months < 1 || opt.months > 120) throw std::invalid_argument("--months must be 1-120");
  if (opt.no_per_yes < 0) throw std::invalid_argument("no_per_yes must be >= 0");
  if (opt.run_id.empty()) opt.run_id = std::to_string(opt.seed);
  for (char c : opt.run_id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      throw std::invalid_argument("--run-id may hold letters, digits, '-' and '_' only");
  return opt;
}

// Charge times: a Poisson process conditioned on n arrivals in [begin, end),
// i.e. n sorted uniform times, drawn as normalised exponential spacings.
std::vector<std::int64_t> charge_times(Rng& r, int n, std::int64_t begin, std::int64_t end) {
  std::vector<double> gaps(static_cast<std::size_t>(n) + 1);
  double sum = 0;
  for (auto& g : gaps) sum += (g = r.exponential(1.0));
  std::vector<std::int64_t> times;
  double acc = 0;
  for (int i = 0; i < n; ++i) {
    acc += gaps[static_cast<std::size_t>(i)];
    times.push_back(begin +
                    static_cast<std::int64_t>(acc / sum * static_cast<double>(end - begin)));
  }
  return times;
}

// Fates of the yes: exact quotas from the seed's shares, shuffled, so that
// every seed reproduces the calibration and differs only in who and when.
std::vector<Fate> yes_fates(Rng& r, int yes) {
  const int conversation = static_cast<int>(std::lround(CONVERSATION_SHARE * yes));
  const int further = static_cast<int>(std::lround(FURTHER_SHARE * yes));
  const int withdrawn =
      yes >= 5 ? std::max(1, static_cast<int>(std::lround(WITHDRAWN_SHARE * yes))) : 0;
  const int rest = std::max(0, yes - conversation - withdrawn);
  const int unreachable = static_cast<int>(std::lround(UNREACHABLE_OF_REST * rest));
  std::vector<Fate> fates;
  fates.insert(fates.end(), static_cast<std::size_t>(further), Fate::kFurtherSessions);
  fates.insert(fates.end(), static_cast<std::size_t>(conversation - further),
               Fate::kConversationOnly);
  fates.insert(fates.end(), static_cast<std::size_t>(withdrawn), Fate::kWithdrawn);
  fates.insert(fates.end(), static_cast<std::size_t>(unreachable), Fate::kUnreachable);
  while (static_cast<int>(fates.size()) < yes) fates.push_back(Fate::kDeclinedByPerson);
  fates.resize(static_cast<std::size_t>(yes));
  r.shuffle(fates);
  return fates;
}

// Who said yes among the n offers (1 for yes), shuffled.
std::vector<int> who_said_yes(Rng& r, int n, int yes) {
  std::vector<int> answers(static_cast<std::size_t>(n), 0);
  std::fill(answers.begin(), answers.begin() + yes, 1);
  r.shuffle(answers);
  return answers;
}

// Where people live: the programme municipalities by population.
std::vector<int> municipality_weights() {
  std::vector<int> weights;
  for (const auto& m : programme_municipalities()) weights.push_back(m.population / 1000);
  return weights;
}

std::vector<std::string> draw_officers(Rng& r) {
  std::vector<std::string> officers;
  for (int i = 0; i < 25; ++i) officers.push_back("MVJ-" + std::to_string(r.uniform(1000, 9999)));
  return officers;
}

// What stays the same over the offers of one plan.
struct OfferContext {
  Rng& r;
  const std::string& run_id;
  const std::vector<int>& weights;  // municipality_weights()
  const std::vector<std::string>& officers;
};

// Offer number i (0-based), charged at `charged`, without its person.
Action offer_action(const OfferContext& ctx, int i, std::int64_t charged, bool is_yes) {
  Rng& r = ctx.r;
  const auto& muni = programme_municipalities()[r.weighted(ctx.weights)];
  Action a;
  a.kind = Action::Kind::kOffer;
  a.offer_index = i;
  auto& o = a.offer;
  o.set_offer_id("sim-" + ctx.run_id + "-" + pad(i + 1, 4));
  o.set_journal_number("4100-" + std::to_string(r.uniform(70000, 99999)) + "-" + pad(i + 1, 5) +
                       "-" + two(static_cast<int>(ymd_of(charged).year()) % 100));
  o.set_offence(OFFENCES[r.weighted(OFFENCE_WEIGHTS)]);
  *o.mutable_charged_at() = ts(charged);
  o.set_officer_id(ctx.officers[static_cast<std::size_t>(r.uniform(0, ctx.officers.size() - 1))]);
  o.set_answer(is_yes ? v1::ANSWER_YES : v1::ANSWER_NO);
  o.set_kommunekode(muni.kommunekode);
  return a;
}

// The people who said yes so far, and their CPR numbers.
struct People {
  std::set<std::string> cprs;
  std::vector<Person> all;

  // The person who says yes to offer `a`: now and then a repeat offender
  // (someone charged 30-240 days ago, again, in the municipality they were
  // charged in first), otherwise someone new.
  Person yes_to(Rng& r, Action& a, std::int64_t charged) {
    std::vector<std::size_t> earlier;
    for (std::size_t k = 0; k < all.size(); ++k)
      if (charged - all[k].last_charge >= 30 * DAY && charged - all[k].last_charge <= 240 * DAY)
        earlier.push_back(k);
    if (!earlier.empty() && r.bernoulli(REPEAT_SHARE)) {
      auto& prev = all[earlier[static_cast<std::size_t>(r.uniform(0, earlier.size() - 1))]];
      prev.last_charge = charged;
      a.repeat = true;
      a.offer.set_kommunekode(prev.kommunekode);
      return prev;
    }
    Person person = make_person(r, charged, a.offer.kommunekode(), cprs, a.offer_index + 1);
    person.last_charge = charged;
    all.push_back(person);
    return person;
  }
};

// The person and their consent, given at the charge.
void set_person(v1::OfferRequest& o, const Person& person, std::int64_t charged) {
  auto* pp = o.mutable_person();
  pp->set_cpr(person.cpr);
  pp->set_name(person.name);
  pp->set_phone(person.phone);
  pp->set_email(person.email);
  pp->set_preferred_contact_time(person.contact_time);
  o.mutable_consent()->set_text_version("rusmiddel-samtykke-v1");
  *o.mutable_consent()->mutable_given_at() = ts(charged);
}

}  // namespace

Plan plan(Options options) {
  const Options opt = checked(std::move(options));
  Plan p;
  p.options = opt;
  Rng r(opt.seed);
  const std::int64_t begin = parse_date(opt.start);
  const std::int64_t end = add_months(begin, opt.months);
  const int yes = opt.yes;
  const int n = yes + static_cast<int>(std::lround(opt.no_per_yes * yes));

  const auto times = charge_times(r, n, begin, end);
  const auto fates = yes_fates(r, yes);
  const auto answers = who_said_yes(r, n, yes);
  const auto weights = municipality_weights();
  const auto officers = draw_officers(r);
  const OfferContext ctx{r, opt.run_id, weights, officers};

  People people;
  std::vector<std::pair<int, Fate>> referrals;  // offer index, fate
  for (int i = 0; i < n; ++i) {
    const std::int64_t charged = times[static_cast<std::size_t>(i)];
    const bool is_yes = answers[static_cast<std::size_t>(i)] != 0;
    Action a = offer_action(ctx, i, charged, is_yes);
    if (is_yes) {
      set_person(a.offer, people.yes_to(r, a, charged), charged);
      a.fate = fates[referrals.size()];
      referrals.emplace_back(i, a.fate);
    }
    p.actions.push_back(std::move(a));
  }
  for (const auto& [index, fate] : referrals) {
    const auto& offer = p.actions[static_cast<std::size_t>(index)].offer;
    plan_outcomes(r, p, index, offer.offer_id(), fate, offer.charged_at().seconds());
  }
  return p;
}

std::string period_end(const Options& o) {
  const auto ymd = ymd_of(add_months(parse_date(o.start), o.months));
  return std::to_string(static_cast<int>(ymd.year())) + "-" +
         two(static_cast<int>(static_cast<unsigned>(ymd.month()))) + "-" +
         two(static_cast<int>(static_cast<unsigned>(ymd.day())));
}

std::string to_text(const Plan& p) {
  std::ostringstream s;
  const auto& o = p.options;
  s << "# henvis-sim plan: scenario " << o.scenario << ", seed " << o.seed << ", run id "
    << o.run_id << ", " << o.months << " months from " << o.start << ", " << o.yes << " yes\n";
  for (const auto& a : p.actions) {
    const std::string id = p.actions[static_cast<std::size_t>(a.offer_index)].offer.offer_id();
    switch (a.kind) {
      case Action::Kind::kOffer:
        s << "offer " << id << " " << fate_name(a.fate) << (a.repeat ? " repeat " : " ")
          << client::to_json(a.offer) << "\n";
        break;
      case Action::Kind::kOutcome:
        s << "outcome " << id << " key=" << a.idempotency_key
          << (a.unless_already ? " unless-already " : " ") << client::to_json(a.outcome) << "\n";
        break;
      case Action::Kind::kWithdraw:
        s << "withdraw " << id << "\n";
        break;
    }
  }
  return s.str();
}

Funnel planned_funnel(const Plan& p) {
  Funnel f;
  std::map<int, std::set<v1::ReferralStatus>> seen;
  for (const auto& a : p.actions) {
    if (a.kind == Action::Kind::kOffer) {
      ++f.offered;
      if (a.offer.answer() == v1::ANSWER_YES) {
        ++f.accepted;
        if (a.repeat) ++f.repeat_referrals;
      } else {
        ++f.declined;
      }
    } else if (a.kind == Action::Kind::kWithdraw) {
      ++f.withdrawn;
    } else {
      seen[a.offer_index].insert(a.outcome.outcome());
    }
  }
  for (const auto& [index, s] : seen) {
    ++f.contact_attempted;
    f.reached += s.count(v1::REFERRAL_STATUS_REACHED) ? 1 : 0;
    f.conversation_held += s.count(v1::REFERRAL_STATUS_CONVERSATION_HELD) ? 1 : 0;
    f.further_sessions_accepted += s.count(v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED) ? 1 : 0;
    f.declined_by_person += s.count(v1::REFERRAL_STATUS_DECLINED) ? 1 : 0;
    f.unreachable += s.count(v1::REFERRAL_STATUS_UNREACHABLE) ? 1 : 0;
    f.closed += s.count(v1::REFERRAL_STATUS_CLOSED) ? 1 : 0;
  }
  return f;
}

}  // namespace henvis::sim
