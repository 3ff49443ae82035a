// The Socialsøg rules: the versioned code list, the settings, and the
// assessment of one child.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "henvis/config.hpp"
#include "socialsog.hpp"

namespace henvis::socialsog {

namespace {
constexpr int MAX_LOOK_BACK_MONTHS = 120;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

Rules Rules::from(const v1::SocialsogRules& r) {
  Rules out;
  if (r.version().empty()) throw std::invalid_argument("socialsog rules: version is required");
  out.version_ = r.version();
  if (r.look_back_months() < 0 || r.look_back_months() > MAX_LOOK_BACK_MONTHS)
    throw std::invalid_argument("socialsog rules: look_back_months must be 1..120");
  if (r.look_back_months()) out.look_back_months_ = r.look_back_months();
  if (r.threshold() <= 0) throw std::invalid_argument("socialsog rules: threshold must be > 0");
  out.threshold_ = r.threshold();
  if (r.codes().empty()) throw std::invalid_argument("socialsog rules: no codes");
  for (int i = 0; i < r.codes_size(); ++i) {
    const auto& c = r.codes(i);
    const std::string where = "socialsog rules: codes[" + std::to_string(i) + "]";
    if (c.code().empty()) throw std::invalid_argument(where + ".code is required");
    if (c.kind() != v1::CODE_KIND_INCIDENT && c.kind() != v1::CODE_KIND_OFFENCE)
      throw std::invalid_argument(where + ".kind must be CODE_KIND_INCIDENT or CODE_KIND_OFFENCE");
    if (c.category() == v1::RISK_CATEGORY_UNSPECIFIED)
      throw std::invalid_argument(where + ".category is required");
    if (c.weight() <= 0) throw std::invalid_argument(where + ".weight must be > 0");
    if (!out.codes_.emplace(std::make_pair(static_cast<int>(c.kind()), c.code()), c).second)
      throw std::invalid_argument(where + " repeats code " + c.code());
  }
  if (r.counted_roles().empty()) {
    out.counted_roles_ = {v1::PERSON_ROLE_SUSPECT, v1::PERSON_ROLE_VICTIM,
                          v1::PERSON_ROLE_INVOLVED_ADULT};
  } else {
    for (int role : r.counted_roles()) {
      if (role == v1::PERSON_ROLE_UNSPECIFIED)
        throw std::invalid_argument("socialsog rules: counted_roles holds an unspecified role");
      out.counted_roles_.insert(role);
    }
  }
  return out;
}

IncidentMatch Rules::match(const v1::Incident& incident) const {
  IncidentMatch m;
  auto consider = [&](int kind, const std::string& code, std::vector<std::string>& into) {
    auto it = codes_.find({kind, code});
    if (it == codes_.end()) return;
    m.watched = true;
    m.weight = std::max(m.weight, it->second.weight());
    m.severe = m.severe || it->second.severe();
    m.categories.insert(it->second.category());
    if (std::find(into.begin(), into.end(), code) == into.end()) into.push_back(code);
  };
  for (const auto& c : incident.incident_codes())
    consider(v1::CODE_KIND_INCIDENT, c, m.incident_codes);
  for (const auto& c : incident.offence_codes())
    consider(v1::CODE_KIND_OFFENCE, c, m.offence_codes);
  return m;
}

Settings Settings::from(const v1::SocialsogSettings& s, const std::string& base_dir) {
  Settings out;
  if (!s.rules_file().empty() && s.has_rules())
    throw std::invalid_argument("socialsog settings: give rules_file or rules, not both");
  if (!s.rules_file().empty())
    out.rules =
        Rules::from(config::load<v1::SocialsogRules>(config::resolve(base_dir, s.rules_file())));
  else if (s.has_rules())
    out.rules = Rules::from(s.rules());
  else
    out.rules = Rules::from(default_rules());
  if (!s.scan_weekday().empty()) {
    static const char* const NAMES[] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
    const std::string w = lower(s.scan_weekday());
    bool found = false;
    for (unsigned i = 0; i < 7; ++i)
      if (w == NAMES[i]) {
        out.scan_weekday = std::chrono::weekday(i);
        found = true;
      }
    if (!found)
      throw std::invalid_argument("socialsog settings: scan_weekday must be a weekday in English");
  }
  if (!s.scan_time().empty()) {
    const std::string& t = s.scan_time();
    if (t.size() != 5 || t[2] != ':' || !std::isdigit(static_cast<unsigned char>(t[0])) ||
        !std::isdigit(static_cast<unsigned char>(t[1])) ||
        !std::isdigit(static_cast<unsigned char>(t[3])) ||
        !std::isdigit(static_cast<unsigned char>(t[4])))
      throw std::invalid_argument("socialsog settings: scan_time must be HH:MM");
    const int h = std::stoi(t.substr(0, 2)), mi = std::stoi(t.substr(3, 2));
    if (h > 23 || mi > 59)
      throw std::invalid_argument("socialsog settings: scan_time must be HH:MM");
    out.scan_time = std::chrono::hours(h) + std::chrono::minutes(mi);
  }
  if (s.receipt_working_days() < 0 || s.check_interval_seconds() < 0)
    throw std::invalid_argument("socialsog settings must not be negative");
  if (s.receipt_working_days()) out.receipt_working_days = s.receipt_working_days();
  if (s.check_interval_seconds()) out.check_interval_seconds = s.check_interval_seconds();
  for (const auto& snd : s.senders()) {
    if (snd.district_id().empty() || snd.name().empty())
      throw std::invalid_argument("socialsog settings: a sender needs district_id and name");
    out.senders[snd.district_id()] = snd.name();
  }
  out.weekly_scan = !s.weekly_scan_disabled();
  const int look_back = out.rules.look_back_months();
  if (s.incident_retention_months() < 0)
    throw std::invalid_argument(
        "socialsog settings: incident_retention_months must not be negative");
  out.incident_retention_months =
      s.incident_retention_months() ? s.incident_retention_months() : look_back + 3;
  if (out.incident_retention_months < look_back)
    throw std::invalid_argument(
        "socialsog settings: incident_retention_months must be at least the rules' "
        "look_back_months (" +
        std::to_string(look_back) + ")");
  if (s.underretning_retention_months() < 0)
    throw std::invalid_argument(
        "socialsog settings: underretning_retention_months must not be negative");
  out.underretning_retention_months = s.underretning_retention_months()
                                          ? s.underretning_retention_months()
                                          : out.incident_retention_months;
  if (out.underretning_retention_months < out.incident_retention_months)
    throw std::invalid_argument(
        "socialsog settings: underretning_retention_months must be at least "
        "incident_retention_months (" +
        std::to_string(out.incident_retention_months) + ")");
  return out;
}

Settings load_settings(const std::string& settings_file, const std::string& config_dir,
                       std::string* used) {
  std::string file = settings_file;
  if (file.empty()) {
    const std::string beside = config::resolve(config_dir, "socialsog-settings.textproto");
    if (std::filesystem::exists(beside)) file = beside;
  }
  v1::SocialsogSettings raw;
  if (!file.empty()) config::load(file, raw);
  if (used) *used = file;
  return Settings::from(raw, file.empty() ? config_dir : config::dir_of(file));
}

std::string Settings::sender(const std::string& district_id, const Directory& dir) const {
  if (auto it = senders.find(district_id); it != senders.end()) return it->second;
  for (const auto& d : dir.raw().districts())
    if (d.id() == district_id) return "Socialsøg, " + d.name();
  return "Socialsøg, politikreds " + district_id;
}

std::int64_t months_before(std::int64_t unix_seconds, int months) {
  using namespace std::chrono;
  const sys_seconds t{seconds(unix_seconds)};
  const sys_days day = floor<days>(t);
  const auto time_of_day = t - day;
  year_month_day ymd{day};
  year_month_day back = ymd - std::chrono::months(months);
  if (!back.ok()) back = back.year() / back.month() / last;
  return (sys_days(back) + time_of_day).time_since_epoch().count();
}

Assessment assess(const std::vector<WeightedIncident>& incidents, std::int64_t from,
                  std::int64_t to, int threshold) {
  Assessment a;
  std::vector<std::string> severe, all;
  for (const auto& i : incidents) {
    if (i.occurred_at < from || i.occurred_at > to) continue;  // outside the look-back
    a.total_weight += i.weight;
    all.push_back(i.incident_id);
    if (i.severe) {
      a.severe_rule = true;
      severe.push_back(i.incident_id);
    }
  }
  a.threshold_rule = a.total_weight >= threshold;
  // A threshold hit rests on every weighted incident; a severe hit alone on
  // the severe ones.
  a.qualifying = a.threshold_rule ? all : severe;
  return a;
}

}  // namespace henvis::socialsog
