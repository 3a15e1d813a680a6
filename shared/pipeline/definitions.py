"""Pipeline definitions (MODELS.md "Definition file"): validated whole, typed.

`parse_definition` validates a raw mapping (as read by `load_text`) into a `Definition`,
collecting every problem (file, entry, field) into one DefinitionError before anything is
written. Another format (the blob-kept definition, shared.pipeline.blob_definitions) passes
its own readers of model and pipeline entries, built on `Entry`, `build_model` and
`build_pipeline`; shared.pipeline.definition_sources picks the format of what it reads.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from shared.errors import BadRequest
from shared.pipeline.adapters import ADAPTER_TYPES
from shared.pipeline.encryption import TOKEN_TEXT
from shared.pipeline.postprocess import species_key

TASKS = ("object-detection", "classification")
_TASK_WORD = re.compile(r"[a-z0-9]+")
_MODEL_FIELDS = frozenset({
    "model_name", "type", "task", "endpoint", "api_key_setting", "api_key_encrypted", "deployment",
    "content_type", "version", "description", "created_by", "creation_date", "labels", "api_key",
})
# Fields of a model that only a model called over HTTP may have.
_REMOTE_FIELDS = ("endpoint", "api_key_setting", "api_key_encrypted", "deployment", "content_type")
_PIPELINE_FIELDS = frozenset({
    "pipeline_name", "models", "default", "version", "description", "created_by", "creation_date",
})
_TOP_FIELDS = frozenset({"version", "date", "models", "pipelines"})

_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
# Capitals, as app settings are named: a key pasted here by mistake (mixed case) fails.
_SETTING = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
HEADER_VALUE = re.compile(r"^[!-~]{1,200}$")  # visible ASCII without spaces: safe in a header
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+-]+)*$")
_MAX_TEXT = 2000


class DefinitionError(BadRequest):
    """The pipeline definition is not valid."""


@dataclass(frozen=True)
class ModelDefinition:
    """A model as the definition gives it; `data` (description, created_by, creation_date,
    labels) goes to the model row's data.

    `endpoint` is the checked URL, held here only to be encrypted when the model is stored
    (it never rests in clear); `endpoint_encrypted` is the token that a definition gave
    for it, stored as it is.
    """

    name: str
    type: str
    task: str
    version: str
    endpoint: str | None = field(default=None, repr=False)
    endpoint_encrypted: str | None = None
    deployment: str | None = None
    content_type: str | None = None
    api_key_setting: str | None = None
    api_key_encrypted: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineDefinition:
    """A pipeline as the definition gives it: model names in call order; `data`
    (description, created_by, creation_date) goes to the pipeline row's data."""

    name: str
    version: str
    models: tuple[str, ...]
    default: bool
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Definition:
    """A whole, valid definition: every pipeline names defined models, exactly one is the default."""

    source: str  # where it was read from, for messages and the import record
    version: str
    date: str | None
    models: tuple[ModelDefinition, ...]
    pipelines: tuple[PipelineDefinition, ...]

    @cached_property
    def sha256(self) -> str:
        """A hash of the content (not of where it came from): the same definition read
        twice, from JSON or YAML, hashes the same."""
        content = asdict(self)
        del content["source"]
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def default_pipeline(self) -> PipelineDefinition:
        return next(p for p in self.pipelines if p.default)


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def load_text(text: str, *, source: str, is_json: bool) -> object:
    """The plain data of a JSON (`is_json`) or YAML text. Raises DefinitionError naming
    `source` when the text does not parse or gives a key twice in one mapping."""
    # A key given twice would silently keep its last value in both formats: refuse it.
    if is_json:
        try:
            return json.loads(text, object_pairs_hook=_refuse_duplicates)
        except ValueError as exc:
            raise DefinitionError(f"{source}: not valid JSON: {exc}") from None
    try:
        import yaml  # PyYAML: an operator's package (requirements-dev.txt), not the app's
    except ImportError:
        raise DefinitionError(f"{source}: a YAML definition needs PyYAML (pip install -r "
                              "requirements-dev.txt); or give the definition as JSON") from None

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
            twice = sorted({str(k) for k in keys if keys.count(k) > 1})
            if twice:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {twice[0]!r} appears twice in one mapping", node.start_mark)
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=StrictLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source}: not valid YAML: {exc}") from None


