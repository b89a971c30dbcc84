// Python bindings: hugeblob._core, wrapped by the hugeblob package
// (python/hugeblob/__init__.py) into io.RawIOBase files. Only the public
// API (include/hugeblob/) is used, so the module builds against an
// installed hugeblob as well as in the build tree.
//
// Every call that may do I/O releases the GIL, so Python threads read in
// parallel; a Reader may be shared between threads (File is thread-safe).
// Errors become hugeblob.Error (a subclass of OSError) with the library's
// message; a missing name is FileNotFoundError.
//
// pread's cost on a warm read is mostly Python's: the bytes object is
// allocated once, at its final size, and read into directly (no std::string
// in between, no second copy).
#include <hugeblob/hugeblob.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

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

// A decoded block, exported through the buffer protocol: memoryview(block)
// sees the cached bytes without a copy, and keeps them alive while it lives.
struct PyBlock {
  Buffer buf;
};

class PyReader {
 public:
  explicit PyReader(std::unique_ptr<File> f) : f_(std::move(f)) {}
  uint64_t size() const { return f_->size(); }

  // Reads up to len(buffer) bytes at `offset` into a writable buffer
  // (bytearray, memoryview, numpy array): no copy through a bytes object.
  size_t ReadInto(uint64_t offset, const py::buffer& b) {
    py::buffer_info info = b.request(/*writable=*/true);
    std::span<uint8_t> out(static_cast<uint8_t*>(info.ptr),
                           static_cast<size_t>(info.size * info.itemsize));
    Result<size_t> n = size_t{0};
    {
      py::gil_scoped_release release;
      n = f_->pread(offset, out);
    }
    return Check(std::move(n));
  }

  py::bytes Pread(uint64_t offset, size_t length) {
    const uint64_t size = f_->size();
    if (offset >= size || length == 0) return py::bytes();
    length = static_cast<size_t>(std::min<uint64_t>(length, size - offset));
    PyObject* obj = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(length));
    if (obj == nullptr) throw py::error_already_set();
    auto bytes = py::reinterpret_steal<py::bytes>(obj);
    auto* dst = reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(obj));
    Result<size_t> n = size_t{0};
    {
      py::gil_scoped_release release;
      n = f_->pread(offset, {dst, length});
    }
    // (Short only if the file changed size under us, which a File cannot.)
    if (Check(std::move(n)) != length) {
      Raise(Error(ErrorCode::kInternal, "short read of " + f_->info().name));
    }
    return bytes;
  }

  int64_t SeekData(uint64_t offset, bool hole) const {
    auto p = f_->SeekData(offset, hole);
    if (!p) {
      if (p.error().code() == ErrorCode::kNotFound) return -1;
      Raise(p.error());
    }
    return static_cast<int64_t>(*p);
  }

  PyBlock Block(size_t index) {
    if (index >= f_->info().blocks) {
      PyErr_SetString(PyExc_IndexError, "block index out of range");
      throw py::error_already_set();
    }
    Result<Buffer> b = Buffer();
    {
      py::gil_scoped_release release;
      b = f_->ReadBlock(index);
    }
    return PyBlock{Check(std::move(b))};
  }

  // (index, offset, length, hole) of the block holding byte `offset`.
  py::tuple BlockAt(uint64_t offset) {
    Result<BlockInfo> b = BlockInfo{};
    {
      py::gil_scoped_release release;  // may load a segment of the block table
      b = f_->BlockAt(offset);
    }
    if (!b) {
      if (b.error().code() == ErrorCode::kInvalidArgument && offset >= f_->size()) {
        PyErr_SetString(PyExc_IndexError, "offset past the end of the file");
        throw py::error_already_set();
      }
      Raise(b.error());
    }
    return py::make_tuple(b->index, b->offset, b->length, b->hole);
  }
  size_t Blocks() const { return f_->info().blocks; }

  void WillNeed(uint64_t offset, uint64_t length) {
    py::gil_scoped_release release;
    f_->WillNeed(offset, length);
  }

  py::dict Info() const {
    const FileInfo& i = f_->info();
    py::dict d;
    d["name"] = i.name;
    d["size"] = i.size;
    d["data_bytes"] = i.data_bytes;
    d["manifest"] = i.manifest;
    d["digest"] = i.digest;
    if (!i.sha256.empty()) d["sha256"] = i.sha256;
    d["chunk_hash"] = i.chunk_hash;
    if (i.mode) d["mode"] = *i.mode;
    if (i.mtime_ns) d["mtime_ns"] = *i.mtime_ns;
    d["created"] = i.created_unix;
    d["blocks"] = i.blocks;
    return d;
  }

 private:
  std::unique_ptr<File> f_;
};

