// Flags: integers in range, plain decimal numbers, choices, the decay-epoch list, and user errors
// as one printable line.
#include "engine/check.h"
#include "engine/flags.h"
#include "engine/lr_schedule.h"
#include "tests/helpers.h"

namespace {

TEST_CASE("flags: integers within their range, finite numbers, values among their choices, else a user error") {
  Flags f("test", "flags under test");
  f.add("width", "64", "");
  f.add("steps", "0", "");
  f.add("graphs", "on", "");
  f.add("lr", "0.1", "");
  const char* argv[] = {"test", "--width=2048", "--steps", "-1", "--graphs", "maybe", "--lr", "inf"};
  f.parse(8, const_cast<char**>(argv));
  CHECK(f.integer("width", 1, 4096) == 2048);
  CHECK(f.integer("steps", -1) == -1);
  CHECK_THROWS_WITH_AS(f.integer("width", 1, 1024), "--width must be in [1, 1024], got 2048", UserError);
  CHECK_THROWS_WITH_AS(f.integer("steps", 0), "--steps must be at least 0, got -1", UserError);
  CHECK_THROWS_WITH_AS(f.choice("graphs", {"on", "off"}), "--graphs must be one of on, off; got 'maybe'", UserError);
  CHECK_THROWS_WITH_AS(f.number("lr"), "--lr must be a finite number, got 'inf'", UserError);
  CHECK(f.choice("graphs", {"on", "off", "maybe"}) == "maybe");
}

TEST_CASE("flags: numbers are plain decimal, as people write them; strtod's other forms are refused") {
  const auto parsed = [](const std::string& text) {
    Flags f("test", "");
    f.add("x", "0", "");
    const std::string arg = "--x=" + text;
    const char* argv[] = {"test", arg.c_str()};
    f.parse(2, const_cast<char**>(argv));
    return f;
  };
  for (const char* good : {"1e-3", "-2", "+3", ".5", "5.", "2.5E+2", "0"}) {
    INFO(good);
    CHECK_NOTHROW(parsed(good).number("x"));
  }
  for (const char* bad : {" 5", "5 ", "0x10", "0x1p3", "1e", "1e+", ".", "+", "", "inf", "nan", "1,5", "--5"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(parsed(bad).number("x"), UserError);
    CHECK_THROWS_AS(parsed(bad).integer("x"), UserError);
  }
  CHECK(parsed("+7").integer("x") == 7);
  CHECK_THROWS_AS(parsed("7.0").integer("x"), UserError);
  CHECK_THROWS_AS(parsed("1e3").integer("x"), UserError);
  CHECK(parse_epoch_list("3,9") == std::vector<long>{3, 9});
  for (const char* bad : {"3,", ",3", "3,,9", "", " 3", "3 ", "0", "9,3", "3,3", "0x3"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(parse_epoch_list(bad), UserError);
  }
}

TEST_CASE("user errors: a message stays one printable line whatever text it echoes") {
  CHECK_THROWS_WITH_AS(fail_input("wnids.txt names %s twice", "n01\nn02\x1b[2J\x7f"),
                       "wnids.txt names n01?n02?[2J? twice", UserError);
}

}  // namespace
