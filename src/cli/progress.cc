#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "util/units.h"

namespace hugeblob::cli {

bool StderrIsTty() { return ::isatty(2) == 1; }

ProgressLine::ProgressLine(std::string verb, bool enabled)
    : verb_(std::move(verb)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressFn ProgressLine::callback() {
  if (!enabled_) return nullptr;
  return [this](const Progress& p) { Update(p); };
}

void ProgressLine::Update(const Progress& p) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(200) && p.done != p.total) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(p.done) / secs : 0;
  std::string line = verb_ + " " + FormatSize(p.done);
  if (p.total > 0) {
    line += " / " + FormatSize(p.total);
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%.0f%%)",
                  100.0 * static_cast<double>(p.done) / static_cast<double>(p.total));
    line += pct;
  }
  line += "  " + FormatSize(static_cast<uint64_t>(rate)) + "/s";
  if (p.stored > 0) line += "  stored " + FormatSize(p.stored);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Finish() {
  std::lock_guard lock(mu_);
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace hugeblob::cli
