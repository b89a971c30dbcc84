// Python bindings: hugeblob._core, wrapped by the hugeblob package
// (python/hugeblob/__init__.py) into io.RawIOBase files.
//
// Every call that does I/O releases the GIL, so Python threads read in
// parallel; a Reader may be shared between threads (BlobReader::pread is
// thread-safe). Errors become hugeblob.Error (a subclass of OSError) with the
// library's message; a missing name is FileNotFoundError.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "hugeblob/hugeblob.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"
#include "ops/load.h"

namespace py = pybind11;
using namespace hugeblob;

namespace {

py::object g_error;  // hugeblob.Error, set at import

[[noreturn]] void Raise(const Error& e) {
  PyErr_SetString(e.code() == ErrorCode::kNotFound ? PyExc_FileNotFoundError : g_error.ptr(),
                  e.message().c_str());
  throw py::error_already_set();
}

template <typename T>
T Check(Result<T> r) {
  if (!r) Raise(r.error());
  return std::move(*r);
}

class PyReader {
 public:
  PyReader(std::unique_ptr<BlobReader> r) : r_(std::move(r)) {}
  uint64_t size() const { return r_->size(); }

  // Reads up to len(buffer) bytes at `offset` into a writable buffer
  // (bytearray, memoryview, numpy array): no copy through a bytes object.
  size_t ReadInto(uint64_t offset, py::buffer b) {
    py::buffer_info info = b.request(/*writable=*/true);
    std::span<uint8_t> out(static_cast<uint8_t*>(info.ptr),
                           static_cast<size_t>(info.size * info.itemsize));
    Result<size_t> n = size_t{0};
    {
      py::gil_scoped_release release;
      n = r_->pread(offset, out);
    }
    return Check(std::move(n));
  }

  py::bytes Pread(uint64_t offset, size_t length) {
    if (offset >= r_->size()) return py::bytes();
    length = static_cast<size_t>(std::min<uint64_t>(length, r_->size() - offset));
    std::string s(length, '\0');
    Result<size_t> n = size_t{0};
    {
      py::gil_scoped_release release;
      n = r_->pread(offset, {reinterpret_cast<uint8_t*>(s.data()), s.size()});
    }
    s.resize(Check(std::move(n)));
    return py::bytes(s);
  }

  int64_t SeekData(uint64_t offset, bool hole) const {
    auto p = r_->SeekData(offset, hole);
    if (!p) {
      if (p.error().code() == ErrorCode::kNotFound) return -1;
      Raise(p.error());
    }
    return static_cast<int64_t>(*p);
  }

 private:
  std::unique_ptr<BlobReader> r_;
};

class PyStore {
 public:
  PyStore(const std::string& url, bool create) {
    store_ = Check(OpenStore(url, create ? StoreOpenMode::kCreate : StoreOpenMode::kExisting));
    ReaderOptions o;
    o.disk_cache = false;  // a library user opts in (cache_dir=...)
    context_ = Check(ReaderContext::Create(o));
  }

  py::dict Put(const std::string& path, const std::string& name, bool sha256) {
    PutOptions o;
    o.name = name;
    o.sha256 = sha256;
    Result<PutResult> r = Result<PutResult>(PutResult{});
    {
      py::gil_scoped_release release;
      r = hugeblob::Put(store_, path, o);
    }
    PutResult p = Check(std::move(r));
    py::dict d;
    d["name"] = name;
    d["size"] = p.size;
    d["digest"] = p.digest;
    d["manifest"] = p.manifest;
    d["chunks"] = p.chunks;
    d["new_chunks"] = p.new_chunks;
    d["added_bytes"] = p.added_bytes;
    d["shared_bytes"] = p.shared_bytes;
    d["holes_skipped"] = p.holes_skipped;
    if (!p.sha256.empty()) d["sha256"] = p.sha256;
    return d;
  }

  void Get(const std::string& name, const std::string& out, bool force) {
    GetOptions o;
    o.force = force;
    Result<GetResult> r = Result<GetResult>(GetResult{});
    {
      py::gil_scoped_release release;
      r = hugeblob::Get(store_, name, out, o);
    }
    Check(std::move(r));
  }

  std::vector<py::dict> Ls() {
    Result<std::vector<BlobInfo>> r = Result<std::vector<BlobInfo>>(std::vector<BlobInfo>{});
    {
      py::gil_scoped_release release;
      r = ListBlobs(store_);
    }
    std::vector<py::dict> out;
    for (const BlobInfo& b : Check(std::move(r))) {
      py::dict d;
      d["name"] = b.name;
      d["size"] = b.size;
      d["created"] = b.created_unix;
      d["manifest"] = b.manifest;
      out.push_back(std::move(d));
    }
    return out;
  }

  std::unique_ptr<PyReader> Open(const std::string& name) {
    Result<std::unique_ptr<BlobReader>> r = Fail(ErrorCode::kInternal, "unset");
    {
      py::gil_scoped_release release;
      // NAME, NAME@N or NAME@ID, through the one place that resolves
      // versions (BlobReader::Open(name) reads only refs of the previous
      // release).
      r = OpenBlobReader(context_, store_, name);
    }
    return std::make_unique<PyReader>(Check(std::move(r)));
  }

  std::string url() const { return store_->url(); }

 private:
  std::shared_ptr<ObjectStore> store_;
  std::shared_ptr<ReaderContext> context_;
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "hugeblob: huge files in a local or S3 store, read lazily";
  g_error = py::reinterpret_borrow<py::object>(
      PyErr_NewException("hugeblob.Error", PyExc_OSError, nullptr));
  m.attr("Error") = g_error;
  py::class_<PyReader>(m, "Reader")
      .def_property_readonly("size", &PyReader::size)
      .def("readinto_at", &PyReader::ReadInto, py::arg("offset"), py::arg("buffer"),
           "Reads up to len(buffer) bytes at offset into buffer; returns the count")
      .def("pread", &PyReader::Pread, py::arg("offset"), py::arg("length"))
      .def("seek_data", &PyReader::SeekData, py::arg("offset"), py::arg("hole") = false,
           "SEEK_DATA (or SEEK_HOLE with hole=True); -1 when there is none");
  py::class_<PyStore>(m, "Store")
      .def(py::init<const std::string&, bool>(), py::arg("url"), py::arg("create") = false)
      .def_property_readonly("url", &PyStore::url)
      .def("put", &PyStore::Put, py::arg("path"), py::arg("name"), py::arg("sha256") = false)
      .def("get", &PyStore::Get, py::arg("name"), py::arg("out"), py::arg("force") = false)
      .def("ls", &PyStore::Ls)
      .def("_open", &PyStore::Open, py::arg("name"));
}
