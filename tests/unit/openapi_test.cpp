// The services' OpenAPI documents (services/<svc>/openapi.json, docs/api.md):
// every route a service serves is documented and every documented operation
// is served; the schemas named after henvis.v1 messages and enums are exactly
// the proto3 JSON of their descriptors; the document served at /openapi.json
// is the checked-in one.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "evaluation.hpp"
#include "henvis/http.hpp"
#include "henvis/service.hpp"
#include "intake.hpp"
#include "notifier.hpp"
#include "router.hpp"
#include "socialsog.hpp"
#include "support.hpp"
#include "web.hpp"

namespace {

namespace pb = google::protobuf;
using henvis::ServiceDeclaration;

const std::vector<std::string> SERVICES = {"intake",   "router",     "socialsog",
                                           "notifier", "evaluation", "web"};
const std::set<std::string> HTTP_METHODS = {"get", "put", "post", "delete", "patch"};
constexpr const char* PROTO_PACKAGE = "henvis.v1.";

ServiceDeclaration declaration(const std::string& name) {
  if (name == "intake") return henvis::intake::service();
  if (name == "router") return henvis::router::service();
  if (name == "socialsog") return henvis::socialsog::service();
  if (name == "notifier") return henvis::notifier::service();
  if (name == "web") return henvis::web::service();
  return henvis::evaluation::service();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path document_path(const std::string& service) {
  return std::filesystem::path(HENVIS_SOURCE_DIR) / "services" / service / "openapi.json";
}

pb::Value parse(const std::string& json) {
  pb::Value v;
  REQUIRE(pb::util::JsonStringToMessage(json, &v).ok());
  return v;
}

std::string to_json(const pb::Message& m) {
  std::string out;
  pb::util::JsonPrintOptions o;
  o.add_whitespace = true;
  (void)pb::util::MessageToJsonString(m, &out, o);
  return out;
}

const pb::Value& member(const pb::Value& v, const std::string& key) {
  static const pb::Value none;
  const auto& f = v.struct_value().fields();
  auto it = f.find(key);
  return it == f.end() ? none : it->second;
}

pb::Value str(const std::string& s) {
  pb::Value v;
  v.set_string_value(s);
  return v;
}

pb::Value object(std::initializer_list<std::pair<std::string, pb::Value>> members) {
  pb::Value v;
  auto& f = *v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, m] : members) f[k] = m;
  return v;
}

pb::Value ref(const std::string& simple_name) {
  return object({{"$ref", str("#/components/schemas/" + simple_name)}});
}

// ------------------------------------------------ schemas from descriptors

// The JSON Schema of one value of `f` (not repeated) in the proto3 JSON
// mapping: 64-bit integers are strings, enums their names, Timestamps RFC 3339.
pb::Value scalar_schema(const pb::FieldDescriptor& f) {
  using F = pb::FieldDescriptor;
  switch (f.cpp_type()) {
    case F::CPPTYPE_INT32:
    case F::CPPTYPE_UINT32:
      return object({{"type", str("integer")}, {"format", str("int32")}});
    case F::CPPTYPE_INT64:
    case F::CPPTYPE_UINT64:
      return object({{"type", str("string")}, {"format", str("int64")}});
    case F::CPPTYPE_DOUBLE:
    case F::CPPTYPE_FLOAT:
      return object({{"type", str("number")}});
    case F::CPPTYPE_BOOL:
      return object({{"type", str("boolean")}});
    case F::CPPTYPE_STRING:
      return f.type() == F::TYPE_BYTES ? object({{"type", str("string")}, {"format", str("byte")}})
                                       : object({{"type", str("string")}});
    case F::CPPTYPE_ENUM:
      return ref(f.enum_type()->name());
    case F::CPPTYPE_MESSAGE:
      if (f.message_type()->full_name() == "google.protobuf.Timestamp")
        return object({{"type", str("string")}, {"format", str("date-time")}});
      if (f.message_type()->full_name().rfind(PROTO_PACKAGE, 0) != 0)
        FAIL("no JSON Schema mapping for " << f.message_type()->full_name());
      return ref(f.message_type()->name());
  }
  return {};
}

