#pragma once

namespace hugeblob::cli {

// Exit statuses: 0 success; 1 failure (the message says what); 2 bad usage;
// 3 verify found corrupt or missing objects; 130/143 interrupted by
// SIGINT/SIGTERM.
int Main(int argc, char** argv);

}  // namespace hugeblob::cli
