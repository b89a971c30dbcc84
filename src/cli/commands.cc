#include "cli/commands.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/maintenance_command.h"
#include "cli/mount_command.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "format/layout.h"
#include "hugeblob/hugeblob.h"
#include "hugeblob/reader.h"
#include "ops/load.h"
#include "util/cancel.h"
#include "util/units.h"

namespace hugeblob::cli {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string Escaped(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u >= 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

bool g_json_errors = false;

}  // namespace

void SetJsonErrors(bool json) { g_json_errors = json; }

namespace {

void PrintError(const Error& e) {
  if (g_json_errors) {
    std::fprintf(stderr, "{\"error\":{\"code\":%s,\"message\":%s}}\n",
                 JsonString(ErrorCodeName(e.code())).c_str(), JsonString(e.message()).c_str());
  } else {
    // Messages may quote names and keys from a store made by someone else.
    std::fprintf(stderr, "hugeblob: %s\n", Escaped(e.message()).c_str());
  }
}

}  // namespace

int ReportError(const Error& e) {
  PrintError(e);
  if (e.code() == ErrorCode::kCancelled) {
    int sig = CancelSignal();
    return sig != 0 ? 128 + sig : 130;
  }
  return kExitFailure;
}

int UsageError(const std::string& message) {
  PrintError(Error(ErrorCode::kInvalidArgument, message));
  return kExitUsage;
}

std::optional<int> CheckNameArg(const std::string& name) {
  if (Status st = ValidateName(name); !st) return UsageError(st.error().message());
  return std::nullopt;
}

std::optional<int> CheckThreadsArg(unsigned threads, const char* option) {
  if (threads > kMaxThreads) {
    return UsageError(fmt::format("{} {}: at most {} threads", option, threads, kMaxThreads));
  }
  return std::nullopt;
}

namespace {

std::string FormatTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

double Ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

int Report(const Error& e) { return ReportError(e); }

std::string Basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto pos = p.find_last_of('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

}  // namespace

Result<uint64_t> SizeArg(const std::string& text, const char* option) {
  auto v = ParseSize(text);
  if (!v) return Fail(v.error().Wrap(option));
  return v;
}

Result<std::shared_ptr<ObjectStore>> GlobalOptions::OpenStore(StoreOpenMode mode) const {
  // The S3-specific variable: AWS_ENDPOINT_URL would also redirect STS
  // (web identity, assume-role) calls to the object store's endpoint.
  if (!endpoint.empty()) ::setenv("AWS_ENDPOINT_URL_S3", endpoint.c_str(), 1);
  if (!sse.empty()) ::setenv("HB_S3_SSE", sse.c_str(), 1);
  if (!sse_kms_key_id.empty()) ::setenv("HB_S3_SSE_KMS_KEY_ID", sse_kms_key_id.c_str(), 1);
  if (!read_timeout.empty()) ::setenv("HUGEBLOB_READ_TIMEOUT", read_timeout.c_str(), 1);
  return hugeblob::OpenStore(store, mode);
}

bool IsLocalStore(const ObjectStore& store) { return store.url().rfind("file://", 0) == 0; }

Result<ReaderOptions> CacheOptions::ToReaderOptions(bool disk_default, bool local_store) const {
  ReaderOptions r;
  r.disk_cache = disk_default;
  r.disk_cache_admission =
      local_store ? DiskCacheAdmission::kSecondLoad : DiskCacheAdmission::kAlways;
  if (!cache_dir.empty()) {
    r.disk_cache = true;
    r.disk_cache_dir = cache_dir;
  }
  if (no_disk_cache) r.disk_cache = false;
  if (!cache_size.empty()) {
    HB_ASSIGN_OR_RETURN(r.disk_cache_bytes, SizeArg(cache_size, "--cache-size"));
  }
  if (!memory_cache.empty()) {
    HB_ASSIGN_OR_RETURN(r.memory_cache_bytes, SizeArg(memory_cache, "--memory-cache"));
  }
  return r;
}

void CacheOptions::Add(CLI::App* cmd, const std::string& disk_default) {
  cmd->add_option(
      "--cache-dir", cache_dir,
      "Disk cache directory (default $XDG_CACHE_HOME/hugeblob). The disk cache is " + disk_default);
  cmd->add_option("--cache-size", cache_size, "Disk cache bound, e.g. 10G (default 2G)");
  cmd->add_option("--memory-cache", memory_cache, "Memory cache of decoded chunks (default 64M)");
  cmd->add_flag("--no-disk-cache", no_disk_cache,
                "Do not use the disk cache. When on, a chunk from a local (file://) store is "
                "written to it on its second load, one from S3 on its first");
}

namespace {

struct PutArgs {
  std::string file;
  std::string name;
  std::string codec = "zstd";
  int level = -1;
  std::string chunker = "cdc";
  std::string chunk_size;
  unsigned threads = 0;
  std::string memory;
  std::string pack_size;
  bool sha256 = false;
  bool allow_changing = false;
  // Set after parsing: whether --name / --level were given at all (an
  // explicit empty name or level -1 is an error, not "the default").
  const CLI::Option* name_opt = nullptr;
  const CLI::Option* level_opt = nullptr;
};

// Limits of put's numeric options, checked before any work (exit 2).
constexpr uint64_t kMinChunkSize = 256;          // cdc's minimum (avg/4) stays >= 64 bytes
constexpr uint64_t kMaxChunkSize = 16ull << 20;  // cdc's maximum (4 x avg) stays <= 64 MiB
constexpr uint64_t kMinMemory = 4ull << 20;
constexpr uint64_t kMinPackSize = 1ull << 20;
constexpr uint64_t kMaxPackSize = 1ull << 30;

int RunPut(const GlobalOptions& g, const PutArgs& a) {
  PutOptions o;
  const bool name_given = a.name_opt != nullptr && a.name_opt->count() > 0;
  if (name_given && a.name.empty()) return UsageError("--name: must not be empty");
  o.name = name_given ? a.name : Basename(a.file);
  if (a.file == "-" && !name_given) return UsageError("put from standard input needs --name");
  if (auto bad = CheckNameArg(o.name)) return *bad;
  o.codec = a.codec;
  if (a.codec != "zstd" && a.codec != "lz4" && a.codec != "none") {
    return UsageError("--codec: unknown codec '" + a.codec + "' (expected zstd, lz4 or none)");
  }
  if (a.level_opt != nullptr && a.level_opt->count() > 0) {
    const int lo = a.codec == "zstd" ? 1 : 0;
    const int hi = a.codec == "zstd" ? 19 : a.codec == "lz4" ? 12 : -1;
    if (a.level < lo || a.level > hi) {
      return UsageError(a.codec == "none" ? "--level: codec none takes no level"
                                          : fmt::format("--level {}: {} levels are {} to {}",
                                                        a.level, a.codec, lo, hi));
    }
  }
  o.level = a.level;
  if (a.chunker != "cdc" && a.chunker != "fixed") {
    return UsageError("--chunker " + a.chunker + ": expected cdc or fixed");
  }
  o.chunker = a.chunker;
  if (auto bad = CheckThreadsArg(a.threads, "--threads")) return *bad;
  o.threads = a.threads;
  if (!a.chunk_size.empty()) {
    auto v = SizeArg(a.chunk_size, "--chunk-size");
    if (!v) return UsageError(v.error().message());
    if (*v < kMinChunkSize || *v > kMaxChunkSize) {
      return UsageError(fmt::format("--chunk-size {}: must be between {} and {}", a.chunk_size,
                                    FormatSize(kMinChunkSize), FormatSize(kMaxChunkSize)));
    }
    o.chunk_size = *v;
  }
  if (!a.memory.empty()) {
    auto v = SizeArg(a.memory, "--memory");
    if (!v) return UsageError(v.error().message());
    if (*v < kMinMemory) {
      return UsageError(fmt::format("--memory {}: the memory budget must be at least {}", a.memory,
                                    FormatSize(kMinMemory)));
    }
    o.memory_budget = *v;
  }
  if (!a.pack_size.empty()) {
    auto v = SizeArg(a.pack_size, "--pack-size");
    if (!v) return UsageError(v.error().message());
    if (*v < kMinPackSize || *v > kMaxPackSize) {
      return UsageError(fmt::format("--pack-size {}: must be between {} and {}", a.pack_size,
                                    FormatSize(kMinPackSize), FormatSize(kMaxPackSize)));
    }
    o.pack_size = *v;
  }
  o.sha256 = a.sha256;
  o.allow_changing = a.allow_changing;
  auto store = g.OpenStore(StoreOpenMode::kCreate);
  if (!store) return Report(store.error());
  ProgressLine progress("put " + o.name, g.ShowProgress());
  o.progress = progress.callback();
  o.cancel = &ProcessCancelToken();
  auto start = std::chrono::steady_clock::now();
  auto r = Put(*store, a.file, o);
  progress.Finish();
  if (!r) return Report(r.error());
  if (!r->changed_while_read.empty()) {
    spdlog::warn("put {}: {}", Escaped(o.name), Escaped(r->changed_while_read));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (g.json) {
    std::printf(
        "{\"name\":%s,\"size\":%llu,\"chunk_hash\":\"%s\",\"digest\":\"%s\",\"sha256\":%s,"
        "\"manifest\":\"%s\",\"chunks\":%llu,"
        "\"zero_chunks\":%llu,\"holes_skipped\":%llu,\"new_chunks\":%llu,\"added_bytes\":%llu,"
        "\"shared_bytes\":%llu,\"packs\":%llu,\"seconds\":%.3f,\"peak_buffer_bytes\":%llu}\n",
        JsonString(o.name).c_str(), (unsigned long long)r->size, r->chunk_hash.c_str(),
        r->digest.c_str(), r->sha256.empty() ? "null" : ("\"" + r->sha256 + "\"").c_str(),
        r->manifest.c_str(), (unsigned long long)r->chunks, (unsigned long long)r->zero_chunks,
        (unsigned long long)r->holes_skipped, (unsigned long long)r->new_chunks,
        (unsigned long long)r->added_bytes, (unsigned long long)r->shared_bytes,
        (unsigned long long)r->packs, secs, (unsigned long long)r->peak_buffer_bytes);
  } else if (g.Chatty()) {
    std::printf(
        "%s: %s in %.1fs (%s/s), %llu chunks (%llu zero, %llu new), added %s, shared %s\n",
        o.name.c_str(), FormatSize(r->size).c_str(), secs,
        FormatSize(secs > 0 ? static_cast<uint64_t>(static_cast<double>(r->size) / secs) : 0)
            .c_str(),
        (unsigned long long)r->chunks, (unsigned long long)r->zero_chunks,
        (unsigned long long)r->new_chunks, FormatSize(r->added_bytes).c_str(),
        FormatSize(r->shared_bytes).c_str());
  }
  return 0;
}

struct GetArgs {
  std::string name;
  std::string out;
  bool force = false;
  bool to_device = false;
  unsigned threads = 0;
  std::vector<std::string> seeds;
  bool no_seed = false;
  bool no_metadata = false;
  CacheOptions cache;
};

int RunGet(const GlobalOptions& g, const GetArgs& a) {
  if (auto bad = CheckNameArg(a.name)) return *bad;
  if (auto bad = CheckThreadsArg(a.threads, "--threads")) return *bad;
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  GetOptions o;
  o.force = a.force;
  o.to_device = a.to_device;
  o.threads = a.threads;
  o.seeds = a.seeds;
  o.seed_target = !a.no_seed;
  o.restore_metadata = !a.no_metadata;
  auto reader = a.cache.ToReaderOptions(/*disk_default=*/false, IsLocalStore(**store));
  if (!reader) return Report(reader.error());
  o.reader = *reader;
  // get reads each chunk once: a small memory cache (for chunks repeated
  // within the file and for read-ahead) is all it needs.
  if (a.cache.memory_cache.empty()) o.reader.memory_cache_bytes = 16ull << 20;
  ProgressLine progress("get " + a.name, g.ShowProgress() && a.out != "-");
  o.progress = progress.callback();
  o.cancel = &ProcessCancelToken();
  auto start = std::chrono::steady_clock::now();
  auto r = Get(*store, a.name, a.out, o);
  progress.Finish();
  if (!r) return Report(r.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (g.json) {
    // Standard output carries the data with "-": the summary goes to stderr
    // then, never after the restored bytes.
    std::fprintf(a.out == "-" ? stderr : stdout,
                 "{\"name\":%s,\"out\":%s,\"size\":%llu,\"holes\":%llu,\"seeded_bytes\":%llu,"
                 "\"seed_scanned_bytes\":%llu,\"seed_changed_chunks\":%llu,\"fetched_bytes\":%llu,"
                 "\"store_requests\":%llu,\"seconds\":%.3f}\n",
                 JsonString(a.name).c_str(), JsonString(a.out).c_str(), (unsigned long long)r->size,
                 (unsigned long long)r->holes, (unsigned long long)r->seeded_bytes,
                 (unsigned long long)r->seed_scanned_bytes,
                 (unsigned long long)r->seed_changed_chunks, (unsigned long long)r->fetched_bytes,
                 (unsigned long long)r->store_requests, secs);
  } else if (g.Chatty() && a.out != "-") {
    std::printf("%s -> %s: %s in %.1fs, verified", a.name.c_str(), Escaped(a.out).c_str(),
                FormatSize(r->size).c_str(), secs);
    if (r->seed_scanned_bytes > 0) {
      std::printf("; %s from seeds, %s fetched in %llu requests",
                  FormatSize(r->seeded_bytes).c_str(), FormatSize(r->fetched_bytes).c_str(),
                  (unsigned long long)r->store_requests);
    }
    std::printf("\n");
  }
  return 0;
}

struct CatArgs {
  std::string name;
  std::string offset = "0";
  std::string length;
  CacheOptions cache;
};

int RunCat(const GlobalOptions& g, const CatArgs& a) {
  if (auto bad = CheckNameArg(a.name)) return *bad;
  auto offset = SizeArg(a.offset, "--offset");
  if (!offset) return UsageError(offset.error().message());
  uint64_t length = UINT64_MAX;
  if (!a.length.empty()) {
    auto v = SizeArg(a.length, "--length");
    if (!v) return UsageError(v.error().message());
    length = *v;
  }
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  // A disk cache in front of a local directory store would only copy it.
  const bool local = IsLocalStore(**store);
  auto options = a.cache.ToReaderOptions(/*disk_default=*/!local, local);
  if (!options) return Report(options.error());
  auto context = ReaderContext::Create(*options);
  if (!context) return Report(context.error());
  auto reader = OpenBlobReader(*context, *store, a.name);
  if (!reader) return Report(reader.error());
  const uint64_t size = (*reader)->size();
  if (*offset > size) {
    return UsageError(
        fmt::format("--offset {} is past the end of '{}' ({} bytes)", *offset, a.name, size));
  }
  uint64_t end = length > size - *offset ? size : *offset + length;
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t pos = *offset; pos < end;) {
    if (ProcessCancelToken().cancelled()) return Report(CancelledError("cat"));
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
    auto n = (*reader)->pread(pos, {buf.data(), want});
    if (!n) return Report(n.error());
    if (*n == 0) break;
    size_t written = 0;
    while (written < *n) {
      ssize_t w = ::write(1, buf.data() + written, *n - written);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EPIPE) return 0;  // the reader went away (| head): not an error
        return Report(ErrnoError(errno, "write standard output"));
      }
      written += static_cast<size_t>(w);
    }
    pos += *n;
  }
  return 0;
}

int RunLs(const GlobalOptions& g) {
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  auto list = ListBlobs(*store);
  if (!list) return Report(list.error());
  // A damaged ref does not hide the others: they are listed, it is
  // reported (and the exit status says something is wrong).
  int status = 0;
  for (const BlobInfo& b : *list) {
    if (b.error.empty()) continue;
    PrintError(Error(ErrorCode::kCorruption,
                     "ref '" + b.name + "': " + b.error + " (hugeblob rm can remove it)"));
    status = kExitFailure;
  }
  if (g.json) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) {
      const BlobInfo& b = (*list)[i];
      if (!b.error.empty()) {
        out += fmt::format("{}{{\"name\":{},\"error\":{}}}", i == 0 ? "" : ",", JsonString(b.name),
                           JsonString(b.error));
        continue;
      }
      out += fmt::format(
          "{}{{\"name\":{},\"size\":{},\"created\":\"{}\",\"manifest\":\"{}\","
          "\"added_bytes\":{},\"shared_bytes\":{}}}",
          i == 0 ? "" : ",", JsonString(b.name), b.size, FormatTime(b.created_unix), b.manifest,
          b.added_bytes, b.shared_bytes);
    }
    std::printf("%s]\n", out.c_str());
    return status;
  }
  for (const BlobInfo& b : *list) {
    if (!b.error.empty()) continue;
    // Escaped: a name written into the store by other means may hold a
    // newline or a terminal escape sequence that would forge lines.
    std::printf("%14llu  %s  %s\n", (unsigned long long)b.size, FormatTime(b.created_unix).c_str(),
                Escaped(b.name).c_str());
  }
  return status;
}

