#include "sim/incidents.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "sim/plan.hpp"

namespace henvis::sim {

namespace chr = std::chrono;

namespace {

constexpr std::int64_t DAY = 86400;
constexpr std::int64_t HOUR = 3600;

struct Muni {
  int kommunekode;
  const char* district;
  int population;
};

// The dev directory's municipalities: the 11 of Midt- og Vestjyllands Politi
// (plan.cpp) and 7 of Østjyllands Politi (approximate populations).
const std::vector<Muni>& munis() {
  static const std::vector<Muni> m = [] {
    std::vector<Muni> v;
    for (const auto& p : programme_municipalities())
      v.push_back({p.kommunekode, "mvj", p.population});
    v.push_back({706, "oj", 43000});
    v.push_back({707, "oj", 37000});
    v.push_back({710, "oj", 49000});
    v.push_back({727, "oj", 23000});
    v.push_back({730, "oj", 99000});
    v.push_back({741, "oj", 3700});
    v.push_back({751, "oj", 360000});
    return v;
  }();
  return m;
}

const Muni& muni(int kommunekode) {
  for (const auto& m : munis())
    if (m.kommunekode == kommunekode) return m;
  return munis().front();
}

// A municipality by population, optionally restricted to one district or
// excluding one municipality.
int pick_muni(Rng& r, const std::string& district = "", int except = 0) {
  std::vector<int> codes, weights;
  for (const auto& m : munis()) {
    if (!district.empty() && district != m.district) continue;
    if (m.kommunekode == except) continue;
    codes.push_back(m.kommunekode);
    weights.push_back(m.population / 100);
  }
  return codes[r.weighted(weights)];
}

const std::vector<std::string> MALE = {"Anders", "Bo",    "Christian", "Jens",   "Lars",
                                       "Mads",   "Niels", "Peter",     "Rasmus", "Søren"};
const std::vector<std::string> FEMALE = {"Anne", "Camilla", "Hanne", "Helle", "Karen",
                                         "Lene", "Louise",  "Mette", "Sofie", "Tina"};
const std::vector<std::string> CHILD = {"Emma", "Noah",  "Ida",   "Oscar", "Freja", "William",
                                        "Alma", "Lucas", "Clara", "Karl",  "Ella",  "Alfred"};
const std::vector<std::string> SURNAMES = {"Andersen", "Christensen", "Hansen",    "Jensen",
                                           "Larsen",   "Madsen",      "Nielsen",   "Olsen",
                                           "Pedersen", "Poulsen",     "Rasmussen", "Sørensen"};

template <class T>
const T& one_of(Rng& r, const std::vector<T>& v) {
  return v[static_cast<std::size_t>(r.uniform(0, static_cast<std::int64_t>(v.size()) - 1))];
}

struct Child {
  std::string cpr, name;
  int home = 0;            // before a move
  bool elsewhere = false;  // lives with the other parent: does not move with the household
};

struct Adult {
  std::string cpr, name;
};

struct Household {
  std::vector<Adult> adults;
  std::vector<Child> children;
  int home = 0;
  int moved_to = 0;  // 0 = no move
  std::int64_t move_at = 0;
};

// An incident template: codes and the role of the involved adult(s).
struct Kind {
  std::vector<std::string> incident_codes, offence_codes;
  v1::PersonRole role;
  bool both_adults = false;  // both adults involved (domestic)
  bool severe = false;
};

// Weak (watched, not severe) incidents, weighted.
const std::vector<Kind>& weak_kinds() {
  static const std::vector<Kind> k = {
      {{"PH-H-TRAFIKKONTROL"}, {"PH-G-FL53"}, v1::PERSON_ROLE_SUSPECT},
      {{"PH-H-TRAFIKKONTROL"}, {"PH-G-FL54"}, v1::PERSON_ROLE_SUSPECT},
      {{"PH-H-VOLD"}, {"PH-G-SIMPEL-VOLD"}, v1::PERSON_ROLE_SUSPECT},
      {{"PH-H-VOLD"}, {}, v1::PERSON_ROLE_VICTIM},
      {{"PH-H-HUSSPEKTAKEL"}, {}, v1::PERSON_ROLE_INVOLVED_ADULT, true},
      {{}, {"PH-G-TRUSLER"}, v1::PERSON_ROLE_SUSPECT},
      {{"PH-H-SELVMORDSTRUSEL"}, {}, v1::PERSON_ROLE_INVOLVED_ADULT},
      {{"PH-H-BARN-ALENE"}, {}, v1::PERSON_ROLE_INVOLVED_ADULT},
  };
  return k;
}
const std::vector<int> WEAK_WEIGHTS = {25, 8, 10, 5, 22, 10, 10, 10};

const std::vector<Kind>& severe_kinds() {
  static const std::vector<Kind> k = {
      {{"PH-H-BARN-I-BIL"}, {"PH-G-FL53"}, v1::PERSON_ROLE_SUSPECT, false, true},
      {{"PH-H-VOLD"}, {"PH-G-GROV-VOLD"}, v1::PERSON_ROLE_SUSPECT, false, true},
      {{"PH-H-PARVOLD"}, {"PH-G-SIMPEL-VOLD"}, v1::PERSON_ROLE_SUSPECT, true, true},
      {{"PH-H-SELVMORDSFORSOEG"}, {}, v1::PERSON_ROLE_INVOLVED_ADULT, false, true},
      {{"PH-H-OMSORGSSVIGT"}, {}, v1::PERSON_ROLE_INVOLVED_ADULT, false, true},
  };
  return k;
}
const std::vector<int> SEVERE_WEIGHTS = {20, 20, 30, 15, 15};

// Incidents with no watched code.
const std::vector<Kind>& unwatched_kinds() {
  static const std::vector<Kind> k = {
      {{"PH-H-TRAFIKUHELD"}, {}, v1::PERSON_ROLE_INVOLVED_ADULT},
      {{}, {"PH-G-TYVERI"}, v1::PERSON_ROLE_SUSPECT},
      {{}, {"PH-G-HAERVAERK"}, v1::PERSON_ROLE_SUSPECT},
      {{"PH-H-TRAFIKKONTROL"}, {"PH-G-HASTIGHED"}, v1::PERSON_ROLE_SUSPECT},
  };
  return k;
}

std::string district_prefix(const std::string& district) {
  return district == "mvj" ? "4100" : "3700";
}

struct Builder {
  Rng& r;
  const IncidentOptions& opt;
  std::int64_t year_start, year_end;
  std::set<std::string>& cprs;
  IncidentYear& out;
  int serial = 0;