// A message's schema: every field optional (proto3 omits default values),
// no other members (parse_json refuses unknown fields; the printer writes none).
pb::Value message_schema(const pb::Descriptor& d) {
  pb::Value props = object({});
  auto& p = *props.mutable_struct_value()->mutable_fields();
  for (int i = 0; i < d.field_count(); ++i) {
    const pb::FieldDescriptor& f = *d.field(i);
    p[f.json_name()] = f.is_repeated()
                           ? object({{"type", str("array")}, {"items", scalar_schema(f)}})
                           : scalar_schema(f);
  }
  pb::Value none;
  none.set_bool_value(false);
  return object({{"type", str("object")}, {"properties", props}, {"additionalProperties", none}});
}

pb::Value enum_schema(const pb::EnumDescriptor& e) {
  pb::Value names;
  for (int i = 0; i < e.value_count(); ++i)
    *names.mutable_list_value()->add_values() = str(e.value(i)->name());
  return object({{"type", str("string")}, {"enum", names}});
}

// The schema for the henvis.v1 message or enum `name`; null if there is none.
std::optional<pb::Value> proto_schema(const std::string& name) {
  const auto* pool = pb::DescriptorPool::generated_pool();
  if (const auto* d = pool->FindMessageTypeByName(PROTO_PACKAGE + name)) return message_schema(*d);
  if (const auto* e = pool->FindEnumTypeByName(PROTO_PACKAGE + name)) return enum_schema(*e);
  return std::nullopt;
}

// `v` without its "description" members (at any depth): documents may
// describe what the descriptors only type.
pb::Value without_descriptions(pb::Value v) {
  if (v.has_struct_value()) {
    auto& f = *v.mutable_struct_value()->mutable_fields();
    f.erase("description");
    for (auto& [k, m] : f) m = without_descriptions(m);
  } else if (v.has_list_value()) {
    for (auto& m : *v.mutable_list_value()->mutable_values()) m = without_descriptions(m);
  }
  return v;
}

// ------------------------------------------------------ the served routes

std::set<std::string> documented_operations(const pb::Value& doc) {
  std::set<std::string> out;
  for (const auto& [path, item] : member(doc, "paths").struct_value().fields())
    for (const auto& [method, op] : item.struct_value().fields())
      if (HTTP_METHODS.count(method)) {
        std::string m = method;
        for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out.insert(m + " " + path);
      }
  return out;
}

// The service built the way run_service builds it (its declaration, on a
// migrated store, from the dev configuration), and the routes it serves.
std::set<std::string> served_operations(const std::string& name) {
  const henvis::test::TempDir dir("openapi-" + name);
  const auto bootstrap = dir.write("bootstrap.txt", "127.0.0.1:1\n");
  const std::string config = henvis::test::dev_config(name + ".textproto").string();
  const std::string db = dir.file(name + ".db");
  std::vector<std::string> args = {"henvis-" + name,   "--config",        config, "--database", db,
                                   "--bootstrap-file", bootstrap.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  const ServiceDeclaration d = declaration(name);
  henvis::ServiceSetup setup =
      henvis::setup_service(name, static_cast<int>(argv.size()), argv.data(), d.flags);
  henvis::SystemClock clock;
  const henvis::workdays::Calendar calendar(setup.config.calendar());
  henvis::http::Metrics metrics;
  henvis::outbox::Relay relay(setup.database, setup.bootstrap, nullptr);
  henvis::ServiceContext ctx{setup, clock, calendar, relay, metrics};
  {
    henvis::sqlite::Db store(setup.database);
    store.migrate(d.migrations());
  }
  auto service = d.build(ctx);
  henvis::http::Router router;
  service->routes(router);
  std::set<std::string> out;
  for (const auto& r : router.routes()) out.insert(r.method + " " + r.pattern);
  for (const auto& k : henvis::http::kit_routes()) out.insert(k.method + " " + k.path);
  return out;
}

std::string missing(const std::set<std::string>& from, const std::set<std::string>& in) {
  std::string out;
  for (const auto& op : from)
    if (!in.count(op)) out += "\n  " + op;
  return out;
}

}  // namespace

TEST_CASE(
    "every route a service serves is in its OpenAPI document and every documented "
    "operation is served",
    "[openapi]") {
  for (const auto& name : SERVICES) {
    INFO("service " << name << " (services/" << name << "/openapi.json, docs/api.md)");
    const auto served = served_operations(name);
    const auto documented = documented_operations(parse(read_file(document_path(name))));
    const std::string undocumented = missing(served, documented);
    const std::string not_served = missing(documented, served);
    INFO("served but not documented:" << (undocumented.empty() ? " none" : undocumented));
    INFO("documented but not served:" << (not_served.empty() ? " none" : not_served));
    CHECK(undocumented.empty());
    CHECK(not_served.empty());
  }
}

