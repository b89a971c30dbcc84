"""The Python bindings against a real local store, on real bytes."""
import io
import os
import random
import shutil
import socket
import tarfile
import threading

import pytest

import hugeblob

MB = 1 << 20


@pytest.fixture
def store(tmp_path):
    return hugeblob.Store(str(tmp_path / "store"), create=True)


@pytest.fixture
def data(tmp_path):
    rnd = random.Random(3)
    # Random bytes, a long zero run (a hole when restored) and text.
    body = rnd.randbytes(5 * MB + 123) + bytes(3 * MB) + b"hugeblob " * 100000
    path = tmp_path / "in.bin"
    path.write_bytes(body)
    return path, body


def test_put_ls_get(store, data, tmp_path):
    path, body = data
    r = store.put(str(path), "a/b")
    assert r["size"] == len(body)
    assert len(r["digest"]) == 64
    assert [b["name"] for b in store.ls()] == ["a/b"]
    out = tmp_path / "out.bin"
    store.get("a/b", str(out))
    assert out.read_bytes() == body


def test_get_from_seeds_and_in_place(store, tmp_path):
    """A new version restored from the old one on disk fetches only what
    changed; in place, only what differs is written."""
    rnd = random.Random(5)
    v1 = rnd.randbytes(12 * MB)
    v2 = bytearray(v1)
    v2[3 * MB:3 * MB + 4096] = rnd.randbytes(4096)  # an edit
    v2[8 * MB:8 * MB] = rnd.randbytes(10000)  # an insertion
    v2 = bytes(v2)
    (tmp_path / "v1").write_bytes(v1)
    (tmp_path / "v2").write_bytes(v2)
    store.put(str(tmp_path / "v1"), "f")
    store.put(str(tmp_path / "v2"), "f")

    full = store.get("f", tmp_path / "full")  # os.PathLike too
    assert full["fetched_bytes"] >= len(v2) and full["seeded_bytes"] == 0

    r = store.get("f", tmp_path / "seeded", seeds=[tmp_path / "v1"])
    assert (tmp_path / "seeded").read_bytes() == v2
    assert r["seed_files"] == 1
    assert r["seeded_bytes"] > 8 * MB
    assert r["fetched_bytes"] < 3 * MB

    target = tmp_path / "target"
    shutil.copyfile(tmp_path / "v1", target)
    r = store.get("f", str(target), in_place=True)
    assert target.read_bytes() == v2
    assert r["in_place_bytes"] > 2 * MB
    assert r["fetched_bytes"] < 3 * MB
    again = store.get("f", str(target), in_place=True)
    assert again["fetched_bytes"] == 0 and again["in_place_bytes"] == len(v2)

    # The target is a seed of a forced get unless seed_target=False.
    r = store.get("f", str(target), force=True, seed_target=False)
    assert r["seeded_bytes"] == 0 and target.read_bytes() == v2
    with pytest.raises(FileNotFoundError):
        store.get("f", tmp_path / "x", seed_dirs=[tmp_path / "no-such-dir"])


def test_file_reads_seeks_and_preads(store, data):
    path, body = data
    store.put(str(path), "f")
    with store.open("f") as f:
        assert isinstance(f, io.RawIOBase)
        assert f.size == len(body)
        assert f.read(10) == body[:10]
        f.seek(5 * MB)
        assert f.read(1000) == body[5 * MB:5 * MB + 1000]
        f.seek(-7, os.SEEK_END)
        assert f.read() == body[-7:]
        assert f.pread(1234567, 4096) == body[1234567:1234567 + 4096]
        assert f.pread(len(body) + 5, 10) == b""
        for _ in range(50):
            off = random.randrange(len(body))
            assert f.pread(off, 4096) == body[off:off + 4096]
    with pytest.raises(ValueError):  # closed
        f.pread(0, 10)
    with pytest.raises(TypeError):
        store.open("f")._r.pread(0)
    with pytest.raises(OverflowError):
        store.open("f").pread(-1, 10)


def test_readinto_numpy_and_copyfileobj(store, data, tmp_path):
    np = pytest.importorskip("numpy")
    path, body = data
    store.put(str(path), "f")
    with store.open("f") as f:
        arr = np.empty(MB, dtype=np.uint8)
        assert f.readinto(arr) == MB
        assert arr.tobytes() == body[:MB]
        f.seek(0)
        with open(tmp_path / "copy", "wb") as out:
            shutil.copyfileobj(f, out, 3 * MB + 1)
    assert (tmp_path / "copy").read_bytes() == body


