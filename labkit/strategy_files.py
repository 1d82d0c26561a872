"""Strategies that students write: a prompt template, or a small Strategy subclass, in a notebook cell or a file.

Why: `run_bench`, `labkit bench --strategy PATH` and the class bake-off must put a student's own prompt through
exactly the machinery the built-in strategies use (the same parsers, judge and token counts), and a broken
submission must say what is wrong in one line instead of stopping a whole class's run.

    mine = template_strategy("terse", "Echo reply to this IPv{version} packet, hex only: {hex}")
    run_bench(["simulated"], [mine, "zero-shot"], n=100)          # an object from a notebook cell
    labkit bench --strategy examples/strategies/terse.py          # or a file that defines one

A file defines `STRATEGY` (a Strategy object, a Strategy subclass, or a template string, with optional `NAME`,
`SYSTEM` and `ANSWER`), or exactly one Strategy subclass.
"""

from __future__ import annotations

import runpy
import string
from collections.abc import Iterable
from pathlib import Path

from labkit.errors import LabkitError
from labkit.packets import echo_request, echo_request_v6, to_hex
from labkit.parse import ParsedHex
from labkit.prompts import (
    STRATEGIES,
    FieldsOnly,
    Prompt,
    SimulationTraits,
    StepByStep,
    Strategy,
    ZeroShot,
    get_strategy,
)
from labkit.stack import echo_reply

# Answer format -> the built-in strategy whose parser, rendering and token room a template borrows.
ANSWER_FORMATS: dict[str, Strategy] = {"hex": ZeroShot(), "final-hex": StepByStep(), "fields": FieldsOnly()}
PLACEHOLDERS = {
    "hex": "the request packet as lowercase hex",
    "words": "the request as hex in 16-bit words separated by spaces",
    "version": "4 or 6",
    "length": "the request's length in bytes",
}


def _values(request: bytes, version: int) -> dict[str, object]:
    hex_text = to_hex(request)
    words = " ".join(hex_text[i : i + 4] for i in range(0, len(hex_text), 4))
    return {"hex": hex_text, "words": words, "version": version, "length": len(request)}


class TemplateStrategy(Strategy):
    """A strategy from a prompt template: `{hex}` (or `{words}`) is where the request goes; the answer format
    ("hex", "final-hex" or "fields") chooses how the model's answer is read, as the built-in strategy of that
    format reads it."""

    def __init__(self, name: str, template: str, *, system: str = "", answer: str = "hex", teaches: str = "") -> None:
        if answer not in ANSWER_FORMATS:
            raise LabkitError(f"strategy {name!r}: answer format {answer!r} is not one of {', '.join(ANSWER_FORMATS)}")
        self.name, self.template, self.system = _checked_name(name), str(template), str(system)
        self.teaches = teaches or f"a student's template, answered as {answer}"
        self.answer = answer
        self.answer_format = ANSWER_FORMATS[answer].answer_format
        _check_template(self.name, self.template)

    def build(self, request: bytes) -> Prompt:
        version = request[0] >> 4 if request else 0
        if version not in (4, 6):
            raise LabkitError("the request is not an IPv4 or IPv6 packet")
        user = self.template.format_map(_values(request, version))
        return Prompt(system=self.system, user=user, max_tokens=self.max_tokens(request))

    def max_tokens(self, request: bytes) -> int:
        return ANSWER_FORMATS[self.answer].max_tokens(request)

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        return ANSWER_FORMATS[self.answer].answer_to_reply(text, request)

    def render_answer(self, reply: bytes, request: bytes) -> str:
        """As the borrowed format writes it. A reply too broken for a fields JSON (a stand-in model may garble
        its header) is written as hex: an answer the fields parser rejects, as it would a real one."""
        try:
            return ANSWER_FORMATS[self.answer].render_answer(reply, request)
        except ValueError:
            return to_hex(reply)


def template_strategy(
    name: str, template: str, *, system: str = "", answer: str = "hex", teaches: str = ""
) -> Strategy:
    """A checked strategy from a template (see TemplateStrategy); LabkitError says what is wrong with it."""
    return check_strategy(TemplateStrategy(name, template, system=system, answer=answer, teaches=teaches))


def _checked_name(name: object) -> str:
    text = str(name or "").strip()
    if not text or any(c.isspace() for c in text):
        raise LabkitError(f"a strategy needs a name without spaces (it keys the results), not {name!r}")
    return text


def _check_template(name: str, template: str) -> None:
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as error:
        raise LabkitError(
            f"strategy {name!r}: the template does not parse ({error}); write {{{{ and }}}} for literal braces"
        ) from None
    unknown = sorted(fields - set(PLACEHOLDERS))
    if unknown:
        raise LabkitError(
            f"strategy {name!r}: the template uses {{{unknown[0]}}}; labkit fills only "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            + " (write {{ and }} for braces)"
        )
    if not fields & {"hex", "words"}:
        raise LabkitError(f"strategy {name!r}: the template never shows the packet; put {{hex}} or {{words}} in it")


