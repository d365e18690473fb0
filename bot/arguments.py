"""From chat text to a handler's arguments: shell-like words, bound by the handler's signature.

Plugin authors declare arguments as parameters: type hints convert, keyword-only parameters become
``--options``, ``*args`` takes the remaining words. A handler never parses text itself, and every
mistake goes back into the chat as a ``UsageError`` with the command's usage line.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import operator
import shlex
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

from .errors import UsageError

DOUBLE_QUOTES = '"\u201c\u201d\u201e'
SINGLE_QUOTES = "'\u2018\u2019"
DASHES = "\u2014\u2013"
# Private-use stand-ins that shlex reads as word characters; restored after splitting.
APOSTROPHE = "\ue000"
LITERAL_DOUBLE = "\ue001"
RESTORE = str.maketrans({APOSTROPHE: "'", LITERAL_DOUBLE: '"'})
TRUE = frozenset({"true", "yes", "y", "on", "1"})
FALSE = frozenset({"false", "no", "n", "off", "0"})
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
UNIONS = (Union, types.UnionType)


def _prepare(text: str) -> str:
    """Undo what chat clients do to typed text: smart quotes, in-word apostrophes, ``--`` turned into
    a dash, exotic spaces; and make a quote that is never closed a literal character, not an error.
    """
    chars = [" " if ch.isspace() and ch not in "\t\r\n" else ch for ch in text]
    out: list[str] = []
    quote = ""
    opened = (0, 0)  # (index in chars, index in out) of the quote still open
    i = 0
    while i < len(chars):
        ch = chars[i]
        before = chars[i - 1] if i else ""
        after = chars[i + 1] if i + 1 < len(chars) else ""
        plain = '"' if ch in DOUBLE_QUOTES else "'" if ch in SINGLE_QUOTES else ch
        if plain == "'" and before.isalnum() and after.isalnum():
            out.append(APOSTROPHE)
        elif quote:
            quote = "" if plain == quote else quote
            out.append(plain)
        elif plain in "\"'":
            quote, opened = plain, (i, len(out))
            out.append(plain)
        elif ch in DASHES and (not before or before.isspace()):
            out.append("--")
        else:
            out.append(ch)
        i += 1
        if i == len(chars) and quote:
            i, at = opened[0] + 1, opened[1]
            out[at:] = [APOSTROPHE if quote == "'" else LITERAL_DOUBLE]
            quote = ""
    return "".join(out)


def split_words(text: str) -> list[str]:
    """Split chat text like a shell would, without the shell's traps.

    Backslashes are literal (chat users paste Windows paths and regexes, not escapes), ``#`` starts
    no comment, and unbalanced quotes never raise.
    """
    lexer = shlex.shlex(_prepare(text), posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    lexer.escape = ""
    return [word.translate(RESTORE) for word in lexer]


def _parameters(function: Callable[..., Any]) -> list[tuple[inspect.Parameter, Any]]:
    """The parameters after ctx with their resolved types (str where there is no hint). ctx's own
    hint is never resolved: it is often imported only under ``TYPE_CHECKING``.
    """
    parameters = list(inspect.signature(function).parameters.values())
    if not parameters:
        return []
    target = inspect.unwrap(function)
    wanted = {key: value for key, value in getattr(target, "__annotations__", {}).items()
              if key not in (parameters[0].name, "return")}
    try:
        hints = typing.get_type_hints(types.SimpleNamespace(__annotations__=wanted),
                                      globalns=getattr(target, "__globals__", {}))
    except NameError as error:
        raise TypeError(f"cannot resolve the type hints of {getattr(function, '__qualname__', function)}: "
                        f"{error}") from None
    return [(p, hints.get(p.name, str)) for p in parameters[1:] if p.kind is not p.VAR_KEYWORD]


def _base(hint: Any) -> Any:
    """X for ``Optional[X]`` and ``X | None``: the default already says what "not given" means."""
    if get_origin(hint) not in UNIONS:
        return hint
    members = tuple(member for member in get_args(hint) if member is not type(None))
    return functools.reduce(operator.or_, members)


def _convert(word: str, hint: Any) -> Any:
    """``word`` as the type ``hint`` asks for; ValueError when it is not one."""
    hint = _base(hint)
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        found = [c for c in choices if str(c) == word] or [c for c in choices if str(c).lower() == word.lower()]
        if found:
            return found[0]
        raise ValueError(word)
    if get_origin(hint) in UNIONS:
        for member in get_args(hint):
            try:
                return _convert(word, member)
            except ValueError:
                continue
        raise ValueError(word)
    if hint is bool:
        if word.lower() in TRUE | FALSE:
            return word.lower() in TRUE
        raise ValueError(word)
    if hint is str or not isinstance(hint, type):
        return word
    return hint(word)


def _expected(hint: Any) -> str:
    """What a value of ``hint`` is, in words, for error messages."""
    hint = _base(hint)
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(_code(str(choice)) for choice in get_args(hint))
    if get_origin(hint) in UNIONS:
        return " or ".join(_expected(member) for member in get_args(hint))
    named = {int: "a whole number", float: "a number", bool: "yes or no", str: "some text"}
    return named.get(hint) or f"a {getattr(hint, '__name__', 'value')}"


def _label(hint: Any) -> str:
    """The short type shown in a usage line; empty for plain text."""
    hint = _base(hint)
    if get_origin(hint) is Literal:
        return "|".join(str(choice) for choice in get_args(hint))
    if get_origin(hint) in UNIONS:
        return "|".join(_label(member) or "str" for member in get_args(hint))
    if hint is str or not isinstance(hint, type):
        return ""
    return hint.__name__


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _piece(parameter: inspect.Parameter, hint: Any) -> str:
    """One parameter as it appears in the usage line."""
    required = parameter.default is parameter.empty
    if parameter.kind is parameter.KEYWORD_ONLY:
        if _base(hint) is bool:
            text = f"--no-{parameter.name.replace('_', '-')}" if parameter.default is True else _option(parameter.name)
        else:
            literal = get_origin(_base(hint)) is Literal
            value = _label(hint) if literal else "N" if _base(hint) in (int, float) else parameter.name.upper()
            text = f"{_option(parameter.name)} {value}"
        return text if required else f"[{text}]"
    label = _label(hint)
    shown = label if get_origin(_base(hint)) is Literal else f"{parameter.name}:{label}" if label else parameter.name
    if parameter.kind is parameter.VAR_POSITIONAL:
        return f"[{shown}...]"
    return f"<{shown}>" if required else f"[{shown}]"


def usage(name: str, function: Callable[..., Any]) -> str:
    """The command's usage line, built from its signature so it can never drift from the code."""
    return " ".join([name, *(_piece(parameter, hint) for parameter, hint in _parameters(function))])