int RunStat(const GlobalOptions& g, const std::string& name) {
  if (auto bad = CheckNameArg(name)) return *bad;
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  auto st = StatBlob(*store, name);
  if (!st) return Report(st.error());
  const BlobInfo& b = st->info;
  const double compression = Ratio(st->unique_bytes, st->stored_bytes);
  auto quoted_or_null = [](const std::string& s) { return s.empty() ? "null" : "\"" + s + "\""; };
  const std::string mode = st->mode ? std::to_string(*st->mode & 07777) : "null";
  const std::string mtime = st->mtime_ns ? std::to_string(*st->mtime_ns) : "null";
  if (g.json) {
    std::printf(
        "{\"name\":%s,\"size\":%llu,\"chunk_hash\":\"%s\",\"digest\":%s,\"sha256\":%s,"
        "\"mode\":%s,\"mtime_ns\":%s,\"created\":\"%s\",\"manifest\":\"%s\","
        "\"chunker\":\"%s\",\"chunks\":%llu,\"zero_chunks\":%llu,\"unique_chunks\":%llu,"
        "\"unique_bytes\":%llu,\"stored_bytes\":%llu,\"compression_ratio\":%.3f,\"packs\":%llu,"
        "\"manifest_bytes\":%llu,\"added_bytes\":%llu,\"shared_bytes\":%llu}\n",
        JsonString(b.name).c_str(), (unsigned long long)b.size, st->chunk_hash.c_str(),
        quoted_or_null(st->digest).c_str(), quoted_or_null(st->sha256).c_str(), mode.c_str(),
        mtime.c_str(), FormatTime(b.created_unix).c_str(), b.manifest.c_str(), st->chunker.c_str(),
        (unsigned long long)st->chunks, (unsigned long long)st->zero_chunks,
        (unsigned long long)st->unique_chunks, (unsigned long long)st->unique_bytes,
        (unsigned long long)st->stored_bytes, compression, (unsigned long long)st->packs,
        (unsigned long long)st->manifest_bytes, (unsigned long long)b.added_bytes,
        (unsigned long long)b.shared_bytes);
    return 0;
  }
  std::printf("name:        %s\n", b.name.c_str());
  std::printf("size:        %llu (%s)\n", (unsigned long long)b.size, FormatSize(b.size).c_str());
  std::printf("digest:      %s (%s chunk ids)\n",
              st->digest.empty() ? "none (stored before content digests)" : st->digest.c_str(),
              st->chunk_hash.c_str());
  if (!st->sha256.empty()) std::printf("sha256:      %s\n", st->sha256.c_str());
  if (st->mode) std::printf("mode:        %04o\n", *st->mode & 07777);
  if (st->mtime_ns) {
    std::printf("modified:    %s\n", FormatTime(*st->mtime_ns / 1000000000).c_str());
  }
  std::printf("created:     %s\n", FormatTime(b.created_unix).c_str());
  std::printf("manifest:    %s (%s)\n", b.manifest.c_str(), FormatSize(st->manifest_bytes).c_str());
  std::printf("chunker:     %s\n", st->chunker.c_str());
  std::printf("chunks:      %llu (%llu zero, %llu unique)\n", (unsigned long long)st->chunks,
              (unsigned long long)st->zero_chunks, (unsigned long long)st->unique_chunks);
  std::printf("stored:      %s for %s of unique data (compression %.2fx) in %llu packs\n",
              FormatSize(st->stored_bytes).c_str(), FormatSize(st->unique_bytes).c_str(),
              compression, (unsigned long long)st->packs);
  std::printf("added:       %s new to the store when it was put\n",
              FormatSize(b.added_bytes).c_str());
  std::printf("shared:      %s already in the store when it was put\n",
              FormatSize(b.shared_bytes).c_str());
  return 0;
}

