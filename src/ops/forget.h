// forget: remove versions of names by a retention policy, with restic's
// meaning of each rule. Only ref objects are removed; `gc` then reclaims the
// data no remaining version uses.
//
// Per name, versions are taken newest first. A version is kept when any rule
// keeps it, and each rule keeps:
//   keep_last N      the N newest versions;
//   keep_within D    every version created within D (e.g. 1y5m7d2h) of the
//                    name's newest version (not of now);
//   keep_daily N     the newest version of each of the N newest days that
//                    have one (weekly: ISO weeks, monthly: calendar months);
//                    when fewer such periods exist than N, the oldest
//                    version is kept too (as restic does since 0.17).
// Days, weeks and months are in UTC. A policy must have at least one rule;
// the newest version of a name is always among those kept by any rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

// A restic-style duration: a sequence of <number><unit>, units y (years),
// m (months), d (days), h (hours). "1y6m", "36h", "7d".
struct KeepDuration {
  int years = 0, months = 0, days = 0, hours = 0;
  bool empty() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
};
Result<KeepDuration> ParseKeepDuration(std::string_view text);

struct ForgetPolicy {
  int keep_last = 0;  // 0: rule off; -1: unlimited
  KeepDuration keep_within;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  bool empty() const {
    return keep_last == 0 && keep_within.empty() && keep_daily == 0 && keep_weekly == 0 &&
           keep_monthly == 0;
  }
};

// One version in a forget plan.
struct ForgetEntry {
  std::string name;
  uint32_t number = 0;  // 1 = the oldest, before anything is removed
  int64_t created_unix = 0;
  std::string manifest;  // hex
  uint64_t size = 0;
  bool keep = false;
  std::vector<std::string> reasons;  // why kept: "last", "within 7d", "daily", ...
};

// Applies `policy` to one name's versions (times in seconds, oldest first);
// returns one entry per version, in the same order, with keep and reasons.
// Pure: no I/O (unit-tested on synthetic timelines).
std::vector<ForgetEntry> ApplyForgetPolicy(const ForgetPolicy& policy,
                                           std::vector<ForgetEntry> versions);

struct ForgetOptions {
  std::string target;  // a name, a prefix ending in '/', or "" for every name
  ForgetPolicy policy;
  bool dry_run = false;
};

struct ForgetReport {
  std::vector<ForgetEntry> entries;  // every version considered, by name then number
  uint64_t removed = 0;
  uint64_t kept = 0;
};

// Plans and (unless dry_run) removes versions. A damaged ref is never
// removed by policy (its time is unknown); it is reported as an error.
Result<ForgetReport> Forget(const std::shared_ptr<ObjectStore>& store,
                            const ForgetOptions& options);

}  // namespace hugeblob