  std::string cpr(int birth_year, bool male) {
    std::string c;
    do c = make_cpr(r, birth_year, male);
    while (!cprs.insert(c).second);
    return c;
  }

  // A time in the year, evenings and nights more likely.
  std::int64_t when() {
    const std::int64_t day = r.uniform(0, (year_end - year_start) / DAY - 1);
    const std::int64_t hour = static_cast<std::int64_t>(
        r.weighted({1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 5, 6, 6, 6, 5, 3}));
    return year_start + day * DAY + hour * HOUR + r.uniform(0, 59) * 60;
  }

  // Where an incident of a household living in `home` happens.
  int location(int home) {
    const auto w = r.weighted({60, 15, 25});
    const std::string district = muni(home).district;
    if (w == 0) return home;
    if (w == 1) return pick_muni(r, district, home);
    return pick_muni(r, district == "mvj" ? "oj" : "mvj");
  }

  v1::Incident& incident(const Kind& k, std::int64_t at, int location_kommunekode) {
    v1::Incident in;
    const std::string district = muni(location_kommunekode).district;
    in.set_incident_id("sim-" + std::to_string(opt.seed) + "-inc-" + std::to_string(++serial));
    char journal[32];
    std::snprintf(journal, sizeof journal, "%s-%05d-%05d-%02d", district_prefix(district).c_str(),
                  static_cast<int>(r.uniform(10000, 99999)), serial % 100000, opt.year % 100);
    in.set_journal_number(journal);
    in.set_district_id(district);
    in.mutable_occurred_at()->set_seconds(at);
    in.set_location_kommunekode(location_kommunekode);
    for (const auto& c : k.incident_codes) in.add_incident_codes(c);
    for (const auto& c : k.offence_codes) in.add_offence_codes(c);
    const bool late = r.bernoulli(0.05);
    in.mutable_registered_at()->set_seconds(
        at + (late ? r.uniform(10, 40) * DAY : r.uniform(1, 72) * HOUR));
    if (late) ++out.summary.late_registered;
    if (k.severe) ++out.summary.severe_incidents;
    in.set_underretning_sent_at_scene(r.bernoulli(k.severe ? 0.3 : 0.05));
    (district == "mvj" ? out.summary.incidents_mvj : out.summary.incidents_oj)++;
    out.incidents.push_back(std::move(in));
    return out.incidents.back();
  }