def _code(word: str) -> str:
    """A word the person typed, quoted for markdown and kept short."""
    shown = word.replace("`", "'")
    shown = shown if len(shown) <= 40 else shown[:39] + "\u2026"
    return f"`{shown}`" if shown else '`""`'


def bind(function: Callable[..., Any], words: list[str], name: str) -> tuple[list[Any], dict[str, Any]]:
    """The ``args`` and ``kwargs`` to call ``function(ctx, *args, **kwargs)`` with.

    Raises UsageError, with the usage line, when the words do not fit the signature.
    """
    parameters = _parameters(function)
    if not parameters:
        return [], {}

    def fail(problem: str) -> UsageError:
        return UsageError(f"{problem}\nUsage: `{usage(name, function)}`")

    def convert(word: str, hint: Any, what: str) -> Any:
        try:
            return _convert(word, hint)
        except ValueError:
            raise fail(f"`{name}` needs {_expected(hint)} for `{what}`, got {_code(word)}.") from None

    positional = [(p, hint) for p, hint in parameters if p.kind in POSITIONAL]
    rest = next(((p, hint) for p, hint in parameters if p.kind is p.VAR_POSITIONAL), None)
    options = {_option(p.name): (p, hint) for p, hint in parameters if p.kind is p.KEYWORD_ONLY}
    loose: list[str] = []
    kwargs: dict[str, Any] = {}
    ended = False
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if ended or not word.startswith("--"):
            loose.append(word)
            continue
        if word == "--":
            ended = True
            continue
        flag, has_value, value = word.partition("=")
        flag = flag.replace("_", "-")
        negated = flag.startswith("--no-") and flag not in options and "--" + flag[5:] in options
        found = options.get("--" + flag[5:] if negated else flag)
        if found is None or (negated and _base(found[1]) is not bool):
            close = difflib.get_close_matches(flag, list(options), n=1, cutoff=0.75)
            hint = f"; did you mean `{close[0]}`?" if close else "."
            raise fail(f"`{name}` has no option {_code(flag)}{hint}")
        parameter, hint = found
        if _base(hint) is bool and not has_value:
            kwargs[parameter.name] = not negated
            continue
        if not has_value:
            if i >= len(words) or words[i].startswith("--"):
                raise fail(f"`{name}` needs a value after `{flag}`.")
            value = words[i]
            i += 1
        converted = convert(value, hint, flag)
        kwargs[parameter.name] = (not converted) if negated else converted
    missing = [p.name for p, _ in positional[len(loose):] if p.default is p.empty]
    missing += [_option(p.name) for p, _ in options.values() if p.default is p.empty and p.name not in kwargs]
    if missing:
        raise fail(f"`{name}` is missing " + ", ".join(f"`{what}`" for what in missing) + ".")
    extra = loose[len(positional):]
    if extra and rest is None:
        most = "at most " if any(p.default is not p.empty for p, _ in positional) else ""
        takes = f"{most}{len(positional)} argument{'s' * (len(positional) > 1)}" if positional else "no arguments"
        raise fail(f"`{name}` takes {takes}, got {len(loose)} (extra: {_code(' '.join(extra))}).")
    args = [convert(word, hint, p.name) for word, (p, hint) in zip(loose, positional)]
    if rest is not None:
        args += [convert(word, rest[1], rest[0].name) for word in extra]
    return args, kwargs