def check_strategy(strategy: Strategy) -> Strategy:
    """The strategy, once it has shown it works: it names itself, builds prompts for an IPv4 and an IPv6
    request, and reads back its own perfect answer. Anything else is one LabkitError line."""
    if not isinstance(strategy, Strategy):
        raise LabkitError(
            f"{strategy!r} is not a Strategy (subclass labkit.prompts.Strategy, or use "
            "labkit.strategy_files.template_strategy)"
        )
    name = _checked_name(strategy.name)
    if name in STRATEGIES and type(strategy) is not type(STRATEGIES[name]):
        raise LabkitError(f"strategy name {name!r} is taken by a built-in strategy; choose another name")
    for request in (echo_request(), echo_request_v6()):
        reply = echo_reply(request)
        assert reply is not None, "labkit's own sample echo request always has a reply"
        try:
            prompt = strategy.build(request)
            parsed = strategy.answer_to_reply(strategy.render_answer(reply, request), request)
        except Exception as error:  # a student's code: any failure becomes one line
            raise LabkitError(
                f"strategy {name!r} fails on an IPv{request[0] >> 4} echo request: {type(error).__name__}: {error}"
            ) from None
        if not isinstance(prompt, Prompt):
            raise LabkitError(f"strategy {name!r}: build() must return a labkit.prompts.Prompt")
        if parsed.data != reply:
            raise LabkitError(
                f"strategy {name!r} cannot read its own perfect answer back "
                f"({parsed.error or 'it parses to other bytes'}): check answer_to_reply"
            )
    if strategy.simulation is None:  # a student's strategy: the simulator imitates its answer format only
        strategy.simulation = STUDENT_TRAITS
    return strategy


# The simulated model does not read a prompt's wording, so a student's strategy that says nothing about its
# simulation is simulated by its answer format with neutral factors -- and the bake-off says so.
STUDENT_TRAITS = SimulationTraits(
    source="assumed: the simulator does not read prompts; a student's strategy is "
    "simulated by its answer format with neutral factors"
)


def load_strategy(path: str | Path) -> Strategy:
    """The strategy a .py file defines (see the module docstring), checked; LabkitError in one line if not."""
    path = Path(path)
    if not path.is_file():
        raise LabkitError(f"{path}: no such strategy file")
    run_name = f"labkit_strategy_{path.stem.replace('-', '_')}"
    try:
        namespace = runpy.run_path(str(path), run_name=run_name)
    except Exception as error:  # the file is a student's code: report, never a traceback
        raise LabkitError(f"{path}: {type(error).__name__}: {error}") from None
    try:
        return check_strategy(_strategy_in(namespace, path, run_name))
    except LabkitError as error:
        raise LabkitError(f"{path}: {error}") from None


def _strategy_in(namespace: dict, path: Path, run_name: str) -> Strategy:
    found = namespace.get("STRATEGY")
    if isinstance(found, str):
        return TemplateStrategy(
            namespace.get("NAME") or path.stem,
            found,
            system=namespace.get("SYSTEM", ""),
            answer=namespace.get("ANSWER", "hex"),
        )
    if found is None:
        classes = [
            v
            for v in namespace.values()
            if isinstance(v, type) and issubclass(v, Strategy) and v.__module__ == run_name
        ]
        if len(classes) != 1:
            raise LabkitError(
                "define STRATEGY (a template string or a Strategy) or exactly one Strategy "
                f"subclass; found {len(classes)} subclasses"
            )
        found = classes[0]
    if isinstance(found, type) and issubclass(found, Strategy):
        found = found()
    if isinstance(found, Strategy) and not found.name:
        found.name = path.stem
    return found


def resolve_strategy(spec: str | Path | Strategy | type) -> Strategy:
    """A built-in name, a path to a .py file, a Strategy object or a Strategy subclass -> a Strategy."""
    if isinstance(spec, type) and issubclass(spec, Strategy):
        spec = spec()
    if isinstance(spec, Strategy):
        return spec if spec is STRATEGIES.get(spec.name) else check_strategy(spec)
    text = str(spec)
    if text.endswith(".py") or isinstance(spec, Path):
        return load_strategy(text)
    return get_strategy(text)


def resolve_strategies(specs: Iterable) -> dict[str, Strategy]:
    """Name -> Strategy, in order; one given twice runs once; two different ones with one name are an error."""
    chosen: dict[str, Strategy] = {}
    for spec in specs:
        strategy = resolve_strategy(spec)
        other = chosen.setdefault(strategy.name, strategy)
        same_built_in = strategy.name in STRATEGIES and type(other) is type(strategy)
        if other is not strategy and not same_built_in:
            raise LabkitError(f"two strategies are named {strategy.name!r}; rename one")
    return chosen