py::dict PutDict(const std::string& name, const PutResult& p) {
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

py::dict GetDict(const std::string& name, const std::string& out, const GetResult& g) {
  py::dict d;
  d["name"] = name;
  d["out"] = out;
  d["size"] = g.size;
  d["holes"] = g.holes;
  d["fetched_bytes"] = g.fetched_bytes;
  d["store_requests"] = g.store_requests;
  d["seeded_bytes"] = g.seeded_bytes;
  d["seed_scanned_bytes"] = g.seed_scanned_bytes;
  d["seed_files"] = g.seed_files;
  d["cloned_bytes"] = g.cloned_bytes;
  d["cached_bytes"] = g.cached_bytes;
  d["in_place_bytes"] = g.in_place_bytes;
  d["recorded_bytes"] = g.recorded_bytes;
  d["held_bytes"] = g.held_bytes;
  d["seed_aligned_bytes"] = g.seed_aligned_bytes;
  d["seed_changed_chunks"] = g.seed_changed_chunks;
  d["seed_recorded_files"] = g.seed_recorded_files;
  d["metadata_warnings"] = g.metadata_warnings;
  return d;
}

py::dict InfoDict(const BlobInfo& b) {
  py::dict d;
  d["name"] = b.name;
  if (!b.error.empty()) {
    d["error"] = b.error;
    return d;
  }
  d["size"] = b.size;
  d["created"] = b.created_unix;
  d["manifest"] = b.manifest;
  d["added_bytes"] = b.added_bytes;
  d["shared_bytes"] = b.shared_bytes;
  d["version"] = b.version;
  d["versions"] = b.versions;
  return d;
}

class PyStore {
 public:
  PyStore(const std::string& url, bool create, std::optional<std::string> cache_dir,
          uint64_t memory_cache_bytes)
      : store_(Open(url, create, std::move(cache_dir), memory_cache_bytes)) {}

  // From a path (str), or from a file object: its file descriptor when it
  // has one (a file, a pipe, a socket), else its readinto/read methods,
  // called on a library thread that takes the GIL for each call.
  py::dict Put(py::object src, const std::string& name, bool sha256) {
    PutOptions o;
    o.name = name;
    o.sha256 = sha256;
    Result<PutResult> r = PutResult{};
    if (py::isinstance<py::str>(src) || py::hasattr(src, "__fspath__")) {
      std::string path = py::str(py::module_::import("os").attr("fspath")(src));
      py::gil_scoped_release release;
      r = store_.Put(path, o);
    } else if (int fd = FilenoOf(src); fd >= 0) {
      if (py::hasattr(src, "flush")) src.attr("flush")();
      py::gil_scoped_release release;
      r = store_.PutFd(fd, o);
    } else if (py::hasattr(src, "readinto") || py::hasattr(src, "read")) {
      ReadFn read = [&src](std::span<uint8_t> dst) -> Result<size_t> {
        py::gil_scoped_acquire acquire;
        try {
          return ReadFromPython(src, dst);
        } catch (py::error_already_set& e) {
          return Fail(ErrorCode::kIOError, std::string("reading the file object: ") + e.what());
        }
      };
      py::gil_scoped_release release;
      r = store_.PutStream(read, o);
    } else {
      PyErr_SetString(PyExc_TypeError, "put: expected a path or a binary file object");
      throw py::error_already_set();
    }
    return PutDict(name, Check(std::move(r)));
  }

  // As `hugeblob get`: seeds and seed_dirs are local files whose chunks are
  // taken instead of fetched (each checked against its id), in_place
  // updates an existing `out` where it stands. Returns where the bytes came
  // from.
  py::dict Get(const std::string& name, const py::object& out, bool force,
               const std::vector<py::object>& seeds, const std::vector<py::object>& seed_dirs,
               bool seed_target, bool in_place, bool verify_target) {
    GetOptions o;
    o.force = force;
    o.seed_target = seed_target;
    o.in_place = in_place;
    o.verify_target = verify_target;
    py::object fspath = py::module_::import("os").attr("fspath");
    for (const py::object& s : seeds) o.seeds.push_back(py::str(fspath(s)));
    for (const py::object& s : seed_dirs) o.seed_dirs.push_back(py::str(fspath(s)));
    const std::string path = py::str(fspath(out));
    Result<GetResult> r = GetResult{};
    {
      py::gil_scoped_release release;
      r = store_.Get(name, path, o);
    }
    return GetDict(name, path, Check(std::move(r)));
  }

  std::vector<py::dict> Ls(const std::string& prefix) {
    Result<std::vector<BlobInfo>> r = std::vector<BlobInfo>{};
    {
      py::gil_scoped_release release;
      r = store_.List(prefix);
    }
    std::vector<py::dict> out;
    for (const BlobInfo& b : Check(std::move(r))) out.push_back(InfoDict(b));
    return out;
  }

  py::dict Stat(const std::string& name) {
    Result<BlobStat> r = BlobStat{};
    {
      py::gil_scoped_release release;
      r = store_.Stat(name);
    }
    BlobStat s = Check(std::move(r));
    py::dict d = InfoDict(s.info);
    d["chunk_hash"] = s.chunk_hash;
    d["digest"] = s.digest;
    if (!s.sha256.empty()) d["sha256"] = s.sha256;
    if (s.mode) d["mode"] = *s.mode;
    if (s.mtime_ns) d["mtime_ns"] = *s.mtime_ns;
    d["chunker"] = s.chunker;
    d["chunks"] = s.chunks;
    d["zero_chunks"] = s.zero_chunks;
    d["unique_chunks"] = s.unique_chunks;
    d["unique_bytes"] = s.unique_bytes;
    d["stored_bytes"] = s.stored_bytes;
    d["packs"] = s.packs;
    return d;
  }

  // Every version of NAME, or the one NAME@N addresses; returns how many.
  size_t Remove(const std::string& name) {
    Result<size_t> r = size_t{0};
    {
      py::gil_scoped_release release;
      r = store_.Remove(name);
    }
    return Check(std::move(r));
  }

  std::vector<py::dict> Versions(const std::string& name) {
    Result<std::vector<BlobInfo>> r = std::vector<BlobInfo>{};
    {
      py::gil_scoped_release release;
      r = store_.Versions(name);
    }
    std::vector<py::dict> out;
    for (const BlobInfo& b : Check(std::move(r))) out.push_back(InfoDict(b));
    return out;
  }

  // Problems found (one line each); an empty list means all is well.
  py::dict Verify(std::optional<std::string> name) {
    VerifyOptions o;
    if (name) o.name = *name;
    Result<VerifyReport> r = VerifyReport{};
    {
      py::gil_scoped_release release;
      r = store_.Verify(o);
    }
    VerifyReport v = Check(std::move(r));
    py::dict d;
    d["objects"] = v.objects;
    d["frames"] = v.frames;
    d["bytes"] = v.bytes;
    d["problems"] = v.problems;
    d["errors"] = v.errors;
    return d;
  }

  std::unique_ptr<PyReader> OpenFile(const std::string& name) {
    Result<std::unique_ptr<File>> r = Fail(ErrorCode::kInternal, "unset");
    {
      py::gil_scoped_release release;
      r = store_.OpenFile(name);
    }
    return std::make_unique<PyReader>(Check(std::move(r)));
  }

  py::dict CacheStats() const {
    ReaderStats s = store_.reader_stats();
    py::dict d;
    d["store_requests"] = s.store_requests;
    d["store_bytes"] = s.store_bytes;
    d["memory_hits"] = s.memory_hits;
    d["disk_hits"] = s.disk_hits;
    d["misses"] = s.misses;
    return d;
  }

  std::string url() const { return store_.url(); }

 private:
  static Store Open(const std::string& url, bool create, std::optional<std::string> cache_dir,
                    uint64_t memory_cache_bytes) {
    StoreOptions o;
    o.mode = create ? StoreOpenMode::kCreate : StoreOpenMode::kExisting;
    o.reader.memory_cache_bytes = memory_cache_bytes;
    if (cache_dir) {
      o.reader.disk_cache = true;
      o.reader.disk_cache_dir = *cache_dir;
    }
    Result<Store> s = Fail(ErrorCode::kInternal, "unset");
    {
      py::gil_scoped_release release;
      s = Store::Open(url, o);
    }
    return Check(std::move(s));
  }

  static int FilenoOf(const py::object& src) {
    if (!py::hasattr(src, "fileno")) return -1;
    try {
      return src.attr("fileno")().cast<int>();
    } catch (py::error_already_set&) {
      return -1;  // io.BytesIO and friends: io.UnsupportedOperation
    }
  }

  // One read from a Python file object into dst (GIL held).
  static size_t ReadFromPython(py::object& src, std::span<uint8_t> dst) {
    if (py::hasattr(src, "readinto")) {
      py::memoryview view =
          py::memoryview::from_memory(dst.data(), static_cast<ssize_t>(dst.size()));
      py::object n = src.attr("readinto")(view);
      view.attr("release")();
      if (n.is_none()) return 0;  // a non-blocking stream with nothing: treat as the end
      return std::min(n.cast<size_t>(), dst.size());
    }
    py::bytes b = src.attr("read")(dst.size());
    std::string_view s = b;
    const size_t n = std::min(s.size(), dst.size());
    std::memcpy(dst.data(), s.data(), n);
    return n;
  }

  Store store_;
};

// Reader.pread(offset, length) -> bytes, as a plain CPython method
// (METH_FASTCALL) rather than through pybind11's dispatcher: on a warm 4 KiB
// read the dispatcher's generic argument handling cost more instructions
// (about 1,800 under callgrind) than the read itself (about 1,000, the copy
// included). What remains is the bytes object, the GIL release and the read.
PyObject* FastPread(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "pread(offset, length) takes 2 arguments");
    return nullptr;
  }
  const unsigned long long offset = PyLong_AsUnsignedLongLong(args[0]);
  if (offset == static_cast<unsigned long long>(-1) && PyErr_Occurred()) return nullptr;
  const size_t length = PyLong_AsSize_t(args[1]);
  if (length == static_cast<size_t>(-1) && PyErr_Occurred()) return nullptr;
  try {
    PyReader& r = py::handle(self).cast<PyReader&>();
    return r.Pread(offset, length).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const py::cast_error&) {
    PyErr_SetString(PyExc_TypeError, "pread: not a hugeblob Reader");
    return nullptr;
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  }
}

