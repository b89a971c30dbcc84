"""The Python bindings against a real local store, on real bytes."""
import io
import os
import random
import shutil
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
