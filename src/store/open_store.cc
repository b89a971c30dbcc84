// OpenStore: URL parsing, and the "config" object that marks a directory or
// bucket prefix as a hugeblob store. The config check runs through the
// ObjectStore interface, so every backend gets the same rules.
#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "hugeblob/store.h"
#include "store/local_store.h"
#include "store/memory_store.h"
#include "store/s3/s3_store.h"

namespace hugeblob {

namespace {

constexpr std::string_view kConfigKey = "config";
constexpr std::string_view kConfigMagic = "hugeblob-store ";
// Written for new stores; 1 (stores of the previous release) is read too.
constexpr int kStoreVersion = 2;  // = kStoreFormat of format/layout.h (a layer above)

// New stores name chunks by BLAKE3; a config without the chunk-hash line
// (stores made before) means SHA-256 (format/layout.h, ChunkHashOfConfig).
std::string ConfigText() {
  return std::string(kConfigMagic) + std::to_string(kStoreVersion) + "\nchunk-hash blake3\n";
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

Status CheckConfig(const Buffer& config, const std::string& where) {
  std::string_view text = config.view();
  if (!text.starts_with(kConfigMagic)) {
    return Fail(ErrorCode::kInvalidArgument,
                "not a hugeblob store: " + where + " (its config object is not a hugeblob config)");
  }
  std::string_view rest = text.substr(kConfigMagic.size());
  size_t nl = rest.find('\n');
  std::string version(rest.substr(0, nl));
  if (version == "1" || version == std::to_string(kStoreVersion)) return OkStatus();
  return Fail(ErrorCode::kUnsupported, "store " + where + " has format version '" + version +
                                           "'; this hugeblob supports versions 1 to " +
                                           std::to_string(kStoreVersion) +
                                           " (upgrade hugeblob to use it)");
}

Error NoStore(const std::string& where) {
  return Error(ErrorCode::kNotFound, "no store at " + where +
                                         " (create one with 'hugeblob init --store " + where +
                                         "' or a first put)");
}

// Claims an empty store by writing its config (unless `mode` is kExisting),
// or checks the config it has.
Status EnsureConfig(ObjectStore& store, const std::string& where, StoreOpenMode mode) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    // The config is a few bytes; a bounded read keeps a hostile multi-GiB
    // "config" from being loaded whole.
    auto config = store.GetRange(kConfigKey, 0, 4096);
    if (config) {
      HB_TRY(CheckConfig(*config, where));
      if (mode == StoreOpenMode::kInit) {
        return Fail(ErrorCode::kAlreadyExists, "a hugeblob store already exists at " + where);
      }
      return OkStatus();
    }
    if (config.error().code() != ErrorCode::kNotFound) {
      return Fail(config.error().Wrap("open store " + where));
    }
    auto objects = store.List("");
    if (!objects) return Fail(objects.error().Wrap("open store " + where));
    bool has_config = false;
    for (const ObjectInfo& o : *objects) has_config |= o.key == kConfigKey;
    // Another process initialised the store between our Get and List.
    if (has_config) continue;
    if (!objects->empty()) {
      return Fail(ErrorCode::kInvalidArgument, "not a hugeblob store: " + where +
                                                   " (non-empty directory without a config file)");
    }
    if (mode == StoreOpenMode::kExisting) return Fail(NoStore(where));
    HB_TRY(store.Put(kConfigKey, Buffer::Copy(ConfigText())));
    return OkStatus();
  }
  return Fail(ErrorCode::kInternal, "open store " + where + ": config appeared but cannot be read");
}

// Refuses a local directory that holds files but no config before anything
// is written into it, and without walking it (it may be someone's $HOME).
// Without kCreate, a missing directory is "no store", and nothing is made.
Status PrecheckLocalDir(const std::string& path, StoreOpenMode mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      if (mode == StoreOpenMode::kExisting) return Fail(NoStore(path));
      return OkStatus();  // a new store
    }
    return Fail(ErrnoError(errno, "open store " + path));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument,
                "not a hugeblob store: " + path + " (not a directory)");
  }
  if (::access((path + "/" + std::string(kConfigKey)).c_str(), F_OK) == 0) return OkStatus();
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return Fail(ErrnoError(errno, "open store " + path));
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    // tmp/ alone is what a store that crashed before writing config holds.
    if (name != "." && name != ".." && name != "tmp") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) {
    return Fail(ErrorCode::kInvalidArgument,
                "not a hugeblob store: " + path + " (non-empty directory without a config file)");
  }
  return OkStatus();
}