PyMethodDef g_fast_pread = {
    "pread", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(FastPread)), METH_FASTCALL,
    "pread(offset, length) -> bytes: the bytes at offset (fewer at the "
    "end of the file, none past it)"};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "hugeblob: huge files in a local or S3 store, read lazily";
  g_error = py::reinterpret_borrow<py::object>(
      PyErr_NewException("hugeblob.Error", PyExc_OSError, nullptr));
  m.attr("Error") = g_error;
  py::class_<PyBlock>(m, "Block", py::buffer_protocol())
      .def_buffer([](PyBlock& b) {
        return py::buffer_info(const_cast<uint8_t*>(b.buf.data()), 1,
                               py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<ssize_t>(b.buf.size())}, {1}, /*readonly=*/true);
      })
      .def("__len__", [](const PyBlock& b) { return b.buf.size(); });
  py::class_<PyReader> reader(m, "Reader");
  reader.def_property_readonly("size", &PyReader::size)
      .def("readinto_at", &PyReader::ReadInto, py::arg("offset"), py::arg("buffer"),
           "Reads up to len(buffer) bytes at offset into buffer; returns the count")
      .def("seek_data", &PyReader::SeekData, py::arg("offset"), py::arg("hole") = false,
           "SEEK_DATA (or SEEK_HOLE with hole=True); -1 when there is none")
      .def("block", &PyReader::Block, py::arg("index"))
      .def("block_at", &PyReader::BlockAt, py::arg("offset"))
      .def_property_readonly("blocks", &PyReader::Blocks)
      .def("will_need", &PyReader::WillNeed, py::arg("offset"), py::arg("length"))
      .def("info", &PyReader::Info);
  {
    PyObject* descr =
        PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(reader.ptr()), &g_fast_pread);
    if (descr == nullptr) throw py::error_already_set();
    reader.attr("pread") = py::reinterpret_steal<py::object>(descr);
  }
  py::class_<PyStore>(m, "Store")
      .def(py::init<const std::string&, bool, std::optional<std::string>, uint64_t>(),
           py::arg("url"), py::arg("create") = false, py::arg("cache_dir") = py::none(),
           py::arg("memory_cache_bytes") = uint64_t{64} << 20)
      .def_property_readonly("url", &PyStore::url)
      .def("put", &PyStore::Put, py::arg("src"), py::arg("name"), py::arg("sha256") = false)
      .def("get", &PyStore::Get, py::arg("name"), py::arg("out"), py::arg("force") = false,
           py::kw_only(), py::arg("seeds") = std::vector<py::object>{},
           py::arg("seed_dirs") = std::vector<py::object>{}, py::arg("seed_target") = true,
           py::arg("in_place") = false, py::arg("verify_target") = false)
      .def("ls", &PyStore::Ls, py::arg("prefix") = "")
      .def("versions", &PyStore::Versions, py::arg("name"))
      .def("stat", &PyStore::Stat, py::arg("name"))
      .def("remove", &PyStore::Remove, py::arg("name"))
      .def("verify", &PyStore::Verify, py::arg("name") = py::none())
      .def("cache_stats", &PyStore::CacheStats)
      .def("_open", &PyStore::OpenFile, py::arg("name"));
}
