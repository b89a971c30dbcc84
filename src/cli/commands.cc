#include "cli/commands.h"

#include <fmt/format.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/diff_command.h"
#include "cli/docgen.h"
#include "cli/maintenance_command.h"
#include "cli/mount_command.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/versions_command.h"
#include "format/layout.h"
#include "hugeblob/hugeblob.h"
#include "ops/load.h"
#include "reader/blob_reader.h"
#include "repo/refs.h"
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

std::string FormatTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm_utc {};
  gmtime_r(&t, &tm_utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

namespace {

// Standard base64 with padding (RFC 4648), for extended attribute values.
std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) {
      v = v << 8 | (k < n ? static_cast<unsigned char>(in[i + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
    }
  }
  return out;
}

// "1000:100 (alice:staff)" with the names this machine has for the ids.
std::string OwnerLabel(uint32_t uid, uint32_t gid) {
  std::string label = std::to_string(uid) + ":" + std::to_string(gid);
  char buf[4096];
  struct passwd pw {};
  struct passwd* pwp = nullptr;
  struct group gr {};
  struct group* grp = nullptr;
  const bool user = ::getpwuid_r(uid, &pw, buf, sizeof buf, &pwp) == 0 && pwp != nullptr;
  std::string user_name = user ? pw.pw_name : "?";
  const bool group = ::getgrgid_r(gid, &gr, buf, sizeof buf, &grp) == 0 && grp != nullptr;
  std::string group_name = group ? gr.gr_name : "?";
  if (user || group) label += " (" + Escaped(user_name) + ":" + Escaped(group_name) + " here)";
  return label;
}

// A value as text when it is printable text, else its size and base64
// (like getfattr's "0s" form).
std::string XattrValueLabel(const std::string& value) {
  std::string_view v = value;
  if (!v.empty() && v.back() == '\0') v.remove_suffix(1);  // C strings (security labels)
  bool text = true;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) text = false;
  }
  if (text) return "\"" + std::string(v) + "\"";
  return fmt::format("{} bytes, base64 {}", value.size(), Base64(value));
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
  if (!local_store) {
    // A remote store (S3) waits tens of ms before each request's first byte
    // and moves a few tens of MB/s per connection: a sequential reader needs
    // more bytes and more requests in flight than on a local disk. A cold
    // 1 GiB read through the mount at 30 ms per request (bench/s3_bench.sh
    // setup, loaded machine): 5.0-6.5 s and ~170 requests with 64 MiB / 32
    // MiB / 4 threads, 3.6-6.1 s and ~120 requests with these.
    r.memory_cache_bytes = 128ull << 20;
    r.readahead_bytes = 64ull << 20;
    r.fetch_threads = 8;
  }
  if (!cache_size.empty()) {
    HB_ASSIGN_OR_RETURN(r.disk_cache_bytes, SizeArg(cache_size, "--cache-size"));
  }
  if (!memory_cache.empty()) {
    HB_ASSIGN_OR_RETURN(r.memory_cache_bytes, SizeArg(memory_cache, "--memory-cache"));
  }
  return r;
}

