"""hugeblob: store huge files in a local directory or an S3 store, read them lazily.

    import hugeblob
    store = hugeblob.Store("/srv/blobs", create=True)
    store.put("model.safetensors", "model/v1")   # a path, or a binary file object
    with store.open("model/v1") as f:          # an io.RawIOBase: read, readinto, seek
        header = f.pread(0, 8)                  # or f.read(8); no stream cursor needed
        arr = numpy.frombuffer(f.pread(off, n), dtype=numpy.float16)
        view = f.block(0)                       # memoryview of a cached block, no copy

Reads fetch only the chunks they touch, verify each against its id, and
release the GIL, so threads may read one file (and one File) in parallel.
"""
import io
import os

from ._core import Error, Reader, Store as _Store  # noqa: F401

__all__ = ["Store", "File", "Error"]


class File(io.RawIOBase):
    """A stored file opened for reading: seekable, readinto without copies."""

    def __init__(self, reader: Reader, name: str):
        super().__init__()
        self._r = reader
        self._pos = 0
        self.name = name
        # The fast path of pread: the reader's own method, called directly
        # (a Python-level wrapper costs about as much as a cached read).
        # close() takes it away, so the method below reports the closed file.
        self.pread = reader.pread

    def close(self) -> None:
        self.__dict__.pop("pread", None)
        super().close()

    @property
    def size(self) -> int:
        return self._r.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        self._checkClosed()
        n = self._r.readinto_at(self._pos, memoryview(b).cast("B"))
        self._pos += n
        return n

    def pread(self, offset: int, length: int) -> bytes:
        """Bytes at offset, independent of the current position."""
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        return self._r.pread(offset, length)

    def readinto_at(self, offset: int, b) -> int:
        """Reads into b at offset, independent of the current position."""
        self._checkClosed()
        return self._r.readinto_at(offset, memoryview(b).cast("B"))

    @property
    def blocks(self) -> int:
        """The number of blocks (chunks as put cut them)."""
        return self._r.blocks

    def block(self, index: int) -> memoryview:
        """Block `index`, decoded: a read-only memoryview of the cached bytes
        (no copy), valid as long as the view is referenced."""
        self._checkClosed()
        return memoryview(self._r.block(index))

    def block_at(self, offset: int):
        """(index, offset, length, hole) of the block holding byte `offset`;
        the next block starts at offset + length."""
        self._checkClosed()
        return self._r.block_at(offset)

    def will_need(self, offset: int, length: int) -> None:
        """Read-ahead hint: fetch [offset, offset+length) in the background."""
        self._checkClosed()
        self._r.will_need(offset, length)

    def info(self) -> dict:
        """Size, digest, version (manifest id), mode, mtime, block count."""
        return self._r.info()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        elif whence == os.SEEK_END:
            pos = self.size + offset
        elif whence in (getattr(os, "SEEK_DATA", 3), getattr(os, "SEEK_HOLE", 4)):
            p = self._r.seek_data(offset, whence == getattr(os, "SEEK_HOLE", 4))
            if p < 0:
                raise OSError(6, "no more data", self.name)  # ENXIO, as lseek
            pos = p
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos


class Store(_Store):
    """A store by URL: a path, file:///path or s3://bucket/prefix.

    create=True makes the store if it does not exist (as `hugeblob init`);
    otherwise a missing store is an error. Reads are cached in memory
    (memory_cache_bytes, shared by the files opened here); cache_dir= also
    caches them on disk, in a directory other processes may share.

    put(src, name) takes a path or a binary file object (a file, a pipe, a
    socket, io.BytesIO, anything with readinto or read) and returns a dict
    (size, digest, manifest, chunks, ...). ls(), stat(name), remove(name),
    verify(name=None) and get(name, out) are the CLI's commands.

    get(name, out, force=False, *, seeds=(), seed_dirs=(), seed_target=True,
    in_place=False, verify_target=False) restores `name` atomically into the path `out` and
    returns where its bytes came from (fetched_bytes, seeded_bytes,
    in_place_bytes, ...). seeds are local files (an older version) whose
    chunks are taken instead of fetched, each checked against its id;
    seed_dirs are directories of such files. With force, an existing `out`
    is replaced and is the first seed (seed_target=False: not). in_place
    updates an existing `out` where it stands, writing only what differs:
    not atomic (an interrupted update leaves a mix; the same call again
    finishes it), for files too large to hold twice. In place, a file get
    wrote and nothing changed since (its size and times, as hugeblob
    recorded them) is not read again where it holds what `name` needs, but
    for a sample (recorded_bytes); verify_target=True reads and checks it
    all the same.
    """

    def open(self, name: str) -> File:
        """The stored file `name`, for reading (FileNotFoundError if none)."""
        return File(self._open(name), name)
