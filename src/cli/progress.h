// Progress of a long command, on stderr.
//
// On a terminal (ProgressMode::kBar): one line redrawn at most 5 times a
// second with bytes (or items) done, percent, the current rate over a
// moving window of the last few seconds, and the time left at that rate. The
// line always fits the terminal's width (read at every redraw, so a resized
// window is followed): parts are dropped from the least useful on, and a
// long name is shortened in the middle; it never wraps, so "\r" always
// returns to its start. Finish() clears it, leaving the terminal clean for
// the summary.
//
// With ProgressMode::kJson (--progress json): one JSON object per line, at
// most 5 a second plus a last one, for tools that wrap hugeblob (fields in
// docs/cli.md). Thread-safe (verify reports from several threads).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "hugeblob/hugeblob.h"

namespace hugeblob::cli {

enum class ProgressMode { kOff, kBar, kJson };
enum class ProgressUnit { kBytes, kItems };

class ProgressLine {
 public:
  // `op` is the command ("put"), `subject` what it works on (a name; may be
  // empty), `unit` what Progress::done counts.
  ProgressLine(std::string op, std::string subject, ProgressMode mode,
               ProgressUnit unit = ProgressUnit::kBytes, std::string items = "");
  ~ProgressLine() { Finish(); }
  // A callback to hand to the library (captures `this`); null when off.
  ProgressFn callback();
  void Update(const Progress& p);
  // Adds `p` to the rate's window and as the latest value, without drawing
  // (a mount while idle, so that the first line after a pause has a rate,
  // and Finish reports the last count).
  void Record(const Progress& p);
  // Counters beside `done` (the mount's requests): shown after the rate as
  // "N label" (dropped first when the line is narrow) and as JSON fields
  // named by `key`. Set before the Update that should show them.
  struct Extra {
    std::string key;    // JSON field
    std::string label;  // on the bar
    uint64_t value = 0;
  };
  void SetExtras(std::vector<Extra> extras);
  // Clears the bar (a JSON line with "done":true in JSON mode).
  void Finish();

  // The bar for `p` at `width` columns, given the elapsed time, the rate
  // and the time left (<0: unknown). Pure; unit-tested through the pty test.
  std::string Render(const Progress& p, double rate, double eta_seconds, size_t width) const;

 private:
  std::string op_;
  std::string subject_;
  ProgressMode mode_;
  ProgressUnit unit_;
  std::string items_;  // "packs", "objects": the unit's name for kItems; a word after bytes
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  // (seconds since start, done) over the last few seconds: the moving rate.
  std::deque<std::pair<double, uint64_t>> window_;
  Progress latest_;
  std::vector<Extra> extras_;
  bool drawn_ = false;
  bool finished_ = false;
};

// True if stderr is a terminal.
bool StderrIsTty();
// The width of the terminal on stderr (COLUMNS when it cannot be asked, 80
// when neither says).
size_t TerminalWidth();

}  // namespace hugeblob::cli