  void add_witness(v1::Incident& in, int home) {
    auto* w = in.add_involved();
    w->set_role(v1::PERSON_ROLE_WITNESS);
    const bool male = r.bernoulli(0.5);
    w->set_cpr(cpr(opt.year - static_cast<int>(r.uniform(20, 70)), male));
    w->set_name(one_of(r, male ? MALE : FEMALE) + " " + one_of(r, SURNAMES));
    w->set_home_kommunekode(home);
  }

  // One incident of a household.
  void household_incident(const Household& h, const Kind& k, bool list_children) {
    const std::int64_t at = when();
    const bool moved = h.moved_to && at >= h.move_at;
    const int home = moved ? h.moved_to : h.home;
    auto& in = incident(k, at, location(home));
    const std::size_t n_adults = k.both_adults ? h.adults.size() : 1;
    const std::size_t first = static_cast<std::size_t>(r.uniform(0, h.adults.size() - 1));
    for (std::size_t i = 0; i < n_adults; ++i) {
      const auto& a = h.adults[(first + i) % h.adults.size()];
      auto* p = in.add_involved();
      // In a domestic incident the second adult is the victim of a partner's violence.
      p->set_role(i > 0 && k.role == v1::PERSON_ROLE_SUSPECT ? v1::PERSON_ROLE_VICTIM : k.role);
      p->set_cpr(a.cpr);
      p->set_name(a.name);
      p->set_home_kommunekode(home);
      if (!list_children || i > 0) continue;
      for (const auto& c : h.children) {
        auto* pc = p->add_children();
        pc->set_cpr(c.cpr);
        pc->set_name(c.name);
        pc->set_home_kommunekode(c.elsewhere ? c.home : home);
      }
    }
    if (r.bernoulli(0.1)) add_witness(in, in.location_kommunekode());
  }

  // A household with children: one or two adults, one to three children (one
  // of them perhaps living elsewhere), perhaps a move during the year.
  Household household() {
    Household h;
    h.home = pick_muni(r);
    const std::string surname = one_of(r, SURNAMES);
    const int n_adults = r.bernoulli(0.65) ? 2 : 1;
    for (int a = 0; a < n_adults; ++a) {
      const bool male = a == 0 ? r.bernoulli(0.7) : !r.bernoulli(0.1);
      const int age = static_cast<int>(r.uniform(22, 55));
      h.adults.push_back(
          {cpr(opt.year - age, male), one_of(r, male ? MALE : FEMALE) + " " + surname});
    }
    const int n_children = static_cast<int>(r.weighted({45, 40, 15})) + 1;
    const bool one_elsewhere = r.bernoulli(0.12);
    for (int c = 0; c < n_children; ++c) {
      // Born in the year before this one at the latest and at most 16 years
      // before it: under 18 all year.
      const int birth = opt.year - 1 - static_cast<int>(r.uniform(0, 15));
      Child ch{cpr(birth, r.bernoulli(0.5)), one_of(r, CHILD) + " " + surname, h.home, false};
      if (one_elsewhere && c == 0) {
        ch.elsewhere = true;
        ch.home = r.bernoulli(0.6) ? pick_muni(r, muni(h.home).district, h.home)
                                   : pick_muni(r, "", h.home);
        ++out.summary.children_elsewhere;
      }
      h.children.push_back(std::move(ch));
    }
    if (r.bernoulli(0.08)) {
      h.moved_to =
          r.bernoulli(0.7) ? pick_muni(r, muni(h.home).district, h.home) : pick_muni(r, "", h.home);
      h.move_at = when();
      ++out.summary.moved_households;
    }
    ++out.summary.households;
    out.summary.children += n_children;
    return h;
  }

