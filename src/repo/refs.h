// Refs and versions (the repo layer of DESIGN.md): the one place that knows how refs are laid out
// in a store, lists them, resolves "NAME", "NAME@N" and "NAME@MANIFEST_PREFIX", publishes a new
// version and removes one. Every command, copy, gc, forget and the mount go through here; nothing
// else parses ref keys.
//
// Layout (docs/format.md, "Refs and versions"):
//
//   names/<NAME>/.v/<STAMP>   one version: a ref object (EncodeRef), written
//                             once, after its manifest, never modified
//                             (except by gc's repack, which rewrites the same
//                             key to point at the repacked manifest)
//   refs/<NAME>               a ref written by the previous release: read as
//                             the name's oldest version
//
// STAMP is "<19-digit unix nanoseconds>-<8 hex random>": versions sort by
// it, so listing a name's versions is one LIST of names/<NAME>/.v/ (plus a
// HEAD of refs/<NAME> for stores made before versions). Two concurrent puts
// to one name write two different keys: both are versions, nothing is read
// and rewritten (S3 has no locks). A name component never starts with '.',
// so ".v" never collides with a name ("a/.v" is not a valid name), and the
// versions of "a" are never mixed with those of "a/b".
//
// Rule for a name that is also a folder: a name may not be a file and a
// folder at once. `put a/b` is refused when "a" has versions, and `put a`
// when some "a/..." has; checked before anything is uploaded
// (CheckNamePlacement), on every store alike. A store that holds both anyway
// (a race between two puts on S3, or an S3 store of the previous release)
// still works by name everywhere; the mount shows the folder and hides the
// file, with a warning.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

inline constexpr std::string_view kNamesPrefix = "names/";

// One version of a name, as listed (the ref object itself is not read).
struct Version {
  std::string name;     // as stored (may fail ValidateName in a hostile store)
  std::string key;      // the ref object's key
  std::string stamp;    // "<ns>-<rand>"; for a legacy ref, derived from its time once loaded
  uint32_t number = 0;  // 1 = oldest
  bool legacy = false;  // refs/<NAME> of the previous release
  // The object as listed (the mount rereads a ref whose object changed).
  uint64_t object_size = 0;
  int64_t object_mtime = 0;
};

// A version with its ref read: `ref` holds the error when the object does
// not decode (a damaged ref is listed, never hides the others).
struct LoadedVersion {
  Version version;
  Result<Ref> ref = Fail(ErrorCode::kInternal, "not loaded");
};

// Every version of `name`, oldest first (a legacy ref first of all),
// numbered from 1. Empty if the name has none.
Result<std::vector<Version>> ListVersions(ObjectStore& store, const std::string& name);

// Every version of every name whose name starts with `prefix` ("" for the
// whole store), grouped by name (names sorted, versions oldest first).
// Objects under names/ that are not versions are skipped (and counted in
// `stray` when given).
Result<std::vector<std::vector<Version>>> ListAllVersions(
    ObjectStore& store, std::string_view prefix = "", std::vector<std::string>* stray = nullptr);

// Reads and decodes one version's ref (bounded: a ref is at most 4096 bytes).
Result<Ref> LoadVersionRef(ObjectStore& store, const Version& v);
// Loads the refs of `versions` in parallel (threads <= 8).
std::vector<LoadedVersion> LoadVersions(ObjectStore& store, std::vector<Version> versions);

// An address: "NAME" (the newest version), "NAME@N" (N-th, 1 = oldest;
// negative counts from the newest: @-1 is the newest) or "NAME@HEX" (the
// version whose manifest id starts with HEX, at least 4 digits, unique).
struct Address {
  std::string name;
  std::string selector;  // "" for the newest
};
Address ParseAddress(std::string_view text);

// The version `address` names, with its ref: kNotFound naming the store when
// there is none, kInvalidArgument for an ambiguous or malformed selector.
// A name that itself contains '@' (made before versions) is found too when
// the text does not address a version of a shorter name.
struct Resolved {
  Version version;
  Ref ref;
  size_t count = 0;  // versions the name has
};
Result<Resolved> ResolveVersion(ObjectStore& store, std::string_view address);

// The rules for a name new versions are published under: ValidateName, and
// no '@' (it addresses versions).
Status ValidateNewName(std::string_view name);

// Refuses `name` if it would be a file and a folder at once: some proper
// prefix "a" of "a/b" has versions, or some name below "name/" exists.
// Names in `also_written` (a copy writing several names at once) do not
// count as conflicts with each other. Run before anything is uploaded.
Status CheckNamePlacement(ObjectStore& store, const std::string& name,
                          const std::set<std::string>* also_written = nullptr);

// Writes a new version of `name` (the ref object, last of everything a put
// or copy writes). `stamp` is given by copy (to keep a version's identity
// and order, and make a rerun idempotent); empty: now plus random. Test
// hook: HB_TEST_CREATED_UNIX=<seconds> sets the ref's created time (and
// the stamp) of new versions (docs/cli.md, "Testing").
Result<Version> PublishVersion(ObjectStore& store, const std::string& name, Ref ref,
                               std::string stamp = "");
// Rewrites an existing version to `ref` (gc's repack: same key, same number).
Status RewriteVersion(ObjectStore& store, const Version& v, const Ref& ref);
// Removes one version.
Status RemoveVersion(ObjectStore& store, const Version& v);

// The stamp of a legacy ref, from its created time (ordering across stores
// for copy: a copied legacy version keeps the same stamp on every rerun).
std::string LegacyStamp(int64_t created_unix);
// Seconds since the epoch: the clock, or HB_TEST_NOW_UNIX in tests.
int64_t NowUnixSeconds();

}  // namespace hugeblob
