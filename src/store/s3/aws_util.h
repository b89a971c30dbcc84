// Small helpers shared by the S3 config and the credential chain: reading the
// environment and optional files, the AWS timestamp and form encodings, and a
// reader for the flat JSON documents that credential endpoints answer with.
// Pure functions except Env and ReadFileOrEmpty; thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "hugeblob/error.h"

namespace hugeblob::s3 {

// The value of an environment variable, "" when unset.
std::string Env(const char* name);
// True for "true"/"1"/"yes" in any case (how the SDKs read boolean variables).
bool EnvTrue(const char* name);
// The whole file, or "" when it is missing or unreadable (the AWS files are optional).
std::string ReadFileOrEmpty(const std::string& path);
// "~/x" -> "$HOME/x".
std::string ExpandHome(std::string path);

// "2024-05-01T12:00:00Z", with optional fractional seconds and a "+hh:mm"
// offset instead of "Z" (what STS, IMDS, ECS and credential_process send).
std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view s);

// application/x-www-form-urlencoded pairs, "a=1&b=x%2Fy", in the order given.
std::string FormEncode(std::initializer_list<std::pair<std::string_view, std::string_view>> kv);

// A JSON object's top-level members: strings decoded, numbers, true, false
// and null as their literal text; nested objects and arrays are checked and
// skipped. Refuses anything that is not one well-formed object.
Result<std::map<std::string, std::string>> ParseJsonObject(std::string_view text);

}  // namespace hugeblob::s3