  // The kinds of a household's incidents over the year.
  std::vector<const Kind*> household_kinds() {
    std::vector<const Kind*> kinds;
    switch (r.weighted({50, 25, 12, 13})) {
      case 0:
        kinds.push_back(&weak_kinds()[r.weighted(WEAK_WEIGHTS)]);
        break;
      case 1: {
        const int n = static_cast<int>(r.uniform(2, 4));
        // Risk behaviour tends to repeat: the same kind again in half the cases.
        const Kind* first = &weak_kinds()[r.weighted(WEAK_WEIGHTS)];
        kinds.push_back(first);
        for (int k = 1; k < n; ++k)
          kinds.push_back(r.bernoulli(0.5) ? first : &weak_kinds()[r.weighted(WEAK_WEIGHTS)]);
        break;
      }
      case 2:
        kinds.push_back(&severe_kinds()[r.weighted(SEVERE_WEIGHTS)]);
        if (r.bernoulli(0.4)) kinds.push_back(&weak_kinds()[r.weighted(WEAK_WEIGHTS)]);
        break;
      default:
        for (int k = static_cast<int>(r.uniform(1, 2)); k > 0; --k)
          kinds.push_back(&one_of(r, unwatched_kinds()));
        break;
    }
    return kinds;
  }

  // A household with children and its year of incidents.
  void household_year() {
    const Household h = household();
    const auto kinds = household_kinds();
    for (std::size_t k = 0; k < kinds.size(); ++k)
      // The first incident lists the children; later ones in 70 % of the cases.
      household_incident(h, *kinds[k], k == 0 || r.bernoulli(0.7));
  }

  // An adult without children: incidents that never flag anyone.
  void noise_adult() {
    Household h;
    h.home = pick_muni(r);
    const bool male = r.bernoulli(0.75);
    h.adults.push_back({cpr(opt.year - static_cast<int>(r.uniform(18, 70)), male),
                        one_of(r, male ? MALE : FEMALE) + " " + one_of(r, SURNAMES)});
    const bool watched = r.bernoulli(0.6);
    for (int k = static_cast<int>(r.uniform(1, 2)); k > 0; --k)
      household_incident(
          h, watched ? weak_kinds()[r.weighted(WEAK_WEIGHTS)] : one_of(r, unwatched_kinds()),
          false);
  }
};

}  // namespace

IncidentYear generate_incidents(const IncidentOptions& opt) {
  if (opt.year < 2000 || opt.year > 2035) throw std::invalid_argument("--year must be 2000-2035");
  if (opt.households < 0 || opt.households > 100000)
    throw std::invalid_argument("--households must be 0-100000");
  IncidentYear y;
  y.options = opt;
  Rng r(opt.seed ^ 0x5ec1a150u);
  std::set<std::string> cprs;
  const auto start = opt.until ? *opt.until - chr::days(365)
                               : chr::sys_days(chr::year{opt.year} / chr::January / 1);
  const auto end =
      opt.until ? *opt.until : chr::sys_days(chr::year{opt.year + 1} / chr::January / 1);
  Builder b{r,    opt, start.time_since_epoch().count() * DAY, end.time_since_epoch().count() * DAY,
            cprs, y};

  for (int i = 0; i < opt.households; ++i) b.household_year();
  for (int i = 0; i < opt.noise_adults; ++i) b.noise_adult();

  std::stable_sort(y.incidents.begin(), y.incidents.end(),
                   [](const v1::Incident& a, const v1::Incident& b) {
                     return a.occurred_at().seconds() < b.occurred_at().seconds();
                   });
  y.summary.incidents = static_cast<int>(y.incidents.size());
  return y;
}

std::string to_jsonl(const IncidentYear& y) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = false;
  for (const auto& in : y.incidents) {
    std::string line;
    if (!google::protobuf::util::MessageToJsonString(in, &line, o).ok())
      throw std::runtime_error("cannot write an incident as JSON");
    out += line + "\n";
  }
  return out;
}

}  // namespace henvis::sim
