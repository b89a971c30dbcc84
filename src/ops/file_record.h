// What hugeblob knows of a file it restored: a record, kept beside the disk
// cache ($XDG_CACHE_HOME/hugeblob/files/<dev>-<inode>), of the chunk list
// a get wrote into that file and the file's identity and times right after.
//
// A later get --in-place that finds its target unchanged since (same
// device, inode, size, modification and change times to the nanosecond)
// knows its chunks without reading it, and leaves the chunks that are
// where the new version wants them unread but for a sample (see
// SeedScanOptions::first_record). This is the quick check of restic, borg,
// git's index and rsync: the kernel updates the change time on every
// write, truncate, chmod and rename, and nobody can set it back. Its blind
// spots are theirs: bytes that change below the file system (a disk that
// rots, a write to the raw device). Every chunk a get reads from the
// target or a seed is still checked against its id, so the record decides
// only what is left unread in place.
//
// A record is written only when the file's modification time differs from
// its change time. A write sets each of the two to "now" when it differs
// from now: a later write in a later clock tick moves the change time, and
// one in the tick of the last change (the change time's) moves the
// modification time. With the two equal, a write in that tick could leave
// both as they were and the record would vouch for bytes it never saw. A
// get that restores the modification time put recorded (the default)
// always meets this (a time from another machine's clock, even ahead of
// this one, too). And only on local file systems that
// keep these times themselves (ext4, XFS, btrfs, tmpfs, F2FS, ZFS,
// bcachefs): not over NFS or SMB (another client's write shows only once
// attributes are revalidated), FUSE or overlayfs (their times are what the
// daemon or the layers say).
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/error.h"

namespace hugeblob {

// Records kept at most; the oldest go first.
inline constexpr size_t kMaxFileRecords = 4096;

// <cache_dir or the disk cache's default directory>/files; empty when there
// is no default (no $XDG_CACHE_HOME or $HOME).
std::string FileRecordDir(const std::string& cache_dir);

// The frames (offset, length, zero, chunk id and its hash) of the file
// `st` describes, when `dir` holds a record of it that matches `st`
// exactly and is intact. Anything else (no record, another file that got
// the inode, a changed file, a torn or foreign record) is nullopt.
std::optional<std::vector<FrameRef>> ReadFileRecord(const std::string& dir, const struct stat& st);

// Records that the file open as `fd` holds `frames` (`m`'s, the bytes a
// get just wrote and checked). Best effort: a record not written (the
// times say it could not be trusted, the directory is not writable) only
// costs the next get a read of the file; false then. Prunes the directory
// to kMaxFileRecords.
bool WriteFileRecord(const std::string& dir, int fd, const Manifest& m);

// Forgets the record of the file `st` describes (before the file changes).
void RemoveFileRecord(const std::string& dir, const struct stat& st);

}  // namespace hugeblob
