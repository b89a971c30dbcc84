#include "repo/refs.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>

#include "format/layout.h"
#include "format/manifest_codec.h"
#include "store/local_store.h"
#include "util/fs.h"
#include "util/thread_pool.h"

namespace hugeblob {
namespace {

constexpr std::string_view kVersionsDir = "/.v/";
constexpr uint64_t kMaxRefBytes = 4096;  // docs/format.md
constexpr size_t kStampDigits = 19;
constexpr size_t kStampRandom = 8;  // hex digits
constexpr size_t kMinIdPrefix = 4;

std::string VersionsPrefix(std::string_view name) {
  std::string p(kNamesPrefix);
  p += name;
  p += kVersionsDir;
  return p;
}

bool IsStamp(std::string_view s) {
  if (s.size() != kStampDigits + 1 + kStampRandom || s[kStampDigits] != '-') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == kStampDigits) continue;
    const char c = s[i];
    const bool ok = i < kStampDigits ? (c >= '0' && c <= '9')
                                     : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

// "names/<name>/.v/<stamp>" -> name, stamp. Names never hold "/." (no
// component starts with '.'), so the first "/.v/" is the split.
bool SplitVersionKey(std::string_view key, std::string* name, std::string* stamp) {
  if (!key.starts_with(kNamesPrefix)) return false;
  std::string_view rest = key.substr(kNamesPrefix.size());
  const size_t at = rest.find(kVersionsDir);
  if (at == std::string_view::npos || at == 0) return false;
  std::string_view s = rest.substr(at + kVersionsDir.size());
  if (!IsStamp(s)) return false;
  *name = std::string(rest.substr(0, at));
  *stamp = std::string(s);
  return true;
}

std::optional<int64_t> EnvInt(const char* var) {
  const char* v = std::getenv(var);
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(x);
}

void Number(std::vector<Version>* vs) {
  std::stable_sort(vs->begin(), vs->end(), [](const Version& a, const Version& b) {
    if (a.legacy != b.legacy) return a.legacy;  // the previous release's ref is the oldest
    return a.stamp < b.stamp;
  });
  for (size_t i = 0; i < vs->size(); ++i) (*vs)[i].number = static_cast<uint32_t>(i + 1);
}

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}
bool IsNumber(std::string_view s) {
  if (s.starts_with('-')) s.remove_prefix(1);
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

int64_t NowUnixSeconds() {
  if (auto t = EnvInt("HB_TEST_NOW_UNIX")) return *t;
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string LegacyStamp(int64_t created_unix) {
  const int64_t ns = std::max<int64_t>(0, created_unix) * 1000000000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%019lld-%08x", static_cast<long long>(ns), 0u);
  return buf;
}

Status ValidateNewName(std::string_view name) {
  HB_TRY(ValidateName(name));
  if (name.find('@') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "name '" + std::string(name) +
                    "': '@' is not allowed in a name (NAME@N addresses "
                    "version N of NAME)");
  }
  return OkStatus();
}

Result<std::vector<Version>> ListVersions(ObjectStore& store, const std::string& name) {
  std::vector<Version> out;
  // The previous release's ref, if any. From a remote store it is asked
  // beside the listing, not before it: one round trip instead of two on
  // the path of every get, cat and stat (a local store answers both, a
  // stat and a directory read, faster than a thread starts).
  std::future<Result<ObjectInfo>> asked;
  if (!IsLocalStore(store)) {
    asked =
        std::async(std::launch::async, [&store, key = RefKey(name)] { return store.Head(key); });
  }
  auto listed = store.List(VersionsPrefix(name));
  auto head = asked.valid() ? asked.get() : store.Head(RefKey(name));
  if (head) {
    Version v;
    v.name = name;
    v.key = RefKey(name);
    v.legacy = true;
    v.object_size = head->size;
    v.object_mtime = head->mtime_unix;
    out.push_back(std::move(v));
  } else if (head.error().code() != ErrorCode::kNotFound) {
    return Fail(head.error());
  }
  if (!listed) return Fail(listed.error());
  for (const ObjectInfo& o : *listed) {
    std::string n, stamp;
    if (!SplitVersionKey(o.key, &n, &stamp) || n != name) continue;
    Version v;
    v.name = name;
    v.key = o.key;
    v.stamp = std::move(stamp);
    v.object_size = o.size;
    v.object_mtime = o.mtime_unix;
    out.push_back(std::move(v));
  }
  Number(&out);
  return out;
}

Result<std::vector<std::vector<Version>>> ListAllVersions(ObjectStore& store,
                                                          std::string_view prefix,
                                                          std::vector<std::string>* stray) {
  std::map<std::string, std::vector<Version>> by_name;
  HB_ASSIGN_OR_RETURN(auto legacy, store.List(std::string(kRefsPrefix) + std::string(prefix)));
  for (const ObjectInfo& o : legacy) {
    Version v;
    v.name = std::string(NameFromRefKey(o.key));
    v.key = o.key;
    v.legacy = true;
    v.object_size = o.size;
    v.object_mtime = o.mtime_unix;
    by_name[v.name].push_back(std::move(v));
  }
  HB_ASSIGN_OR_RETURN(auto listed, store.List(std::string(kNamesPrefix) + std::string(prefix)));
  for (const ObjectInfo& o : listed) {
    Version v;
    if (!SplitVersionKey(o.key, &v.name, &v.stamp)) {
      if (stray != nullptr) stray->push_back(o.key);
      continue;
    }
    v.key = o.key;
    v.object_size = o.size;
    v.object_mtime = o.mtime_unix;
    by_name[v.name].push_back(std::move(v));
  }
  std::vector<std::vector<Version>> out;
  out.reserve(by_name.size());
  for (auto& [name, vs] : by_name) {
    Number(&vs);
    out.push_back(std::move(vs));
  }
  return out;
}

Result<Ref> LoadVersionRef(ObjectStore& store, const Version& v) {
  auto bytes = store.GetRange(v.key, 0, kMaxRefBytes + 1);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound,
                  "version " + std::to_string(v.number) + " of '" + v.name + "' is gone");
    }
    return Fail(bytes.error());
  }
  if (bytes->size() > kMaxRefBytes) {
    return Fail(ErrorCode::kCorruption,
                v.key + ": larger than a ref can be (" + std::to_string(kMaxRefBytes) + " bytes)");
  }
  return DecodeRef(bytes->span(), v.key);
}

