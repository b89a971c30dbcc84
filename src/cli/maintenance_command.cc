#include "cli/maintenance_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/progress.h"
#include "ops/copy.h"
#include "ops/gc.h"
#include "util/cancel.h"
#include "util/units.h"

namespace hugeblob::cli {
namespace {

std::string Json(std::string_view s) { return JsonString(s); }

// Same mapping as the other commands (see options.h).
int Report(const Error& e) { return ReportError(e); }

struct GcArgs {
  bool dry_run = false;
  bool prune_broken = false;
  std::string grace = "1h";
  double repack_threshold = 0;
  std::string pack_size;
};

int RunGc(const GlobalOptions& g, const GcArgs& a) {
  GcOptions o;
  o.dry_run = a.dry_run;
  o.prune_broken = a.prune_broken;
  auto grace = ParseDurationSeconds(a.grace);
  if (!grace) return UsageError(grace.error().Wrap("--grace").message());
  o.grace_seconds = static_cast<int64_t>(*grace);
  // CLI::Range lets NaN through (every comparison with it is false).
  if (!std::isfinite(a.repack_threshold) || a.repack_threshold < 0 || a.repack_threshold > 1) {
    return UsageError(
        fmt::format("--repack-threshold {}: must be a number from 0 to 1", a.repack_threshold));
  }
  o.repack_threshold = a.repack_threshold;
  if (!a.pack_size.empty()) {
    auto v = SizeArg(a.pack_size, "--pack-size");
    if (!v) return UsageError(v.error().message());
    if (*v < (1ull << 20) || *v > (1ull << 30)) {
      return UsageError("--pack-size " + a.pack_size + ": must be between 1M and 1G");
    }
    o.pack_size = *v;
  }
  o.cancel = &ProcessCancelToken();
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  auto start = std::chrono::steady_clock::now();
  ProgressLine progress("gc", "", g.Progress(), ProgressUnit::kItems, "objects");
  o.progress = progress.callback();
  auto r = CollectGarbage(*store, o);
  progress.Finish();
  if (!r) return Report(r.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (g.json) {
    std::string locks = "[";
    for (size_t i = 0; i < r->stale_locks.size(); ++i)
      locks += (i ? "," : "") + Json(r->stale_locks[i]);
    locks += "]";
    std::string broken = "[";
    for (size_t i = 0; i < r->broken_refs.size(); ++i)
      broken += (i ? "," : "") + Json(r->broken_refs[i]);
    broken += "]";
    std::printf(
        "{\"dry_run\":%s,\"refs\":%llu,\"versions\":%llu,\"live_manifests\":%llu,\"live_packs\":%"
        "llu,"
        "\"live_pack_bytes\":%llu,\"packs_deleted\":%llu,\"pack_bytes_deleted\":%llu,"
        "\"manifests_deleted\":%llu,\"manifest_bytes_deleted\":%llu,\"indexes_deleted\":%llu,"
        "\"index_bytes_deleted\":%llu,\"indexes_written\":%llu,\"index_bytes_written\":%llu,"
        "\"uploads_aborted\":%llu,\"temp_files_deleted\":%llu,\"temp_bytes_deleted\":%llu,"
        "\"young_kept\":%llu,\"young_kept_bytes\":%llu,"
        "\"packs_repacked\":%llu,\"repack_bytes_written\":%llu,\"manifests_rewritten\":%llu,"
        "\"reclaimed_bytes\":%lld,\"stale_locks\":%s,\"broken_refs\":%s,\"uploads_unchecked\":%s,"
        "\"seconds\":%.3f}\n",
        r->dry_run ? "true" : "false", (unsigned long long)r->refs, (unsigned long long)r->versions,
        (unsigned long long)r->live_manifests, (unsigned long long)r->live_packs,
        (unsigned long long)r->live_pack_bytes, (unsigned long long)r->packs_deleted,
        (unsigned long long)r->pack_bytes_deleted, (unsigned long long)r->manifests_deleted,
        (unsigned long long)r->manifest_bytes_deleted, (unsigned long long)r->indexes_deleted,
        (unsigned long long)r->index_bytes_deleted, (unsigned long long)r->indexes_written,
        (unsigned long long)r->index_bytes_written, (unsigned long long)r->uploads_aborted,
        (unsigned long long)r->temp_files_deleted, (unsigned long long)r->temp_bytes_deleted,
        (unsigned long long)r->young_kept, (unsigned long long)r->young_kept_bytes,
        (unsigned long long)r->packs_repacked, (unsigned long long)r->repack_bytes_written,
        (unsigned long long)r->manifests_rewritten, (long long)r->reclaimed_bytes(), locks.c_str(),
        broken.c_str(), Json(r->uploads_unchecked).c_str(), secs);
    return 0;
  }
  if (g.quiet) return 0;
  const char* verb = r->dry_run ? "would delete" : "deleted";
  for (const std::string& b : r->broken_refs) {
    std::printf("%s broken ref %s\n", r->dry_run ? "would remove" : "removed", Escaped(b).c_str());
  }
  std::printf("live: %llu names (%llu versions), %llu manifests, %llu packs (%s)\n",
              (unsigned long long)r->refs, (unsigned long long)r->versions,
              (unsigned long long)r->live_manifests, (unsigned long long)r->live_packs,
              FormatSize(r->live_pack_bytes).c_str());
  if (r->packs_repacked > 0) {
    std::printf(
        "%s %llu mostly-unused packs, copying %s of live frames (%llu manifests rewritten)\n",
        r->dry_run ? "would repack" : "repacked", (unsigned long long)r->packs_repacked,
        FormatSize(r->repack_bytes_written).c_str(), (unsigned long long)r->manifests_rewritten);
  }
  std::printf("%s %llu packs (%s), %llu manifests (%s), %llu index objects (%s)", verb,
              (unsigned long long)r->packs_deleted, FormatSize(r->pack_bytes_deleted).c_str(),
              (unsigned long long)r->manifests_deleted,
              FormatSize(r->manifest_bytes_deleted).c_str(), (unsigned long long)r->indexes_deleted,
              FormatSize(r->index_bytes_deleted).c_str());
  if (r->indexes_written > 0) {
    std::printf(", wrote %llu index objects (%s)", (unsigned long long)r->indexes_written,
                FormatSize(r->index_bytes_written).c_str());
  }
  std::printf("\n");
  if (r->uploads_aborted > 0) {
    std::printf("%s %llu abandoned multipart uploads\n", r->dry_run ? "would abort" : "aborted",
                (unsigned long long)r->uploads_aborted);
  }
  if (r->temp_files_deleted > 0) {
    std::printf("%s %llu temporary files of interrupted writes (%s)\n", verb,
                (unsigned long long)r->temp_files_deleted,
                FormatSize(r->temp_bytes_deleted).c_str());
  }
  if (!r->uploads_unchecked.empty()) {
    std::printf("abandoned multipart uploads not checked: %s\n", r->uploads_unchecked.c_str());
  }
  if (r->young_kept > 0) {
    std::printf("kept %llu unreferenced objects (%s) younger than --grace %s\n",
                (unsigned long long)r->young_kept, FormatSize(r->young_kept_bytes).c_str(),
                a.grace.c_str());
  }
  for (const std::string& l : r->stale_locks) {
    std::printf("%s stale lock %s\n", r->dry_run ? "would remove" : "removed", l.c_str());
  }
  const int64_t net = r->reclaimed_bytes();
  std::printf("%s %s%s in %.1fs\n", r->dry_run ? "would reclaim" : "reclaimed", net < 0 ? "-" : "",
              FormatSize(static_cast<uint64_t>(net < 0 ? -net : net)).c_str(), secs);
  return 0;
}

struct CopyArgs {
  std::string src;
  std::string dst;
  std::vector<std::string> names;
  unsigned threads = 0;
  std::string memory;
  std::string pack_size;
};

int RunCopy(const GlobalOptions& g, const CopyArgs& a) {
  CopyOptions o;
  o.names = a.names;
  for (const std::string& name : a.names) {
    if (auto bad = CheckNameArg(name)) return *bad;
  }
  if (auto bad = CheckThreadsArg(a.threads, "--threads")) return *bad;
  if (a.threads != 0) o.threads = a.threads;
  if (!a.memory.empty()) {
    auto v = SizeArg(a.memory, "--memory");
    if (!v) return UsageError(v.error().message());
    if (*v < (4ull << 20)) return UsageError("--memory " + a.memory + ": at least 4M");
    o.memory_budget = *v;
  }
  if (!a.pack_size.empty()) {
    auto v = SizeArg(a.pack_size, "--pack-size");
    if (!v) return UsageError(v.error().message());
    if (*v < (1ull << 20) || *v > (1ull << 30)) {
      return UsageError("--pack-size " + a.pack_size + ": must be between 1M and 1G");
    }
    o.pack_size = *v;
  }
  GlobalOptions gs = g, gd = g;
  gs.store = a.src;
  gd.store = a.dst;
  // The source is only read; the destination may be a new store.
  auto src = gs.OpenStore(StoreOpenMode::kExisting);
  if (!src) return Report(src.error());
  auto dst = gd.OpenStore(StoreOpenMode::kCreate);
  if (!dst) return Report(dst.error());
  ProgressLine progress("copy", "", g.Progress());
  o.progress = progress.callback();
  o.cancel = &ProcessCancelToken();
  auto start = std::chrono::steady_clock::now();
  auto r = CopyNames(*src, *dst, o);
  progress.Finish();
  if (!r) return Report(r.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (g.json) {
    std::string names = "[";
    for (size_t i = 0; i < r->names.size(); ++i) {
      const CopiedName& n = r->names[i];
      names += fmt::format(
          "{}{{\"name\":{},\"version\":{},\"size\":{},\"chunks_sent\":{},"
          "\"chunks_present\":{},\"added_bytes\":{},\"shared_bytes\":{}}}",
          i ? "," : "", Json(n.name), n.version, n.size, n.chunks_sent, n.chunks_present,
          n.added_bytes, n.shared_bytes);
    }
    names += "]";
    std::printf(
        "{\"names\":%s,\"versions_present\":%llu,\"bytes_read\":%llu,\"bytes_written\":%llu,"
        "\"packs\":%llu,\"seconds\":%.3f}\n",
        names.c_str(), (unsigned long long)r->versions_present, (unsigned long long)r->bytes_read,
        (unsigned long long)r->bytes_written, (unsigned long long)r->packs, secs);
  } else {
    if (g.Chatty()) {
      for (const CopiedName& n : r->names) {
        std::printf("%s@%u: %s, %llu chunks sent, %llu already there\n", Escaped(n.name).c_str(),
                    n.version, FormatSize(n.size).c_str(), (unsigned long long)n.chunks_sent,
                    (unsigned long long)n.chunks_present);
      }
    }
    g.Summary(fmt::format(
        "copied {} version{} in {:.1f}s ({} already there): read {}, wrote {} in {} packs, "
        "verified\n",
        r->names.size(), r->names.size() == 1 ? "" : "s", secs, r->versions_present,
        FormatSize(r->bytes_read), FormatSize(r->bytes_written), r->packs));
  }
  return 0;
}

}  // namespace

void AddMaintenanceCommands(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  // Owned by the lambdas below, which live as long as `app`.
  auto gc = std::make_shared<GcArgs>();
  auto* gc_cmd = app.add_subcommand(
      "gc", "Delete packs, manifests and index entries no name uses (see docs/gc.md)");
  gc_cmd->add_flag("-n,--dry-run", gc->dry_run, "Report what would be deleted; change nothing");
  gc_cmd->add_flag("--prune-broken", gc->prune_broken,
                   "Remove refs that cannot be read or whose manifest is missing or corrupt, "
                   "instead of refusing to run");
  gc_cmd->add_option("--grace", gc->grace,
                     "Never delete objects younger than this, e.g. 30m, 2h, 1d (default 1h)");
  gc_cmd
      ->add_option("--repack-threshold", gc->repack_threshold,
                   "Rewrite packs whose live fraction is below F (0..1, e.g. 0.5); 0: never")
      ->check(CLI::Range(0.0, 1.0));
  gc_cmd->add_option("--pack-size", gc->pack_size, "Size of packs written by repack (default 16M)");
  gc_cmd->callback([&g, &run, gc] { run = [&g, gc] { return RunGc(g, *gc); }; });

  auto copy = std::make_shared<CopyArgs>();
  auto* copy_cmd = app.add_subcommand(
      "copy",
      "Copy names to another store, sending only the chunks it lacks (verified, resumable)");
  copy_cmd->add_option("src", copy->src, "Source store URL (path, file://, s3://)")->required();
  copy_cmd->add_option("dst", copy->dst, "Destination store URL")->required();
  copy_cmd->add_option("names", copy->names,
                       "NAME (every version), NAME@N or NAME@ID (one version); default: every "
                       "version of every name");
  copy_cmd->add_option("--threads", copy->threads, "Parallel reads from the source (default 4)");
  copy_cmd->add_option("--memory", copy->memory, "Memory budget (default 64M)");
  copy_cmd->add_option("--pack-size", copy->pack_size,
                       "Target pack size in the destination (default 16M)");
  copy_cmd->callback([&g, &run, copy] { run = [&g, copy] { return RunCopy(g, *copy); }; });
}

}  // namespace hugeblob::cli
