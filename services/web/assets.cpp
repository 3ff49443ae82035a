// Static files (assets.hpp).
#include "assets.hpp"

#include <map>

namespace henvis::web {

namespace fs = std::filesystem;

namespace {
// Calls `f` with each non-empty segment of the URL path.
template <class F>
void each_segment(std::string_view url_path, F f) {
  std::size_t i = 0;
  while (i <= url_path.size()) {
    auto j = url_path.find('/', i);
    if (j == std::string_view::npos) j = url_path.size();
    if (j > i) f(url_path.substr(i, j - i));
    i = j + 1;
  }
}
}  // namespace

std::string content_type_of(std::string_view file_name) {
  static const std::map<std::string, std::string, std::less<>> TYPES = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  const auto slash = file_name.rfind('/');
  const auto base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  const auto dot = base.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(base.substr(dot));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto it = TYPES.find(ext);
  return it == TYPES.end() ? "application/octet-stream" : it->second;
}

bool is_safe_path(std::string_view url_path) {
  if (url_path.find('\0') != std::string_view::npos ||
      url_path.find('\\') != std::string_view::npos)
    return false;
  bool safe = true;
  each_segment(url_path, [&](std::string_view seg) { safe = safe && seg != "." && seg != ".."; });
  return safe;
}

bool is_app_route(std::string_view url_path) {
  const auto slash = url_path.rfind('/');
  const auto last = slash == std::string_view::npos ? url_path : url_path.substr(slash + 1);
  return last.find('.') == std::string_view::npos;
}

namespace {
// The URL path's segments as a relative path; nullopt for anything that could
// climb out or confuse the file system.
std::optional<fs::path> relative_of(std::string_view url_path) {
  if (!is_safe_path(url_path)) return std::nullopt;
  fs::path rel;
  each_segment(url_path, [&](std::string_view seg) { rel /= std::string(seg); });
  if (rel.empty()) rel = "index.html";
  return rel;
}

bool within(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *r != *q) return false;
  return true;
}
}  // namespace

std::optional<fs::path> asset_path(const fs::path& root, std::string_view url_path) {
  const auto rel = relative_of(url_path);
  if (!rel) return std::nullopt;
  std::error_code ec;
  const fs::path p = fs::canonical(root / *rel, ec);
  if (ec || !within(root, p) || !fs::is_regular_file(p, ec)) return std::nullopt;
  return p;
}

}  // namespace henvis::web
