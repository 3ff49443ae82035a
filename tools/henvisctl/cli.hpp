#pragma once
// henvisctl internals: option parsing, output helpers and the commands.

#include <google/protobuf/timestamp.pb.h>

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "henvisctl/client.hpp"

namespace henvis::ctl {

// Exit codes.
constexpr int EXIT_OK = 0;
constexpr int EXIT_API = 1;         // the server refused (4xx, or 5xx)
constexpr int EXIT_USAGE = 2;       // bad command line
constexpr int EXIT_CONNECTION = 3;  // the server could not be reached

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parsed command line: global options, then a command's words, options and
// positional arguments. "--name value" and "--name=value" are both accepted.
struct Args {
  std::map<std::string, std::string> options;  // value options
  std::set<std::string> flags;                 // boolean options
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return options.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = {}) const;
  std::string required(const std::string& name) const;  // throws UsageError
  bool flag(const std::string& name) const { return flags.count(name) != 0; }
};

// Splits argv: names in `value_options` take a value, names in `flag_options`
// do not; anything else starting with "--" is a UsageError.
Args parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
                const std::set<std::string>& flag_options);

struct Globals {
  client::Endpoints endpoints;
  std::string token;
  bool json = false;
};

struct Context {
  Globals globals;
  std::ostream& out;
  std::ostream& err;
  std::string command;  // its words, e.g. "referrals list"
  client::Client api() const { return client::Client(globals.endpoints, globals.token); }
};

struct Command {
  std::vector<std::string> words;  // e.g. {"offer", "register"}
  std::string synopsis;            // the arguments after the words
  std::string help;                // what it does and its options
  std::set<std::string> value_options;
  std::set<std::string> flag_options;
  std::function<int(const Context&, const Args&)> run;
};

const std::vector<Command>& commands();

// Paged lists: the query from --limit and --cursor and the `more` pairs given
// (empty values left out), and, when more follow, the hint that prints the
// same command for the next page ("more: henvisctl referrals list --cursor X").
std::string paging_query(const Args& a, std::vector<std::pair<std::string, std::string>> more = {});
void more_hint(const Context& c, const Args& a, const std::string& next_cursor);

// A note from --note-file FILE (or - for standard input), its final line break
// dropped; "" without one. --note is refused (a UsageError): a note may name
// the person, and the command line is visible to every user (ps).
std::string note_from(const Args& a);

// The Kafka bootstrap of a Kafka command from --bootstrap, --bootstrap-file
// or --kafka-config FILE (a henvis.v1.KafkaSettings text file, whose security
// settings then apply to the command's clients); throws UsageError.
std::string kafka_bootstrap(const Args& a, int wait_ms);

// Runs henvisctl with argv[1..]; returns the exit code.
int run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

// Output helpers (exposed for tests).
// "YYYY-MM-DD HH:MM" in Copenhagen time (CET/CEST); "" when unset.
std::string short_time(const google::protobuf::Timestamp& t);
// RFC 3339, "YYYY-MM-DD" (00:00 Copenhagen time) or "now"; throws UsageError.
google::protobuf::Timestamp parse_time(const std::string& option, const std::string& v);
// Columns aligned by display width (UTF-8); numbers right-aligned; a cell over
// 40 characters cut with an ellipsis. A table wider than TABLE_WIDTH is printed
// as several that fit, each repeating the first `key_columns` columns.
constexpr std::size_t TABLE_WIDTH = 120;
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows, std::size_t key_columns = 1);
// The candidate closest to `word` if it is close enough to be a slip of the
// keyboard (edit distance at most a third of the word, at least 1).
std::optional<std::string> did_you_mean(const std::string& word,
                                        const std::vector<std::string>& candidates);
// A statistics answer (v1::ReferralStats or v1::UnderretningStats) as tables
// that fit TABLE_WIDTH: rates and shares as percentages, withheld counts as
// "<N" (N the answer's min_cell), with a footnote when any is withheld.
void print_stats(std::ostream& out, const google::protobuf::Message& stats);

}  // namespace henvis::ctl
