#include "store/s3/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>

#include "util/cancel.h"

namespace hugeblob::s3 {
namespace {

// Idle handles kept for reuse; beyond this they are closed (each may hold a
// connection, and a server keeps only so many per client).
constexpr size_t kMaxIdleHandles = 64;
// The largest receive buffer curl accepts; fewer, larger writes into our Buffer.
constexpr long kReceiveBuffer = 512L * 1024;
// The largest upload buffer curl accepts (2 MiB); fewer read callbacks.
constexpr long kUploadBuffer = 2L * 1024 * 1024;
// An error body is a small XML document; anything larger is not one.
constexpr uint64_t kMaxSpill = 64ull << 20;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Streams a BufferChain to curl, piece by piece, and rewinds on request.
struct BodyReader {
  const BufferChain* chain = nullptr;
  size_t piece = 0;     // index of the current piece
  size_t in_piece = 0;  // offset inside it

  void SeekTo(uint64_t offset) {
    piece = 0;
    in_piece = 0;
    const auto& pieces = chain->pieces();
    while (piece < pieces.size() && offset >= pieces[piece].size()) {
      offset -= pieces[piece].size();
      ++piece;
    }
    in_piece = static_cast<size_t>(offset);
  }

  size_t Read(char* dst, size_t cap) {
    size_t n = 0;
    const auto& pieces = chain->pieces();
    while (n < cap && piece < pieces.size()) {
      const Buffer& p = pieces[piece];
      size_t take = std::min(cap - n, p.size() - in_piece);
      std::memcpy(dst + n, p.data() + in_piece, take);
      n += take;
      in_piece += take;
      if (in_piece == p.size()) {
        ++piece;
        in_piece = 0;
      }
    }
    return n;
  }
};

// Collects a response: into one Buffer of the announced length when there is
// one, else into a growing string.
struct BodySink {
  CURL* curl = nullptr;
  Buffer buf;
  size_t filled = 0;
  bool sized = false;
  std::string spill;
  bool overflow = false;
  std::span<uint8_t> into;  // HttpRequest::into
  bool into_used = false;

