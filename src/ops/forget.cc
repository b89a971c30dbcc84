#include "ops/forget.h"

#include <ctime>
#include <limits>

#include "format/layout.h"
#include "repo/refs.h"

namespace hugeblob {
namespace {

struct tm Utc(int64_t unix) {
  time_t t = static_cast<time_t>(unix);
  struct tm out {};
  gmtime_r(&t, &out);
  return out;
}

int64_t Day(int64_t unix) {
  // Floor division: times before 1970 still bucket by calendar day.
  return unix >= 0 ? unix / 86400 : -((-unix + 86399) / 86400);
}
int64_t IsoWeek(int64_t unix) {
  struct tm t = Utc(unix);
  char buf[16];
  std::strftime(buf, sizeof buf, "%G%V", &t);
  return std::strtoll(buf, nullptr, 10);
}
int64_t Month(int64_t unix) {
  struct tm t = Utc(unix);
  return static_cast<int64_t>(t.tm_year) * 12 + t.tm_mon;
}

// `unix` moved back by `d`, the way restic does it (calendar years, months
// and days, then hours); day-of-month overflow normalizes like timegm.
int64_t Minus(int64_t unix, const KeepDuration& d) {
  struct tm t = Utc(unix);
  t.tm_year -= d.years;
  t.tm_mon -= d.months;
  t.tm_mday -= d.days;
  return static_cast<int64_t>(timegm(&t)) - static_cast<int64_t>(d.hours) * 3600;
}

std::string DurationText(const KeepDuration& d) {
  std::string s;
  if (d.years) s += std::to_string(d.years) + "y";
  if (d.months) s += std::to_string(d.months) + "m";
  if (d.days) s += std::to_string(d.days) + "d";
  if (d.hours) s += std::to_string(d.hours) + "h";
  return s;
}

}  // namespace

Result<KeepDuration> ParseKeepDuration(std::string_view text) {
  KeepDuration d;
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "duration '" + std::string(text) + "': " + why + " (e.g. 7d, 36h, 1y6m)");
  };
  if (text.empty()) return bad("empty");
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    long long n = 0;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') {
      n = n * 10 + (text[j] - '0');
      if (n > 1000000) return bad("number too large");
      ++j;
    }
    if (j == i) return bad("expected a number at '" + std::string(text.substr(i)) + "'");
    if (j == text.size()) return bad("a number needs a unit: y, m, d or h");
    const int v = static_cast<int>(n);
    switch (text[j]) {
      case 'y':
        d.years += v;
        break;
      case 'm':
        d.months += v;
        break;
      case 'd':
        d.days += v;
        break;
      case 'h':
        d.hours += v;
        break;
      default:
        return bad(std::string("unknown unit '") + text[j] + "'");
    }
    i = j + 1;
  }
  return d;
}

std::vector<ForgetEntry> ApplyForgetPolicy(const ForgetPolicy& policy,
                                           std::vector<ForgetEntry> versions) {
  if (versions.empty()) return versions;
  struct Bucket {
    int left;
    const char* reason;
    int64_t (*of)(int64_t);
    int64_t last = std::numeric_limits<int64_t>::min();
  };
  Bucket buckets[] = {{policy.keep_daily, "daily", Day},
                      {policy.keep_weekly, "weekly", IsoWeek},
                      {policy.keep_monthly, "monthly", Month}};
  int last_left = policy.keep_last;
  const bool within = !policy.keep_within.empty();
  const int64_t cutoff = within ? Minus(versions.back().created_unix, policy.keep_within) : 0;
  const std::string within_reason = "within " + DurationText(policy.keep_within);
  for (size_t k = versions.size(); k-- > 0;) {
    ForgetEntry& e = versions[k];
    if (last_left != 0) {
      e.reasons.push_back("last");
      if (last_left > 0) --last_left;
    }
    if (within && e.created_unix > cutoff) e.reasons.push_back(within_reason);
    for (Bucket& b : buckets) {
      if (b.left == 0) continue;
      const int64_t at = b.of(e.created_unix);
      if (at == b.last) continue;
      b.last = at;
      e.reasons.push_back(b.reason);
      if (b.left > 0) --b.left;
    }
  }
  // Fewer periods than asked for: the oldest version is kept too, so that
  // a rule for N months never keeps less history than the store has.
  for (const Bucket& b : buckets) {
    if (b.left <= 0) continue;
    std::vector<std::string>& r = versions.front().reasons;
    bool has = false;
    for (const std::string& x : r) has |= x == b.reason;
    if (!has) r.push_back(std::string("oldest ") + b.reason);
  }
  for (ForgetEntry& e : versions) e.keep = !e.reasons.empty();
  return versions;
}

Result<ForgetReport> Forget(const std::shared_ptr<ObjectStore>& store,
                            const ForgetOptions& options) {
  if (options.policy.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "forget: no policy given (--keep-last, --keep-within, --keep-daily, --keep-weekly "
                "or --keep-monthly); nothing would be kept, so nothing is removed");
  }
  std::vector<std::vector<Version>> names;
  if (options.target.empty()) {
    HB_ASSIGN_OR_RETURN(names, ListAllVersions(*store));
  } else {
    std::vector<Version> own;
    if (!options.target.ends_with('/')) {
      HB_TRY(ValidateName(options.target));
      HB_ASSIGN_OR_RETURN(own, ListVersions(*store, options.target));
    }
    if (!own.empty()) {
      names.push_back(std::move(own));
    } else {
      std::string prefix = options.target;
      if (!prefix.ends_with('/')) prefix += '/';
      HB_ASSIGN_OR_RETURN(names, ListAllVersions(*store, prefix));
    }
    if (names.empty()) {
      return Fail(ErrorCode::kNotFound, "no file named '" + options.target + "' or under '" +
                                            options.target + "/' in " + store->url());
    }
  }

  // Everything is read and planned before anything is removed: a damaged
  // ref (whose time is unknown) stops forget with nothing removed.
  ForgetReport report;
  std::vector<Version> doomed;
  for (auto& vs : names) {
    std::vector<LoadedVersion> loaded = LoadVersions(*store, std::move(vs));
    std::vector<ForgetEntry> entries;
    std::vector<Version> versions;
    for (LoadedVersion& lv : loaded) {
      if (!lv.ref) {
        if (lv.ref.error().code() == ErrorCode::kNotFound) continue;  // removed meanwhile
        return Fail(lv.ref.error().Wrap(
            "forget refused (nothing removed): version " + std::to_string(lv.version.number) +
            " of '" + lv.version.name + "' cannot be read (hugeblob rm " + lv.version.name + "@" +
            std::to_string(lv.version.number) + " removes it)"));
      }
      ForgetEntry e;
      e.name = lv.version.name;
      e.number = lv.version.number;
      e.created_unix = lv.ref->created_unix;
      e.manifest = lv.ref->manifest.Hex();
      e.size = lv.ref->size;
      entries.push_back(std::move(e));
      versions.push_back(std::move(lv.version));
    }
    entries = ApplyForgetPolicy(options.policy, std::move(entries));
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].keep) {
        ++report.kept;
      } else {
        ++report.removed;
        doomed.push_back(versions[i]);
      }
      report.entries.push_back(std::move(entries[i]));
    }
  }
  if (options.dry_run) return report;
  for (const Version& v : doomed) {
    Status st = RemoveVersion(*store, v);
    if (!st && st.error().code() != ErrorCode::kNotFound) {
      return Fail(st.error().Wrap("forget: removing version " + std::to_string(v.number) + " of '" +
                                  v.name + "'"));
    }
  }
  return report;
}

}  // namespace hugeblob
