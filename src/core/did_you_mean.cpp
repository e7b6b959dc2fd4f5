#include "core/did_you_mean.h"

#include <algorithm>

namespace laneway {

std::string nearest_name(std::string_view typed, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& name : names) {
    // Optimal string alignment distance, two rows back for transpositions.
    std::vector<std::vector<size_t>> d(typed.size() + 1, std::vector<size_t>(name.size() + 1));
    for (size_t i = 0; i <= typed.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= name.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= typed.size(); ++i) {
      for (size_t j = 1; j <= name.size(); ++j) {
        const size_t cost = typed[i - 1] == name[j - 1] ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && typed[i - 1] == name[j - 2] && typed[i - 2] == name[j - 1]) {
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    if (d[typed.size()][name.size()] < best_distance) {
      best_distance = d[typed.size()][name.size()];
      best = name;
    }
  }
  return best;
}

}  // namespace laneway