  size_t Write(const char* p, size_t n) {
    if (!into.empty() && !into_used && !sized && spill.empty()) {
      long status = 0;
      curl_off_t len = -1;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
      into_used = status == 206 && len >= 0 && static_cast<uint64_t>(len) <= into.size();
    }
    if (into_used) {
      if (filled + n > into.size()) {
        overflow = true;  // more than asked for: never past the caller's memory
        return 0;
      }
      std::memcpy(into.data() + filled, p, n);
      filled += n;
      return n;
    }
    if (!sized && spill.empty()) {
      curl_off_t len = -1;
      curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
      if (len > 0) {
        buf = Buffer::Allocate(static_cast<size_t>(len));
        sized = true;
      }
    }
    if (sized && filled + n <= buf.size()) {
      std::memcpy(buf.mutable_data() + filled, p, n);
      filled += n;
      return n;
    }
    if (sized) {
      // More than announced: keep what we have and take the rest as spill.
      spill.assign(reinterpret_cast<const char*>(buf.data()), filled);
      sized = false;
      buf = Buffer();
    }
    if (spill.size() + n > kMaxSpill) {
      overflow = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    spill.append(p, n);
    return n;
  }

  Buffer Take() {
    if (sized) {
      buf.Truncate(filled);
      return std::move(buf);
    }
    return Buffer::Copy(spill);
  }

  void Reset() {
    buf = Buffer();
    filled = 0;
    sized = false;
    spill.clear();
    into_used = false;
  }
};

struct Transfer {
  BodyReader reader;
  BodySink sink;
  HttpResponse* resp = nullptr;
  const HttpRequest* req = nullptr;
  CURL* curl = nullptr;
  bool stopped = false;
  // The stall watchdog: when bytes last moved either way.
  std::chrono::steady_clock::time_point last_progress;
  curl_off_t last_dl = 0, last_ul = 0;
  bool stalled = false;
  // When Ctrl-C was first seen, for cancel_grace_s.
  bool cancel_seen = false;
  std::chrono::steady_clock::time_point cancelled_at;
};

size_t ReadCb(char* dst, size_t size, size_t nitems, void* user) {
  return static_cast<Transfer*>(user)->reader.Read(dst, size * nitems);
}

int SeekCb(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->reader.chain->size())
    return CURL_SEEKFUNC_CANTSEEK;
  t->reader.SeekTo(static_cast<uint64_t>(offset));
  return CURL_SEEKFUNC_OK;
}

size_t WriteCb(char* p, size_t size, size_t nmemb, void* user) {
  // Nothing may unwind through curl's C frames: an allocation failure ends
  // the transfer with a write error instead.
  try {
    return static_cast<Transfer*>(user)->sink.Write(p, size * nmemb);
  } catch (...) {
    return 0;
  }
}

size_t HeaderCbImpl(char* p, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nitems;
  std::string_view line(p, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after a 100 Continue or a rewound retry): start over.
    t->resp->headers.clear();
    t->sink.Reset();
    return n;
  }
  if (line.empty()) {
    // End of a header block. 1xx blocks are followed by another one.
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && t->req->stop_after_headers) {
      t->resp->status = status;
      if (t->req->stop_after_headers(*t->resp)) {
        t->stopped = true;
        return 0;  // ends the transfer (CURLE_WRITE_ERROR), recognised below
      }
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t->resp->headers.emplace_back(std::move(name), std::string(value));
  return n;
}

size_t HeaderCb(char* p, size_t size, size_t nitems, void* user) {
  try {
    return HeaderCbImpl(p, size, nitems, user);
  } catch (...) {
    return 0;
  }
}

// Lets Ctrl-C stop a long transfer instead of waiting for it to finish, and
// cuts a transfer on which no byte has moved for stall_timeout_s. curl's own
// LOW_SPEED_LIMIT/TIME (also set) averages over a window of several seconds,
// so after a burst it notices a dead connection only seconds late; this
// watchdog sees the silence itself. curl calls it at least once a second.
int ProgressCb(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  auto now = std::chrono::steady_clock::now();
  if (t->req->cancellable && ProcessCancelToken().cancelled()) {
    if (t->req->cancel_grace_s <= 0) return 1;
    if (!t->cancel_seen) {
      t->cancel_seen = true;
      t->cancelled_at = now;
    } else if (now - t->cancelled_at > std::chrono::seconds(t->req->cancel_grace_s)) {
      return 1;
    }
  }
  if (dlnow != t->last_dl || ulnow != t->last_ul) {
    t->last_dl = dlnow;
    t->last_ul = ulnow;
    t->last_progress = now;
    return 0;
  }
  if (t->req->stall_timeout_s > 0 &&
      now - t->last_progress > std::chrono::seconds(t->req->stall_timeout_s)) {
    t->stalled = true;
    return 1;
  }
  return 0;
}

Error TransportError(CURLcode rc, const char* errbuf, const HttpRequest& req) {
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  std::string msg = req.what + ": " + detail;
  switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
      return Error(ErrorCode::kCancelled, req.what + ": interrupted");
    case CURLE_OPERATION_TIMEDOUT:
      return Error(ErrorCode::kTimeout, msg + " (stalled or timed out)", true);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_READ_ERROR:
      return Error(ErrorCode::kNetwork, msg, true);
    case CURLE_SEND_FAIL_REWIND:
      return Error(ErrorCode::kNetwork, msg + " (could not rewind the body)", true);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Error(ErrorCode::kNetwork, msg + " (TLS certificate problem)", false);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Error(ErrorCode::kInvalidArgument, msg, false);
    default:
      return Error(ErrorCode::kNetwork, msg, true);
  }
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

HttpClient::HttpClient() { GlobalInit(); }

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::TakeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReturnHandle(void* handle) {
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

Result<HttpResponse> HttpClient::Perform(const HttpRequest& req) {
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) return Fail(ErrorCode::kInternal, req.what + ": curl_easy_init failed");
  // Reset clears the options of the previous request but keeps the handle's
  // open connections, which is the point of pooling it.
  curl_easy_reset(curl);

  HttpResponse resp;
  Transfer t;
  t.resp = &resp;
  t.req = &req;
  t.curl = curl;
  t.sink.curl = curl;
  t.sink.into = req.into;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_slist* headers = nullptr;
  for (const std::string& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  // No "Expect: 100-continue" (a round trip per part, and not every server
  // answers it), no default Accept, no form content type on POST.
  headers = curl_slist_append(headers, "Expect:");
  headers = curl_slist_append(headers, "Accept:");
  if (req.method == "POST" && !req.body) headers = curl_slist_append(headers, "Content-Type:");

  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect changes the signed host
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "hugeblob/0.1");
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  // Do not reuse a connection idle for more than 4 s: servers close idle
  // connections (Node-based ones after 5 s), and a request racing that
  // close is resent by curl after the server may have seen part of it.
  curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 4L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(req.connect_timeout_s));
  if (req.stall_timeout_s > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.stall_timeout_s));
  }
  if (req.total_timeout_s > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(req.total_timeout_s));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCb);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteCb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, ProgressCb);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  t.last_progress = std::chrono::steady_clock::now();

  static const BufferChain kEmpty;
  const BufferChain* body = req.body ? req.body : &kEmpty;
  t.reader.chain = body;
  if (req.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBuffer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else if (req.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.method == "PUT" || req.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCb);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekCb);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
  }

  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  // Drop pointers into this stack frame before the handle is shared again.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);

  if (rc == CURLE_WRITE_ERROR && t.stopped) {
    curl_easy_cleanup(curl);  // the connection has a body in flight: drop it
    resp.status = status;
    resp.stopped_after_headers = true;
    return resp;
  }
  if (rc != CURLE_OK) {
    Error e = (rc == CURLE_WRITE_ERROR && t.sink.overflow)
                  ? Error(ErrorCode::kCorruption, req.what + ": response body larger than expected",
                          false)
              : (rc == CURLE_ABORTED_BY_CALLBACK && t.stalled)
                  ? Error(ErrorCode::kTimeout,
                          req.what + ": no data moved for " + std::to_string(req.stall_timeout_s) +
                              " s (stalled connection)",
                          true)
                  : TransportError(rc, errbuf, req);
    // A handle whose transfer failed may hold a broken connection; curl
    // would detect it, but a fresh handle is cheaper than reasoning about it.
    curl_easy_cleanup(curl);
    return Fail(std::move(e));
  }
  ReturnHandle(curl);
  resp.status = status;
  if (t.sink.into_used) {
    resp.into_used = true;
    resp.into_filled = t.sink.filled;
  } else {
    resp.body = t.sink.Take();
  }
  return resp;
}

}  // namespace hugeblob::s3