Result<std::shared_ptr<ObjectStore>> OpenLocal(std::string path, StoreOpenMode mode) {
  if (path.empty()) return Fail(ErrorCode::kInvalidArgument, "empty store path");
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) return Fail(ErrnoError(ec.value(), "absolute path of " + path));
  path = abs.lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  HB_TRY(PrecheckLocalDir(path, mode));
  HB_ASSIGN_OR_RETURN(auto store, LocalStore::Open(path));
  HB_TRY(EnsureConfig(*store, path, mode));
  return std::shared_ptr<ObjectStore>(std::move(store));
}

// "scheme" of "scheme://...", or empty if `url` does not start like a URL.
std::string_view SchemeOf(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return {};
  std::string_view scheme = url.substr(0, sep);
  if (!std::isalpha(static_cast<unsigned char>(scheme[0]))) return {};
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  }
  return scheme;
}

}  // namespace

std::string DefaultStoreUrl() {
  if (const char* s = Env("HUGEBLOB_STORE")) return s;
  if (const char* xdg = Env("XDG_DATA_HOME")) return std::string(xdg) + "/hugeblob";
  const char* home = Env("HOME");
  if (home == nullptr) {
    // No $HOME (a service, a cron job): fall back to the password database.
    struct passwd* pw = ::getpwuid(::getuid());
    if (pw != nullptr && pw->pw_dir != nullptr && *pw->pw_dir != '\0') home = pw->pw_dir;
  }
  if (home == nullptr) return "";
  return std::string(home) + "/.local/share/hugeblob";
}

Result<std::shared_ptr<ObjectStore>> OpenStore(std::string_view url) {
  return OpenStore(url, StoreOpenMode::kCreate);
}

Result<std::shared_ptr<ObjectStore>> OpenStore(std::string_view url, StoreOpenMode mode) {
  if (url.empty()) {
    std::string def = DefaultStoreUrl();
    if (def.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "no default store: set HUGEBLOB_STORE or HOME, or pass --store");
    }
    return OpenStore(def, mode);
  }
  std::string_view scheme = SchemeOf(url);
  if (scheme.empty()) return OpenLocal(std::string(url), mode);
  std::string_view rest = url.substr(scheme.size() + 3);
  if (scheme == "file") {
    // file:///abs/path, or file://localhost/abs/path.
    if (rest.starts_with("localhost/")) rest.remove_prefix(9);
    if (!rest.starts_with("/")) {
      return Fail(ErrorCode::kInvalidArgument,
                  "store URL " + std::string(url) + ": expected file:///absolute/path");
    }
    return OpenLocal(std::string(rest), mode);
  }
  if (scheme == "mem") {
    auto store = std::make_shared<MemoryStore>();
    // Always new and empty: "existing" cannot apply.
    HB_TRY(EnsureConfig(*store, std::string(url),
                        mode == StoreOpenMode::kExisting ? StoreOpenMode::kCreate : mode));
    return std::shared_ptr<ObjectStore>(std::move(store));
  }
  if (scheme == "s3") {
    HB_ASSIGN_OR_RETURN(auto store, OpenS3Store(url));
    HB_TRY(EnsureConfig(*store, std::string(url), mode));
    return store;
  }
  return Fail(ErrorCode::kInvalidArgument, "unsupported store URL scheme '" + std::string(scheme) +
                                               "' in " + std::string(url) +
                                               " (expected a path, file://, s3:// or mem://)");
}

}  // namespace hugeblob
