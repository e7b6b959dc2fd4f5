// How the CLI writes numbers for people: sizes in the unit that fits the
// value (B, KiB, MiB, GiB, TiB; powers of 1024, as the memory they bill) and
// token counts one way, as the flags take them ("2048", "128k", "1M").
#pragma once

#include <cstdint>
#include <string>

namespace laneway::cli {

// "512 B", "812 KiB", "1.1 MiB", "3.42 GiB": three significant figures or so.
std::string format_bytes(uint64_t bytes);

// Token counts: "1M" and "128k" when exact multiples of 1M and 1024, else
// the plain number ("2048" is written "2k", "1000" stays "1000"). Every form
// is what --ctx accepts.
std::string format_tokens(int64_t tokens);

// A largest-that-fits figure for people: rounded down to a multiple of 1024
// (from 1024 up), so "1592064" reads "1554k"; it still fits, being smaller.
int64_t round_down_tokens(int64_t tokens);

}  // namespace laneway::cli
