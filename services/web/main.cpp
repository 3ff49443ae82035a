// henvis-web: the web app's server (web.hpp) run by the common host, and
// `henvis-web hash-password`, which reads a password from stdin and prints
// its Argon2id string for the users file.
#include <iostream>
#include <string>

#include "henvis/service.hpp"
#include "web.hpp"

namespace {
int hash_password() {
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    std::cerr << "henvis-web hash-password: no password on stdin\n";
    return 2;
  }
  std::cout << henvis::web::hash_password(password) << "\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "hash-password") return hash_password();
  return henvis::run_service(henvis::web::service(), argc, argv);
}
