"""``make lab``: JupyterLab asks nothing, fetches nothing, and saving a notebook changes
nothing but what its reader edited.

The server runs as ``make lab`` runs it (``tools/lab/``: ``--config`` and
``JUPYTER_PATH``), on copies of the notebooks. JupyterLab's front end, when a notebook's
kernel starts, writes the kernel's description into the notebook's metadata and so marks
it changed; the tests save a notebook with exactly those changes, through the server's
REST API as the front end does, and compare the files. (Checked by hand in Chromium too:
open a learner notebook, let its kernel start, save; the file is byte for byte the same.)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "tools" / "lab"
TOKEN = "gptcourse-test"
LEARNER = "exercises/01_language_models.ipynb"
CHAPTER = "chapters/04_self_attention"

pytest.importorskip("jupyterlab")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, root folder) of a JupyterLab server started as ``make lab`` starts it."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "exercises", root / "exercises", ignore=shutil.ignore_patterns("sol*"))
    (root / "chapters").mkdir()
    for suffix in (".ipynb", ".py"):
        shutil.copy(ROOT / f"{CHAPTER}{suffix}", root / f"{CHAPTER}{suffix}")
    home = tmp_path_factory.mktemp("jupyter")
    env = {
        **os.environ,
        "JUPYTER_PATH": str(LAB),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        f"--ServerApp.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        f"--config={LAB / 'jupyter_server_config.py'}",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    log = (home / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                _get(base, "/api/status")
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.25)
        else:
            pytest.fail("JupyterLab did not start in 60 s")
        if server.poll() is not None:
            pytest.fail("JupyterLab stopped:\n" + (home / "server.log").read_text()[-3000:])
        yield base, root
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _request(base: str, path: str, method: str = "GET", body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _get(base: str, path: str):
    return _request(base, path)


def _as_lab_after_its_kernel_started(model: dict) -> dict:
    """The notebook model as JupyterLab's front end saves it once the kernel is up."""
    metadata = model["content"]["metadata"]
    metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.99.0",
    }
    return {"type": "notebook", "format": "json", "content": model["content"]}


def test_lab_asks_nothing_and_fetches_nothing(lab):
    base, _ = lab
    settings = _get(base, "/lab/api/settings/@jupyterlab/apputils-extension:notification")
    defaults = {k: v["default"] for k, v in settings["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false"  # never "Would you like to get notified ...?"
    assert defaults["checkForUpdates"] is False
    assert _get(base, "/lab/api/news") == {"news": []}
    assert _get(base, "/lab/api/update") == {"notification": None}


def test_the_kernel_has_the_name_the_notebooks_store(lab):
    base, root = lab
    spec = _get(base, "/api/kernelspecs")["kernelspecs"]["python3"]["spec"]
    for path in sorted((root / "exercises").glob("*.ipynb")) + [root / f"{CHAPTER}.ipynb"]:
        stored = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert stored["name"] == "python3" and stored["display_name"] == spec["display_name"]


def test_saving_a_learner_notebook_keeps_it_as_generated(lab):
    base, root = lab
    file = root / LEARNER
    before = file.read_bytes()
    model = _get(base, f"/api/contents/{LEARNER}?content=1")
    _request(base, f"/api/contents/{LEARNER}", "PUT", _as_lab_after_its_kernel_started(model))
    assert file.read_bytes() == before

    # The learner's own edit is saved, and nothing else changes.
    model = _get(base, f"/api/contents/{LEARNER}?content=1")
    cell = next(c for c in model["content"]["cells"] if "NotImplementedError" in c["source"])
    cell["source"] = cell["source"].replace("raise NotImplementedError", "return 0  # was:")
    _request(base, f"/api/contents/{LEARNER}", "PUT", _as_lab_after_its_kernel_started(model))
    saved, original = json.loads(file.read_text()), json.loads(before)
    assert saved["metadata"] == original["metadata"]
    changed = [a for a, b in zip(saved["cells"], original["cells"], strict=True) if a != b]
    assert len(changed) == 1 and "return 0  # was:" in "".join(changed[0]["source"])


def test_saving_a_chapter_keeps_it_and_its_paired_source_as_written(lab):
    base, root = lab
    notebook, source = root / f"{CHAPTER}.ipynb", root / f"{CHAPTER}.py"
    before = notebook.read_bytes(), source.read_bytes()
    model = _get(base, f"/api/contents/{CHAPTER}.ipynb?content=1")
    _request(base, f"/api/contents/{CHAPTER}.ipynb", "PUT", _as_lab_after_its_kernel_started(model))
    assert notebook.read_bytes() == before[0]
    assert source.read_bytes() == before[1]  # no jupytext version, no kernel name in its header


def _server_config() -> dict:
    """The names that ``tools/lab/jupyter_server_config.py`` defines."""
    from traitlets.config import Config

    path = LAB / "jupyter_server_config.py"
    namespace = {"get_config": Config, "__file__": str(path), "__name__": "lab_config"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def test_a_paired_source_keeps_its_header_as_written():
    import doctest

    config = _server_config()
    keep = config["keep_header_as_stored"]
    assert doctest.run_docstring_examples(keep, config) is None
    stored = (ROOT / f"{CHAPTER}.py").read_text()
    as_jupytext_writes = stored.replace(
        "#     formats: ipynb,py:percent\n",
        "#     formats: ipynb,py:percent\n#     text_representation:\n#       extension: .py\n"
        "#       format_name: percent\n#       jupytext_version: 1.19.6\n",
    ).replace("display_name: Python 3\n", "display_name: Python 3 (ipykernel)\n")
    assert as_jupytext_writes != stored
    assert keep(as_jupytext_writes, stored) == stored
    assert config["c"].LabApp.news_url is None
