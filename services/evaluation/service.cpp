// The evaluation as the host runs it: the statistics API and the read
// model's applier. It emits no events; its outbox carries dead letters only.
#include <stdexcept>

#include "evaluation.hpp"
#include "henvis/config.hpp"
#include "henvis/service.hpp"

namespace henvis::evaluation {

namespace {
int min_cell_of(const v1::ServiceConfig& config) {
  const int min_cell = config.evaluation().min_cell();
  if (min_cell < 0) throw std::invalid_argument("evaluation.min_cell must not be negative");
  return min_cell;
}

class EvaluationService final : public Service {
 public:
  explicit EvaluationService(ServiceContext& c)
      : api_(c.setup.database, Directory(c.setup.directory), min_cell_of(c.setup.config),
             config::resolve(c.setup.config_dir, c.setup.config.evaluation().cell_key_file()),
             c.setup.config.dev(), c.setup.config.evaluation().max_rows()) {}
  void routes(http::Router& r) override { api_.register_routes(r); }
  const Subscriptions* subscriptions() const override { return &applier_.subscriptions(); }

 private:
  Api api_;
  Applier applier_{api_.cell_key()};  // after api_, which loads the key
};
}  // namespace

// The service's OpenAPI document (openapi.json, embedded by CMake).
std::string_view openapi_document();

ServiceDeclaration service() {
  return {SERVICE,
          migrations,
          {},
          [](ServiceContext& c) { return std::make_unique<EvaluationService>(c); },
          openapi_document()};
}

}  // namespace henvis::evaluation
