// The C API (include/hugeblob/hugeblob_c.h) over hugeblob::Store and File.
// Nothing throws through it: the library returns errors as values, and the
// allocations a call makes are caught at this edge (std::bad_alloc becomes
// HB_EINTERNAL with a message) so no C++ exception reaches a C caller.

#include <new>
#include <string>

#include "hugeblob/hugeblob.h"
#include "hugeblob/hugeblob_c.h"

struct hb_store {
  hugeblob::Store store;
};

struct hb_file {
  std::unique_ptr<hugeblob::File> file;
};

namespace {

using hugeblob::Error;
using hugeblob::ErrorCode;

struct LastError {
  int code = HB_OK;
  std::string message;
};
thread_local LastError t_last;

// ErrorCode and hb_status list the same kinds in the same order, from 1.
int StatusOf(ErrorCode code) { return static_cast<int>(code) + 1; }

int Record(const Error& e) {
  t_last.code = StatusOf(e.code());
  t_last.message = e.message();
  return t_last.code;
}

int RecordInternal(const char* what) {
  t_last.code = HB_EINTERNAL;
  t_last.message = what;
  return t_last.code;
}

bool ValidStatus(int status) { return status > HB_OK && status <= HB_EINTERNAL; }

}  // namespace

extern "C" {

const char* hb_last_error(void) { return t_last.message.c_str(); }
int hb_last_error_code(void) { return t_last.code; }

const char* hb_status_name(int status) {
  if (status < 0) status = -status;
  if (status == HB_OK) return "ok";
  if (!ValidStatus(status)) return "unknown status";
  // The names are string literals (ErrorCodeName returns views of them).
  return hugeblob::ErrorCodeName(static_cast<ErrorCode>(status - 1)).data();
}

int hb_status_errno(int status) {
  if (status < 0) status = -status;
  if (status == HB_OK) return 0;
  if (!ValidStatus(status)) return EIO;
  return Error(static_cast<ErrorCode>(status - 1), "").to_errno();
}

hb_store* hb_store_open(const char* url, int flags) {
  try {
    hugeblob::StoreOptions o;
    o.mode = (flags & HB_OPEN_CREATE) != 0 ? hugeblob::StoreOpenMode::kCreate
                                           : hugeblob::StoreOpenMode::kExisting;
    if ((flags & ~HB_OPEN_CREATE) != 0) {
      Record(Error(ErrorCode::kInvalidArgument,
                   "hb_store_open: unknown flags " + std::to_string(flags)));
      return nullptr;
    }
    auto s = hugeblob::Store::Open(url != nullptr ? url : "", o);
    if (!s) {
      Record(s.error());
      return nullptr;
    }
    return new hb_store{std::move(*s)};
  } catch (const std::bad_alloc&) {
    RecordInternal("hb_store_open: out of memory");
    return nullptr;
  }
}

void hb_store_close(hb_store* store) { delete store; }

int hb_put(hb_store* store, const char* path, const char* name) {
  if (store == nullptr || path == nullptr || name == nullptr) {
    return -Record(Error(ErrorCode::kInvalidArgument, "hb_put: NULL store, path or name"));
  }
  try {
    hugeblob::PutOptions o;
    o.name = name;
    auto r = store->store.Put(path, o);
    if (!r) return -Record(r.error());
    return HB_OK;
  } catch (const std::bad_alloc&) {
    return -RecordInternal("hb_put: out of memory");
  }
}

hb_file* hb_file_open(hb_store* store, const char* name) {
  if (store == nullptr || name == nullptr) {
    Record(Error(ErrorCode::kInvalidArgument, "hb_file_open: NULL store or name"));
    return nullptr;
  }
  try {
    auto f = store->store.OpenFile(name);
    if (!f) {
      Record(f.error());
      return nullptr;
    }
    return new hb_file{std::move(*f)};
  } catch (const std::bad_alloc&) {
    RecordInternal("hb_file_open: out of memory");
    return nullptr;
  }
}

uint64_t hb_file_size(const hb_file* file) { return file != nullptr ? file->file->size() : 0; }

int64_t hb_file_pread(hb_file* file, void* buf, size_t n, uint64_t offset) {
  if (file == nullptr || (buf == nullptr && n > 0)) {
    return -Record(Error(ErrorCode::kInvalidArgument, "hb_file_pread: NULL file or buffer"));
  }
  // The count must fit the return type.
  if (n > static_cast<size_t>(INT64_MAX)) n = static_cast<size_t>(INT64_MAX);
  try {
    auto r = file->file->pread(offset, {static_cast<uint8_t*>(buf), n});
    if (!r) return -Record(r.error());
    return static_cast<int64_t>(*r);
  } catch (const std::bad_alloc&) {
    return -RecordInternal("hb_file_pread: out of memory");
  }
}

void hb_file_close(hb_file* file) { delete file; }

}  // extern "C"
