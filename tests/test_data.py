"""Tests of the ``data`` package: real MNIST values, refusal of bad files, caching.

No test reaches the internet: an autouse fixture points the mirror list at a
closed local port and the cache at a temporary folder; download tests serve
files from a local HTTP server.
"""

import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
import torch

import data
import data.sources
from bench.suite.mnist import SHARED_MNIST
from data import MNIST_FILES, MnistChecksumError, MnistDataError, MnistUnavailableError, load_mnist
from data.__main__ import main as cli_main
from data.idx import read_idx_gz

REPO = Path(__file__).resolve().parents[1]

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = MNIST_FILES


# The real-data fixtures `mnist_dir` and `mnist` come from the suite's plugin.


# --- isolation and helpers -----------------------------------------------------


def _closed_port_url() -> str:
    """A local URL nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No $MNIST_DIR, a fresh cache folder, mirrors that cannot reach the internet."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("MNIST_CACHE_DIR", str(cache))
    monkeypatch.setattr(data.sources, "MIRRORS", (_closed_port_url(),))
    # Tests may clear or fill the memo; put back what the session had (the
    # shared MNIST, parsed once) so later tests do not parse it again.
    memo = dict(data.mnist._memo)
    yield cache
    load_mnist.cache_clear()
    data.mnist._memo.update(memo)


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything tries to download."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected download {args}")

    monkeypatch.setattr(data.sources, "download", refuse)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _BrokenOffHandler(_QuietHandler):
    """Announces the whole file, sends half of it, then hangs up."""

    def do_GET(self):
        body = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def serve():
    """serve(folder, handler=...) -> base URL of a local HTTP mirror of ``folder``."""
    servers = []

    def start(folder: Path, handler=_QuietHandler) -> str:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _good_copy(src: Path, dst: Path) -> Path:
    """``dst`` holding links to the four real files (they are only read)."""
    dst.mkdir()
    for name in MNIST_FILES:
        (dst / name).symlink_to(src / name)
    return dst


def _trusted_names(folder: Path) -> list[str]:
    """Files in ``folder`` that a later run would read as MNIST."""
    return sorted(p.name for p in folder.glob("*") if p.name in MNIST_FILES) if folder.exists() else []


def _raw_idx(path: Path, header: int) -> torch.Tensor:
    """Independent decode of a real file: skip the header, keep the bytes."""
    body = bytearray(gzip.decompress(path.read_bytes())[header:])
    return torch.frombuffer(body, dtype=torch.uint8)


def _idx_gz(shape, values: bytes = b"", magic=None, extra: bytes = b"") -> bytes:
    """A small synthetic gzip'd IDX file."""
    magic = (0x08 << 8) | len(shape) if magic is None else magic
    count = 1
    for dim in shape:
        count *= dim
    body = values if values else bytes(count)
    return gzip.compress(struct.pack(f">I{len(shape)}I", magic, *shape) + body + extra)


# --- values from the real files ------------------------------------------------


def test_shapes_dtypes_and_layout(mnist, mnist_dir):
    expected = {
        "x_train": ((50_000, 784), torch.float32),
        "y_train": ((50_000,), torch.int64),
        "x_valid": ((10_000, 784), torch.float32),
        "y_valid": ((10_000,), torch.int64),
        "x_test": ((10_000, 784), torch.float32),
        "y_test": ((10_000,), torch.int64),
    }
    for field, (shape, dtype) in expected.items():
        tensor = getattr(mnist, field)
        assert tuple(tensor.shape) == shape, field
        assert tensor.dtype == dtype, field
        assert tensor.is_contiguous(), field
    assert mnist.source == mnist_dir
    assert "50000" in repr(mnist)


def test_first_labels(mnist):
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_class_counts(mnist):
    train_and_valid = torch.cat([mnist.y_train, mnist.y_valid])
    assert torch.bincount(train_and_valid).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]
    assert torch.bincount(mnist.y_test).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]


def test_valid_is_the_tail_of_the_official_train_set(mnist, mnist_dir):
    official_labels = _raw_idx(mnist_dir / TRAIN_LABELS, header=8).to(torch.int64)
    assert torch.equal(mnist.y_valid, official_labels[50_000:])
    assert torch.equal(mnist.y_train, official_labels[:50_000])
    official_pixels = _raw_idx(mnist_dir / TRAIN_IMAGES, header=16).view(60_000, 784)
    assert torch.equal(mnist.x_valid, official_pixels[50_000:].float() / 255)


