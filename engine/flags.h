// Long GNU-style command-line flags (--name value or --name=value) with defaults and help text.
// Unknown flags, missing values and malformed numbers are user errors: one line, exit code 2.
#pragma once

#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

class Flags {
 public:
  Flags(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

  void add(const std::string& name, const std::string& default_value, const std::string& help);
  void add_switch(const std::string& name, const std::string& help);  // --name alone means true

  // Prints the help and exits 0 on --help.
  void parse(int argc, char** argv);

  const std::string& str(const std::string& name) const;
  long integer(const std::string& name) const;
  // An integer in [min, max]; outside, a one-line error that names the range.
  long integer(const std::string& name, long min, long max = std::numeric_limits<long>::max()) const;
  // A value that must be one of `choices`; otherwise a one-line error that lists them.
  const std::string& choice(const std::string& name, std::initializer_list<const char*> choices) const;
  double number(const std::string& name) const;  // finite: "nan" and "inf" are refused
  bool on(const std::string& name) const;
  bool given(const std::string& name) const;

  std::string help() const;
  // (name, value) in registration order, for the settings table and config.json.
  std::vector<std::pair<std::string, std::string>> values() const;

 private:
  struct Flag {
    std::string name, value, default_value, help;
    bool is_switch = false, given = false;
  };
  const Flag& find(const std::string& name) const;
  Flag* lookup(const std::string& name);
  std::string program_, summary_;
  std::vector<Flag> flags_;
};
