// Values: Python's str/repr of floats and containers, json.dumps output,
// equality and ordering.
#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chat/json_value.h"
#include "chat/value.h"

namespace laneway::chat {
namespace {

TEST(ChatValue, FloatReprMatchesPython) {
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(-2.5), "-2.5");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(python_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float_repr(1e300), "1e+300");
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(python_float_repr(std::nan("")), "nan");
}

TEST(ChatValue, JsonDumpsDefaultSeparatorsAndEscapes) {
  auto v = value_from_json_text(R"({"b": [1, 2.0, null, false], "a": "x\u0001é\t"})");
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(value_to_json(*v), "{\"b\": [1, 2.0, null, false], \"a\": \"x\\u0001é\\t\"}");
  EXPECT_EQ(value_to_json(*v, 1), "{\n \"b\": [\n  1,\n  2.0,\n  null,\n  false\n ],\n \"a\": \"x\\u0001é\\t\"\n}");
  EXPECT_EQ(value_to_json(Value::list({})), "[]");
  EXPECT_EQ(value_to_json(Value(std::numeric_limits<double>::infinity())), "Infinity");
}

TEST(ChatValue, JsonRejectsUndefined) {
  try {
    (void)value_to_json(Value::undefined("x"));
    ADD_FAILURE() << "expected a failure";
  } catch (...) {
  }
}

TEST(ChatValue, ReprAndStr) {
  EXPECT_EQ(value_to_string(Value::none()), "None");
  EXPECT_EQ(value_to_string(Value(true)), "True");
  EXPECT_EQ(value_to_string(Value::undefined("x")), "");
  EXPECT_EQ(value_repr(Value("a'b")), "\"a'b\"");
  EXPECT_EQ(value_repr(Value("a\nb")), "'a\\nb'");
  EXPECT_EQ(value_to_string(Value::list({Value(1), Value("x")}, true)), "(1, 'x')");
}

TEST(ChatValue, EqualityAcrossNumericTypes) {
  EXPECT_TRUE(value_equals(Value(1), Value(1.0)));
  EXPECT_TRUE(value_equals(Value(true), Value(1)));
  EXPECT_FALSE(value_equals(Value("1"), Value(1)));
  EXPECT_TRUE(value_equals(Value::undefined("a"), Value::undefined("b")));
  EXPECT_FALSE(value_equals(Value::none(), Value::undefined()));
  EXPECT_TRUE(value_less(Value("a"), Value("b")));
  EXPECT_TRUE(value_less(Value::list({Value(1)}), Value::list({Value(1), Value(0)})));
}

TEST(ChatValue, JsonKeepsObjectKeyOrderAndNumberKinds) {
  auto v = value_from_json_text(R"({"z": 1, "a": 1.5, "m": 18446744073709551615})");
  ASSERT_TRUE(v.is_ok());
  const ValueDict& d = v->as_dict();
  ASSERT_EQ(d.entries.size(), 3u);
  EXPECT_EQ(d.entries[0].first.as_string(), "z");
  EXPECT_TRUE(d.entries[0].second.is_int());
  EXPECT_TRUE(d.entries[1].second.is_float());
  EXPECT_TRUE(d.entries[2].second.is_float());  // past int64: kept as a float
}

TEST(ChatValue, DeepJsonIsRefusedNotCrashed) {
  std::string deep(2000, '[');
  deep += std::string(2000, ']');
  auto v = value_from_json_text(deep);
  EXPECT_FALSE(v.is_ok());
}

}  // namespace
}  // namespace laneway::chat
