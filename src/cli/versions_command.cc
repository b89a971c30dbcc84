#include "cli/versions_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "hugeblob/hugeblob.h"
#include "ops/forget.h"
#include "util/units.h"

namespace hugeblob::cli {
namespace {

int RunVersions(const GlobalOptions& g, const std::string& name) {
  if (auto bad = CheckNameArg(name)) return *bad;
  auto store = g.OpenStore();
  if (!store) return ReportError(store.error());
  auto list = ListBlobVersions(*store, name);
  if (!list) return ReportError(list.error());
  int status = 0;
  if (g.json) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) {
      const BlobInfo& b = (*list)[i];
      out += i == 0 ? "" : ",";
      if (!b.error.empty()) {
        out += fmt::format("{{\"version\":{},\"error\":{}}}", b.version, JsonString(b.error));
        status = kExitFailure;
        continue;
      }
      out += fmt::format(
          "{{\"version\":{},\"created\":\"{}\",\"created_unix\":{},\"size\":{},\"added_bytes\":{},"
          "\"shared_bytes\":{},\"manifest\":\"{}\"}}",
          b.version, FormatTime(b.created_unix), b.created_unix, b.size, b.added_bytes,
          b.shared_bytes, b.manifest);
    }
    std::printf("%s]\n", out.c_str());
    return status;
  }
  const bool human = ::isatty(1) == 1;
  std::printf("%4s  %-20s  %14s  %14s  %s\n", "#", "created", "size", "added", "manifest");
  for (const BlobInfo& b : *list) {
    if (!b.error.empty()) {
      ReportError(Error(ErrorCode::kCorruption, "version " + std::to_string(b.version) + " of '" +
                                                    b.name + "': " + b.error +
                                                    " (hugeblob rm NAME@N can remove it)"));
      status = kExitFailure;
      continue;
    }
    auto size = [&](uint64_t v) { return human ? FormatSize(v) : std::to_string(v); };
    std::printf("%4u  %-20s  %14s  %14s  %s\n", b.version, FormatTime(b.created_unix).c_str(),
                size(b.size).c_str(), size(b.added_bytes).c_str(),
                b.manifest.substr(0, 16).c_str());
  }
  return status;
}

struct ForgetArgs {
  std::string target;
  int keep_last = 0;
  std::string keep_within;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  bool dry_run = false;
};

int RunForget(const GlobalOptions& g, const ForgetArgs& a) {
  ForgetOptions o;
  o.target = a.target;
  if (!a.target.empty() && !a.target.ends_with('/')) {
    if (auto bad = CheckNameArg(a.target)) return *bad;
  }
  for (auto [v, opt] : {std::pair{a.keep_last, "--keep-last"},
                        {a.keep_daily, "--keep-daily"},
                        {a.keep_weekly, "--keep-weekly"},
                        {a.keep_monthly, "--keep-monthly"}}) {
    if (v < -1) return UsageError(fmt::format("{} {}: give a count, or -1 for all", opt, v));
  }
  o.policy.keep_last = a.keep_last;
  o.policy.keep_daily = a.keep_daily;
  o.policy.keep_weekly = a.keep_weekly;
  o.policy.keep_monthly = a.keep_monthly;
  if (!a.keep_within.empty()) {
    auto d = ParseKeepDuration(a.keep_within);
    if (!d) return UsageError(d.error().Wrap("--keep-within").message());
    o.policy.keep_within = *d;
  }
  if (o.policy.empty()) {
    return UsageError(
        "forget needs a policy: --keep-last, --keep-within, --keep-daily, --keep-weekly or "
        "--keep-monthly (nothing is removed without one)");
  }
  o.dry_run = a.dry_run;
  auto store = g.OpenStore();
  if (!store) return ReportError(store.error());
  auto r = Forget(*store, o);
  if (!r) return ReportError(r.error());
  if (g.json) {
    std::string out = fmt::format("{{\"dry_run\":{},\"kept\":{},\"removed\":{},\"versions\":[",
                                  a.dry_run ? "true" : "false", r->kept, r->removed);
    for (size_t i = 0; i < r->entries.size(); ++i) {
      const ForgetEntry& e = r->entries[i];
      std::string reasons = "[";
      for (size_t k = 0; k < e.reasons.size(); ++k) {
        reasons += (k ? "," : "") + JsonString(e.reasons[k]);
      }
      out += fmt::format(
          "{}{{\"name\":{},\"version\":{},\"created\":\"{}\",\"created_unix\":{},\"size\":{},"
          "\"manifest\":\"{}\",\"action\":\"{}\",\"reasons\":{}]}}",
          i ? "," : "", JsonString(e.name), e.number, FormatTime(e.created_unix), e.created_unix,
          e.size, e.manifest, e.keep ? "keep" : "remove", reasons);
    }
    std::printf("%s]}\n", out.c_str());
    return 0;
  }
  if (!g.quiet) {
    std::string last;
    for (const ForgetEntry& e : r->entries) {
      if (e.name != last) {
        std::printf("%s:\n", Escaped(e.name).c_str());
        last = e.name;
      }
      std::string why;
      for (const std::string& x : e.reasons) why += (why.empty() ? "" : ", ") + x;
      std::printf("  %4u  %s  %-12s  %s\n", e.number, FormatTime(e.created_unix).c_str(),
                  e.keep ? "keep" : (a.dry_run ? "would remove" : "remove"), why.c_str());
    }
    std::printf("%s %llu version%s, kept %llu%s\n", a.dry_run ? "would remove" : "removed",
                (unsigned long long)r->removed, r->removed == 1 ? "" : "s",
                (unsigned long long)r->kept,
                r->removed > 0 && !a.dry_run ? " (run hugeblob gc to reclaim their data)" : "");
  }
  return 0;
}

}  // namespace

