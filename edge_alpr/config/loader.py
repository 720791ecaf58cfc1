"""Reading the YAML config: every problem is reported at once, one line each, naming the file,
the YAML line, the key path (``detector.roi[2]``) and what was expected."""
from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from edge_alpr.config.app import AppConfig
from edge_alpr.errors import ConfigError

Loc = tuple[int | str, ...]

#: A field whose name ends in one of these words holds a secret (``password``, ``api_token``,
#: ``private_key``); ``password_file`` and ``key_file`` hold paths, which are safe to log.
_SECRET_WORDS = frozenset({"password", "passwd", "secret", "token", "key", "passphrase", "credentials"})
REDACTED = "***"


def load_config(path: str | Path | None) -> AppConfig:
    """The validated config from ``path``; ``None`` gives the embedded defaults.

    Raises ``ConfigError`` listing every problem in the file.
    """
    if path is None:
        return AppConfig()
    path = Path(path)
    text = _read_text(path)
    root = _compose(text, path)
    problems = _duplicate_keys(root, path)
    data = yaml.safe_load(text) if root is not None else None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{path}:1: the top level must be a mapping of keys (camera_id:, source:, ...), "
                        f"got {type(data).__name__}")
        raise ConfigError("\n".join(problems))
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(_describe(error, path, root) for error in exc.errors())
        raise ConfigError("\n".join(sorted(problems, key=_line_number))) from None
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def redacted_dump(config: BaseModel) -> dict:
    """The config as plain data for logging, with every secret-looking value replaced by ``***``."""
    return _redact(config.model_dump(mode="json"))


def _redact(value: object) -> object:
    if isinstance(value, dict):
        return {
            key: (REDACTED if _is_secret(key) and item not in (None, "") else _redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _is_secret(key: str) -> bool:
    return key.lower().rsplit("_", 1)[-1] in _SECRET_WORDS


def _read_text(path: Path) -> str:
    if not path.exists():
        raise ConfigError(f"{path}: config file does not exist")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text ({exc.reason} at byte {exc.start}), expected a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _compose(text: str, path: Path) -> yaml.Node | None:
    """The YAML node tree, which remembers the line of every key (plain ``safe_load`` forgets)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


def _duplicate_keys(node: yaml.Node | None, path: Path, loc: Loc = ()) -> list[str]:
    """YAML silently keeps the last of two equal keys; a config with both is almost always a mistake."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(f"{path}:{key_node.start_mark.line + 1}: {_loc_text((*loc, key))}: duplicate key")
            seen.add(key)
            problems.extend(_duplicate_keys(value_node, path, (*loc, key)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, path, (*loc, index)))
    return problems


def _line_number(problem: str) -> int:
    """Sort key: the YAML line a problem line names (problems without one go first)."""
    _, _, rest = problem.partition(":")
    line, _, _ = rest.partition(":")
    return int(line) if line.isdigit() else 0


def _describe(error: ErrorDetails, path: Path, root: yaml.Node | None) -> str:
    loc = tuple(error["loc"])
    node = _node_at(root, loc, want_key=error["type"] == "extra_forbidden")
    where = f"{path}:{node.start_mark.line + 1}" if node is not None else str(path)
    return f"{where}: {_loc_text(loc) or '(top level)'}: {_message(error)}"


def _message(error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown key; {hint}expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return "item is missing (too few values)" if isinstance(loc[-1], int) else "required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, (dict, list)) or value is None:
        return message
    shown = repr(value)
    return f"{message} (got {shown[:60] + '...' if len(shown) > 60 else shown})"


def _loc_text(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node_at(root: yaml.Node | None, loc: Loc, *, want_key: bool) -> yaml.Node | None:
    """The YAML node at ``loc`` (the key's node when ``want_key``), or the deepest one that exists."""
    node = root
    for depth, part in enumerate(loc):
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    last = depth == len(loc) - 1
                    child = key_node if (want_key and last) else value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            return node
        node = child
    return node


def _allowed_keys(loc: Loc) -> list[str]:
    """The field names of the config model found at ``loc`` (for 'expected one of')."""
    model: type[BaseModel] | None = AppConfig
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return sorted(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like ``Foo``, ``Foo | None`` or ``list[Foo]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, dict, tuple):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
