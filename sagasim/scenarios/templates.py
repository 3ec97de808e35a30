"""Templates and conditions in scenario files.

A template is a string with placeholders in braces, filled in when a step
runs::

    "{payload.amount}"            the instance payload's field
    "{steps.charge.id}"           a field of an earlier step's output
    "{instance}"                  the instance id
    "{attempt}"                   the step's attempt number (1-based)
    "{output.id}"                 in a compensation: the step's own output
    "order {instance}: {payload.sku}"

A string that is exactly one placeholder keeps the type of what it names
(``"{payload.amount}"`` is an integer); otherwise each placeholder is turned
into text and the string is joined. ``{{`` and ``}}`` stand for literal
braces. A path goes down dicts by key and lists by index (``items.0``); a
path that meets ``null`` on the way gives ``null``, and a key that is not
there is an error.

A condition (a step's ``when``) is a small expression over placeholders and
literals: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``and``, ``or``,
``not`` and parentheses; literals are numbers, quoted strings, ``true``,
``false`` and ``null``. A bare placeholder is true when its value is truthy::

    "{steps.upgrade} != null or {payload.auto_renew}"

Parsing checks the syntax only; which names a placeholder may use depends
on where it stands, and the scenario loader checks that.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Condition",
    "Ref",
    "Template",
    "TemplateError",
    "parse_condition",
    "parse_template",
    "parse_value",
    "refs_in",
    "render_value",
]

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_\-]*|\d+"
_PATH = re.compile(rf"^(?:{_SEGMENT})(?:\.(?:{_SEGMENT}))*$")


class TemplateError(ValueError):
    """A template or condition that cannot be parsed or rendered.

    The message is one line and names neither file nor field; the caller
    adds those. ``where`` is the dotted place inside a value given to
    :func:`parse_value` (``"to"``, ``"items[2]"``), ``""`` at its top.
    """

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where


@dataclass(frozen=True)
class Ref:
    """One placeholder: a dotted path such as ``steps.charge.id``."""

    path: tuple[str, ...]

    @property
    def root(self) -> str:
        return self.path[0]

    @property
    def text(self) -> str:
        return "{" + ".".join(self.path) + "}"

    def resolve(self, scope: Mapping[str, Any]) -> Any:
        """The value the path names in ``scope``.

        Raises:
            TemplateError: a key or index on the path is not there.
        """
        value: Any = scope
        for depth, segment in enumerate(self.path):
            if value is None:
                return None
            if isinstance(value, Mapping):
                if segment not in value:
                    where = ".".join(self.path[:depth]) or "the template"
                    raise TemplateError(
                        f"{self.text}: {where} has no field {segment!r}"
                    )
                value = value[segment]
            elif isinstance(value, list) and segment.isdigit():
                index = int(segment)
                if index >= len(value):
                    where = ".".join(self.path[:depth])
                    raise TemplateError(
                        f"{self.text}: {where} has {len(value)} items, no item {index}"
                    )
                value = value[index]
            else:
                where = ".".join(self.path[:depth])
                raise TemplateError(
                    f"{self.text}: {where} is {_kind(value)}, "
                    f"it has no field {segment!r}"
                )
        return value


@dataclass(frozen=True)
class Template:
    """A parsed template string; see the module docstring."""

    source: str
    parts: tuple[str | Ref, ...]

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(part for part in self.parts if isinstance(part, Ref))

    def render(self, scope: Mapping[str, Any]) -> Any:
        """Fill in the placeholders from ``scope``.

        A template that is one placeholder returns the value itself.
        """
        if len(self.parts) == 1 and isinstance(self.parts[0], Ref):
            return self.parts[0].resolve(scope)
        return "".join(
            part if isinstance(part, str) else _text(part.resolve(scope))
            for part in self.parts
        )


def parse_template(text: str) -> Template | str:
    """Parse ``text``; a string without placeholders comes back as a string.

    Raises:
        TemplateError: an unclosed or empty brace, or a bad path.
    """
    parts: list[str | Ref] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if text.startswith("{{", index) or text.startswith("}}", index):
            literal.append(char)
            index += 2
            continue
        if char == "}":
            raise TemplateError(
                f"a '}}' without its '{{' at character {index + 1} of {text!r} "
                "(write '}}' for a literal brace)"
            )
        if char != "{":
            literal.append(char)
            index += 1
            continue
        end = text.find("}", index)
        if end == -1:
            raise TemplateError(
                f"a '{{' without its '}}' at character {index + 1} of {text!r} "
                "(write '{{' for a literal brace)"
            )
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_ref(text[index + 1 : end].strip(), text))
        index = end + 1
    if literal:
        parts.append("".join(literal))
    if not any(isinstance(part, Ref) for part in parts):
        return "".join(part for part in parts if isinstance(part, str))
    return Template(source=text, parts=tuple(parts))


def _ref(body: str, text: str) -> Ref:
    if not body:
        raise TemplateError(f"an empty placeholder '{{}}' in {text!r}")
    if not _PATH.match(body):
        raise TemplateError(
            f"{{{body}}} in {text!r} is not a dotted path such as {{payload.amount}}"
        )
    return Ref(tuple(body.split(".")))


def parse_value(value: Any) -> Any:
    """Parse every string in a decoded TOML value (tables and arrays too).

    Strings with placeholders become :class:`Template` objects; everything
    else is kept as it is.

    Raises:
        TemplateError: for the first bad string, with ``where`` saying
            where it is inside ``value``.
    """
    if isinstance(value, str):
        return parse_template(value)
    if isinstance(value, dict):
        parsed = {}
        for key, item in value.items():
            try:
                parsed[key] = parse_value(item)
            except TemplateError as exc:
                raise TemplateError(exc.message, _join(str(key), exc.where)) from None
        return parsed
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(parse_value(item))
            except TemplateError as exc:
                raise TemplateError(
                    exc.message, _join(f"[{index}]", exc.where)
                ) from None
        return items
    return value


def refs_in(value: Any) -> Iterator[tuple[str, Ref]]:
    """Every placeholder in a parsed value, with its dotted location."""
    if isinstance(value, Template):
        for ref in value.refs:
            yield "", ref
    elif isinstance(value, Condition):
        for ref in value.refs:
            yield "", ref
    elif isinstance(value, dict):
        for key, item in value.items():
            for where, ref in refs_in(item):
                yield _join(str(key), where), ref
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for where, ref in refs_in(item):
                yield _join(f"[{index}]", where), ref


def _join(head: str, tail: str) -> str:
    if not tail:
        return head
    return head + tail if tail.startswith("[") else f"{head}.{tail}"


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """A parsed value with every template filled in from ``scope``."""
    if isinstance(value, Template):
        return value.render(scope)
    if isinstance(value, dict):
        return {key: render_value(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, scope) for item in value]
    return value


# -- conditions ----------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ref>\{[^{}]*\})
      | (?P<string>"(?:[^"\\]|\\.)*"|'[^']*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|<=|>=|<|>|\(|\))
      | (?P<word>[A-Za-z_]+)
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_WORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class Condition:
    """A parsed condition; ``evaluate(scope)`` gives ``True`` or ``False``."""

    source: str
    tree: Any

    @property
    def refs(self) -> tuple[Ref, ...]:
        found: list[Ref] = []

        def walk(node: Any) -> None:
            if isinstance(node, Ref):
                found.append(node)
            elif isinstance(node, tuple) and node and node[0] != "lit":
                for child in node[1:]:
                    walk(child)

        walk(self.tree)
        return tuple(found)

    def evaluate(self, scope: Mapping[str, Any]) -> bool:
        """Whether the condition holds for ``scope``.

        Raises:
            TemplateError: a placeholder cannot be resolved, or two values
                cannot be ordered (``null < 3``).
        """
        return bool(self._eval(self.tree, scope))

    def _eval(self, node: Any, scope: Mapping[str, Any]) -> Any:
        if isinstance(node, Ref):
            return node.resolve(scope)
        tag = node[0]
        if tag == "lit":
            return node[1]
        if tag == "not":
            return not self._eval(node[1], scope)
        if tag == "and":
            return bool(self._eval(node[1], scope)) and bool(self._eval(node[2], scope))
        if tag == "or":
            return bool(self._eval(node[1], scope)) or bool(self._eval(node[2], scope))
        left = self._eval(node[1], scope)
        right = self._eval(node[2], scope)
        try:
            return _COMPARE[tag](left, right)
        except TypeError:
            raise TemplateError(
                f"{self.source!r}: cannot compare {_text(left)} {tag} {_text(right)}"
            ) from None


def parse_condition(text: str) -> Condition:
    """Parse a condition; see the module docstring.

    Raises:
        TemplateError: for a syntax error.
    """
    tokens = _tokens(text)
    parser = _ConditionParser(text, tokens)
    tree = parser.expression()
    if parser.index != len(tokens):
        raise TemplateError(
            f"unexpected {_show_token(tokens[parser.index])} in condition {text!r}"
        )
    return Condition(source=text, tree=tree)


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    index = 0
    while index < len(text):
        if text[index:].strip() == "":
            break
        match = _TOKEN.match(text, index)
        if match is None:
            rest = text[index:].strip()
            raise TemplateError(f"cannot read {rest!r} in condition {text!r}")
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "ref":
            tokens.append(("ref", _ref(raw[1:-1].strip(), text)))
        elif kind == "string":
            tokens.append(("lit", _string(raw, text)))
        elif kind == "number":
            tokens.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw in _WORDS:
            tokens.append(("lit", _WORDS[raw]))
        elif kind == "word" and raw in ("and", "or", "not"):
            tokens.append(("op", raw))
        elif kind == "word":
            raise TemplateError(
                f"unknown word {raw!r} in condition {text!r} "
                "(placeholders go in braces, strings in quotes)"
            )
        else:
            tokens.append(("op", raw))
        index = match.end()
    if not tokens:
        raise TemplateError("an empty condition")
    return tokens


def _string(raw: str, text: str) -> str:
    if raw.startswith("'"):
        return raw[1:-1]
    try:
        return json.loads(raw)
    except ValueError:
        raise TemplateError(f"a bad string {raw} in condition {text!r}") from None


class _ConditionParser:
    def __init__(self, text: str, tokens: list[tuple[str, Any]]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, op: str) -> bool:
        token = self.peek()
        if token is not None and token == ("op", op):
            self.index += 1
            return True
        return False

    def expression(self) -> Any:
        node = self.conjunction()
        while self.take("or"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.negation()
        while self.take("and"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Any:
        if self.take("not"):
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.atom()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARE:
            self.index += 1
            return (token[1], left, self.atom())
        return left

    def atom(self) -> Any:
        token = self.peek()
        if token is None:
            raise TemplateError(f"condition {self.text!r} ends too early")
        self.index += 1
        kind, value = token
        if kind == "ref":
            return value
        if kind == "lit":
            return ("lit", value)
        if value == "(":
            node = self.expression()
            if not self.take(")"):
                raise TemplateError(f"a '(' without its ')' in condition {self.text!r}")
            return node
        raise TemplateError(
            f"unexpected {_show_token(token)} in condition {self.text!r}"
        )


def _show_token(token: tuple[str, Any]) -> str:
    kind, value = token
    if kind == "ref":
        return value.text
    if kind == "lit":
        return json.dumps(value)
    return repr(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