def test_seek_data_and_hole(store, tmp_path):
    path = tmp_path / "sparse"
    with open(path, "wb") as f:
        f.truncate(64 * MB)
        f.seek(40 * MB)
        f.write(random.Random(1).randbytes(2 * MB))
    r = store.put(str(path), "s")
    assert r["holes_skipped"] >= 60 * MB
    with store.open("s") as f:
        assert f.seek(0, os.SEEK_DATA) == 40 * MB
        assert f.seek(40 * MB, os.SEEK_HOLE) == 42 * MB
        with pytest.raises(OSError):
            f.seek(43 * MB, os.SEEK_DATA)


def test_tarfile_member(store, tmp_path):
    member = tmp_path / "member.txt"
    member.write_bytes(b"inside a tar, read lazily\n" * 1000)
    tar_path = tmp_path / "t.tar"
    with tarfile.open(tar_path, "w") as t:
        t.add(member, arcname="member.txt")
    store.put(str(tar_path), "t.tar")
    with store.open("t.tar") as f, tarfile.open(fileobj=f, mode="r:") as t:
        assert t.extractfile("member.txt").read() == member.read_bytes()


def test_threads_read_one_file(store, data):
    path, body = data
    store.put(str(path), "f")
    f = store.open("f")
    errors = []

    def reader(seed):
        rnd = random.Random(seed)
        for _ in range(200):
            off = rnd.randrange(len(body))
            if f.pread(off, 8192) != body[off:off + 8192]:
                errors.append(off)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_errors(store, tmp_path):
    with pytest.raises(FileNotFoundError):
        store.open("missing")
    with pytest.raises(FileNotFoundError):
        hugeblob.Store(str(tmp_path / "nowhere"))  # a store is made on purpose only
    with pytest.raises(FileNotFoundError):
        store.put(str(tmp_path / "no-such-file"), "x")
    with pytest.raises(hugeblob.Error):
        store.put(str(tmp_path), "x")  # a directory is not a file


def test_put_from_file_objects(store, data, tmp_path):
    """A path, an open file (its descriptor), a pipe, and a file object
    without one (io.BytesIO, read through readinto on a library thread that
    takes the GIL: the put must have released it, or this would hang)."""
    path, body = data
    with open(path, "rb") as f:
        assert store.put(f, "from-fd")["size"] == len(body)
    r, w = os.pipe()

    def writer():
        with os.fdopen(w, "wb") as out:
            out.write(body)

    t = threading.Thread(target=writer)
    t.start()
    with os.fdopen(r, "rb") as pipe:
        assert store.put(pipe, "from-pipe")["size"] == len(body)
    t.join()
    a, b = socket.socketpair()

    def sender():
        with b:
            b.sendall(body)

    t = threading.Thread(target=sender)
    t.start()
    with a:
        assert store.put(a, "from-socket")["size"] == len(body)
    t.join()
    assert store.put(io.BytesIO(body), "from-bytesio")["size"] == len(body)
    assert store.put(path, "from-pathlike")["size"] == len(body)  # os.PathLike
    names = ("from-fd", "from-pipe", "from-socket", "from-bytesio", "from-pathlike")
    digests = {store.stat(n)["digest"] for n in names}
    assert len(digests) == 1
    with store.open("from-bytesio") as f:
        assert f.read() == body


def test_put_from_a_failing_stream_writes_no_name(store):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.sent = 0

        def readable(self):
            return True

        def readinto(self, b):
            if self.sent >= 3 * MB:
                raise OSError(5, "the disk went away")
            n = len(b)
            b[:n] = bytes(n)
            self.sent += n
            return n

    with pytest.raises(hugeblob.Error, match="the disk went away"):
        store.put(Broken(), "broken")
    assert [b["name"] for b in store.ls()] == []
    with pytest.raises(FileNotFoundError):
        store.open("broken")