class Entry:
    """One entry of a definition (the top level, a model, a pipeline): typed reads of its
    fields that record each problem, naming the entry and the field, and carry on."""

    def __init__(self, raw: Mapping[str, Any], label: str, problems: list[str]) -> None:
        self.raw = raw
        self.label = label
        self.problems = problems

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.label}: {name}: {message}")

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def only(self, allowed: frozenset[str]) -> None:
        for name in self.raw:
            if name not in allowed:
                self.problem(str(name), f"unknown field (known: {', '.join(sorted(allowed))})")

    def text(self, name: str, *, required: bool = False, pattern: re.Pattern[str] | None = None,
             hint: str = "", max_length: int = _MAX_TEXT, secret: bool = False) -> str | None:
        """The field's text, stripped; with `secret`, a problem never quotes the value."""
        value = self.raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(name, "is missing")
            return None
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {type(value).__name__}")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.problem(name, f"is longer than {max_length} characters")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(name, f"{'the value' if secret else repr(value)} is not {hint}")
            return None
        return value

    def name(self, name: str) -> str | None:
        return self.text(name, required=True, pattern=_NAME,
                         hint="a name of 1 to 100 printable characters", max_length=100)

    def version(self, name: str) -> str | None:
        value = self.raw.get(name)
        # YAML reads `version: 1` as a number; a whole number is unambiguous, 1.10 is not.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            self.problem(name, f'must be a string: quote it ("{value}")')
            return None
        return self.text(name, required=True, max_length=100)

    def day(self, name: str) -> str | None:
        value = self.raw.get(name)
        if isinstance(value, date):  # YAML reads 2024-08-01 as a date (datetime is a date too)
            return value.isoformat()
        text = self.text(name, max_length=40)
        if text is None:
            return None
        try:
            datetime.fromisoformat(text)
        except ValueError:
            self.problem(name, f"{text!r} is not a date like 2024-08-01")
            return None
        return text

    def flag(self, name: str) -> bool:
        value = self.raw.get(name, False)
        if not isinstance(value, bool):
            self.problem(name, f"must be true or false, not {value!r}")
            return False
        return value

    def texts(self, name: str, what: str) -> tuple[str, ...] | None:
        value = self.raw.get(name)
        if not isinstance(value, list) or not value:
            self.problem(name, f"must be a non-empty list of {what}")
            return None
        if not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(name, f"must hold only non-empty strings: {value!r}")
            return None
        return tuple(v.strip() for v in value)

    def entries(self, name: str, kind: str) -> list[Entry]:
        value = self.raw.get(name)
        if not isinstance(value, list) or not value:
            self.problem(name, f"must be a non-empty list of {kind}s")
            return []
        out = []
        for number, raw in enumerate(value, start=1):
            if not isinstance(raw, dict):
                self.problems.append(f"{kind} #{number}: must be a mapping of fields, not {raw!r}")
                continue
            named = raw.get(f"{kind}_name")
            label = f"{kind} #{number}" + (f" {named!r}" if isinstance(named, str) else "")
            out.append(Entry(raw, label, self.problems))
        return out


def parse_definition(raw: object, *, source: str,
                     read_model: Callable[[Entry], ModelDefinition | None] | None = None,
                     read_pipeline: Callable[[Entry], PipelineDefinition | None] | None = None,
                     ) -> Definition:
    """`raw` (a mapping as read from a file or a blob) validated into a Definition.

    `read_model` and `read_pipeline` read one entry of another format (MODELS.md's format
    by default); the top level and the checks across entries are the same for all formats.

    Raises DefinitionError listing every problem, each naming `source`, the entry and the field.
    """
    read_model = read_model or _model
    read_pipeline = read_pipeline or _pipeline
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise DefinitionError(
            f"{source}: top level: must be a mapping with version, models and pipelines")
    top = Entry(raw, "top level", problems)
    top.only(_TOP_FIELDS)
    version = top.version("version")
    day = top.day("date")
    model_entries = top.entries("models", "model")
    models = [(e, m) for e in model_entries if (m := read_model(e)) is not None]
    pipelines = [(e, p) for e in top.entries("pipelines", "pipeline") if (p := read_pipeline(e)) is not None]
    declared = {e.raw.get("model_name") for e in model_entries}
    _check_together(models, pipelines, declared, top)
    if problems:
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        raise DefinitionError(f"{source} is not a valid pipeline definition ({len(problems)} "
                              f"problem{'s' if len(problems) > 1 else ''}):\n{lines}")
    assert version is not None  # a missing version is a problem above
    return Definition(source, version, day, tuple(m for _, m in models), tuple(p for _, p in pipelines))


