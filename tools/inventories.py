"""Write the intersphinx inventories that link the book's API names to their documentation.

    python tools/inventories.py generate    # write book/inventories/*.inv from installed packages
    python tools/inventories.py check       # fail when a stored one is not what generate writes
    python tools/inventories.py show NAME   # the URL that each NAME links to

The book is built offline, so Sphinx's intersphinx cannot download ``objects.inv`` from
PyTorch's, Hugging Face's or Python's sites. This tool writes small inventories of its
own, in Sphinx's ``objects.inv`` format, by introspecting the installed packages (what
exists, and whether it is a module, class, function or method) and mapping each name to
the page its project's documentation gives it. ``_config.yml`` points intersphinx at them
with the real base URLs, so that a chapter's ``{py:func}`torch.softmax``` is a link to
https://docs.pytorch.org/docs/stable/generated/torch.softmax.html.

Where the projects document their API (checked against their documentation sources):

* Python: ``library/<module>.html#<module>.<name>``; builtins in ``functions.html``,
  ``stdtypes.html`` and ``exceptions.html``.
* PyTorch: autosummary pages ``generated/<full name>.html`` for ``torch``, ``torch.nn``,
  ``torch.nn.functional``, ``torch.optim``, ``torch.linalg``, ``torch.func``, ``Tensor``
  methods ...; one page per module for ``torch.nn.init``, ``torch.testing``,
  ``torch.utils.data``, ``torch.special``.
* transformers: ``main_classes/<topic>`` and ``model_doc/<model>`` pages, anchored
  ``#transformers.<Name>``.
* tokenizers: ``api/<component>`` pages, anchored ``#tokenizers.<module>.<Name>``.
* tiktoken has no API documentation site: its names link to their source on GitHub, at
  the installed release's tag and line.

Names that a project's documentation does not list may still get an entry (introspection
cannot tell); they link to a page that does not exist, so link the names the course uses.
"""

from __future__ import annotations

import argparse
import builtins
import importlib
import inspect
import sys
import types
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "book" / "inventories"

#: An inventory entry: (name, "py:role", uri relative to the project's base URL).
Entry = tuple[str, str, str]


@dataclass(frozen=True)
class Project:
    key: str  # the intersphinx name, and the file book/inventories/<key>.inv
    title: str
    base_url: str
    version: Callable[[], str]
    entries: Callable[[], Iterator[Entry]]


def _public(names) -> list[str]:
    return sorted(n for n in names if not n.startswith("_"))


def _role(obj) -> str:
    if inspect.isclass(obj):
        return "py:exception" if issubclass(obj, BaseException) else "py:class"
    if callable(obj):
        return "py:function"
    return "py:data"