def test_pixels_are_bytes_scaled_to_unit_range(mnist, mnist_dir):
    for x in (mnist.x_train, mnist.x_valid, mnist.x_test):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    official = _raw_idx(mnist_dir / TEST_IMAGES, header=16).view(10_000, 784)
    assert torch.equal(mnist.x_test, official.float() / 255)


def test_hash_table_matches_the_real_files(mnist_dir):
    for name, sha256 in MNIST_FILES.items():
        assert hashlib.sha256((mnist_dir / name).read_bytes()).hexdigest() == sha256


def test_hash_table_matches_the_shared_copys_readme():
    readme = SHARED_MNIST / "README.md"
    if not readme.is_file():
        pytest.skip(f"no shared MNIST copy with its README at {readme}")
    text = readme.read_text()
    for name, sha256 in MNIST_FILES.items():
        assert f"| {name} |" in text and sha256 in text, f"{name}: {sha256} not in {readme}"


def test_memoised_per_resolved_folder(mnist_dir, monkeypatch, tmp_path):
    first = load_mnist(mnist_dir)
    assert load_mnist(str(mnist_dir)) is first
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    assert load_mnist() is first
    (tmp_path / "via").symlink_to(mnist_dir)
    assert load_mnist(tmp_path / "via") is first
    monkeypatch.chdir(mnist_dir.parent)
    assert load_mnist(mnist_dir.name) is first
    load_mnist.cache_clear()
    second = load_mnist(mnist_dir)
    assert second is not first and torch.equal(second.x_test, first.x_test)


def test_result_is_frozen(mnist):
    with pytest.raises(AttributeError):
        mnist.x_train = None


# --- bad files are refused, nothing bad is kept ----------------------------------


