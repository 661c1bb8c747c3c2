"""The Jupyter server's settings for ``make lab``, which passes ``--config`` this file and
puts this folder on ``JUPYTER_PATH``. Nothing is written into the venv.

* No prompt and nothing fetched from the web: no news feed, no check for a newer
  JupyterLab, and the question "Would you like to get notified about official Jupyter
  news?" is answered no (``settings/overrides.json``).
* Opening a notebook does not change it. When a notebook's kernel starts, JupyterLab
  writes the kernel's description into the notebook's metadata (``kernelspec``'s display
  name, "Python 3 (ipykernel)" from ipykernel; ``language_info`` with this machine's
  Python version). That marks the notebook changed, and autosave then rewrites a file
  nobody edited: a learner notebook would no longer be what ``make exercises`` generated.
  ``kernels/python3`` is the venv's kernel under the display name the notebooks store
  ("Python 3"), and the pre-save hook below keeps both entries as stored on disk, so that
  a notebook is saved with its reader's edits and nothing of the machine's.
* A chapter's paired ``.py`` (jupytext) keeps its header as ``tools/notebooks.py`` wrote
  it: the stored kernel name, and no ``text_representation`` (jupytext's version).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

#: The notebook metadata that describe the machine's kernel, not the notebook.
KERNEL_METADATA = ("kernelspec", "language_info")


def _header(text: str) -> tuple[list[str], list[str]] | None:
    """A jupytext text file as (its YAML header's lines, the rest), or None."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "# ---":
        return None
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() == "# ---":
            return lines[: number + 1], lines[number + 1 :]
    return None


def _block(lines: list[str], key: str) -> tuple[int, int] | None:
    """Where the header's entry ``key`` (and what is nested under it) is: [start, end)."""
    for start, line in enumerate(lines):
        match = re.match(rf"^#( +){re.escape(key)}:", line)
        if match:
            depth = len(match[1])
            end = start + 1
            while end < len(lines) and re.match(rf"^# {{{depth + 1},}}\S", lines[end]):
                end += 1
            return start, end
    return None


def keep_header_as_stored(text: str, stored: str) -> str:
    r"""``text``, a jupytext file about to be saved, with its header's ``kernelspec`` as
    in ``stored`` and without a ``text_representation`` that ``stored`` has not.

    >>> stored = "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n# ---\nx"
    >>> new = ("# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n"
    ...        "#       extension: .py\n#   kernelspec:\n#     display_name: Py (ipykernel)\n"
    ...        "# ---\ny")
    >>> keep_header_as_stored(new, stored)
    '# ---\n# jupyter:\n#   jupytext:\n#   kernelspec:\n#     display_name: Python 3\n# ---\ny'
    """
    new_parts, old_parts = _header(text), _header(stored)
    if new_parts is None or old_parts is None:
        return text
    header, body = new_parts
    old_header = old_parts[0]
    if _block(old_header, "text_representation") is None:
        found = _block(header, "text_representation")
        if found:
            del header[found[0] : found[1]]
    new_spec, old_spec = _block(header, "kernelspec"), _block(old_header, "kernelspec")
    if new_spec and old_spec:
        header[new_spec[0] : new_spec[1]] = old_header[old_spec[0] : old_spec[1]]
    return "\n".join(header + body)


def _stored(contents_manager, path: str) -> Path:
    return Path(getattr(contents_manager, "root_dir", ".")) / path.lstrip("/")


def keep_stored_kernel_metadata(model, path, contents_manager, **kwargs):
    """A ``ContentsManager.pre_save_hook``: the kernel's metadata stay as stored, in a
    notebook and in the header of its paired text file."""
    file = _stored(contents_manager, path)
    if model.get("type") == "file" and isinstance(model.get("content"), str):
        try:
            stored_text = file.read_text(encoding="utf-8")
        except (OSError, ValueError):
            return
        model["content"] = keep_header_as_stored(model["content"], stored_text)
        return
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    try:
        stored = json.loads(file.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return  # a new notebook: nothing stored to keep
    metadata = model["content"].setdefault("metadata", {})
    for key in KERNEL_METADATA:
        if key in stored:
            metadata[key] = stored[key]
        else:
            metadata.pop(key, None)


c = get_config()  # noqa: F821  (defined by Jupyter when it loads this file)
c.ContentsManager.pre_save_hook = keep_stored_kernel_metadata
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
