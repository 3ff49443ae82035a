#include "henvis/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace henvis::log {

void init(const std::string& service) {
  auto logger = spdlog::stderr_logger_mt(service);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l svc=%n %v", spdlog::pattern_time_type::utc);
  const char* lvl = std::getenv("HENVIS_LOG_LEVEL");
  logger->set_level(lvl ? spdlog::level::from_str(lvl) : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace henvis::log
