// Helpers for the reader's tests and benchmark (not part of the library):
// test data, and a stored file built by hand in any store, the way the
// writer lays it out (fixed-size chunks, one frame per chunk, frames packed
// into packs with a trailer, a manifest, a ref), without the writer.
#pragma once

#include <stdlib.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "format/manifest_codec.h"
#include "format/pack.h"
#include "format/pack_codec.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/store.h"
#include "testing/temp_dir.h"
#include "util/fs.h"
#include "util/zeros.h"

namespace hugeblob::reader_test {

// `size` bytes cut in `chunk`-sized pieces, each either random
// (incompressible), text-like (compressible), all zero (a hole), or a copy
// of an earlier piece (a duplicate chunk), in a pattern fixed by `seed`.
inline Buffer MakeData(size_t size, size_t chunk, uint64_t seed, bool holes_and_dups = true) {
  Buffer b = Buffer::Allocate(size);
  uint8_t* p = b.mutable_data();
  std::mt19937_64 rng(seed);
  static const char* kWords[] = {"alpha ", "block ", "chunk ", "delta ", "frame ", "gamma ",
                                 "hash ",  "index ", "pack ",  "zstd ",  "lz4 ",   "ref "};
  for (size_t off = 0, n = 0; off < size; off += chunk, ++n) {
    size_t len = std::min(chunk, size - off);
    int kind = static_cast<int>(rng() % 8);
    if (holes_and_dups && kind == 0) {
      std::memset(p + off, 0, len);
    } else if (holes_and_dups && kind == 1 && off >= chunk && len == chunk) {
      size_t src = (rng() % (off / chunk)) * chunk;
      std::memmove(p + off, p + src, len);
    } else if (kind < 5) {
      for (size_t i = 0; i < len;) {
        const char* w = kWords[rng() % 12];
        for (; *w != '\0' && i < len; ++w) p[off + i++] = static_cast<uint8_t>(*w);
      }
    } else {
      for (size_t i = 0; i < len; i += 8) {
        uint64_t v = rng();
        std::memcpy(p + off + i, &v, std::min<size_t>(8, len - i));
      }
    }
  }
  return b;
}

struct BlobLayout {
  uint32_t chunk = 64 * 1024;
  Codec codec = Codec::kLz4;
  uint64_t pack_bytes = 1 << 20;      // a pack is sealed once its frames reach this
  HashAlgo hash = HashAlgo::kBlake3;  // names the chunks
};

// Stores `data` under ref `name`: frames in packs, a manifest and a ref, at
// the layout keys. Returns the manifest. Chunks are deduplicated within the
// file; all-zero chunks are holes.
inline Result<Manifest> StoreBlob(ObjectStore& store, std::string_view name, const Buffer& data,
                                  const BlobLayout& layout) {
  Manifest m;
  m.size = data.size();
  m.chunk_hash = layout.hash;
  m.sha256 = Sha256Of(data.span());
  m.chunker = ChunkerParams{ChunkerKind::kFixed, layout.chunk, layout.chunk, layout.chunk};
  m.created_unix = 1700000000;

  BufferChain pack;
  std::vector<PackEntry> entries;
  std::vector<size_t> pending;  // frames waiting for their pack's id
  std::map<ChunkId, FrameRef> stored;
  auto seal = [&]() -> Status {
    if (entries.empty()) return OkStatus();
    Buffer trailer = EncodePackTrailer(entries, pack.size());
    Hash256 id = Sha256Of(trailer.span());
    pack.Append(trailer);
    HB_TRY(store.Put(PackKey(id), pack));
    m.packs.push_back(id);
    for (size_t f : pending) {
      m.frames[f].pack = static_cast<uint32_t>(m.packs.size() - 1);
      stored[m.frames[f].chunk] = m.frames[f];
    }
    pack = BufferChain();
    entries.clear();
    pending.clear();
    return OkStatus();
  };

  for (uint64_t off = 0; off < data.size(); off += layout.chunk) {
    Buffer chunk = data.Slice(off, layout.chunk);
    FrameRef f;
    f.offset = off;
    f.length = static_cast<uint32_t>(chunk.size());
    f.hash = layout.hash;
    if (IsAllZero(chunk.span())) {
      f.zero = true;
      m.frames.push_back(f);
      continue;
    }
    f.chunk = ChunkHash(layout.hash, chunk.span());
    if (auto it = stored.find(f.chunk); it != stored.end()) {
      FrameRef dup = it->second;
      dup.offset = off;
      m.frames.push_back(dup);
      continue;
    }
    bool in_open_pack = false;
    for (size_t p : pending) {
      if (m.frames[p].chunk == f.chunk) {
        FrameRef dup = m.frames[p];
        dup.offset = off;
        m.frames.push_back(dup);
        pending.push_back(m.frames.size() - 1);
        in_open_pack = true;
        break;
      }
    }
    if (in_open_pack) continue;
    HB_ASSIGN_OR_RETURN(Frame frame, EncodeFrame(layout.codec, DefaultLevel(layout.codec), chunk));
    f.codec = frame.codec;
    f.stored_offset = pack.size();
    f.stored_length = static_cast<uint32_t>(frame.bytes.size());
    entries.push_back(PackEntry{f.chunk, f.stored_offset, f.stored_length, f.length, f.codec});
    pack.Append(frame.bytes);
    m.frames.push_back(f);
    pending.push_back(m.frames.size() - 1);
    if (pack.size() >= layout.pack_bytes) HB_TRY(seal());
  }
  HB_TRY(seal());

  HB_ASSIGN_OR_RETURN(Buffer manifest_bytes, EncodeManifest(m));
  Hash256 manifest_id = Sha256Of(manifest_bytes.span());
  HB_TRY(store.Put(ManifestKey(manifest_id), manifest_bytes));
  Ref ref;
  ref.manifest = manifest_id;
  ref.size = m.size;
  ref.created_unix = m.created_unix;
  HB_TRY(store.Put(RefKey(name), EncodeRef(ref)));
  return m;
}

}  // namespace hugeblob::reader_test
