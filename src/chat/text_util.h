// String helpers with Python's str semantics over UTF-8: lengths and indices
// count code points, case mapping is Unicode-aware (utf8proc), whitespace is
// what str.isspace() accepts. Invalid UTF-8 bytes count as one code point
// each and map to themselves, so nothing here fails on arbitrary bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace laneway::chat::text {

struct CodePoint {
  uint32_t cp = 0;
  uint32_t len = 1;  // bytes; 1 for an invalid byte
  bool valid = false;
};
CodePoint decode(std::string_view s, size_t pos);
void append_utf8(std::string& out, uint32_t cp);

bool is_ascii(std::string_view s);
size_t code_point_count(std::string_view s);
// Byte offset of every code point, plus s.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view s);

bool is_space(uint32_t cp);  // str.isspace()
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize()
std::string py_title(std::string_view s);    // str.title()
std::string jinja_title(std::string_view s); // the `title` filter
bool is_alpha(uint32_t cp);
bool is_upper_cp(uint32_t cp);
bool is_lower_cp(uint32_t cp);

// str.strip/lstrip/rstrip; `chars` null means whitespace.
std::string_view strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit): sep null splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit);
// str.splitlines() (without keepends).
std::vector<std::string_view> splitlines(std::string_view s);
// str.replace(old, new, count); count < 0 replaces all.
std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count, size_t max_bytes);

}  // namespace laneway::chat::text
