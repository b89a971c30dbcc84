// hugeblob::Store (include/hugeblob/hugeblob.h): the public handle on a
// store, a thin layer over the library's own parts: the ObjectStore, one
// ReaderContext shared by the Files it opens, and the put/get/admin
// operations. Nothing here reads the format itself: opening a name goes
// through ops/load.h, reading through the BlobReader.
//
// Putting from a file descriptor or a stream: the writer reads a path (it
// needs to open, fstat and, for a regular file, seek the input to skip
// holes). A descriptor is handed to it as /proc/self/fd/N, which reopens the
// same file (a regular file from offset 0, a pipe as the same pipe). A
// socket cannot be reopened that way, and a stream is not a descriptor at
// all: those are pumped through a pipe by a feeder thread (the pipe's 64 KiB
// are all the memory it adds). An error of the stream must fail the put,
// not end the input early and store a truncated file: the feeder first sets
// the put's cancel token, then closes the pipe, so the writer sees the token
// set when it sees the end of the input and writes no name.

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <istream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/file_impl.h"
#include "format/manifest.h"
#include "hugeblob/hugeblob.h"
#include "ops/load.h"
#include "reader/blob_reader.h"

namespace hugeblob {

struct Store::Impl {
  std::shared_ptr<ObjectStore> objects;
  std::shared_ptr<ReaderContext> context;
};

namespace {

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Pumps a stream into the write end of a pipe on its own thread while a put
// reads the other end; see the top of this file. Also forwards the caller's
// cancel token to the put's own one (polled every kPollMs while the put runs).
class StreamFeeder {
 public:
  static constexpr int kPollMs = 50;

  StreamFeeder(ReadFn read, const CancelToken* user_cancel)
      : read_(std::move(read)), user_cancel_(user_cancel) {}
  ~StreamFeeder() { Stop(); }

  // Creates the pipe and starts the thread; the put reads path().
  Status Start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Fail(ErrnoError(errno, "pipe for a stream put"));
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    thread_ = std::thread([this] { Run(); });
    return OkStatus();
  }
  std::string path() const { return FdPath(read_fd_); }
  const CancelToken* token() const { return &cancel_; }

  // After the put returned: ends the thread (a put that failed early leaves
  // the stream unread: closing the read end makes the pump's write fail).
  void Stop() {
    done_.store(true);
    if (read_fd_ >= 0) {
      ::close(read_fd_);
      read_fd_ = -1;
    }
    if (thread_.joinable()) thread_.join();
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = -1;
  }

  // The stream's own error, if it failed (read after Stop).
  const std::optional<Error>& error() const { return error_; }

 private:
  bool UserCancelled() const { return user_cancel_ != nullptr && user_cancel_->cancelled(); }

  void Run() {
    // A write to a pipe whose reader is gone raises SIGPIPE in the writing
    // thread: blocked here, the write returns EPIPE instead (and the pending
    // signal goes with the thread).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    Pump();
    // The end of the stream (or its failure, the token set first) is what
    // the put sees next.
    ::close(write_fd_);
    write_fd_ = -1;
    // Keep forwarding a cancellation until the put returns.
    while (!done_.load()) {
      if (UserCancelled()) cancel_.Cancel();
      ::poll(nullptr, 0, kPollMs);
    }
  }

  void Pump() {
    std::vector<uint8_t> buf(256 << 10);
    for (;;) {
      if (UserCancelled() || done_.load()) {
        cancel_.Cancel();
        return;
      }
      Result<size_t> n = read_(buf);
      if (!n) {
        error_ = n.error();
        cancel_.Cancel();
        return;
      }
      if (*n == 0) return;
      if (*n > buf.size()) {
        error_ = Error(ErrorCode::kInvalidArgument,
                       "the stream's read function returned more bytes than asked for");
        cancel_.Cancel();
        return;
      }
      size_t off = 0;
      while (off < *n) {
        struct pollfd p = {write_fd_, POLLOUT, 0};
        int pr = ::poll(&p, 1, kPollMs);
        if (UserCancelled() || done_.load()) {
          cancel_.Cancel();
          return;
        }
        if (pr <= 0) continue;  // timeout (or EINTR): look at the tokens again
        ssize_t w = ::write(write_fd_, buf.data() + off, *n - off);
        if (w < 0) {
          if (errno == EINTR || errno == EAGAIN) continue;
          return;  // EPIPE: the put stopped reading (it failed); its error wins
        }
        off += static_cast<size_t>(w);
      }
    }
  }

