#include "cli/diff_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "ops/diff.h"
#include "ops/load.h"
#include "util/units.h"

namespace hugeblob::cli {
namespace {

// Human output lists at most this many ranges (--json lists every one).
constexpr size_t kMaxListedRanges = 40;

struct DiffArgs {
  std::string a;
  std::string b;
};

// A name resolved the way get, cat and stat resolve theirs.
Result<Manifest> Resolve(ObjectStore& store, const std::string& name) {
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(store, name));
  return LoadManifestOfRef(store, name, ref);
}

int RunDiff(const GlobalOptions& g, const DiffArgs& args) {
  if (auto bad = CheckNameArg(args.a)) return *bad;
  if (auto bad = CheckNameArg(args.b)) return *bad;
  auto store = g.OpenStore();
  if (!store) return ReportError(store.error());
  auto a = Resolve(**store, args.a);
  if (!a) return ReportError(a.error());
  auto b = Resolve(**store, args.b);
  if (!b) return ReportError(b.error());
  const DiffReport r = DiffManifests(*a, *b);
  if (g.json) {
    std::string ranges = "[";
    for (size_t i = 0; i < r.ranges.size(); ++i) {
      ranges += fmt::format("{}{{\"offset\":{},\"length\":{}}}", i == 0 ? "" : ",",
                            r.ranges[i].offset, r.ranges[i].length);
    }
    ranges += "]";
    std::printf(
        "{\"a\":%s,\"b\":%s,\"size_a\":%llu,\"size_b\":%llu,\"same_chunker\":%s,"
        "\"differing_bytes\":%llu,\"ranges\":%s,\"seeded_bytes\":%llu,\"fetch_chunks\":%llu,"
        "\"fetch_bytes\":%llu,\"fetch_plain_bytes\":%llu,\"holes_b\":%llu}\n",
        JsonString(args.a).c_str(), JsonString(args.b).c_str(), (unsigned long long)r.size_a,
        (unsigned long long)r.size_b, r.same_chunker ? "true" : "false",
        (unsigned long long)r.differing_bytes, ranges.c_str(), (unsigned long long)r.seeded_bytes,
        (unsigned long long)r.fetch_chunks, (unsigned long long)r.fetch_bytes,
        (unsigned long long)r.fetch_plain_bytes, (unsigned long long)r.holes_b);
    return 0;
  }
  const std::string a_name = Escaped(args.a), b_name = Escaped(args.b);
  std::printf("%s: %s, %s: %s\n", a_name.c_str(), FormatSize(r.size_a).c_str(), b_name.c_str(),
              FormatSize(r.size_b).c_str());
  for (size_t i = 0; i < r.ranges.size() && i < kMaxListedRanges; ++i) {
    const auto& x = r.ranges[i];
    std::printf("  differ: %llu-%llu (%s)\n", (unsigned long long)x.offset,
                (unsigned long long)(x.offset + x.length), FormatSize(x.length).c_str());
  }
  if (r.ranges.size() > kMaxListedRanges) {
    std::printf("  ... %zu more ranges (--json lists every one)\n",
                r.ranges.size() - kMaxListedRanges);
  }
  std::printf("%s differ in %zu range%s%s\n", FormatSize(r.differing_bytes).c_str(),
              r.ranges.size(), r.ranges.size() == 1 ? "" : "s",
              r.same_chunker ? ""
                             : " (the two were cut with different chunker settings: ranges "
                               "where their chunks do not line up count as different)");
  std::printf(
      "get %s seeded with %s: %s from the seed, %s fetched (%llu chunk%s, %s uncompressed)\n",
      b_name.c_str(), a_name.c_str(), FormatSize(r.seeded_bytes).c_str(),
      FormatSize(r.fetch_bytes).c_str(), (unsigned long long)r.fetch_chunks,
      r.fetch_chunks == 1 ? "" : "s", FormatSize(r.fetch_plain_bytes).c_str());
  return 0;
}

}  // namespace

void AddDiffCommand(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  // Held for the life of the program, like the other commands' arguments.
  static DiffArgs args;
  auto* cmd = app.add_subcommand(
      "diff",
      "Byte ranges that differ between two stored files (by chunk: no data is read), and what "
      "a get of the second seeded with the first would fetch");
  cmd->add_option("a", args.a, "The older file (the seed)")->required();
  cmd->add_option("b", args.b, "The newer file")->required();
  cmd->callback([&g, &run] { run = [&g] { return RunDiff(g, args); }; });
}

}  // namespace hugeblob::cli