def _model(e: Entry) -> ModelDefinition | None:
    e.only(_MODEL_FIELDS)
    kind = e.text("type", required=True)
    adapter = ADAPTER_TYPES.get(kind or "")
    if kind is not None and adapter is None:
        e.problem("type", f"{kind!r} is not a known adapter ({', '.join(sorted(ADAPTER_TYPES))})")
    if e.has("api_key"):
        e.problem("api_key", "a key in clear is refused, as it would rest in clear in the database: "
                             "put it in an app setting and name that setting in api_key_setting")
    endpoint = setting = encrypted = deployment = None
    if adapter is not None and adapter.remote:
        endpoint = check_endpoint(e, e.text("endpoint", required=True))
        setting = e.text("api_key_setting", pattern=_SETTING, secret=True,
                         hint="an app setting name in capitals like NACHET_KEY_SWIN")
        encrypted = e.text("api_key_encrypted", pattern=TOKEN_TEXT, hint="a Fernet token",
                           max_length=10_000, secret=True)
        if e.has("api_key_setting") == e.has("api_key_encrypted"):
            e.problem("api_key_setting", "give exactly one of api_key_setting (the app setting that "
                                         "holds the key) and api_key_encrypted")
        deployment = e.text("deployment", required=True, pattern=HEADER_VALUE,
                            hint="a deployment name without spaces")
    elif adapter is not None:
        for key in _REMOTE_FIELDS:
            if e.has(key):
                e.problem(key, f"not used by type {kind}, which runs in process")
    labels = None
    if adapter is not None and adapter.takes_labels:
        labels = read_labels(e)
    elif e.has("labels"):
        takers = ", ".join(t.name for t in ADAPTER_TYPES.values() if t.takes_labels)
        e.problem("labels", f"only {takers} models take labels")
    return build_model(e, kind, endpoint=endpoint, deployment=deployment, api_key_setting=setting,
                       api_key_encrypted=encrypted,
                       data={"labels": list(labels)} if labels is not None else None)


def read_labels(e: Entry) -> tuple[str, ...] | None:
    """The entry's `labels`: the labels that a filtering classifier reclassifies, each
    once (catalogue numbers and case aside, as they are matched)."""
    labels = e.texts("labels", "the labels that this model reclassifies")
    if labels is not None and len({species_key(v) for v in labels}) < len(labels):
        e.problem("labels", "a label is listed twice")
    return labels


def build_model(e: Entry, kind: str | None, *, endpoint: str | None = None,
                endpoint_encrypted: str | None = None, deployment: str | None = None,
                api_key_setting: str | None = None, api_key_encrypted: str | None = None,
                data: Mapping[str, Any] | None = None) -> ModelDefinition | None:
    """The model of entry `e`, once its format has found the adapter `kind` and how to call
    the model: reads and checks the fields that every format shares (model_name, task,
    version, a remote model's content_type, description, created_by, creation_date) and
    adds `data` to the row's data.

    Returns None when a field it needs has a problem (recorded on `e`).
    """
    name = e.name("model_name")
    task = _task(e)
    version = e.version("version")
    content_type = None
    adapter = ADAPTER_TYPES.get(kind or "")
    if adapter is not None and adapter.remote:
        content_type = e.text("content_type", required=True, pattern=_MEDIA_TYPE,
                              hint="a media type like application/json")
    row_data = _data(e) | dict(data or {})
    if name is None or kind is None or task is None or version is None:
        return None
    return ModelDefinition(name, kind, task, version, endpoint=endpoint,
                           endpoint_encrypted=endpoint_encrypted, deployment=deployment,
                           content_type=content_type, api_key_setting=api_key_setting,
                           api_key_encrypted=api_key_encrypted, data=row_data)


