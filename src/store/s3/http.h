// A small HTTP client on libcurl for the S3 store.
//
// Connection reuse: easy handles are pooled and handed back after each
// request with their connections open, so consecutive requests of a thread
// (and of the next thread that takes the handle) skip TCP and TLS setup.
// HTTP/2 is negotiated by ALPN where the server offers it over TLS; plain
// http:// and servers without h2 get HTTP/1.1.
//
// Bodies are streamed from the caller's BufferChain through
// CURLOPT_READFUNCTION (curl copies into its socket buffer; we never build a
// contiguous copy), and CURLOPT_SEEKFUNCTION lets curl rewind when it must
// resend. Perform returns only after curl is done with the handle, so once it
// returns nothing reads the body any more.
//
// Responses of a known length are received into one Buffer of exactly that
// size. Transport failures are errors (kNetwork / kTimeout, retryable); any
// HTTP status, 4xx and 5xx included, is a successful Perform: the S3 layer
// decides what a status means. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob::s3 {

struct HttpResponse;

struct HttpRequest {
  std::string method;  // GET HEAD PUT POST DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Streamed as the request body when set; must stay alive and unchanged
  // until Perform returns.
  const BufferChain* body = nullptr;
  // When set, a 206 (partial content) response whose announced length fits
  // goes straight into this memory (no buffer of its own, no copy);
  // HttpResponse::into_used and into_filled say so. Any other response is
  // collected in HttpResponse::body as usual. Must stay alive until Perform
  // returns.
  std::span<uint8_t> into;
  // Cut the transfer when less than 1 KiB/s moves for this long (0: never).
  int stall_timeout_s = 30;
  // A hard deadline for the whole request (0: none).
  int total_timeout_s = 0;
  int connect_timeout_s = 10;
  // False for cleanup requests (AbortMultipartUpload after Ctrl-C) and
  // credential fetches: Ctrl-C does not stop them, so they must be bounded by
  // total_timeout_s instead.
  bool cancellable = true;
  // For a cancellable request: after Ctrl-C the transfer is cut at once (0),
  // or only after this many more seconds, so that a request whose answer is
  // needed to clean up (CreateMultipartUpload: the upload id to abort) can
  // finish.
  int cancel_grace_s = 0;
  // Called once the status line and headers are in, before the body. If it
  // returns true the transfer stops there and Perform returns the response
  // with an empty body and `stopped_after_headers` set (the connection is
  // dropped). For answers whose headers already tell the whole story, such
  // as a server announcing a body it will never send.
  std::function<bool(const HttpResponse&)> stop_after_headers;
  // Used in error messages instead of the URL (which must not leak anything
  // the caller considers private; S3 URLs here hold none, but callers name
  // the object more usefully than the URL does).
  std::string what;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  Buffer body;
  bool stopped_after_headers = false;
  bool into_used = false;  // the body went to HttpRequest::into
  size_t into_filled = 0;  // bytes of it written there

  // The value of the first header with this (lower-case) name, or "".
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Perform(const HttpRequest& req);

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);

  std::mutex mu_;
  std::vector<void*> idle_;  // CURL*; guarded by mu_
};

}  // namespace hugeblob::s3