int RunVerify(const GlobalOptions& g, const std::string& name, unsigned threads) {
  if (!name.empty()) {
    if (auto bad = CheckNameArg(name)) return *bad;
  }
  if (auto bad = CheckThreadsArg(threads, "--threads")) return *bad;
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  VerifyOptions o;
  o.name = name;
  o.threads = threads;
  o.cancel = &ProcessCancelToken();
  auto r = Verify(*store, o);
  if (!r) return Report(r.error());
  if (g.json) {
    std::string problems = "[";
    for (size_t i = 0; i < r->problems.size(); ++i) {
      problems += (i == 0 ? "" : ",") + JsonString(r->problems[i]);
    }
    std::string errors = "[";
    for (size_t i = 0; i < r->errors.size(); ++i) {
      errors += (i == 0 ? "" : ",") + JsonString(r->errors[i]);
    }
    std::printf(
        "{\"ok\":%s,\"objects\":%llu,\"frames\":%llu,\"bytes\":%llu,\"problems\":%s],"
        "\"errors\":%s]}\n",
        r->problems.empty() && r->errors.empty() ? "true" : "false", (unsigned long long)r->objects,
        (unsigned long long)r->frames, (unsigned long long)r->bytes, problems.c_str(),
        errors.c_str());
  } else {
    for (const std::string& p : r->problems)
      std::fprintf(stderr, "hugeblob: corrupt: %s\n", Escaped(p).c_str());
    for (const std::string& e : r->errors)
      std::fprintf(stderr, "hugeblob: could not check: %s\n", Escaped(e).c_str());
    if (g.Chatty() || !r->problems.empty()) {
      std::printf("verified %llu objects, %llu frames, %s: %zu problem%s\n",
                  (unsigned long long)r->objects, (unsigned long long)r->frames,
                  FormatSize(r->bytes).c_str(), r->problems.size(),
                  r->problems.size() == 1 ? "" : "s");
    }
  }
  // Damage found wins; objects it could not read (permissions, I/O) are a
  // failure to check, not damage.
  if (!r->problems.empty()) return kExitDamage;
  return r->errors.empty() ? 0 : kExitFailure;
}