void CacheOptions::Add(CLI::App* cmd, const std::string& disk_default,
                       const std::string& memory_default) {
  cmd->add_option(
      "--cache-dir", cache_dir,
      "Disk cache directory (default $XDG_CACHE_HOME/hugeblob). The disk cache is " + disk_default);
  cmd->add_option("--cache-size", cache_size, "Disk cache bound, e.g. 10G (default 2G)");
  cmd->add_option("--memory-cache", memory_cache,
                  "Memory cache of decoded chunks (default " + memory_default + ")");
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
  bool owner = false;
  bool xattrs = false;
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
  if (Status st = ValidateNewName(o.name); !st) return UsageError(st.error().message());
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
  if ((a.owner || a.xattrs) && a.file == "-") {
    return UsageError(std::string(a.owner ? "--owner" : "--xattrs") +
                      ": standard input has no owner or extended attributes to record");
  }
  o.owner = a.owner;
  o.xattrs = a.xattrs;
  auto store = g.OpenStore(StoreOpenMode::kCreate);
  if (!store) return Report(store.error());
  // Before anything is uploaded: a name cannot be a file and a folder.
  if (Status st = CheckPutName(*store, o.name); !st) return Report(st.error());
  ProgressLine progress("put", o.name, g.Progress());
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
  } else {
    g.Summary(fmt::format(
        "{}: {} in {:.1f}s ({}/s), {} chunks ({} zero, {} new), added {}, shared {}\n",
        Escaped(o.name), FormatSize(r->size), secs,
        FormatSize(secs > 0 ? static_cast<uint64_t>(static_cast<double>(r->size) / secs) : 0),
        r->chunks, r->zero_chunks, r->new_chunks, FormatSize(r->added_bytes),
        FormatSize(r->shared_bytes)));
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
  std::vector<std::string> seed_dirs;
  bool no_seed = false;
  bool in_place = false;
  bool verify_target = false;
  bool use_cache = false;
  bool no_metadata = false;
  bool owner = false;
  bool xattrs = false;
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
  o.seed_dirs = a.seed_dirs;
  o.seed_target = !a.no_seed;
  o.in_place = a.in_place;
  o.verify_target = a.verify_target;
  if (a.in_place && (a.out == "-" || a.to_device)) {
    return UsageError("--in-place updates a regular file (not standard output or a device)");
  }
  o.restore_metadata = !a.no_metadata;
  if (a.no_metadata && (a.owner || a.xattrs)) {
    return UsageError(
        std::string("--no-metadata restores no metadata: it cannot be combined with ") +
        (a.owner ? "--owner" : "--xattrs"));
  }
  o.restore_owner = a.owner;
  o.restore_xattrs = a.xattrs;
  if ((a.owner || a.xattrs) && (a.out == "-" || a.to_device)) {
    return UsageError(std::string(a.owner ? "--owner" : "--xattrs") +
                      " restores onto a file (not standard output or a device)");
  }
  auto reader = a.cache.ToReaderOptions(/*disk_default=*/false, IsLocalStore(**store));
  if (!reader) return Report(reader.error());
  o.reader = *reader;
  if (a.use_cache && !a.cache.no_disk_cache) o.reader.disk_cache = true;
  // get reads each chunk once: a small memory cache (for chunks repeated
  // within the file and for read-ahead) is all it needs.
  if (a.cache.memory_cache.empty()) o.reader.memory_cache_bytes = 16ull << 20;
  // With "-" a bar would mix with what a terminal shows of the data.
  ProgressMode mode = g.Progress();
  if (a.out == "-" && mode == ProgressMode::kBar) mode = ProgressMode::kOff;
  ProgressLine progress("get", a.name, mode);
  o.progress = progress.callback();
  o.cancel = &ProcessCancelToken();
  auto start = std::chrono::steady_clock::now();
  auto r = Get(*store, a.name, a.out, o);
  progress.Finish();
  if (!r) return Report(r.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& w : r->metadata_warnings) {
    spdlog::warn("get {}: {}", Escaped(a.name), Escaped(w));
  }
  if (g.json) {
    std::string warnings = "[";
    for (const std::string& w : r->metadata_warnings) {
      warnings += (warnings.size() > 1 ? "," : "") + JsonString(w);
    }
    warnings += "]";
    // Standard output carries the data with "-": the summary goes to stderr
    // then, never after the restored bytes.
    std::fprintf(a.out == "-" ? stderr : stdout,
                 "{\"name\":%s,\"out\":%s,\"size\":%llu,\"holes\":%llu,\"seeded_bytes\":%llu,"
                 "\"seed_scanned_bytes\":%llu,\"seed_aligned_bytes\":%llu,\"seed_changed_chunks\":%"
                 "llu,\"fetched_bytes\":%llu,\"early_fetched_bytes\":%llu,"
                 "\"store_requests\":%llu,\"seed_files\":%llu,\"cloned_bytes\":%llu,"
                 "\"cached_bytes\":%llu,\"in_place_bytes\":%llu,\"held_bytes\":%llu,"
                 "\"recorded_bytes\":%llu,\"seed_recorded_files\":%llu,\"claim_waits\":%llu,"
                 "\"owner_restored\":%s,\"xattrs_restored\":%llu,"
                 "\"xattrs_removed\":%llu,\"metadata_warnings\":%s,\"seconds\":%.3f}\n",
                 JsonString(a.name).c_str(), JsonString(a.out).c_str(), (unsigned long long)r->size,
                 (unsigned long long)r->holes, (unsigned long long)r->seeded_bytes,
                 (unsigned long long)r->seed_scanned_bytes,
                 (unsigned long long)r->seed_aligned_bytes,
                 (unsigned long long)r->seed_changed_chunks, (unsigned long long)r->fetched_bytes,
                 (unsigned long long)r->early_fetched_bytes, (unsigned long long)r->store_requests,
                 (unsigned long long)r->seed_files, (unsigned long long)r->cloned_bytes,
                 (unsigned long long)r->cached_bytes, (unsigned long long)r->in_place_bytes,
                 (unsigned long long)r->held_bytes, (unsigned long long)r->recorded_bytes,
                 (unsigned long long)r->seed_recorded_files, (unsigned long long)r->claim_waits,
                 r->owner_restored ? "true" : "false", (unsigned long long)r->xattrs_restored,
                 (unsigned long long)r->xattrs_removed, warnings.c_str(), secs);
  } else if (a.out != "-" || !g.Chatty()) {
    // With "-" standard output is the data: the summary goes to stderr.
    // In place, bytes the target's record vouches for were not read: only
    // what was written (and checked) is called verified then.
    std::string line =
        fmt::format("{} -> {}: {} in {:.1f}s, {}verified", Escaped(a.name), Escaped(a.out),
                    FormatSize(r->size), secs, r->recorded_bytes > 0 ? "what was written " : "");
    if (a.in_place) {
      line += fmt::format("; {} already in place", FormatSize(r->in_place_bytes));
      if (r->recorded_bytes > 0) {
        line += fmt::format(
            " ({} of it not read: unchanged since a get wrote it; --verify-target reads it)",
            FormatSize(r->recorded_bytes));
      }
    }
    if (r->seed_files > 0 || r->cached_bytes > 0) {
      line += fmt::format("; {} from seeds, {} from the cache, {} fetched in {} requests",
                          FormatSize(r->seeded_bytes), FormatSize(r->cached_bytes),
                          FormatSize(r->fetched_bytes), r->store_requests);
    }
    line += "\n";
    if (a.out == "-") {
      if (!g.quiet && (g.verbose || StderrIsTty())) std::fputs(line.c_str(), stderr);
    } else {
      g.Summary(line);
    }
  }
  return 0;
}