TEST_CASE("the OpenAPI schemas named after henvis.v1 messages and enums are their proto3 JSON",
          "[openapi]") {
  for (const auto& name : SERVICES) {
    const pb::Value doc = parse(read_file(document_path(name)));
    const auto& schemas = member(member(doc, "components"), "schemas").struct_value().fields();
    for (const auto& [schema_name, schema] : schemas) {
      const auto expected = proto_schema(schema_name);
      if (!expected) continue;  // not a proto type (Problem, FieldError)
      INFO("services/" << name << "/openapi.json components.schemas." << schema_name
                       << " should be (descriptions aside):\n"
                       << to_json(*expected));
      CHECK(pb::util::MessageDifferencer::Equals(without_descriptions(schema), *expected));
    }
  }
}

TEST_CASE("each OpenAPI document's copies of the shared parts equal docs/openapi/shared.json",
          "[openapi]") {
  const pb::Value shared =
      parse(read_file(std::filesystem::path(HENVIS_SOURCE_DIR) / "docs/openapi/shared.json"));
  for (const auto& name : SERVICES) {
    const pb::Value doc = parse(read_file(document_path(name)));
    for (const auto& [path, item] : member(shared, "paths").struct_value().fields()) {
      INFO("services/" << name << "/openapi.json paths." << path);
      CHECK(pb::util::MessageDifferencer::Equals(member(member(doc, "paths"), path), item));
    }
    for (const auto& [section, parts] : member(shared, "components").struct_value().fields()) {
      const pb::Value& own = member(member(doc, "components"), section);
      for (const auto& [part, value] : parts.struct_value().fields()) {
        if (!own.struct_value().fields().count(part) && section != "securitySchemes") continue;
        INFO("services/" << name << "/openapi.json components." << section << "." << part);
        CHECK(pb::util::MessageDifferencer::Equals(member(own, part), value));
      }
    }
  }
}

TEST_CASE("each service declares its checked-in OpenAPI document, served at /openapi.json",
          "[openapi]") {
  for (const auto& name : SERVICES) {
    INFO("service " << name);
    const ServiceDeclaration d = declaration(name);
    const bool embedded_is_checked_in = std::string(d.openapi) == read_file(document_path(name));
    INFO("the build embeds another services/" << name << "/openapi.json than the checked-in one");
    CHECK(embedded_is_checked_in);
    CHECK(member(parse(std::string(d.openapi)), "openapi").string_value() == "3.1.0");
  }
  henvis::auth::TokenStore tokens;
  henvis::http::Metrics metrics;
  henvis::http::ServerOptions options;
  options.openapi = R"({"openapi":"3.1.0"})";
  henvis::http::Server server(options, tokens, henvis::http::Router{}, metrics,
                              [] { return true; });
  henvis::http::Request req;
  req.method = "GET";
  req.path = "/openapi.json";
  const auto res = server.handle(req);  // no token
  CHECK(res.status == 200);
  CHECK(res.content_type == "application/json");
  CHECK(res.body == options.openapi);
}

// Not run by default: prints the schema of every henvis.v1 message and enum
// in the proto3 JSON mapping, to paste into a document's components.schemas
// (docs/api.md "Adding an endpoint"):
//   build-asan/tests/henvis_unit_tests "[.openapi-schemas]" -s | sed -n '/^{/,/^}/p'
TEST_CASE("print the OpenAPI schemas of the henvis.v1 messages", "[.openapi-schemas]") {
  pb::Value all = object({});
  const auto* pool = pb::DescriptorPool::generated_pool();
  for (const std::string file :
       {"henvis/v1/common.proto", "henvis/v1/events.proto", "henvis/v1/api.proto",
        "henvis/v1/socialsog.proto", "henvis/v1/stats.proto", "henvis/v1/web.proto"}) {
    const auto* fd = pool->FindFileByName(file);
    REQUIRE(fd);
    auto& f = *all.mutable_struct_value()->mutable_fields();
    for (int i = 0; i < fd->message_type_count(); ++i)
      f[fd->message_type(i)->name()] = message_schema(*fd->message_type(i));
    for (int i = 0; i < fd->enum_type_count(); ++i)
      f[fd->enum_type(i)->name()] = enum_schema(*fd->enum_type(i));
  }
  std::cout << to_json(all) << "\n";
}