def test_blocks_zero_copy_and_numpy(store, data):
    np = pytest.importorskip("numpy")
    path, body = data
    store.put(str(path), "f")
    with store.open("f") as f:
        assert f.blocks > 1
        _, _, first_len, _ = f.block_at(0)
        index, offset, length, hole = f.block_at(first_len)
        assert index == 1 and offset == first_len
        assert f.block_at(offset + length - 1)[0] == 1
        view = f.block(1)
        assert isinstance(view, memoryview) and view.readonly
        assert view.tobytes() == body[offset:offset + length]
        arr = np.frombuffer(view, dtype=np.uint8)  # no copy: shares the cached block
        assert arr.base is not None and not arr.flags.writeable
        assert bytes(arr[:100]) == body[offset:offset + 100]
        last, lo, ll, _ = f.block_at(len(body) - 1)
        assert last == f.blocks - 1 and lo + ll == len(body)
        with pytest.raises(IndexError):
            f.block_at(len(body))
        with pytest.raises(IndexError):
            f.block(f.blocks)
        info = f.info()
        assert info["size"] == len(body) and info["blocks"] == f.blocks
        assert info["digest"] == store.stat("f")["digest"]
    del f
    # The view keeps its block alive after the file is gone.
    assert view.tobytes() == body[offset:offset + length]


def test_will_need_fetches_ahead(tmp_path, data):
    path, body = data
    s = hugeblob.Store(str(tmp_path / "st"), create=True)
    s.put(str(path), "f")
    s2 = hugeblob.Store(str(tmp_path / "st"))  # fresh cache
    with s2.open("f") as f:
        before = s2.cache_stats()["store_requests"]
        f.will_need(0, 4 * MB)
        import time
        deadline = time.monotonic() + 30
        while s2.cache_stats()["store_requests"] == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert s2.cache_stats()["store_requests"] > before
        assert f.pread(MB, 4096) == body[MB:MB + 4096]


def test_zipfile_and_safetensors_header(store, tmp_path):
    import json
    import struct
    import zipfile

    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("x/readme.txt", "zip members read lazily\n" * 500)
        z.writestr("y.bin", bytes(range(256)) * 4000)
    store.put(str(zpath), "a.zip")
    with store.open("a.zip") as f, zipfile.ZipFile(f) as z:
        assert z.read("y.bin") == bytes(range(256)) * 4000
        assert z.read("x/readme.txt").startswith(b"zip members")
    # safetensors: 8-byte little-endian header length, a JSON header, data.
    np = pytest.importorskip("numpy")
    tensor = np.arange(100000, dtype=np.float32)
    header = json.dumps({"w": {"dtype": "F32", "shape": [100000],
                               "data_offsets": [0, tensor.nbytes]}}).encode()
    spath = tmp_path / "m.safetensors"
    spath.write_bytes(struct.pack("<Q", len(header)) + header + tensor.tobytes())
    store.put(str(spath), "m.safetensors")
    with store.open("m.safetensors") as f:
        (n,) = struct.unpack("<Q", f.pread(0, 8))
        meta = json.loads(f.pread(8, n))
        begin, end = meta["w"]["data_offsets"]
        got = np.frombuffer(f.pread(8 + n + begin, end - begin), dtype=np.float32)
        assert (got == tensor).all()


def test_threads_share_a_file_and_a_store(store, data):
    """Threads reading one File (pread, readinto_at) and opening others on
    the same Store at once, while another thread keeps running Python code:
    the reads release the GIL, and every byte is right."""
    path, body = data
    store.put(str(path), "f")
    shared = store.open("f")
    errors = []
    ticks = [0]
    stop = threading.Event()

    def spinner():
        while not stop.is_set():
            ticks[0] += 1

    def reader(seed):
        rnd = random.Random(seed)
        own = store.open("f")
        buf = bytearray(65536)
        for i in range(300):
            f = shared if i % 2 else own
            off = rnd.randrange(len(body))
            n = f.readinto_at(off, buf)
            if bytes(buf[:n]) != body[off:off + n]:
                errors.append(off)

    spin = threading.Thread(target=spinner)
    spin.start()
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    spin.join()
    assert errors == []
    assert ticks[0] > 0


def test_stat_remove_verify(store, data):
    path, body = data
    store.put(str(path), "f")
    st = store.stat("f")
    assert st["size"] == len(body) and st["chunks"] >= 1
    assert store.verify()["problems"] == []
    assert store.verify("f")["problems"] == []
    # A second put of the name is a second version; NAME@N reads an old one.
    store.put(io.BytesIO(b"version two"), "f")
    vs = store.versions("f")
    assert [v["version"] for v in vs] == [1, 2] and vs[0]["size"] == len(body)
    assert [b["name"] for b in store.ls("f")] == ["f"]
    assert store.ls("nothing-here") == []
    with store.open("f") as f2, store.open("f@1") as f1:
        assert f2.read() == b"version two"
        assert f1.pread(0, 100) == body[:100]
    assert store.remove("f") == 2
    with pytest.raises(FileNotFoundError):
        store.stat("f")
