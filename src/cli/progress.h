// Progress on a terminal: one line on stderr, redrawn at most 5 times a
// second, only when stderr is a TTY and --quiet/--json are off. Thread-safe
// (verify reports from several threads).
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "hugeblob/hugeblob.h"

namespace hugeblob::cli {

class ProgressLine {
 public:
  ProgressLine(std::string verb, bool enabled);
  ~ProgressLine() { Finish(); }
  // A callback to hand to the library (captures `this`).
  ProgressFn callback();
  void Update(const Progress& p);
  // Clears the line.
  void Finish();

 private:
  std::string verb_;
  bool enabled_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  bool drawn_ = false;
};

// True if stderr is a terminal.
bool StderrIsTty();

}  // namespace hugeblob::cli