struct CatArgs {
  std::string name;
  std::string offset = "0";
  std::string length;
  bool use_cache = false;
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
  if (a.use_cache && !a.cache.no_disk_cache) {
    options->disk_cache = true;
    options->disk_cache_admission = DiskCacheAdmission::kAlways;  // asked for: keep what is read
  }
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

struct LsArgs {
  std::vector<std::string> patterns;
  bool long_format = false;
  bool bytes = false;
  std::string sort = "name";
  bool reverse = false;
};

bool IsGlob(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

// A name matches a glob (shell rules, '*' stops at '/') or starts with a
// prefix.
bool Matches(const std::vector<std::string>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  for (const std::string& p : patterns) {
    if (IsGlob(p) ? ::fnmatch(p.c_str(), name.c_str(), FNM_PATHNAME) == 0 : name.starts_with(p)) {
      return true;
    }
  }
  return false;
}

int RunLs(const GlobalOptions& g, const LsArgs& a) {
  if (a.sort != "name" && a.sort != "time" && a.sort != "size") {
    return UsageError("--sort " + a.sort + ": expected name, time or size");
  }
  auto store = g.OpenStore();
  if (!store) return Report(store.error());
  // One prefix lists only below it; globs and several patterns filter the
  // whole listing.
  const std::string prefix =
      a.patterns.size() == 1 && !IsGlob(a.patterns[0]) ? a.patterns[0] : std::string();
  auto list = ListBlobs(*store, prefix);
  if (!list) return Report(list.error());
  std::vector<BlobInfo> shown;
  for (BlobInfo& b : *list) {
    if (Matches(a.patterns, b.name)) shown.push_back(std::move(b));
  }
  // name: A to Z; time: newest first; size: largest first (ls -t, ls -S).
  std::stable_sort(shown.begin(), shown.end(), [&](const BlobInfo& x, const BlobInfo& y) {
    if (a.sort == "time" && x.created_unix != y.created_unix)
      return x.created_unix > y.created_unix;
    if (a.sort == "size" && x.size != y.size) return x.size > y.size;
    return x.name < y.name;
  });
  if (a.reverse) std::reverse(shown.begin(), shown.end());
  // A damaged ref does not hide the others: they are listed, it is
  // reported (and the exit status says something is wrong).
  int status = 0;
  for (const BlobInfo& b : shown) {
    if (b.error.empty()) continue;
    PrintError(Error(ErrorCode::kCorruption,
                     "ref '" + b.name + "': " + b.error + " (hugeblob rm can remove it)"));
    status = kExitFailure;
  }
  if (g.json) {
    std::string out = "[";
    for (size_t i = 0; i < shown.size(); ++i) {
      const BlobInfo& b = shown[i];
      if (!b.error.empty()) {
        out += fmt::format("{}{{\"name\":{},\"error\":{}}}", i == 0 ? "" : ",", JsonString(b.name),
                           JsonString(b.error));
        continue;
      }
      out += fmt::format(
          "{}{{\"name\":{},\"size\":{},\"created\":\"{}\",\"created_unix\":{},\"manifest\":\"{}\","
          "\"added_bytes\":{},\"shared_bytes\":{},\"versions\":{}}}",
          i == 0 ? "" : ",", JsonString(b.name), b.size, FormatTime(b.created_unix), b.created_unix,
          b.manifest, b.added_bytes, b.shared_bytes, b.versions);
    }
    std::printf("%s]\n", out.c_str());
    return status;
  }
  // Human sizes on a terminal, exact bytes for scripts (and with --bytes).
  const bool human = !a.bytes && ::isatty(1) == 1;
  auto size = [&](uint64_t v) { return human ? FormatSize(v) : std::to_string(v); };
  for (const BlobInfo& b : shown) {
    if (!b.error.empty()) continue;
    // Escaped: a name written into the store by other means may hold a
    // newline or a terminal escape sequence that would forge lines.
    if (a.long_format) {
      std::printf("%4u  %14s  %14s  %s  %s\n", b.versions, size(b.size).c_str(),
                  size(b.added_bytes).c_str(), FormatTime(b.created_unix).c_str(),
                  Escaped(b.name).c_str());
    } else {
      std::printf("%14s  %s  %s\n", size(b.size).c_str(), FormatTime(b.created_unix).c_str(),
                  Escaped(b.name).c_str());
    }
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
  const std::string uid = st->uid ? std::to_string(*st->uid) : "null";
  const std::string gid = st->gid ? std::to_string(*st->gid) : "null";
  std::string xattrs = "null";
  if (st->xattrs) {
    // Values are bytes: base64, as getfattr -e base64 and tar's pax records
    // would have them (names are text).
    xattrs = "[";
    for (const auto& [xname, value] : *st->xattrs) {
      xattrs += (xattrs.size() > 1 ? "," : "") + std::string("{\"name\":") + JsonString(xname) +
                ",\"value_base64\":\"" + Base64(value) +
                "\",\"size\":" + std::to_string(value.size()) + "}";
    }
    xattrs += "]";
  }
  if (g.json) {
    std::printf(
        "{\"name\":%s,\"size\":%llu,\"chunk_hash\":\"%s\",\"digest\":%s,\"sha256\":%s,"
        "\"mode\":%s,\"mtime_ns\":%s,\"uid\":%s,\"gid\":%s,\"xattrs\":%s,\"created\":\"%s\","
        "\"manifest\":\"%s\","
        "\"chunker\":\"%s\",\"chunks\":%llu,\"zero_chunks\":%llu,\"unique_chunks\":%llu,"
        "\"unique_bytes\":%llu,\"stored_bytes\":%llu,\"compression_ratio\":%.3f,\"packs\":%llu,"
        "\"manifest_bytes\":%llu,\"added_bytes\":%llu,\"shared_bytes\":%llu,\"version\":%u,"
        "\"versions\":%u}\n",
        JsonString(b.name).c_str(), (unsigned long long)b.size, st->chunk_hash.c_str(),
        quoted_or_null(st->digest).c_str(), quoted_or_null(st->sha256).c_str(), mode.c_str(),
        mtime.c_str(), uid.c_str(), gid.c_str(), xattrs.c_str(), FormatTime(b.created_unix).c_str(),
        b.manifest.c_str(), st->chunker.c_str(), (unsigned long long)st->chunks,
        (unsigned long long)st->zero_chunks, (unsigned long long)st->unique_chunks,
        (unsigned long long)st->unique_bytes, (unsigned long long)st->stored_bytes, compression,
        (unsigned long long)st->packs, (unsigned long long)st->manifest_bytes,
        (unsigned long long)b.added_bytes, (unsigned long long)b.shared_bytes, b.version,
        b.versions);
    return 0;
  }
  std::printf("name:        %s\n", Escaped(b.name).c_str());
  std::printf("version:     %u of %u (1 is the oldest)\n", b.version, b.versions);
  std::printf("size:        %llu (%s)\n", (unsigned long long)b.size, FormatSize(b.size).c_str());
  std::printf("digest:      %s (%s chunk ids)\n",
              st->digest.empty() ? "none (stored before content digests)" : st->digest.c_str(),
              st->chunk_hash.c_str());
  if (!st->sha256.empty()) std::printf("sha256:      %s\n", st->sha256.c_str());
  if (st->mode) std::printf("mode:        %04o\n", *st->mode & 07777);
  if (st->mtime_ns) {
    std::printf("modified:    %s\n", FormatTime(*st->mtime_ns / 1000000000).c_str());
  }
  if (st->uid) {
    std::printf("owner:       %s\n", OwnerLabel(*st->uid, *st->gid).c_str());
  }
  if (st->xattrs) {
    std::printf("xattrs:      %zu%s\n", st->xattrs->size(), st->xattrs->empty() ? " (none)" : "");
    for (const auto& [xname, value] : *st->xattrs) {
      std::printf("  %s = %s\n", Escaped(xname).c_str(), XattrValueLabel(value).c_str());
    }
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
  ProgressLine progress("verify", name, g.Progress(), ProgressUnit::kItems, "packs");
  o.progress = progress.callback();
  auto r = Verify(*store, o);
  progress.Finish();
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
    const std::string line =
        fmt::format("verified {} objects, {} frames, {}: {} problem{}\n", r->objects, r->frames,
                    FormatSize(r->bytes), r->problems.size(), r->problems.size() == 1 ? "" : "s");
    if (!r->problems.empty() && !g.Chatty()) {
      std::fputs(line.c_str(), stdout);
    } else {
      g.Summary(line);
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
  auto removed = RemoveBlob(*store, name);
  if (!removed) return Report(removed.error());
  if (g.json) {
    std::printf("{\"name\":%s,\"removed_versions\":%zu}\n", JsonString(name).c_str(), *removed);
  } else if (g.Chatty()) {
    std::printf("removed %zu version%s of %s (the data goes at the next gc)\n", *removed,
                *removed == 1 ? "" : "s", Escaped(name).c_str());
  }
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

// The closest of `candidates` to `word`, if close enough to be a likely typo
// (at most 2 edits, or a unique prefix).
std::string Closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (word.size() >= 3 && c.starts_with(word)) d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

// "unknown option '--forec' for 'get' (did you mean '--force'?)", or "" if
// every option given is known (the parse error is then about something
// else).
std::string UnknownOptionHint(const CLI::App& app, int argc, char** argv) {
  const std::string word = FirstWord(app, argc, argv);
  const CLI::App* cmd = nullptr;
  if (!word.empty()) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(word)) cmd = sub;
    }
  }
  std::vector<std::string> known;
  for (const CLI::App* a : {&app, cmd}) {
    if (a == nullptr) continue;
    for (const CLI::Option* o : a->get_options()) {
      for (const std::string& l : o->get_lnames()) known.push_back("--" + l);
      for (const std::string& s : o->get_snames()) known.push_back("-" + s);
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-' || (arg[1] >= '0' && arg[1] <= '9')) continue;
    std::string opt(arg.substr(0, arg.find('=')));
    if (opt.size() > 2 && opt[1] != '-') continue;  // -abc: short flags together
    if (std::find(known.begin(), known.end(), opt) != known.end()) continue;
    const std::string where = cmd != nullptr ? " for '" + cmd->get_name() + "'" : "";
    const std::string best = Closest(opt, known);
    return "unknown option '" + Escaped(opt) + "'" + where +
           (best.empty() ? "" : " (did you mean '" + best + "'?)") + "; see hugeblob help" +
           (cmd != nullptr ? " " + cmd->get_name() : "");
  }
  return "";
}

int RunHelp(const CLI::App& app, const std::string& topic) {
  if (topic.empty()) {
    // app.help() would show the help of the subcommand parsed (help).
    std::fputs(app.get_formatter()->make_help(&app, "", CLI::AppFormatMode::Normal).c_str(),
               stdout);
    return 0;
  }
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(topic)) {
      std::fputs(sub->help(app.get_name()).c_str(), stdout);
      return 0;
    }
    names.push_back(sub->get_name());
  }
  const std::string best = Closest(topic, names);
  return UsageError("no command '" + Escaped(topic) + "'" +
                    (best.empty() ? "" : " (did you mean '" + best + "'?)") +
                    "; hugeblob help lists them");
}

// Examples at the end of every command's --help (and so of its man page and
// of docs/cli.md).
void AddExamples(CLI::App& app) {
  const std::pair<const char*, const char*> examples[] = {
      {"put",
       "Every put of an existing name adds a version; the name means the newest.\n"
       "Examples:\n"
       "  hugeblob put vm.img                          # name: vm.img\n"
       "  hugeblob put disk.qcow2 --name vm/2026-11-22 --store s3://bucket/images\n"
       "  zfs send pool@snap | hugeblob put - --name backups/pool --codec lz4"},
      {"get",
       "NAME is the newest version; NAME@N the N-th (1 = the oldest), NAME@ID the one whose\n"
       "manifest id starts with ID (see hugeblob versions).\n"
       "Examples:\n"
       "  hugeblob get vm.img restored.img\n"
       "  hugeblob get vm.img@1 first.img\n"
       "  hugeblob get vm.img - | qemu-img info /dev/stdin\n"
       "  hugeblob get vm.img vm.img --force        # reuses the chunks the old file has"},
      {"cat",
       "Examples:\n"
       "  hugeblob cat vm.img --offset 1M --length 4K | xxd | head\n"
       "  hugeblob cat vm.img@2 > v2.img"},
      {"stat",
       "Examples:\n"
       "  hugeblob stat vm.img\n"
       "  hugeblob --json stat vm.img@1"},
      {"verify",
       "Exit status 3 when damage is found, 1 when something could not be read.\n"
       "Examples:\n"
       "  hugeblob verify                 # every version, index and pack\n"
       "  hugeblob verify vm.img@2"},
      {"rm",
       "Examples:\n"
       "  hugeblob rm vm.img              # every version\n"
       "  hugeblob rm vm.img@1            # only the oldest\n"
       "  hugeblob rm vm.img && hugeblob gc"},
      {"init",
       "Examples:\n"
       "  hugeblob init --store /srv/blobs\n"
       "  hugeblob init --store s3://bucket/prefix"},
      {"mount",
       "A name with several versions also shows them as NAME@versions/1, 2, ... (1 = the "
       "oldest).\n"
       "Examples:\n"
       "  hugeblob mount /mnt/blobs && qemu-system-x86_64 -drive file=/mnt/blobs/vm.img,"
       "readonly=on\n"
       "  fusermount3 -u /mnt/blobs"},
      {"gc",
       "Examples:\n"
       "  hugeblob gc --dry-run\n"
       "  hugeblob forget --keep-last 5 && hugeblob gc --grace 10m"},
      {"copy",
       "NAME copies every version of NAME, NAME@N one; versions the destination already has\n"
       "are skipped.\n"
       "Examples:\n"
       "  hugeblob copy ~/.local/share/hugeblob s3://bucket/backup\n"
       "  hugeblob copy s3://bucket/a /srv/blobs vm.img vm/old@3"},
  };
  for (const auto& [name, text] : examples) {
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == name && sub->get_footer().empty()) sub->footer(text);
    }
  }
}

}  // namespace

