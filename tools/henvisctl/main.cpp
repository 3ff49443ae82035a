// henvisctl: one command-line client for every role (officers, centres,
// municipalities, coordinators, evaluators) and for operators. The commands
// live in cli.cpp, one function each; `henvisctl --help` lists them.
#include <iostream>
#include <string>
#include <vector>

#include "henvisctl/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return henvis::ctl::run(args, std::cout, std::cerr);
}