std::vector<LoadedVersion> LoadVersions(ObjectStore& store, std::vector<Version> versions) {
  std::vector<LoadedVersion> out(versions.size());
  auto load = [&](size_t i) {
    out[i].version = std::move(versions[i]);
    out[i].ref = LoadVersionRef(store, out[i].version);
  };
  if (versions.size() <= 1) {
    for (size_t i = 0; i < versions.size(); ++i) load(i);
    return out;
  }
  ThreadPool pool(std::min<size_t>(8, versions.size()));
  for (size_t i = 0; i < versions.size(); ++i) pool.Submit([&, i] { load(i); });
  pool.Wait();
  return out;
}

Address ParseAddress(std::string_view text) {
  Address a;
  const size_t at = text.rfind('@');
  if (at == std::string_view::npos || at == 0) {
    a.name = std::string(text);
    return a;
  }
  a.name = std::string(text.substr(0, at));
  a.selector = std::string(text.substr(at + 1));
  return a;
}

namespace {

Result<Resolved> Select(ObjectStore& store, const std::string& name, std::vector<Version> vs,
                        const std::string& selector, std::string_view text) {
  Resolved r;
  r.count = vs.size();
  if (selector.empty()) {
    r.version = vs.back();
  } else if (IsNumber(selector)) {
    const long n = std::strtol(selector.c_str(), nullptr, 10);
    const long count = static_cast<long>(vs.size());
    const long index = n < 0 ? count + n : n - 1;
    if (n == 0 || index < 0 || index >= count) {
      return Fail(ErrorCode::kNotFound,
                  "'" + std::string(text) + "': '" + name + "' has " + std::to_string(count) +
                      (count == 1 ? " version" : " versions") + " (1 is the oldest)");
    }
    r.version = vs[static_cast<size_t>(index)];
  } else if (IsHex(selector)) {
    if (selector.size() < kMinIdPrefix) {
      return Fail(ErrorCode::kInvalidArgument, "'" + std::string(text) +
                                                   "': a manifest id prefix needs at least " +
                                                   std::to_string(kMinIdPrefix) + " hex digits");
    }
    std::vector<LoadedVersion> loaded = LoadVersions(store, std::move(vs));
    std::optional<Resolved> found;
    for (LoadedVersion& lv : loaded) {
      if (!lv.ref) continue;
      if (!lv.ref->manifest.Hex().starts_with(selector)) continue;
      if (found) {
        return Fail(ErrorCode::kInvalidArgument,
                    "'" + std::string(text) + "' is ambiguous: versions " +
                        std::to_string(found->version.number) + " and " +
                        std::to_string(lv.version.number) + " both match; give more digits");
      }
      found = Resolved{lv.version, *lv.ref, loaded.size()};
    }
    if (!found) {
      return Fail(ErrorCode::kNotFound, "'" + std::string(text) + "': no version of '" + name +
                                            "' has a manifest id starting with " + selector);
    }
    return *found;
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                "'" + std::string(text) +
                    "': after '@' give a version number (1 is the oldest) "
                    "or a manifest id prefix");
  }
  HB_ASSIGN_OR_RETURN(r.ref, LoadVersionRef(store, r.version));
  return r;
}

}  // namespace

