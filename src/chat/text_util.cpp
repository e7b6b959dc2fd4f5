#include "chat/text_util.h"

#include <utf8proc.h>

namespace laneway::chat::text {

CodePoint decode(std::string_view s, size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {b0, 1, true};
  uint32_t len = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) { len = 2; cp = b0 & 0x1F; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; cp = b0 & 0x0F; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; cp = b0 & 0x07; }
  else return {b0, 1, false};
  if (pos + len > s.size()) return {b0, 1, false};
  for (uint32_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return {b0, 1, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {b0, 1, false};
  return {cp, len, true};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

size_t code_point_count(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); pos += decode(s, pos).len) ++n;
  return n;
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t pos = 0; pos < s.size(); pos += decode(s, pos).len) offsets.push_back(pos);
  offsets.push_back(s.size());
  return offsets;
}

bool is_space(uint32_t cp) {
  switch (cp) {
    case ' ': case '\t': case '\n': case '\r': case 0x0B: case 0x0C:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

template <typename Map>
std::string map_code_points(std::string_view s, Map map) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode(s, pos);
    if (c.valid) append_utf8(out, map(c.cp, pos == 0));
    else out.append(s.substr(pos, c.len));
    pos += c.len;
  }
  return out;
}

bool is_cased(uint32_t cp) {
  const utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

uint32_t to_upper(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}
uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}
uint32_t to_title(uint32_t cp) {
  if (cp < 0x80) return to_upper(cp);
  return static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

}  // namespace

bool is_alpha(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  const utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool is_upper_cp(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_LU;
}
bool is_lower_cp(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_LL;
}

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode(s, pos);
    if (!c.valid) out.append(s.substr(pos, c.len));
    // Python's full case mapping turns ß into "SS" (the one common
    // one-to-many mapping; utf8proc only knows simple mappings).
    else if (c.cp == 0xDF) out += "SS";
    else append_utf8(out, to_upper(c.cp));
    pos += c.len;
  }
  return out;
}
std::string lower(std::string_view s) {
  return map_code_points(s, [](uint32_t cp, bool) { return to_lower(cp); });
}
std::string capitalize(std::string_view s) {
  return map_code_points(s, [](uint32_t cp, bool first) { return first ? to_title(cp) : to_lower(cp); });
}

std::string py_title(std::string_view s) {
  // A letter after a cased letter is lowered, any other is title-cased.
  bool previous_cased = false;
  return map_code_points(s, [&](uint32_t cp, bool) {
    const uint32_t r = previous_cased ? to_lower(cp) : to_title(cp);
    previous_cased = is_cased(cp);
    return r;
  });
}

std::string jinja_title(std::string_view s) {
  // Words are separated by runs of whitespace, '-', '(', '{', '[' or '<'; the
  // first character of each word is upper-cased, the rest lowered.
  bool at_word_start = true;
  return map_code_points(s, [&](uint32_t cp, bool) {
    const bool sep = is_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    uint32_t r = cp;
    if (!sep) r = at_word_start ? to_upper(cp) : to_lower(cp);
    at_word_start = sep;
    return r;
  });
}

std::string_view strip(std::string_view s, const std::string* chars, bool left, bool right) {
  auto strip_this = [&](uint32_t cp) {
    if (chars == nullptr) return is_space(cp);
    for (size_t pos = 0; pos < chars->size();) {
      const CodePoint c = decode(*chars, pos);
      if (c.cp == cp) return true;
      pos += c.len;
    }
    return false;
  };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      const CodePoint c = decode(s, begin);
      if (!strip_this(c.cp)) break;
      begin += c.len;
    }
  }
  if (right) {
    while (end > begin) {
      // Step back to the start of the last code point.
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) --start;
      CodePoint c = decode(s, start);
      if (start + c.len != end) { start = end - 1; c = decode(s, start); }
      if (!strip_this(c.cp)) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep != nullptr) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = s.find(*sep, start);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && is_space(decode(s, pos).cp)) pos += decode(s, pos).len;
    if (pos >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      // The remainder, with trailing whitespace removed.
      parts.emplace_back(strip(s.substr(pos), nullptr, false, true));
      break;
    }
    const size_t start = pos;
    while (pos < s.size() && !is_space(decode(s, pos).cp)) pos += decode(s, pos).len;
    parts.emplace_back(s.substr(start, pos - start));
  }
  return parts;
}

std::vector<std::string_view> splitlines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const CodePoint c = decode(s, pos);
    const bool brk = c.cp == '\n' || c.cp == '\r' || c.cp == 0x0B || c.cp == 0x0C || c.cp == 0x1C ||
                     c.cp == 0x1D || c.cp == 0x1E || (c.valid && (c.cp == 0x85 || c.cp == 0x2028 || c.cp == 0x2029));
    if (!brk) { pos += c.len; continue; }
    lines.push_back(s.substr(start, pos - start));
    pos += c.len;
    if (c.cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    start = pos;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count, size_t max_bytes) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` between code points and at both ends.
    int64_t done = 0;
    size_t pos = 0;
    while (true) {
      if (count < 0 || done < count) { out.append(to); ++done; }
      if (pos >= s.size()) break;
      const uint32_t len = decode(s, pos).len;
      out.append(s.substr(pos, len));
      pos += len;
      if (out.size() > max_bytes) break;
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(from, start);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(start, hit - start));
    out.append(to);
    start = hit + from.size();
    ++done;
    if (out.size() > max_bytes) return out;
  }
  out.append(s.substr(start));
  return out;
}

}  // namespace laneway::chat::text