void AddVersionsCommands(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  auto versions_name = std::make_shared<std::string>();
  auto* versions_cmd = app.add_subcommand(
      "versions", "List the versions of a name (number, time, size, bytes added, manifest id)");
  versions_cmd->add_option("name", *versions_name, "The name")->required();
  versions_cmd->footer(
      "Examples:\n"
      "  hugeblob versions vm.img\n"
      "  hugeblob get vm.img@1 old.img      # the oldest version\n"
      "  hugeblob get vm.img@3fa2 old.img   # the version whose manifest id starts with 3fa2\n"
      "  hugeblob --json versions vm.img");
  versions_cmd->callback([&g, &run, versions_name] {
    run = [&g, versions_name] { return RunVersions(g, *versions_name); };
  });

  auto f = std::make_shared<ForgetArgs>();
  auto* forget_cmd = app.add_subcommand(
      "forget", "Remove versions by a retention policy (restic's rules); gc reclaims their data");
  forget_cmd->add_option("target", f->target,
                         "A name, or a folder of names (vm/); default: every name");
  forget_cmd->add_option("--keep-last", f->keep_last, "Keep the N newest versions (-1: all)");
  forget_cmd->add_option(
      "--keep-within", f->keep_within,
      "Keep versions created within DURATION of the name's newest one (e.g. 7d, 36h, 1y6m)");
  forget_cmd->add_option("--keep-daily", f->keep_daily,
                         "Keep the newest version of each of the last N days that have one");
  forget_cmd->add_option("--keep-weekly", f->keep_weekly,
                         "Keep the newest version of each of the last N ISO weeks that have one");
  forget_cmd->add_option("--keep-monthly", f->keep_monthly,
                         "Keep the newest version of each of the last N months that have one");
  forget_cmd->add_flag("-n,--dry-run", f->dry_run, "Show what would be removed; remove nothing");
  forget_cmd->footer(
      "A version is kept when any rule keeps it; days, weeks and months are in UTC.\n"
      "Examples:\n"
      "  hugeblob forget vm.img --keep-last 3 --dry-run\n"
      "  hugeblob forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12\n"
      "  hugeblob forget vm/ --keep-within 30d && hugeblob gc");
  forget_cmd->callback([&g, &run, f] { run = [&g, f] { return RunForget(g, *f); }; });
}

}  // namespace hugeblob::cli