Result<Resolved> ResolveVersion(ObjectStore& store, std::string_view text) {
  const Address a = ParseAddress(text);
  HB_TRY(ValidateName(a.name));
  HB_ASSIGN_OR_RETURN(std::vector<Version> versions, ListVersions(store, a.name));
  if (!versions.empty()) return Select(store, a.name, std::move(versions), a.selector, text);
  if (!a.selector.empty()) {
    // A name made before versions may hold '@' itself.
    const std::string whole(text);
    if (ValidateName(whole)) {
      HB_ASSIGN_OR_RETURN(std::vector<Version> own, ListVersions(store, whole));
      if (!own.empty()) return Select(store, whole, std::move(own), "", text);
    }
  }
  return Fail(ErrorCode::kNotFound, "no file named '" + a.name + "' in " + store.url());
}

Status CheckNamePlacement(ObjectStore& store, const std::string& name,
                          const std::set<std::string>* also_written) {
  auto skip = [&](const std::string& n) {
    return also_written != nullptr && also_written->count(n);
  };
  // A folder of this name: any name below "name/".
  for (std::string_view top : {kRefsPrefix, kNamesPrefix}) {
    HB_ASSIGN_OR_RETURN(auto below, store.List(std::string(top) + name + "/"));
    for (const ObjectInfo& o : below) {
      std::string other;
      if (top == kRefsPrefix) {
        other = std::string(NameFromRefKey(o.key));
      } else {
        std::string stamp;
        if (!SplitVersionKey(o.key, &other, &stamp) || other == name) continue;
      }
      if (skip(other)) continue;
      return Fail(ErrorCode::kAlreadyExists,
                  "cannot store '" + name + "': it is a folder in " + store.url() + " (it holds '" +
                      other + "'); a name cannot be a file and a folder at once");
    }
  }
  // A file named like one of its folders.
  for (size_t slash = name.find('/'); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    const std::string parent = name.substr(0, slash);
    if (skip(parent)) continue;
    HB_ASSIGN_OR_RETURN(auto vs, ListVersions(store, parent));
    if (!vs.empty()) {
      return Fail(ErrorCode::kAlreadyExists,
                  "cannot store '" + name + "': '" + parent + "' is a file in " + store.url() +
                      "; a name cannot be a file and a folder at once (rm '" + parent +
                      "' or pick another name)");
    }
  }
  return OkStatus();
}

Result<Version> PublishVersion(ObjectStore& store, const std::string& name, Ref ref,
                               std::string stamp) {
  HB_TRY(ValidateName(name));
  if (stamp.empty()) {
    // put checks before uploading; this second look narrows the window in
    // which concurrent puts of "a" and "a/b" could both succeed. (copy,
    // which gives the stamp, checks all its names up front.)
    HB_TRY(CheckNamePlacement(store, name));
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    if (auto t = EnvInt("HB_TEST_CREATED_UNIX")) {
      ref.created_unix = *t;
      ns = *t * 1000000000 + ns % 1000000000;
    }
    HB_ASSIGN_OR_RETURN(std::string rnd, RandomHex(kStampRandom / 2));
    char buf[24];
    std::snprintf(buf, sizeof buf, "%019lld", static_cast<long long>(std::max<int64_t>(0, ns)));
    stamp = std::string(buf) + "-" + rnd;
  } else if (!IsStamp(stamp)) {
    return Fail(ErrorCode::kInternal, "PublishVersion: malformed stamp '" + stamp + "'");
  }
  Version v;
  v.name = name;
  v.key = VersionsPrefix(name) + stamp;
  v.stamp = stamp;
  // A store of the previous release gets format 2 before its first version
  // object: that release refuses it from then on, instead of seeing no
  // names and collecting their data.
  if (auto config = store.GetRange(kConfigKey, 0, 4096); config) {
    const std::string raised = RaisedConfig(config->view());
    if (!raised.empty()) {
      HB_TRY(store.Put(kConfigKey, BufferChain(Buffer::Copy(std::string_view(raised)))));
    }
  }
  HB_TRY(store.Put(v.key, EncodeRef(ref)));
  return v;
}

Status RewriteVersion(ObjectStore& store, const Version& v, const Ref& ref) {
  return store.Put(v.key, EncodeRef(ref));
}

Status RemoveVersion(ObjectStore& store, const Version& v) { return store.Delete(v.key); }

}  // namespace hugeblob
