#pragma once
// The built frontend (WebSettings.assets_dir) as henvis-web serves it: files
// by URL path, never outside the directory, and index.html for the
// single-page app's own routes.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace henvis::web {

// The Content-Type for a file name, by its extension (application/octet-stream
// for one not known).
std::string content_type_of(std::string_view file_name);

// Whether a URL path may name a file at all: no "." or ".." segment, no NUL
// or backslash. Anything else is refused (404) before the app's fallback.
bool is_safe_path(std::string_view url_path);

// Whether a URL path is one of the app's routes (/betjent,
// /center/henvisning/<id>): no dot in its last segment.
bool is_app_route(std::string_view url_path);

// The regular file under `root` (canonical) that the URL path names; nullopt
// if it is not is_safe_path, escapes `root` after
// symbolic links are resolved, or is not a regular file. "/" names
// index.html.
std::optional<std::filesystem::path> asset_path(const std::filesystem::path& root,
                                                std::string_view url_path);

}  // namespace henvis::web