def _task(e: Entry) -> str | None:
    """The entry's task, read as the current backend's publishing script accepts it: case,
    spaces, underscores and hyphens do not matter (`Object Detection` = `object-detection`),
    as its documentation writes them; a task this app cannot run is refused."""
    text = e.text("task", required=True)
    if text is None:
        return None
    task = "-".join(_TASK_WORD.findall(text.lower()))
    if task not in TASKS:
        e.problem("task", f"{text!r} is not one of {', '.join(TASKS)} (case, spaces and hyphens "
                          "aside): this app cannot run such a model")
        return None
    return task


def check_endpoint(e: Entry, url: str | None, *, secret: bool = False) -> str | None:
    """`url`, the endpoint of entry `e`, when it is an http(s) URL without credentials, on
    https unless on loopback; else None, the problem recorded on `e`. With `secret`
    (a decrypted endpoint) a problem never quotes it."""
    if url is None:
        return None
    shown = "the value" if secret else repr(url)
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # such as an IPv6 host without its closing bracket
        valid = False
    if not valid:
        e.problem("endpoint", f"{shown} is not an http(s) URL")
        return None
    if parts.username is not None or parts.password is not None:
        e.problem("endpoint", "must not hold credentials: name the key's app setting in api_key_setting")
        return None
    if parts.scheme != "https" and not is_loopback(url):
        # The key goes in a header: only a loopback test endpoint may see it unencrypted.
        e.problem("endpoint", f"{shown} must use https (plain http only on loopback)")
        return None
    return url


def _data(e: Entry) -> dict[str, Any]:
    data = {
        "description": e.text("description"),
        "created_by": e.text("created_by", max_length=200),
        "creation_date": e.day("creation_date"),
    }
    return {k: v for k, v in data.items() if v is not None}


def _pipeline(e: Entry) -> PipelineDefinition | None:
    e.only(_PIPELINE_FIELDS)
    return build_pipeline(e)


def build_pipeline(e: Entry, *, data: Mapping[str, Any] | None = None) -> PipelineDefinition | None:
    """The pipeline of entry `e` (pipeline_name, models, default, version, description,
    created_by, creation_date), with `data` added to the row's data.

    Returns None when a field it needs has a problem (recorded on `e`).
    """
    name = e.name("pipeline_name")
    models = e.texts("models", "model names in call order")
    default = e.flag("default")
    version = e.version("version")
    row_data = _data(e) | dict(data or {})
    if name is None or models is None or version is None:
        return None
    return PipelineDefinition(name, version, models, default, row_data)


def _check_together(models: list[tuple[Entry, ModelDefinition]],
                    pipelines: list[tuple[Entry, PipelineDefinition]],
                    declared: set[object], top: Entry) -> None:
    """The checks across entries: unique names, defined models, one default. `declared`
    holds every model name given, valid entry or not, so that a model with a problem of
    its own is not reported again as undefined."""
    by_name: dict[str, ModelDefinition] = {}
    for e, m in models:
        if m.name in by_name:
            e.problem("model_name", "another model has this name")
        by_name.setdefault(m.name, m)
    names: set[str] = set()
    for e, p in pipelines:
        if p.name in names:
            e.problem("pipeline_name", "another pipeline has this name")
        names.add(p.name)
        for n in p.models:
            if n not in declared:
                e.problem("models", f"{n!r} is not a model of this definition")
        first = by_name.get(p.models[0])
        if first is not None and first.task != "object-detection":
            e.problem("models", f"the first model, {first.name!r}, must be an object-detection "
                                "model: the others work on its boxes")
    defaults = [p.name for _, p in pipelines if p.default]
    if pipelines and len(defaults) != 1:
        which = f"{len(defaults)} are: {', '.join(defaults)}" if defaults else "none is"
        top.problem("pipelines", f"exactly one pipeline must be the default; {which}")