  ReadFn read_;
  const CancelToken* user_cancel_;
  CancelToken cancel_;
  std::atomic<bool> done_{false};
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::optional<Error> error_;  // written by the thread, read after join
  std::thread thread_;
};

Result<PutResult> PutThroughFeeder(const std::shared_ptr<ObjectStore>& objects, ReadFn read,
                                   const PutOptions& options) {
  StreamFeeder feeder(std::move(read), options.cancel);
  HB_TRY(feeder.Start());
  PutOptions o = options;
  o.cancel = feeder.token();
  Result<PutResult> r = Put(objects, feeder.path(), o);
  feeder.Stop();
  if (feeder.error()) {
    return Fail(feeder.error()->Wrap("put " + options.name + ": reading the stream"));
  }
  return r;
}

// The library logs through spdlog's default logger, which starts out
// printing every info line to standard output: into the data of a program
// that writes a range to stdout. The first Store of a process that has not
// set a logger of its own (spdlog's initial one is unnamed) gets the CLI's
// setting instead: warnings only, on standard error.
void QuietLibraryLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto current = spdlog::default_logger();
    if (current == nullptr || !current->name().empty()) return;
    auto logger = spdlog::get("hugeblob");
    if (logger == nullptr) logger = spdlog::stderr_color_mt("hugeblob");
    logger->set_pattern("hugeblob: %l: %v");
    logger->set_level(spdlog::level::warn);
    spdlog::set_default_logger(logger);
  });
}

}  // namespace

Result<Store> Store::Open(std::string_view url, const StoreOptions& options) {
  QuietLibraryLogging();
  HB_ASSIGN_OR_RETURN(auto objects, OpenStore(url, options.mode));
  return Wrap(std::move(objects), options);
}

Result<Store> Store::Wrap(std::shared_ptr<ObjectStore> objects, const StoreOptions& options) {
  if (objects == nullptr) return Fail(ErrorCode::kInvalidArgument, "Store::Wrap: no store");
  QuietLibraryLogging();
  auto impl = std::make_shared<Impl>();
  impl->objects = std::move(objects);
  HB_ASSIGN_OR_RETURN(impl->context, ReaderContext::Create(options.reader));
  return Store(std::move(impl));
}

std::string Store::url() const { return impl_->objects->url(); }
const std::shared_ptr<ObjectStore>& Store::objects() const { return impl_->objects; }

Result<PutResult> Store::Put(const std::string& path, const PutOptions& options) const {
  return hugeblob::Put(impl_->objects, path, options);
}

Result<PutResult> Store::PutFd(int fd, const PutOptions& options) const {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "put " + options.name + ": file descriptor " + std::to_string(fd) + " is not open");
  }
  if (!S_ISSOCK(st.st_mode)) return hugeblob::Put(impl_->objects, FdPath(fd), options);
  ReadFn read = [fd](std::span<uint8_t> dst) -> Result<size_t> {
    for (;;) {
      ssize_t n = ::read(fd, dst.data(), dst.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Fail(ErrnoError(errno, "read fd " + std::to_string(fd)));
    }
  };
  return PutThroughFeeder(impl_->objects, std::move(read), options);
}

Result<PutResult> Store::PutStream(const ReadFn& read, const PutOptions& options) const {
  if (!read) return Fail(ErrorCode::kInvalidArgument, "put " + options.name + ": no stream");
  return PutThroughFeeder(impl_->objects, read, options);
}

Result<PutResult> Store::PutStream(std::istream& in, const PutOptions& options) const {
  ReadFn read = [&in](std::span<uint8_t> dst) -> Result<size_t> {
    in.read(reinterpret_cast<char*>(dst.data()), static_cast<std::streamsize>(dst.size()));
    if (in.bad()) return Fail(ErrorCode::kIOError, "the input stream failed");
    return static_cast<size_t>(in.gcount());
  };
  return PutThroughFeeder(impl_->objects, std::move(read), options);
}

Result<GetResult> Store::Get(const std::string& name, const std::string& out,
                             const GetOptions& options) const {
  return hugeblob::Get(impl_->objects, name, out, options);
}

Result<std::vector<BlobInfo>> Store::List(const std::string& prefix) const {
  return ListBlobs(impl_->objects, prefix);
}
Result<std::vector<BlobInfo>> Store::Versions(const std::string& name) const {
  return ListBlobVersions(impl_->objects, name);
}
Result<BlobStat> Store::Stat(const std::string& name) const {
  return StatBlob(impl_->objects, name);
}
Result<size_t> Store::Remove(const std::string& name) const {
  return RemoveBlob(impl_->objects, name);
}
Result<VerifyReport> Store::Verify(const VerifyOptions& options) const {
  return hugeblob::Verify(impl_->objects, options);
}

Result<std::unique_ptr<File>> Store::OpenFile(std::string_view name) const {
  const std::string n(name);
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(*impl_->objects, n));
  // The manifest's top only: a segmented frame table is loaded by the reader
  // a segment at a time, as reads need it.
  HB_ASSIGN_OR_RETURN(Manifest m,
                      LoadManifestOfRef(*impl_->objects, n, ref, nullptr, /*top_only=*/true));
  auto manifest = std::make_shared<const Manifest>(std::move(m));
  HB_ASSIGN_OR_RETURN(auto reader,
                      BlobReader::Open(impl_->context, impl_->objects, manifest, "'" + n + "'"));
  return MakeFile(std::move(reader), n, ref);
}

ReaderStats Store::reader_stats() const { return impl_->context->stats(); }

}  // namespace hugeblob