def _truncated(good: bytes, other: bytes) -> bytes:
    return good[: len(good) // 2]


def _flipped_byte(good: bytes, other: bytes) -> bytes:
    middle = len(good) // 2
    return good[:middle] + bytes([good[middle] ^ 0x01]) + good[middle + 1 :]


def _wrong_file(good: bytes, other: bytes) -> bytes:
    return other


def _gzip_of_garbage(good: bytes, other: bytes) -> bytes:
    return gzip.compress(os.urandom(len(good)))


@pytest.mark.parametrize(
    "victim, corrupt",
    [
        (TRAIN_LABELS, _truncated),
        (TEST_LABELS, _flipped_byte),
        (TRAIN_LABELS, _wrong_file),
        (TEST_IMAGES, _gzip_of_garbage),
    ],
    ids=["truncated", "flipped-byte", "wrong-file", "gzip-of-garbage"],
)
def test_corrupted_copy_is_refused(victim, corrupt, mnist_dir, tmp_path, isolated, no_download):
    folder = _corrupted_copy(mnist_dir, tmp_path / "mnist", victim, corrupt)
    bad = (folder / victim).read_bytes()
    with pytest.raises(MnistChecksumError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert victim in message
    assert MNIST_FILES[victim] in message  # expected hash
    assert hashlib.sha256(bad).hexdigest() in message  # actual hash
    # The user's file is left as it was, and nothing went to the cache.
    assert (folder / victim).read_bytes() == bad
    assert _trusted_names(isolated) == []


def _corrupted_copy(mnist_dir: Path, folder: Path, victim: str, corrupt) -> Path:
    folder = _good_copy(mnist_dir, folder)
    (folder / victim).unlink()
    other = (mnist_dir / TEST_LABELS).read_bytes()
    (folder / victim).write_bytes(corrupt((mnist_dir / victim).read_bytes(), other))
    return folder


def test_failures_are_not_memoised(mnist, mnist_dir, tmp_path, no_download):
    """Once the bad file is replaced, the same folder loads."""
    folder = _corrupted_copy(mnist_dir, tmp_path / "mnist", TEST_LABELS, _flipped_byte)
    with pytest.raises(MnistChecksumError):
        load_mnist(folder)
    (folder / TEST_LABELS).unlink()
    (folder / TEST_LABELS).symlink_to(mnist_dir / TEST_LABELS)
    again = load_mnist(folder)
    assert again.source == folder.resolve()
    assert torch.equal(again.y_train, mnist.y_train)
    assert torch.equal(again.x_test, mnist.x_test)


def test_file_with_matching_hash_is_still_parsed_strictly(mnist_dir, tmp_path, monkeypatch):
    # Defence in depth: should a hash table ever be wrong, the IDX checks still hold.
    folder = _good_copy(mnist_dir, tmp_path / "mnist")
    (folder / TEST_LABELS).unlink()
    garbage = _idx_gz((10_000,), values=bytes([200]) * 10_000)
    (folder / TEST_LABELS).write_bytes(garbage)
    table = dict(MNIST_FILES, **{TEST_LABELS: hashlib.sha256(garbage).hexdigest()})
    monkeypatch.setattr(data.sources, "MNIST_FILES", table)
    with pytest.raises(MnistDataError, match=f"{TEST_LABELS}: label 200"):
        load_mnist(folder)


def test_missing_files_are_listed(mnist_dir, tmp_path, no_download):
    folder = _good_copy(mnist_dir, tmp_path / "mnist")
    (folder / TRAIN_IMAGES).unlink()
    (folder / TEST_LABELS).unlink()
    with pytest.raises(MnistDataError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert f"lacks {TRAIN_IMAGES}, {TEST_LABELS};" in message
    assert all(name in message for name in MNIST_FILES)


def test_missing_mnist_dir_names_the_variable(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MnistDataError, match=r"\$MNIST_DIR\) does not exist"):
        load_mnist()


# --- IDX parsing on small synthetic files -----------------------------------------


def test_idx_parses_a_valid_file():
    values = bytes(range(6))
    tensor = read_idx_gz(_idx_gz((2, 3), values), "tiny.gz", (2, 3))
    assert tensor.dtype == torch.uint8 and tensor.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(
    "raw, pattern",
    [
        (_idx_gz((2, 3), magic=0x0D03), "magic number is 3331"),  # float data
        (_idx_gz((2, 3), magic=0x00000801), "magic number is 2049"),  # labels, not images
        (_idx_gz((3, 2)), r"dimensions are \(3, 2\), expected \(2, 3\)"),
        (gzip.compress(struct.pack(">II", 0x0802, 2) + bytes(2)), "ends inside the IDX dimensions"),
        (gzip.compress(b"\x00\x00"), "ends inside the IDX magic"),
        (gzip.compress(struct.pack(">III", 0x0802, 2, 3) + bytes(5)), "ends after 5 of 6 data bytes"),
        (_idx_gz((2, 3), extra=b"\x00"), "unexpected data after"),
        (b"not gzip at all", "not a valid gzip file"),
        (_idx_gz((2, 3))[:-6], "not a valid gzip file"),  # gzip trailer cut off
        (_idx_gz((2, 3))[:-8] + b"\xff" * 8, "not a valid gzip file"),  # bad CRC
    ],
    ids=[
        "float-type", "wrong-rank", "wrong-dims", "short-dims", "short-magic",
        "short-data", "trailing-data", "not-gzip", "cut-gzip", "bad-crc",
    ],
)
def test_idx_refuses_malformed_files(raw, pattern):
    with pytest.raises(MnistDataError, match=pattern) as info:
        read_idx_gz(raw, "some-file-idx.gz", (2, 3))
    assert str(info.value).startswith("some-file-idx.gz: ")


# --- where the files come from ----------------------------------------------------


def test_directory_argument_beats_mnist_dir(mnist_dir, tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "empty"))
    assert load_mnist(mnist_dir).source == mnist_dir


def test_valid_mnist_dir_ignores_an_unusable_cache(mnist_dir, tmp_path, monkeypatch, no_download):
    # Even root cannot create a folder under a regular file.
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("MNIST_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    assert load_mnist().source == mnist_dir


def test_offline_with_empty_cache_fails_fast_with_a_hint(isolated):
    start = time.perf_counter()
    with pytest.raises(MnistUnavailableError) as info:
        load_mnist()
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert "Set MNIST_DIR" in message
    assert all(name in message for name in MNIST_FILES)
    assert isinstance(info.value, MnistDataError)
    assert elapsed < 5, elapsed
    assert _trusted_names(isolated) == []


def test_unwritable_cache_gives_the_hint(tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("MNIST_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(MnistUnavailableError, match="Set MNIST_DIR"):
        load_mnist()


def test_download_falls_through_mirrors_then_loads_from_cache(
    mnist, mnist_dir, isolated, serve, monkeypatch
):
    dead = data.sources.MIRRORS[0]
    monkeypatch.setattr(data.sources, "MIRRORS", (dead, serve(mnist_dir)))
    loaded = load_mnist()
    assert loaded.source == isolated
    assert torch.equal(loaded.x_train, mnist.x_train)
    assert _trusted_names(isolated) == sorted(MNIST_FILES)
    for name, sha256 in MNIST_FILES.items():
        assert hashlib.sha256((isolated / name).read_bytes()).hexdigest() == sha256
        assert not (isolated / name).is_symlink()

    # Back offline: the cache alone is enough.
    monkeypatch.setattr(data.sources, "MIRRORS", (dead,))
    load_mnist.cache_clear()
    assert torch.equal(load_mnist().y_test, mnist.y_test)


def _tampered_mirror(mnist_dir: Path, folder: Path) -> Path:
    """Every name serves the wrong (but real) file."""
    folder.mkdir()
    for name in MNIST_FILES:
        (folder / name).write_bytes((mnist_dir / TEST_LABELS).read_bytes() + b"x")
    return folder


def test_tampered_download_is_not_cached(mnist_dir, tmp_path, isolated, serve, monkeypatch):
    mirror = serve(_tampered_mirror(mnist_dir, tmp_path / "evil"))
    monkeypatch.setattr(data.sources, "MIRRORS", (mirror,))
    with pytest.raises(MnistUnavailableError, match="hash of downloaded file") as info:
        load_mnist()
    assert MNIST_FILES[TRAIN_IMAGES] in str(info.value)
    # Not even pooch's temporary file is left behind.
    assert not isolated.exists() or list(isolated.iterdir()) == []


def test_broken_off_download_is_not_cached(mnist_dir, isolated, serve, monkeypatch):
    mirror = serve(mnist_dir, handler=_BrokenOffHandler)
    monkeypatch.setattr(data.sources, "MIRRORS", (mirror,))
    with pytest.raises(MnistUnavailableError, match=TRAIN_IMAGES):
        data.fetch(progressbar=False)
    assert not isolated.exists() or list(isolated.iterdir()) == []


def test_bad_cache_entry_is_replaced(mnist_dir, isolated, serve, monkeypatch):
    isolated.mkdir()
    for name in MNIST_FILES:
        (isolated / name).write_bytes((mnist_dir / name).read_bytes())
    (isolated / TRAIN_LABELS).write_bytes(b"tampered")
    monkeypatch.setattr(data.sources, "MIRRORS", (serve(mnist_dir),))
    folder, raw = data.fetch(progressbar=False)
    assert folder == isolated
    assert (isolated / TRAIN_LABELS).read_bytes() == (mnist_dir / TRAIN_LABELS).read_bytes()
    assert sorted(p.name for p in isolated.iterdir()) == sorted(MNIST_FILES)


def test_concurrent_fills_of_one_cache_agree(mnist_dir, isolated, serve, monkeypatch):
    # Each filler renames its own complete, verified temporary file into place.
    monkeypatch.setattr(data.sources, "MIRRORS", (serve(mnist_dir),))
    barrier = threading.Barrier(3)
    results, errors = [], []

    def fill():
        barrier.wait()
        try:
            results.append(data.fetch(progressbar=False)[0])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fill) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [isolated] * 3
    assert sorted(p.name for p in isolated.iterdir()) == sorted(MNIST_FILES)
    for name, sha256 in MNIST_FILES.items():
        assert hashlib.sha256((isolated / name).read_bytes()).hexdigest() == sha256


# --- command line ---------------------------------------------------------------


def test_cli_fetch_verifies_a_folder(mnist_dir, capsys, no_download):
    assert cli_main(["fetch", "--dir", str(mnist_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in MNIST_FILES:
        assert f"{name}  {mnist_dir / name}  sha256 OK" in lines
    assert lines[-1] == f"MNIST stored in {mnist_dir}"


def test_cli_fetch_downloads_into_dir(mnist_dir, tmp_path, serve, monkeypatch, capsys):
    monkeypatch.setattr(data.sources, "MIRRORS", (serve(mnist_dir),))
    target = tmp_path / "new"
    assert cli_main(["fetch", "--dir", str(target), "--no-progress"]) == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(MNIST_FILES)
    assert capsys.readouterr().out.count("sha256 OK") == 4


def test_cli_fetch_refuses_but_keeps_a_bad_user_file(mnist_dir, tmp_path, capsys, serve, monkeypatch):
    monkeypatch.setattr(data.sources, "MIRRORS", (serve(mnist_dir),))
    folder = _good_copy(mnist_dir, tmp_path / "mnist")
    (folder / TEST_LABELS).unlink()
    (folder / TEST_LABELS).write_bytes(b"mine")
    assert cli_main(["fetch", "--dir", str(folder)]) == 2  # unusable input, not a regression
    err = capsys.readouterr().err
    assert TEST_LABELS in err and "SHA256 mismatch" in err
    assert (folder / TEST_LABELS).read_bytes() == b"mine"


def test_no_pickle_in_data_package():
    for path in (REPO / "data").glob("*.py"):
        text = path.read_text()
        for banned in ("pickle", "torch.load", "np.load", "numpy.load"):
            assert banned not in text, f"{path.name} mentions {banned}"
