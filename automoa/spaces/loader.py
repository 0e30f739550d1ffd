"""Loading search spaces: shipped names or YAML files, read with a strict YAML 1.2-style loader."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from automoa.exceptions import SearchSpaceError
from automoa.spaces.messages import did_you_mean
from automoa.spaces.schema import SearchSpace
from automoa.spaces.validation import parse_space

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_PACKAGE = "automoa.search_spaces"
_SUFFIXES = (".yaml", ".yml")

_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _DuplicateKeyError(yaml.MarkedYAMLError):
    """A key repeated within one mapping."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and floats, refusing duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: let SafeLoader report it
                continue
            if duplicate:
                raise _DuplicateKeyError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, _BOOL_RE, list("tTfF"))
_Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_RE, list("-+0123456789."))


def shipped_spaces() -> tuple[str, ...]:
    """Names of the search spaces shipped with automoa (``default``, ``fast``, ``moa``, ...)."""
    return tuple(
        sorted(
            entry.name.rsplit(".", 1)[0]
            for entry in files(_PACKAGE).iterdir()
            if entry.name.endswith(".yaml")
        )
    )


def _not_found(given: str, why: str) -> SearchSpaceError:
    shipped = shipped_spaces()
    return SearchSpaceError(
        f"{given or repr(given)}: {why}{did_you_mean(given, shipped)}, expected a shipped space "
        f"({', '.join(shipped)}) or a path to a YAML file"
    )


def _looks_like_path(name_or_path: str | Path) -> bool:
    given = str(name_or_path)
    return (
        isinstance(name_or_path, Path) or "/" in given or "\\" in given or given.endswith(_SUFFIXES)
    )


def is_shipped(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a shipped space (as :func:`load_space` resolves it)."""
    return not _looks_like_path(name_or_path) and str(name_or_path) in shipped_spaces()


def _resolve(name_or_path: str | Path) -> tuple[Path | Traversable, str]:
    """The file to read and the label used in messages."""
    given = str(name_or_path)
    if is_shipped(name_or_path):
        return files(_PACKAGE).joinpath(f"{given}.yaml"), f"{given}.yaml"
    if not _looks_like_path(name_or_path) and not Path(given).is_file():
        raise _not_found(given, "unknown search space")
    path = Path(name_or_path)
    if not path.exists():
        raise _not_found(given, "file not found")
    if not path.is_file():
        raise _not_found(given, "not a file")
    return path, given


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def load_yaml(text: str, label: str) -> Any:
    """Parse YAML text with the space loader (YAML 1.2 scalars, no duplicate keys).

    Args:
        text: YAML text.
        label: file name for error messages.

    Returns:
        The parsed document.

    Raises:
        SearchSpaceError: on a syntax error or a duplicate key, naming line and column.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader
    except _DuplicateKeyError as exc:
        mark = exc.problem_mark
        raise SearchSpaceError(
            f"{label}: line {mark.line + 1}, column {mark.column + 1}: {exc.problem}, "
            "expected each key once per mapping"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = _one_line(", ".join(filter(None, (exc.context, exc.problem))) or "syntax error")
        raise SearchSpaceError(
            f"{label}: {where}: invalid YAML ({problem}), expected valid YAML syntax"
        ) from None
    except yaml.YAMLError as exc:
        raise SearchSpaceError(
            f"{label}: (yaml): invalid YAML ({_one_line(exc)}), expected valid YAML syntax"
        ) from None
    except RecursionError:
        raise SearchSpaceError(
            f"{label}: nested too deeply, expected a search space (mappings a few levels deep)"
        ) from None


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Load and validate a search space.

    Args:
        name_or_path: a shipped space name (see :func:`shipped_spaces`), or a path to a YAML
            file. A string containing a path separator or ending in ``.yaml``/``.yml`` is
            always a path; a bare name is looked up among the shipped spaces first.

    Returns:
        The validated, frozen space; its ``source`` is ``<name>.yaml`` for a shipped space and
        the path as given otherwise.

    Raises:
        SearchSpaceError: if the file cannot be found or read, or the space is invalid (one line
            naming the file and the key path).
    """
    path, label = _resolve(name_or_path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SearchSpaceError(
            f"{label}: cannot read the file ({exc.strerror or exc}), expected a readable file"
        ) from None
    except UnicodeDecodeError:
        raise SearchSpaceError(
            f"{label}: the file is not UTF-8 text, expected a UTF-8 YAML file"
        ) from None
    return parse_space(load_yaml(text, label), label)