def _methods(cls) -> list[str]:
    """The public methods a class defines itself (not those it inherits)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (classmethod, staticmethod)) or callable(value):
            if not inspect.isclass(value):
                out.append(name)
    return sorted(out)


# --------------------------------------------------------------------------------- Python

#: The standard-library modules whose names the book may link (each has its own page).
STDLIB_MODULES = [
    "abc", "argparse", "array", "base64", "bisect", "collections", "collections.abc",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "enum", "fractions",
    "functools", "glob", "gzip", "hashlib", "heapq", "inspect", "io", "itertools", "json",
    "logging", "math", "operator", "os", "os.path", "pathlib", "pickle", "random", "re",
    "shutil", "statistics", "string", "struct", "subprocess", "sys", "tarfile", "tempfile",
    "textwrap", "time", "timeit", "typing", "unicodedata", "urllib.parse", "urllib.request",
    "warnings", "zipfile", "zlib",
]  # fmt: skip

#: Builtin classes documented in stdtypes.html (the others are in functions.html).
STDTYPES = ["str", "bytes", "bytearray", "list", "tuple", "dict", "set", "frozenset", "range",
            "memoryview"]  # fmt: skip
#: Builtin classes whose methods stdtypes.html documents one by one.
STDTYPE_METHODS = [*STDTYPES, "int", "float"]
#: Methods of sequences that stdtypes.html describes in a table, without an entry each.
SEQUENCE_TABLES = {"list": "typesseq-mutable", "tuple": "typesseq-common",
                   "range": "typesseq-common"}  # fmt: skip


def _stdtype_method_anchor(cls: str, method: str) -> str:
    """``set.union`` is documented as ``frozenset.union``; ``list.append`` in a table."""
    if cls in SEQUENCE_TABLES and not (cls == "list" and method == "sort"):
        return SEQUENCE_TABLES[cls]
    if cls == "set" and hasattr(frozenset, method):
        return f"frozenset.{method}"
    return f"{cls}.{method}"


def _stdlib_members(module: types.ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        return _public(module.__all__)
    names = []
    for name in _public(dir(module)):
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        owner = getattr(obj, "__module__", None)
        if owner == module.__name__ or (owner is None and not callable(obj)):
            names.append(name)
    return names


def python_entries() -> Iterator[Entry]:
    for name in _public(dir(builtins)):
        obj = getattr(builtins, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            yield name, "py:exception", "library/exceptions.html#$"
        elif name in STDTYPES:
            yield name, "py:class", "library/stdtypes.html#$"
        elif inspect.isclass(obj):  # int, float, and zip, map ... (classes called as functions)
            yield name, "py:class", "library/functions.html#$"
            yield name, "py:function", "library/functions.html#$"
        elif callable(obj):
            yield name, "py:function", "library/functions.html#$"
        if name in STDTYPE_METHODS:
            for method in _methods(obj):
                anchor = _stdtype_method_anchor(name, method)
                yield f"{name}.{method}", "py:method", f"library/stdtypes.html#{anchor}"
    for module_name in STDLIB_MODULES:
        module = importlib.import_module(module_name)
        page = f"library/{module_name}.html"
        yield module_name, "py:module", f"{page}#module-{module_name}"
        for name in _stdlib_members(module):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj):
                continue
            full = f"{module_name}.{name}"
            yield full, _role(obj), f"{page}#$"
            if inspect.isclass(obj):
                for method in _methods(obj):
                    yield f"{full}.{method}", "py:method", f"{page}#$"


def python_version() -> str:
    return "3"


# -------------------------------------------------------------------------------- PyTorch

#: Modules whose functions and classes each have an autosummary page generated/<name>.html.
TORCH_GENERATED = [
    "torch.nn.functional", "torch.linalg", "torch.fft", "torch.func", "torch.nn.utils",
    "torch.autograd.functional", "torch.cuda",
]  # fmt: skip
#: Modules documented on one page each, anchored by the full name.
TORCH_ONE_PAGE = {
    "torch.nn.init": "nn.init.html",
    "torch.testing": "testing.html",
    "torch.utils.data": "data.html",
    "torch.special": "special.html",
}
#: Names documented somewhere else than the rules above say.
TORCH_SPECIAL = {
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.Size": "size.html#torch.Size",
    "torch.dtype": "tensor_attributes.html#torch.dtype",
    "torch.device": "tensor_attributes.html#torch.device",
    "torch.layout": "tensor_attributes.html#torch.layout",
    "torch.memory_format": "tensor_attributes.html#torch.memory_format",
    "torch.finfo": "type_info.html#torch.finfo",
    "torch.iinfo": "type_info.html#torch.iinfo",
    "torch.set_grad_enabled": "generated/torch.autograd.grad_mode.set_grad_enabled.html"
    "#torch.autograd.grad_mode.set_grad_enabled",
    "torch.inference_mode": "generated/torch.autograd.grad_mode.inference_mode.html"
    "#torch.autograd.grad_mode.inference_mode",
    "torch.autocast": "amp.html#torch.autocast",
    "torch.nn.Parameter": "generated/torch.nn.parameter.Parameter.html"
    "#torch.nn.parameter.Parameter",
    "torch.nn.Buffer": "generated/torch.nn.parameter.Buffer.html#torch.nn.parameter.Buffer",
    "torch.nn.Flatten": "generated/torch.nn.modules.flatten.Flatten.html"
    "#torch.nn.modules.flatten.Flatten",
    "torch.nn.Unflatten": "generated/torch.nn.modules.flatten.Unflatten.html"
    "#torch.nn.modules.flatten.Unflatten",
    "torch.optim.Optimizer": "optim.html#torch.optim.Optimizer",
    "torch.autograd.backward": "generated/torch.autograd.backward.html#torch.autograd.backward",
    "torch.autograd.grad": "generated/torch.autograd.grad.html#torch.autograd.grad",
}
TORCH_MODULE_PAGES = {
    "torch": "torch.html", "torch.nn": "nn.html", "torch.nn.functional": "nn.functional.html",
    "torch.optim": "optim.html", "torch.linalg": "linalg.html", "torch.fft": "fft.html",
    "torch.func": "func.html", "torch.cuda": "cuda.html", "torch.autograd": "autograd.html",
    "torch.nn.init": "nn.init.html", "torch.testing": "testing.html",
    "torch.utils.data": "data.html", "torch.special": "special.html",
}  # fmt: skip


def _generated(name: str) -> str:
    return f"generated/{name}.html#{name}"


def _documented(obj) -> bool:
    return bool((getattr(obj, "__doc__", None) or "").strip())


def torch_entries() -> Iterator[Entry]:
    import torch
    import torch.nn
    import torch.optim
    import torch.optim.lr_scheduler
    import torch.utils.data

    for module_name, page in TORCH_MODULE_PAGES.items():
        yield module_name, "py:module", f"{page}#module-{module_name}"
    yield from ((name, _role(_resolve(name)), uri) for name, uri in TORCH_SPECIAL.items())

    # torch: the functions it exports (torch.__all__) and documents.
    for name in _public(torch.__all__):
        obj = getattr(torch, name, None)
        full = f"torch.{name}"
        if full in TORCH_SPECIAL or obj is None or inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            if name in ("Generator", "no_grad", "enable_grad", "Stream", "Event"):
                yield full, "py:class", _generated(full)
            continue  # legacy tensor types, internals
        if callable(obj) and _documented(obj):
            yield full, "py:function", _generated(full)

    # Tensor methods: generated/torch.Tensor.<name>.html.
    for name in _public(dir(torch.Tensor)):
        obj = getattr(torch.Tensor, name)
        if callable(obj) and _documented(obj):
            yield f"torch.Tensor.{name}", "py:method", _generated(f"torch.Tensor.{name}")

    # torch.nn: every layer and container has its page; their own methods are on it.
    for name in _public(dir(torch.nn)):
        obj = getattr(torch.nn, name)
        full = f"torch.nn.{name}"
        if not (inspect.isclass(obj) and issubclass(obj, torch.nn.Module)):
            continue
        page = TORCH_SPECIAL.get(full, _generated(full)).split("#")[0]
        if full not in TORCH_SPECIAL:
            yield full, "py:class", _generated(full)
        for method in _methods(obj):
            yield f"{full}.{method}", "py:method", f"{page}#{full}.{method}"

    # torch.optim: optimizers and schedulers have pages; Optimizer's methods have their own.
    for name in _public(dir(torch.optim)):
        obj = getattr(torch.optim, name)
        full = f"torch.optim.{name}"
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer):
            if obj is torch.optim.Optimizer:
                for method in _methods(obj):
                    yield f"{full}.{method}", "py:method", _generated(f"{full}.{method}")
            else:
                yield full, "py:class", _generated(full)
    for name in _public(dir(torch.optim.lr_scheduler)):
        obj = getattr(torch.optim.lr_scheduler, name)
        if inspect.isclass(obj) and obj.__module__ == "torch.optim.lr_scheduler":
            yield (
                f"torch.optim.lr_scheduler.{name}",
                "py:class",
                _generated(f"torch.optim.lr_scheduler.{name}"),
            )

    for module_name in TORCH_GENERATED:
        module = importlib.import_module(module_name)
        for name in _public(getattr(module, "__all__", None) or dir(module)):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj) or not callable(obj) or not _documented(obj):
                continue
            if getattr(obj, "__module__", "") and not obj.__module__.startswith("torch"):
                continue  # re-exported from typing, builtins ...
            full = f"{module_name}.{name}"
            yield full, _role(obj), _generated(full)

    for module_name, page in TORCH_ONE_PAGE.items():
        module = importlib.import_module(module_name)
        for name in _public(getattr(module, "__all__", None) or dir(module)):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj) or not callable(obj) or not _documented(obj):
                continue
            if getattr(obj, "__module__", "") and not obj.__module__.startswith("torch"):
                continue
            full = f"{module_name}.{name}"
            yield full, _role(obj), f"{page}#$"


def _resolve(name: str):
    module_name, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


# --------------------------------------------------------------------------- transformers

#: Names documented on the pages of main_classes/ (and internal/).
TRANSFORMERS_PAGES = {
    "main_classes/configuration": ["PretrainedConfig", "PreTrainedConfig"],
    "main_classes/model": ["PreTrainedModel"],
    "main_classes/tokenizer": ["PreTrainedTokenizer", "PreTrainedTokenizerFast",
                               "PreTrainedTokenizerBase", "BatchEncoding"],
    "main_classes/pipelines": ["pipeline", "Pipeline", "TextGenerationPipeline",
                               "TextClassificationPipeline", "FillMaskPipeline"],
    "main_classes/text_generation": ["GenerationConfig", "GenerationMixin"],
    "main_classes/trainer": ["Trainer", "TrainingArguments"],
    "main_classes/optimizer_schedules": ["get_scheduler", "get_linear_schedule_with_warmup",
                                         "get_cosine_schedule_with_warmup"],
    "main_classes/data_collator": ["DataCollatorForLanguageModeling",
                                   "DataCollatorWithPadding", "default_data_collator"],
    "main_classes/logging": [],
    "internal/trainer_utils": ["set_seed"],
    "model_doc/auto": ["AutoConfig", "AutoTokenizer", "AutoModel", "AutoModelForCausalLM",
                       "AutoModelForMaskedLM", "AutoModelForSequenceClassification",
                       "AutoModelForTokenClassification"],
}  # fmt: skip
#: Methods documented with their class.
TRANSFORMERS_METHODS = {
    "PreTrainedModel": ["from_pretrained", "save_pretrained", "num_parameters", "push_to_hub"],
    "PreTrainedTokenizer": ["encode", "decode", "batch_decode", "add_tokens",
                            "add_special_tokens", "apply_chat_template"],
    "PreTrainedTokenizerFast": ["encode", "decode", "batch_decode", "add_tokens",
                                "add_special_tokens", "apply_chat_template"],
    "GenerationMixin": ["generate"],
    "Trainer": ["train", "evaluate", "predict", "save_model"],
    "AutoTokenizer": ["from_pretrained"],
    "AutoConfig": ["from_pretrained"],
    "AutoModel": ["from_pretrained"],
    "AutoModelForCausalLM": ["from_pretrained"],
}  # fmt: skip
#: Model families the course uses: package under transformers.models -> its model_doc page.
TRANSFORMERS_MODELS = {
    "gpt2": ("model_doc/gpt2", "GPT2"),
    "openai": ("model_doc/openai-gpt", "OpenAIGPT"),
    "bert": ("model_doc/bert", "Bert"),
    "distilbert": ("model_doc/distilbert", "DistilBert"),
    "llama": ("model_doc/llama", "Llama"),
}


def transformers_entries() -> Iterator[Entry]:
    import transformers

    exported = set(dir(transformers))
    for page, names in TRANSFORMERS_PAGES.items():
        for name in names:
            if name not in exported:
                continue
            obj = getattr(transformers, name)
            full = f"transformers.{name}"
            yield full, _role(obj), f"{page}#$"
            for method in TRANSFORMERS_METHODS.get(name, []):
                if hasattr(obj, method):
                    yield f"{full}.{method}", "py:method", f"{page}#$"
    yield "transformers", "py:module", "index"
    for package, (page, prefix) in TRANSFORMERS_MODELS.items():
        for name in sorted(n for n in exported if n.startswith(prefix)):
            obj = getattr(transformers, name)
            if not getattr(obj, "__module__", "").startswith(f"transformers.models.{package}."):
                continue
            full = f"transformers.{name}"
            yield full, _role(obj), f"{page}#$"
            if inspect.isclass(obj) and "forward" in vars(obj):
                yield f"{full}.forward", "py:method", f"{page}#$"


def transformers_version() -> str:
    import transformers

    return transformers.__version__


# ----------------------------------------------------------------------------- tokenizers

#: tokenizers' submodules -> their page under api/.
TOKENIZERS_PAGES = {
    "tokenizers.models": "api/models",
    "tokenizers.trainers": "api/trainers",
    "tokenizers.pre_tokenizers": "api/pre-tokenizers",
    "tokenizers.normalizers": "api/normalizers",
    "tokenizers.decoders": "api/decoders",
    "tokenizers.processors": "api/post-processors",
}
TOKENIZERS_TOP = {"Tokenizer": "api/tokenizer", "Encoding": "api/encoding",
                  "AddedToken": "api/added-tokens"}  # fmt: skip


def tokenizers_entries() -> Iterator[Entry]:
    import tokenizers

    yield "tokenizers", "py:module", "index"
    for name, page in TOKENIZERS_TOP.items():
        obj = getattr(tokenizers, name)
        full = f"tokenizers.{name}"
        yield full, "py:class", f"{page}#$"
        for method in _public(dir(obj)):
            if callable(getattr(obj, method)):
                yield f"{full}.{method}", "py:method", f"{page}#$"
    for module_name, page in TOKENIZERS_PAGES.items():
        module = importlib.import_module(module_name)
        yield module_name, "py:module", page
        for name in _public(dir(module)):
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.startswith("tokenizers"):
                yield f"{module_name}.{name}", "py:class", f"{page}#$"


def tokenizers_version() -> str:
    import tokenizers

    return tokenizers.__version__


# ------------------------------------------------------------------------------- tiktoken


def tiktoken_entries() -> Iterator[Entry]:
    import tiktoken
    import tiktoken.core

    def source(obj) -> str:
        file = Path(inspect.getsourcefile(obj)).name
        line = inspect.getsourcelines(obj)[1]
        return f"tiktoken/{file}#L{line}"

    yield "tiktoken", "py:module", "README.md"
    for name in _public(dir(tiktoken)):
        obj = getattr(tiktoken, name)
        if inspect.ismodule(obj):
            continue
        yield f"tiktoken.{name}", _role(obj), source(obj)
    for name in _methods(tiktoken.core.Encoding):
        obj = getattr(tiktoken.core.Encoding, name)
        yield f"tiktoken.Encoding.{name}", "py:method", source(obj)


def tiktoken_version() -> str:
    from importlib.metadata import version

    return version("tiktoken")


PROJECTS = [
    Project("python", "Python", "https://docs.python.org/3/", python_version, python_entries),
    Project("torch", "PyTorch", "https://docs.pytorch.org/docs/stable/", torch_version,
            torch_entries),
    Project("transformers", "transformers", "https://huggingface.co/docs/transformers/",
            transformers_version, transformers_entries),
    Project("tokenizers", "tokenizers", "https://huggingface.co/docs/tokenizers/",
            tokenizers_version, tokenizers_entries),
    # Links into the source at the installed release's tag: the base URL carries the version.
    Project("tiktoken", "tiktoken", "https://github.com/openai/tiktoken/blob/{version}/",
            tiktoken_version, tiktoken_entries),
]  # fmt: skip


def base_url(project: Project) -> str:
    return project.base_url.format(version=project.version())


# ------------------------------------------------------------------------- objects.inv


def inventory_bytes(project: Project) -> bytes:
    """The project's inventory in Sphinx's ``objects.inv`` format (version 2)."""
    entries = sorted(set(project.entries()))
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project.title}\n"
        f"# Version: {project.version()}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = []
    for name, role, uri in entries:
        if uri.endswith("#" + name):
            uri = uri[: -len(name)] + "$"
        priority = "0" if role == "py:module" else "1"
        lines.append(f"{name} {role} {priority} {uri} -\n")
    return header.encode() + zlib.compress("".join(lines).encode(), 9)


def load(path: Path, base: str) -> dict[str, dict[str, str]]:
    """A stored inventory as Sphinx reads it: ``{role: {name: url}}``."""
    from sphinx.util.inventory import InventoryFile

    with path.open("rb") as stream:
        inventory = InventoryFile.load(stream, base, lambda a, b: a + b)
    return {
        role: {name: item[2] for name, item in items.items()} for role, items in inventory.items()
    }


def _path(project: Project) -> Path:
    return OUTPUT / f"{project.key}.inv"


def _select(keys: list[str] | None) -> list[Project]:
    return [p for p in PROJECTS if not keys or p.key in keys]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("generate", "check"):
        p = sub.add_parser(command)
        p.add_argument("projects", nargs="*", help=", ".join(p.key for p in PROJECTS))
    show = sub.add_parser("show")
    show.add_argument("names", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "show":
        found = 1
        for project in PROJECTS:
            if not _path(project).is_file():
                continue
            for role, items in load(_path(project), base_url(project)).items():
                for name in args.names:
                    if name in items:
                        print(f"{name} ({role}): {items[name]}")
                        found = 0
        return found

    stale = []
    for project in _select(args.projects):
        data = inventory_bytes(project)
        path = _path(project)
        if args.command == "generate":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            count = len(zlib.decompress(data.split(b"zlib.\n", 1)[1]).splitlines())
            print(f"{path.relative_to(ROOT)}: {count} names, {len(data):,} bytes")
        elif not path.is_file() or path.read_bytes() != data:
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print("out of date (run `python tools/inventories.py generate`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
