"""Read the ```python blocks of docs/ARCHITECTURE.md and check each name and signature against the code.

Why a checker and not generated blocks: the blocks carry comments a generator cannot write (why a field exists,
what a value means), so the document stays hand-written and this test says, line by line, where it drifted.

The grammar of a block (a line that fits none of these is itself reported, so drift cannot hide in prose):
    def name(params) -> ...            a function of the block's module, or a method of the class above it
    class Name[(bases)][: a: T; b: T]  a class, optionally with fields on the same line
        name: T [= default]            (indented, under a class) a field or attribute of that class
        .member(...); .other           (indented) members of the class or constructor above
        @property name / @classmethod name(params)
    Name(params)                       a class (its constructor's signature) or a function
    Name.member(params)                a member of Name
    Name: a, b, c()                    attributes of class Name
    NAME: T                            a module attribute
Parameters must match inspect.signature name for name, in order, with `*` where keyword-only ones start;
a `...` among them means "and others" (the named ones must exist, in that order). Literal defaults are compared.
The block's module comes from the heading above it: "### `labkit/pcap.py`" or a package "### `labkit/wire/`"
(every module in it is searched).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass

_HEADING = re.compile(r"^#{2,4} .*?`(labkit/[\w/]*?)(\.py)?/?`")
_NAME = re.compile(r"^\*{0,2}([A-Za-z_]\w*)")
_MISSING = object()


@dataclass
class Finding:
    line: int
    text: str
    problem: str

    def __str__(self) -> str:
        return f"docs/ARCHITECTURE.md:{self.line}: {self.text.strip()}\n    -> {self.problem}"


def _outside_quotes(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth after it) for every character outside quotes."""
    depth, quote = 0, None
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        else:
            depth += (char in "([{") - (char in ")]}")
            yield index, char, depth


def _strip_comment(line: str) -> str:
    """The line without its # comment (a # inside quotes is kept)."""
    return next((line[:index] for index, char, _ in _outside_quotes(line) if char == "#"), line).rstrip()


def _depth(text: str) -> int:
    """Brackets still open at the end of the text (a signature that goes on on the next line)."""
    return [0, *(depth for _, _, depth in _outside_quotes(text))][-1]


def _split_top(text: str, separator: str) -> list[str]:
    """Split at separators outside brackets and quotes."""
    cuts = [index for index, char, depth in _outside_quotes(text) if char == separator and depth == 0]
    bounds = zip([-1, *cuts], [*cuts, len(text)])
    return [text[start + 1 : end].strip() for start, end in bounds]


def blocks(markdown: str) -> list[tuple[str | None, list[tuple[int, int, str]]]]:
    """(module or package, [(line number, indent, logical line)]) for every ```python block."""
    found, module, inside, pending, current = [], None, False, None, []
    for number, line in enumerate(markdown.splitlines(), start=1):
        if not inside:
            heading = _HEADING.match(line)
            if heading:
                module = heading.group(1).replace("/", ".")
            if line.strip() == "```python":
                inside, current = True, []
            continue
        if line.strip() == "```":
            inside = False
            found.append((module, current))
            continue
        code = _strip_comment(line)
        if pending is not None:
            pending = (pending[0], pending[1], pending[2] + " " + code.strip())
        elif code.strip():
            pending = (number, len(code) - len(code.lstrip()), code.strip())
        if pending is not None and _depth(pending[2]) <= 0 and not pending[2].endswith(","):
            current.append(pending)
            pending = None
    return found


def _modules(name: str | None) -> list:
    if name is None:
        return []
    module = importlib.import_module(name)
    found = [module]
    if hasattr(module, "__path__"):
        found += [importlib.import_module(f"{name}.{info.name}") for info in pkgutil.iter_modules(module.__path__)]
    return found


def _lookup(modules: list, name: str) -> object:
    for module in modules:
        if hasattr(module, name):
            return getattr(module, name)
    return _MISSING


def _has_member(owner: object, name: str) -> bool:
    if hasattr(owner, name):
        return True
    if not inspect.isclass(owner):
        return False
    if is_dataclass(owner) and name in {f.name for f in fields(owner)}:
        return True
    for klass in owner.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
    try:  # an instance attribute set in a method: self.name = ...
        source = inspect.getsource(owner)
    except (OSError, TypeError):
        return False
    return re.search(rf"self\.{re.escape(name)}\b[^\n=]*=(?!=)", source) is not None  # also a, self.b = ...


