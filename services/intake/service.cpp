// Intake as the host runs it: the officers' API; it consumes nothing.
#include "henvis/service.hpp"
#include "henvis/config.hpp"
#include "intake.hpp"

namespace henvis::intake {

namespace {
class IntakeService final : public Service {
 public:
  explicit IntakeService(ServiceContext& c)
      : intake_(c.setup.database, Directory(c.setup.directory), &c.relay, c.clock,
                config::resolve(c.setup.config_dir, c.setup.config.intake().partition_key_file()),
                c.setup.config.dev()) {}
  void routes(http::Router& r) override { intake_.register_routes(r); }
  // Eight handler threads: the officers' offers that arrive together wait
  // for one group commit together (Intake::post_offer); the more wait, the
  // fewer disk syncs per offer.
  void server_options(http::ServerOptions& o) const override { o.handler_threads = 8; }

 private:
  Intake intake_;
};
}  // namespace

// The service's OpenAPI document (openapi.json, embedded by CMake).
std::string_view openapi_document();

ServiceDeclaration service() {
  return {"intake",
          migrations,
          {},
          [](ServiceContext& c) { return std::make_unique<IntakeService>(c); },
          openapi_document()};
}

}  // namespace henvis::intake