ProgressMode GlobalOptions::Progress() const {
  if (progress == "json") return ProgressMode::kJson;
  if (progress == "none") return ProgressMode::kOff;
  return !quiet && !json && StderrIsTty() ? ProgressMode::kBar : ProgressMode::kOff;
}
void GlobalOptions::Summary(const std::string& line) const {
  // --json: the result is on stdout; --progress json: stderr carries only
  // JSON lines for the tool that reads them.
  if (json || progress == "json") return;
  if (Chatty()) {
    std::fputs(line.c_str(), stdout);
  } else if (!quiet) {
    std::fputs(line.c_str(), stderr);
  }
}
bool GlobalOptions::Chatty() const { return verbose || (!quiet && ::isatty(1) == 1); }

int Main(int argc, char** argv) {
  InstallSignalHandlers();
  // Logs go to stderr: stdout carries data (cat, get -) and --json.
  spdlog::set_default_logger(spdlog::stderr_color_mt("hugeblob"));
  spdlog::set_pattern("hugeblob: %l: %v");
  spdlog::set_level(spdlog::level::warn);

  CLI::App app{
      "hugeblob: huge files in a local directory or S3, chunked, deduplicated and compressed"};
  app.name("hugeblob");
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
  app.add_option("--progress", g.progress,
                 "auto: a progress bar on a terminal; json: JSON lines on stderr (for tools); "
                 "none")
      ->check(CLI::IsMember({"auto", "json", "none"}))
      ->capture_default_str();

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
  put_cmd->add_flag("--owner", put.owner,
                    "Also record the file's owner (numeric uid and gid, like tar "
                    "--numeric-owner); get --owner restores it");
  put_cmd->add_flag("--xattrs", put.xattrs,
                    "Also record the file's extended attributes (every one this user may read: "
                    "names up to 255 bytes, values up to 64K, 1M in all); get --xattrs restores "
                    "them. With --owner or --xattrs the manifest is format version 3, which older "
                    "releases refuse to read");
  put_cmd->add_flag("--allow-changing", put.allow_changing,
                    "Store a file that changes while it is read as it was read, with a warning "
                    "(default: fail, publish nothing)");
  put_cmd->callback([&] { run = [&] { return RunPut(g, put); }; });

  GetArgs get;
  auto* get_cmd =
      app.add_subcommand("get", "Restore a file (verified, atomic; - for standard output)");
  get_cmd
      ->add_option("name", get.name,
                   "NAME (the newest version), NAME@N (1 = the oldest) or NAME@MANIFEST_ID_PREFIX")
      ->required();
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
  get_cmd
      ->add_option("--seed-dir", get.seed_dirs,
                   "A directory whose files are all candidate seeds; repeatable. Symbolic links "
                   "and other file systems are not entered, files smaller than the minimum "
                   "chunk are skipped, and files closest in size to NAME are scanned first, "
                   "until every chunk is found or twice NAME's size has been read")
      ->allow_extra_args(false);
  get_cmd->add_flag(
      "--in-place", get.in_place,
      "Update an existing output where it stands, writing only the ranges that differ (no "
      "temporary copy: for files too large to hold twice; no --force needed). NOT atomic: "
      "if interrupted, the output holds a mix of old and new bytes until the same command is "
      "run again, which finishes it. Chunks of the output that other offsets need are moved "
      "in an order that reads each before it is overwritten (a shifted region like memmove); "
      "a cycle of moves holds one chunk in memory (up to 4x --memory in all; beyond, fetched)");
  get_cmd->add_flag(
      "--verify-target", get.verify_target,
      "With --in-place, read and check every byte of the output. By default, an output "
      "unchanged since a get wrote it (hugeblob's record of it in $XDG_CACHE_HOME/hugeblob/files: "
      "its size and modification and change times to the nanosecond, which every write moves) "
      "is not read where it already holds what NAME needs, but for a sample of its chunks; this "
      "catches damage below the file system too "
      "(a failing disk, writes to the raw device)");
  get_cmd->add_flag("--cache", get.use_cache,
                    "Use the shared disk cache (--cache-dir, default $XDG_CACHE_HOME/hugeblob): "
                    "chunks found there are not fetched, fetched ones are added; processes "
                    "sharing it fetch each chunk once");
  get_cmd->add_flag(
      "--no-metadata", get.no_metadata,
      "Do not restore the permission bits and modification time put recorded (nor the owner "
      "and extended attributes)");
  get_cmd->add_flag("--owner", get.owner,
                    "Also restore the owner put --owner recorded (needs root or CAP_CHOWN: without "
                    "it, a warning, and the file is the restoring user's; set-id bits only with "
                    "the owner)");
  get_cmd->add_flag("--xattrs", get.xattrs,
                    "Also restore the extended attributes put --xattrs recorded (user.* for "
                    "anyone who may write the file, others as the kernel permits; each one "
                    "refused is a warning)");
  get_cmd->add_flag("--no-seed", get.no_seed,
                    "With --force, do not read the file being replaced for chunks it already has "
                    "(by default it is the first seed)");
  get.cache.Add(get_cmd, "off unless --cache or --cache-dir is given", "16M");
  get_cmd->callback([&] { run = [&] { return RunGet(g, get); }; });

  CatArgs cat;
  auto* cat_cmd = app.add_subcommand("cat", "Write a byte range of a file to standard output");
  cat_cmd
      ->add_option("name", cat.name,
                   "NAME (the newest version), NAME@N (1 = the oldest) or NAME@MANIFEST_ID_PREFIX")
      ->required();
  cat_cmd->add_option("--offset", cat.offset, "First byte (K/M/G suffixes)");
  cat_cmd->add_option("--length", cat.length, "Number of bytes (default: to the end)");
  cat_cmd->add_flag("--cache", cat.use_cache,
                    "Use the shared disk cache for any store, keeping every chunk read "
                    "(processes sharing it fetch each chunk once)");
  cat.cache.Add(cat_cmd, "on for S3 stores; for local ones only with --cache or --cache-dir");
  cat_cmd->callback([&] { run = [&] { return RunCat(g, cat); }; });

  LsArgs ls;
  auto* ls_cmd =
      app.add_subcommand("ls", "List the files in the store (the newest version of each)");
  ls_cmd->add_option("patterns", ls.patterns,
                     "Only names starting with PREFIX, or matching GLOB ('*' stops at '/')");
  ls_cmd->add_flag("-l,--long", ls.long_format,
                   "Also the number of versions and the bytes the newest one added to the store");
  ls_cmd->add_flag("--bytes", ls.bytes, "Exact byte counts (the default off a terminal)");
  ls_cmd->add_option("--sort", ls.sort, "name, time (newest first) or size (largest first)")
      ->capture_default_str();
  ls_cmd->add_flag("-r,--reverse", ls.reverse, "Reverse the order");
  ls_cmd->footer(
      "Columns: size, time the newest version was put (UTC), name; with -l: versions, size,\n"
      "added, time, name.\n"
      "Examples:\n"
      "  hugeblob ls\n"
      "  hugeblob ls vm/ -l --sort time\n"
      "  hugeblob ls '*.img' --bytes\n"
      "  hugeblob --json ls models/");
  ls_cmd->callback([&] { run = [&] { return RunLs(g, ls); }; });

  std::string stat_name;
  auto* stat_cmd = app.add_subcommand("stat", "Sizes, chunks, compression and dedup of a file");
  stat_cmd
      ->add_option("name", stat_name,
                   "NAME (the newest version), NAME@N (1 = the oldest) or NAME@MANIFEST_ID_PREFIX")
      ->required();
  stat_cmd->callback([&] { run = [&] { return RunStat(g, stat_name); }; });

  std::string verify_name;
  unsigned verify_threads = 0;
  auto* verify_cmd = app.add_subcommand("verify", "Re-read and check a file, or the whole store");
  verify_cmd->add_option("name", verify_name,
                         "Check only this file: NAME (the newest version), NAME@N or NAME@ID");
  verify_cmd->add_option("--threads", verify_threads, "Packs checked in parallel (default 4)");
  verify_cmd->callback([&] { run = [&] { return RunVerify(g, verify_name, verify_threads); }; });

  std::string rm_name;
  auto* rm_cmd = app.add_subcommand(
      "rm", "Remove a name or one of its versions (the data goes at the next gc)");
  rm_cmd->add_option("name", rm_name, "NAME (every version), NAME@N or NAME@MANIFEST_ID_PREFIX")
      ->required();
  rm_cmd->callback([&] { run = [&] { return RunRm(g, rm_name); }; });

  auto* init_cmd = app.add_subcommand(
      "init", "Create a store (--store URL, or the default one); fails if one exists there");
  init_cmd->callback([&] { run = [&] { return RunInit(g); }; });

  AddMountCommand(app, g, run);
  AddMaintenanceCommands(app, g, run);
  AddDiffCommand(app, g, run);
  AddVersionsCommands(app, g, run);
  AddExamples(app);

  app.set_version_flag("--version", VersionText(),
                       "Version, format versions, compiled-in codecs and hashes");
  std::string help_topic;
  auto* help_cmd = app.add_subcommand("help", "Show the help of hugeblob or of one command");
  help_cmd->add_option("command", help_topic, "A command");
  help_cmd->callback([&] { run = [&] { return RunHelp(app, help_topic); }; });

  // Build-time generation of completions, man pages and the docs/cli.md
  // reference from these definitions (docgen.h). Not a user command.
  if (argc >= 3 && std::string_view(argv[1]) == "__generate") {
    return Generate(app, argv[2], argc >= 4 ? argv[3] : "");
  }

  // A JSON caller gets even parse errors as JSON.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") SetJsonErrors(true);
  }
  // An option before the command that is no global option: a typo, not a
  // command word ("--stor x ls" must not read as the command "x").
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--" || arg.empty() || arg[0] != '-') break;
    const std::string opt(arg.substr(0, arg.find('=')));
    const CLI::Option* o = app.get_option_no_throw(opt);
    if (o == nullptr && opt != "-h" && opt != "--help") {
      if (std::string hint = UnknownOptionHint(app, i + 1, argv); !hint.empty()) {
        return UsageError(hint);
      }
    }
    if (o != nullptr && o->get_items_expected_min() > 0 && arg.find('=') == std::string_view::npos)
      ++i;
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
    if (std::string hint = UnknownOptionHint(app, argc, argv); !hint.empty()) {
      return UsageError(hint);
    }
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