int RunRm(const GlobalOptions& g, const std::string& name) {
  // No name check here: rm must be able to remove a ref that some other
  // tool wrote under a name the CLI refuses (RemoveBlob keeps it inside
  // refs/).
  if (name.empty()) return UsageError("rm: empty name");
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  Status st = RemoveBlob(*store, name);
  if (!st) return Report(st.error());
  return 0;
}

int RunInit(const GlobalOptions& g) {
  auto store = g.OpenStore(StoreOpenMode::kInit);
  if (!store) return Report(store.error());
  if (g.json) {
    std::printf("{\"store\":%s,\"created\":true}\n", JsonString((*store)->url()).c_str());
  } else if (!g.quiet) {
    std::printf("created a hugeblob store at %s\n", Escaped((*store)->url()).c_str());
  }
  return 0;
}

// Levenshtein distance, for "did you mean" on a mistyped command.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The first word that is not an option (or an option's value): the command
// the user asked for, for a clear "unknown command" before CLI11 answers
// "A subcommand is required". Empty if there is none.
std::string FirstWord(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (arg.empty() || arg[0] != '-') return std::string(arg);
    if (arg.find('=') != std::string_view::npos || arg.size() < 2) continue;
    // A global option that takes a value consumes the next word.
    const CLI::Option* opt = app.get_option_no_throw(std::string(arg));
    if (opt != nullptr && opt->get_items_expected_min() > 0) ++i;
  }
  return "";
}

}  // namespace

