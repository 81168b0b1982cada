// Flag parsing and help text.
#include "engine/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/check.h"

void Flags::add(const std::string& name, const std::string& default_value, const std::string& help) {
  flags_.push_back(Flag{name, default_value, default_value, help, false, false});
}

void Flags::add_switch(const std::string& name, const std::string& help) {
  flags_.push_back(Flag{name, "false", "false", help, true, false});
}

Flags::Flag* Flags::lookup(const std::string& name) {
  for (Flag& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

const Flags::Flag& Flags::find(const std::string& name) const {
  for (const Flag& f : flags_)
    if (f.name == name) return f;
  fail_internal(__FILE__, __LINE__, "flag --%s was never declared", name.c_str());
}

void Flags::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(help().c_str(), stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) fail_input("unexpected argument '%s' (flags start with --; see --help)", argv[i]);
    std::string name = arg.substr(2), value;
    const size_t equals = name.find('=');
    const bool inline_value = equals != std::string::npos;
    if (inline_value) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    Flag* flag = lookup(name);
    if (flag == nullptr) fail_input("unknown flag --%s (see --help)", name.c_str());
    // The last would win silently, and config.json would not say which the user meant.
    if (flag->given) fail_input("--%s is given twice", name.c_str());
    if (flag->is_switch) {
      if (inline_value && value != "true" && value != "false")
        fail_input("--%s takes no value or true/false, got '%s'", name.c_str(), value.c_str());
      flag->value = inline_value ? value : "true";
    } else {
      if (!inline_value) {
        // "--run-dir --resume": the next word is a flag of its own, not this one's value.
        const std::string next = i + 1 < argc ? argv[i + 1] : "";
        const bool next_is_flag = next.rfind("--", 0) == 0 && lookup(next.substr(2, next.find('=') - 2)) != nullptr;
        if (i + 1 >= argc || next_is_flag) fail_input("--%s needs a value", name.c_str());
        value = argv[++i];
      }
      flag->value = value;
    }
    flag->given = true;
  }
}

const std::string& Flags::str(const std::string& name) const { return find(name).value; }

namespace {

// A number as people write one: an optional sign, decimal digits with at most one point (none in
// an integer), an optional exponent. strtol and strtod also take leading spaces, hexadecimal
// ("0x10", "0x1p3"), "inf" and "nan", none of which a setting means.
bool plain_decimal(const std::string& text, bool integer) {
  size_t i = 0, digits = 0;
  const auto sign = [&] {
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  };
  const auto run_of_digits = [&] {
    size_t n = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) ++n;
    return n;
  };
  sign();
  digits += run_of_digits();
  if (!integer && i < text.size() && text[i] == '.') {
    ++i;
    digits += run_of_digits();
  }
  if (digits == 0) return false;
  if (!integer && i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    sign();
    if (run_of_digits() == 0) return false;
  }
  return i == text.size();
}

}  // namespace

long Flags::integer(const std::string& name) const {
  const std::string& text = str(name);
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (!plain_decimal(text, true) || *end != '\0') fail_input("--%s must be an integer, got '%s'", name.c_str(), text.c_str());
  if (errno == ERANGE) fail_input("--%s is out of range, got %s", name.c_str(), text.c_str());
  return value;
}

long Flags::integer(const std::string& name, long min, long max) const {
  const long value = integer(name);
  if (value >= min && value <= max) return value;
  if (max == std::numeric_limits<long>::max()) fail_input("--%s must be at least %ld, got %ld", name.c_str(), min, value);
  fail_input("--%s must be in [%ld, %ld], got %ld", name.c_str(), min, max, value);
}

const std::string& Flags::choice(const std::string& name, std::initializer_list<const char*> choices) const {
  const std::string& value = str(name);
  std::string listed;
  for (const char* c : choices) {
    if (value == c) return value;
    listed += (listed.empty() ? "" : ", ") + std::string(c);
  }
  fail_input("--%s must be one of %s; got '%s'", name.c_str(), listed.c_str(), value.c_str());
}

double Flags::number(const std::string& name) const {
  const std::string& text = str(name);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (!plain_decimal(text, false) || *end != '\0' || errno != 0 || !std::isfinite(value))
    fail_input("--%s must be a finite number, got '%s'", name.c_str(), text.c_str());
  return value;
}

bool Flags::on(const std::string& name) const { return str(name) == "true"; }

bool Flags::given(const std::string& name) const { return find(name).given; }

namespace {

// `words` from column `indent` on, wrapped at kHelpWidth columns (a word longer than a line keeps
// a line of its own).
constexpr size_t kHelpIndent = 28, kHelpWidth = 100;
std::string wrapped(const std::string& words) {
  std::string text, line;
  size_t at = 0;
  while (at < words.size()) {
    size_t end = words.find(' ', at);
    if (end == std::string::npos) end = words.size();
    const std::string word = words.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && kHelpIndent + line.size() + 1 + word.size() > kHelpWidth) {
      text += line + "\n" + std::string(kHelpIndent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return text + line;
}

}  // namespace

std::string Flags::help() const {
  std::string text = "usage: " + program_ + " [flags]\n" + summary_ + "\n\nflags:\n";
  for (const Flag& f : flags_) {
    std::string left = "  --" + f.name + (f.is_switch ? "" : " VALUE");
    left = left.size() < kHelpIndent ? left + std::string(kHelpIndent - left.size(), ' ')
                                     : left + "\n" + std::string(kHelpIndent, ' ');
    const std::string shown = f.default_value.empty() ? "\"\"" : f.default_value;
    text += left + wrapped(f.help + (f.is_switch ? "" : " (default: " + shown + ")")) + "\n";
  }
  return text;
}

std::vector<std::pair<std::string, std::string>> Flags::values() const {
  std::vector<std::pair<std::string, std::string>> result;
  for (const Flag& f : flags_) result.emplace_back(f.name, f.value);
  return result;
}
