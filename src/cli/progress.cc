#include "cli/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cli/options.h"
#include "util/units.h"

namespace hugeblob::cli {
namespace {

// The rate is measured over this many seconds: long enough to smooth the
// bursts of a pipeline (a pack upload every few hundred ms), short enough
// to follow a store that slows down.
constexpr double kWindowSeconds = 5.0;
constexpr auto kRedraw = std::chrono::milliseconds(200);

std::string Duration(double s) {
  if (!(s >= 0) || s > 99 * 3600) return "";
  const auto t = static_cast<long long>(std::llround(s));
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

// `s` shortened to `width` columns by cutting its middle ("vm/...e.img").
std::string Shorten(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  if (width <= 3) return s.substr(0, width);
  const size_t keep = width - 3;
  return s.substr(0, keep / 2) + "..." + s.substr(s.size() - (keep - keep / 2));
}

}  // namespace

bool StderrIsTty() { return ::isatty(2) == 1; }

size_t TerminalWidth() {
  struct winsize ws {};
  if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    long v = std::strtol(c, nullptr, 10);
    if (v > 0 && v < 10000) return static_cast<size_t>(v);
  }
  return 80;
}

ProgressLine::ProgressLine(std::string op, std::string subject, ProgressMode mode,
                           ProgressUnit unit, std::string items)
    : op_(std::move(op)),
      subject_(std::move(subject)),
      mode_(mode),
      unit_(unit),
      items_(std::move(items)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressFn ProgressLine::callback() {
  if (mode_ == ProgressMode::kOff) return nullptr;
  return [this](const Progress& p) { Update(p); };
}

std::string ProgressLine::Render(const Progress& p, double rate, double eta, size_t width) const {
  auto amount = [&](uint64_t v) {
    return unit_ == ProgressUnit::kBytes ? FormatSize(v) : std::to_string(v);
  };
  // Parts in order of importance; the least important go first when the
  // line does not fit.
  std::string done = amount(p.done);
  if (p.total > 0) done += "/" + amount(p.total);
  if (!items_.empty()) done += " " + items_;  // "packs", "fetched"
  std::string pct;
  if (p.total > 0) {
    pct = fmt::format("{:.0f}%", 100.0 * static_cast<double>(std::min(p.done, p.total)) /
                                     static_cast<double>(p.total));
  }
  std::string speed;
  if (rate > 0) {
    speed = unit_ == ProgressUnit::kBytes ? FormatSize(static_cast<uint64_t>(rate)) + "/s"
                                          : fmt::format("{:.0f}/s", rate);
  }
  std::string left = eta >= 0 ? Duration(eta) : "";
  if (!left.empty()) left = "ETA " + left;
  std::string stored = p.stored > 0 ? "stored " + FormatSize(p.stored) : "";
  std::string extras;
  for (const Extra& e : extras_) {
    extras += (extras.empty() ? "" : ", ") + std::to_string(e.value) + " " + e.label;
  }

  // One column is left free: writing the last column makes some terminals
  // wrap at once.
  const size_t room = width > 1 ? width - 1 : 0;
  std::vector<std::string*> optional = {&extras, &stored, &speed, &left, &pct};
  auto assemble = [&](const std::string& head) {
    std::string line = head;
    for (const std::string* part : {&done, &pct, &speed, &left, &stored, &extras}) {
      if (part->empty()) continue;
      line += (line.empty() ? "" : "  ") + *part;
    }
    return line;
  };
  const std::string verb = op_ + (subject_.empty() ? "" : " ");
  for (size_t drop = 0;; ++drop) {
    std::string tail = assemble("");
    // The name gets what is left, but at least a few characters of it.
    if (verb.size() + 8 + 2 + tail.size() <= room || drop == optional.size()) {
      size_t for_subject =
          room > verb.size() + 2 + tail.size() ? room - verb.size() - 2 - tail.size() : 0;
      std::string line = verb + Shorten(subject_, for_subject);
      line += "  " + tail;
      if (line.size() > room) line = Shorten(line, room);
      return line;
    }
    optional[drop]->clear();
  }
}

void ProgressLine::SetExtras(std::vector<Extra> extras) {
  std::lock_guard lock(mu_);
  extras_ = std::move(extras);
}

// ,"key":value for each extra counter (JSON mode).
static std::string ExtraFields(const std::vector<ProgressLine::Extra>& extras) {
  std::string out;
  for (const auto& e : extras) out += fmt::format(",{}:{}", JsonString(e.key), e.value);
  return out;
}

void ProgressLine::Record(const Progress& p) {
  std::lock_guard lock(mu_);
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  window_.emplace_back(t, p.done);
  while (window_.size() > 2 && window_.front().first < t - kWindowSeconds) window_.pop_front();
  latest_ = p;  // what Finish reports, drawn or not
}

void ProgressLine::Update(const Progress& p) {
  if (mode_ == ProgressMode::kOff) return;
  std::lock_guard lock(mu_);
  if (finished_) return;
  latest_ = p;
  const auto now = std::chrono::steady_clock::now();
  const double t = std::chrono::duration<double>(now - start_).count();
  window_.emplace_back(t, p.done);
  while (window_.size() > 2 && window_.front().first < t - kWindowSeconds) window_.pop_front();
  const bool last = p.total > 0 && p.done >= p.total;
  if (drawn_ && now - last_ < kRedraw && !last) return;
  last_ = now;
  double rate = 0;
  if (window_.size() >= 2) {
    const double dt = window_.back().first - window_.front().first;
    const uint64_t dd =
        window_.back().second - std::min(window_.back().second, window_.front().second);
    if (dt > 0.05) rate = static_cast<double>(dd) / dt;
  }
  const double eta = p.total > 0 && rate > 0
                         ? static_cast<double>(p.total - std::min(p.done, p.total)) / rate
                         : -1;
  if (mode_ == ProgressMode::kJson) {
    std::fprintf(
        stderr,
        "{\"progress\":%s,\"name\":%s,\"done\":%llu,\"total\":%llu,\"stored\":%llu,"
        "\"unit\":\"%s\",\"rate\":%.0f,\"eta_seconds\":%s,\"elapsed_seconds\":%.3f%s}\n",
        JsonString(op_).c_str(), JsonString(subject_).c_str(), (unsigned long long)p.done,
        (unsigned long long)p.total, (unsigned long long)p.stored,
        unit_ == ProgressUnit::kBytes ? "bytes" : (items_.empty() ? "items" : items_.c_str()), rate,
        eta >= 0 ? fmt::format("{:.1f}", eta).c_str() : "null", t, ExtraFields(extras_).c_str());
    std::fflush(stderr);
    drawn_ = true;
    return;
  }
  const std::string line = Render(p, rate, eta, TerminalWidth());
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Finish() {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  // A tool reading --progress json always gets the finished line, even when
  // the work ended before the first redraw was due; a bar never drawn has
  // nothing to clear.
  if (!drawn_ && mode_ != ProgressMode::kJson) return;
  if (mode_ == ProgressMode::kBar) {
    std::fprintf(stderr, "\r\033[K");
  } else if (mode_ == ProgressMode::kJson) {
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr,
                 "{\"progress\":%s,\"name\":%s,\"done\":%llu,\"total\":%llu,\"stored\":%llu,"
                 "\"finished\":true,\"elapsed_seconds\":%.3f%s}\n",
                 JsonString(op_).c_str(), JsonString(subject_).c_str(),
                 (unsigned long long)latest_.done, (unsigned long long)latest_.total,
                 (unsigned long long)latest_.stored, t, ExtraFields(extras_).c_str());
  }
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace hugeblob::cli