def _real_params(target: object) -> list[tuple[str, object]] | None:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    tokens: list[tuple[str, object]] = []
    star = False
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and not star:
            tokens.append(("*", _MISSING))
            star = True
        prefix = {parameter.VAR_POSITIONAL: "*", parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
        star = star or parameter.kind is parameter.VAR_POSITIONAL
        default = _MISSING if parameter.default is parameter.empty else parameter.default
        tokens.append((prefix + parameter.name, default))
    return tokens


def _doc_params(text: str) -> tuple[list[tuple[str, object]], bool] | None:
    """The documented parameters as (token, literal default or _MISSING), and whether `...` was among them."""
    if not text.strip():
        return [], False
    tokens, etc = [], False
    for piece in _split_top(text, ","):
        if piece in ("...", ""):
            etc = etc or piece == "..."
            continue
        if piece == "*":
            tokens.append(("*", _MISSING))
            continue
        match = _NAME.match(piece)
        if not match:
            return None
        stars = piece[: len(piece) - len(piece.lstrip("*"))]
        default = _MISSING
        assignment = _split_top(piece, "=")
        if len(assignment) == 2:
            try:
                default = ast.literal_eval(assignment[1])
            except (ValueError, SyntaxError):
                default = _MISSING
            default = _MISSING if default is Ellipsis else default  # `stop=...`: a default not spelt out
        tokens.append((stars + match.group(1), default))
    return tokens, etc


def _compare(target: object, params: str, what: str) -> str | None:
    """Why the documented parameters are not the code's, with the code's signature to copy; None when they are."""
    problem = _mismatch(target, params, what)
    if problem is None:
        return None
    try:
        return f"{problem}\n       the code: {what}{inspect.signature(target)}"
    except (TypeError, ValueError):
        return problem


def _mismatch(target: object, params: str, what: str) -> str | None:
    documented = _doc_params(params)
    real = _real_params(target)
    if real is None:
        return None  # no signature to compare with (a builtin)
    if documented is None:
        return f"cannot read the parameters of {what}: write names, `*`, `...` and literal defaults only"
    doc_tokens, etc = documented
    real_names = [name for name, _ in real]
    doc_names = [name for name, _ in doc_tokens]
    if etc:
        positions = [real_names.index(name) if name in real_names else -1 for name in doc_names]
        missing = [name for name, at in zip(doc_names, positions) if at < 0]
        if missing:
            return f"{what} has no parameter {', '.join(missing)}; it takes ({', '.join(real_names)})"
        if positions != sorted(positions):
            return f"{what}: parameters out of order; it takes ({', '.join(real_names)})"
    elif doc_names != real_names:
        return f"{what} takes ({', '.join(real_names)}), the document says ({', '.join(doc_names)})"
    defaults = dict(real)
    for name, default in doc_tokens:
        real_default = defaults.get(name, _MISSING)
        if default is not _MISSING and real_default is not _MISSING and default != real_default:
            return f"{what}: default of {name} is {real_default!r}, the document says {default!r}"
    return None


_CALL = re.compile(r"^(@\w+\s+)?(def\s+)?(\.?[A-Za-z_][\w.]*)\s*(\((.*)\))?\s*(->.*)?(:\s*\.\.\.)?$")


class Checker:
    def __init__(self, modules: list, module_name: str | None) -> None:
        self.modules, self.module_name, self.owner = modules, module_name, None

    def where(self) -> str:
        return self.module_name or "(no module heading above this block)"

    def check(self, indent: int, text: str) -> str | None:
        if text.startswith("@") and " " not in text:
            return None  # a bare decorator: @dataclass(frozen=True), @abstractmethod
        if text.startswith("class "):
            return self._class(text[6:])
        if indent and self.owner is not None and not text.startswith(("def ", ".", "@")):
            return self._attributes(self.owner, [part.split(":")[0].split("=")[0].strip() for part in [text]])
        listing = re.match(r"^([A-Za-z_]\w*):\s*(.+)$", text)
        if listing and not indent:
            return self._listing(listing.group(1), listing.group(2))
        call = _CALL.match(text)
        if call is None:
            return (
                "cannot read this line: write `def name(...)`, `class Name`, `Name(...)`, `name: type` or a # comment"
            )
        decorator, is_def, name, has_params, params = (
            call.group(1),
            call.group(2),
            call.group(3),
            call.group(4),
            call.group(5),
        )
        return self._call(indent, bool(decorator), bool(is_def), name, params if has_params else None)

    def _class(self, rest: str) -> str | None:
        head, _, members = rest.partition(":") if "(" not in rest.split(":")[0] else rest.partition("):")
        name = re.match(r"\w+", head).group(0)
        found = _lookup(self.modules, name)
        if found is _MISSING or not inspect.isclass(found):
            self.owner = None
            return f"there is no class {name} in {self.where()}"
        self.owner = found
        if members.strip() and members.strip() != "...":
            return self._attributes(found, [members.split(":")[0].split("=")[0].strip()])
        return None

    def _attributes(self, owner: object, names: list[str]) -> str | None:
        missing = [name for name in names if name and not _has_member(owner, name)]
        return f"{owner.__name__} has no attribute {', '.join(missing)}" if missing else None

    def _listing(self, name: str, rest: str) -> str | None:
        found = _lookup(self.modules, name)
        if found is _MISSING:
            return f"there is no {name} in {self.where()}"
        if inspect.isclass(found):
            self.owner = found
            names = [re.sub(r"\(.*\)$", "", part.strip()) for part in _split_top(rest, ",")]
            if all(re.fullmatch(r"\w+", n) for n in names):
                return self._attributes(found, names)
        return None

    def _call(self, indent: int, decorated: bool, is_def: bool, name: str, params: str | None) -> str | None:
        if name.startswith(".") or decorated or (is_def and indent):
            if self.owner is None:
                return f"{name} is listed as a member, but no class is above it"
            member = name.lstrip(".")
            if not _has_member(self.owner, member):
                return f"{self.owner.__name__} has no member {member}"
            target = getattr(self.owner, member, None)
            if params is None or name.startswith(".") or not callable(target):
                return None
            return _compare(target, params, f"{self.owner.__name__}.{member}")
        head, _, member = name.partition(".")
        found = _lookup(self.modules, head)
        if found is _MISSING:
            return f"there is no {head} in {self.where()}"
        if member:
            return None if _has_member(found, member) else f"{head} has no member {member}"
        self.owner = found if inspect.isclass(found) else None
        if params is None:
            return None
        return _compare(found, params, name)


def check_architecture(markdown: str) -> list[Finding]:
    """Every line of every ```python block that does not match the code, with what to fix."""
    findings = []
    for module_name, lines in blocks(markdown):
        checker = Checker(_modules(module_name), module_name)
        for number, indent, text in lines:
            pieces = _split_top(text, ";")
            for position, piece in enumerate(pieces):
                if not piece:
                    continue
                piece_indent = indent if position == 0 or checker.owner is None else max(indent, 4)
                problem = checker.check(piece_indent, piece)
                if problem:
                    findings.append(Finding(number, text, problem))
    return findings