bool GlobalOptions::ShowProgress() const { return !quiet && !json && StderrIsTty(); }
bool GlobalOptions::Chatty() const { return verbose || (!quiet && ::isatty(1) == 1); }

int Main(int argc, char** argv) {
  InstallSignalHandlers();
  // Logs go to stderr: stdout carries data (cat, get -) and --json.
  spdlog::set_default_logger(spdlog::stderr_color_mt("hugeblob"));
  spdlog::set_pattern("hugeblob: %l: %v");
  spdlog::set_level(spdlog::level::warn);

  CLI::App app{
      "hugeblob: huge files in a local directory or S3, chunked, deduplicated and compressed"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option(
         "--store", g.store,
         "Store URL: a path, file:///path or s3://bucket/prefix (default $HUGEBLOB_STORE or "
         "~/.local/share/hugeblob)")
      ->envname("HUGEBLOB_STORE");
  app.add_option("--endpoint", g.endpoint,
                 "S3 endpoint URL (sets AWS_ENDPOINT_URL_S3; default $AWS_ENDPOINT_URL_S3, "
                 "then $AWS_ENDPOINT_URL)");
  app.add_option("--sse", g.sse, "S3 server-side encryption of written objects")
      ->check(CLI::IsMember({"AES256", "aws:kms", "aws:kms:dsse"}));
  app.add_option("--sse-kms-key-id", g.sse_kms_key_id,
                 "KMS key id or ARN for --sse aws:kms or aws:kms:dsse");
  app.add_option("--read-timeout", g.read_timeout,
                 "A read from a local store that has not returned after this long fails, "
                 "naming the object (a dead network mount; e.g. 30s, 5m; 0 = wait forever; "
                 "default 60s, or $HUGEBLOB_READ_TIMEOUT)")
      ->check([](const std::string& v) {
        auto d = ParseDurationSeconds(v);
        return d ? std::string() : d.error().message();
      });
  app.add_flag("--json", g.json, "Machine-readable output");
  app.add_flag("-q,--quiet", g.quiet, "No progress and no summary");
  app.add_flag("-v,--verbose", g.verbose, "Summaries and log messages");

  std::function<int()> run;

  PutArgs put;
  auto* put_cmd = app.add_subcommand("put", "Store a file (or - for standard input)");
  put_cmd->add_option("file", put.file, "File to store, or - for standard input")->required();
  put.name_opt =
      put_cmd->add_option("--name", put.name, "Name in the store (default: the file's base name)");
  put_cmd->add_option("--codec", put.codec, "zstd, lz4 or none")->capture_default_str();
  put.level_opt =
      put_cmd->add_option("--level", put.level, "Compression level (zstd 1-19, lz4 0-12)");
  put_cmd->add_option("--chunker", put.chunker, "cdc (content-defined) or fixed")
      ->capture_default_str();
  put_cmd->add_option("--chunk-size", put.chunk_size,
                      "Average (cdc) or exact (fixed) chunk size, 256 to 16M (default 256K)");
  put_cmd->add_option("--threads", put.threads,
                      "Hash/compress threads, at most 64 (default: one per core)");
  put_cmd->add_option("--memory", put.memory,
                      "Memory budget for data in flight, at least 4M (default 48M)");
  put_cmd->add_option("--pack-size", put.pack_size,
                      "Target pack object size, 1M to 1G (default 16M)");
  put_cmd->add_flag("--sha256", put.sha256,
                    "Also record the SHA-256 of the whole file (shown by stat, checked by get); "
                    "one more pass over every byte, holes included");
  put_cmd->add_flag("--allow-changing", put.allow_changing,
                    "Store a file that changes while it is read as it was read, with a warning "
                    "(default: fail, publish nothing)");
  put_cmd->callback([&] { run = [&] { return RunPut(g, put); }; });

  GetArgs get;
  auto* get_cmd =
      app.add_subcommand("get", "Restore a file (verified, atomic; - for standard output)");
  get_cmd->add_option("name", get.name)->required();
  get_cmd->add_option("out", get.out, "Output path, or - for standard output")->required();
  get_cmd->add_flag("-f,--force", get.force,
                    "Replace an existing output file (only ever a regular file: never a "
                    "symlink, device, FIFO or directory)");
  get_cmd->add_flag("--to-device", get.to_device,
                    "Write into an existing block or character device or FIFO given as the "
                    "output, in order, zeros included (never replaces it)");
  get_cmd->add_option("--threads", get.threads, "Parallel fetch/decode threads (default 4)");
  get_cmd
      ->add_option("--seed", get.seeds,
                   "A local file to take chunks from instead of the store (an older version, "
                   "a copy); repeatable. Every chunk taken is checked against its id")
      ->allow_extra_args(false);
  get_cmd->add_flag("--no-metadata", get.no_metadata,
                    "Do not restore the permission bits and modification time put recorded");
  get_cmd->add_flag("--no-seed", get.no_seed,
                    "With --force, do not read the file being replaced for chunks it already has "
                    "(by default it is the first seed)");
  get.cache.Add(get_cmd, "off unless --cache-dir is given (a restore reads each chunk once)");
  get_cmd->callback([&] { run = [&] { return RunGet(g, get); }; });

  CatArgs cat;
  auto* cat_cmd = app.add_subcommand("cat", "Write a byte range of a file to standard output");
  cat_cmd->add_option("name", cat.name)->required();
  cat_cmd->add_option("--offset", cat.offset, "First byte (K/M/G suffixes)");
  cat_cmd->add_option("--length", cat.length, "Number of bytes (default: to the end)");
  cat.cache.Add(cat_cmd, "on for S3 stores; for local ones only with --cache-dir");
  cat_cmd->callback([&] { run = [&] { return RunCat(g, cat); }; });

  auto* ls_cmd = app.add_subcommand("ls", "List the files in the store");
  ls_cmd->callback([&] { run = [&] { return RunLs(g); }; });

  std::string stat_name;
  auto* stat_cmd = app.add_subcommand("stat", "Sizes, chunks, compression and dedup of a file");
  stat_cmd->add_option("name", stat_name)->required();
  stat_cmd->callback([&] { run = [&] { return RunStat(g, stat_name); }; });

  std::string verify_name;
  unsigned verify_threads = 0;
  auto* verify_cmd = app.add_subcommand("verify", "Re-read and check a file, or the whole store");
  verify_cmd->add_option("name", verify_name, "Check only this file");
  verify_cmd->add_option("--threads", verify_threads, "Packs checked in parallel (default 4)");
  verify_cmd->callback([&] { run = [&] { return RunVerify(g, verify_name, verify_threads); }; });

  std::string rm_name;
  auto* rm_cmd = app.add_subcommand("rm", "Remove a name (its data goes at the next gc)");
  rm_cmd->add_option("name", rm_name)->required();
  rm_cmd->callback([&] { run = [&] { return RunRm(g, rm_name); }; });

  auto* init_cmd = app.add_subcommand(
      "init", "Create a store (--store URL, or the default one); fails if one exists there");
  init_cmd->callback([&] { run = [&] { return RunInit(g); }; });

  AddMountCommand(app, g, run);
  AddMaintenanceCommands(app, g, run);

  // A JSON caller gets even parse errors as JSON.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") SetJsonErrors(true);
  }
  if (std::string word = FirstWord(app, argc, argv); !word.empty()) {
    bool known = false;
    std::string best;
    size_t best_distance = 3;  // suggest only close matches
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(word)) known = true;
      size_t d = EditDistance(word, sub->get_name());
      if (d < best_distance) {
        best_distance = d;
        best = sub->get_name();
      }
    }
    if (!known) {
      return UsageError("unknown command '" + Escaped(word) + "'" +
                        (best.empty() ? "" : " (did you mean '" + best + "'?)") +
                        "; see hugeblob --help");
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    if (g_json_errors) return UsageError(e.what());
    app.exit(e);
    return kExitUsage;
  }
  SetJsonErrors(g.json);
  if (g.verbose) spdlog::set_level(spdlog::level::info);
  if (!run) return kExitUsage;
  return run();
}

}  // namespace hugeblob::cli
