"""Chat text to handler arguments: word splitting, usage lines, binding and its error messages."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional

import pytest

from bot.arguments import UsageError, bind, split_words, usage

if TYPE_CHECKING:
    from bot.context import Context  # resolvable only for type checkers, as in plugins


@pytest.mark.parametrize("text, words", [
    ("echo hi there", ["echo", "hi", "there"]),
    ("  spaced   out\tby tabs  ", ["spaced", "out", "by", "tabs"]),
    ("", []),
    ("   ", []),
    ('say "hello world"', ["say", "hello world"]),
    ("say 'hello world'", ["say", "hello world"]),
    ('say ""', ["say", ""]),
    ('say "it\'s fine"', ["say", "it's fine"]),
    ("say 'a \"quote\"'", ["say", 'a "quote"']),
    ('say a"b c"d', ["say", "ab cd"]),
    ("line one\nline two", ["line", "one", "line", "two"]),
])
def test_split_words_like_a_shell(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize("text, words", [
    ("say \u201chello world\u201d", ["say", "hello world"]),
    ("say \u201ehello world\u201c", ["say", "hello world"]),
    ("say \u201chello world\u201c", ["say", "hello world"]),
    ("say \u2018hello world\u2019", ["say", "hello world"]),
    ("say \u201cit\u2019s fine\u201d", ["say", "it's fine"]),
    ("say \u2018don\u2019t do it\u2019", ["say", "don't do it"]),
])
def test_smart_quotes_are_plain_quotes(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize("text, words", [
    ("say don\u2019t stop", ["say", "don't", "stop"]),
    ("say don't stop", ["say", "don't", "stop"]),
    ("say don\u2018t stop", ["say", "don't", "stop"]),
    ("it's Bob's turn", ["it's", "Bob's", "turn"]),
    ("l'\u00e9t\u00e9 arrive", ["l'\u00e9t\u00e9", "arrive"]),
    ("rock 'n' roll", ["rock", "n", "roll"]),
])
def test_an_apostrophe_inside_a_word_starts_no_quote(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize("text, words", [
    ("greet \u2014loud", ["greet", "--loud"]),
    ("greet \u2013loud", ["greet", "--loud"]),
    ("greet \u2014times 3", ["greet", "--times", "3"]),
    ("\u2014loud", ["--loud"]),
    ("tag \u2014 \u2014x", ["tag", "--", "--x"]),
    ("years 2020\u20132021", ["years", "2020\u20132021"]),
    ("say \"\u2014quoted\"", ["say", "\u2014quoted"]),
    ("add -1 -2", ["add", "-1", "-2"]),
])
def test_a_dash_that_starts_a_word_is_a_double_hyphen(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", "\u2007", "\u3000"])
def test_non_breaking_and_other_spaces_separate_words(space: str) -> None:
    assert split_words(f"add{space}1{space}2") == ["add", "1", "2"]


@pytest.mark.parametrize("text, words", [
    ('say "unbalanced', ["say", '"unbalanced']),
    ("say 'unbalanced", ["say", "'unbalanced"]),
    ("say \u201cunbalanced", ["say", '"unbalanced']),
    ("the students\u2019 work", ["the", "students'", "work"]),
    ('a "b c" "', ["a", "b c", '"']),
    ("'a \"b' c\"d e", ['a "b', 'c"d', "e"]),
    ('say "one \'two" three\'', ["say", "one 'two", "three'"]),
])
def test_an_unbalanced_quote_is_a_literal_character(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize("text, words", [
    ("open C:\\Users\\me", ["open", "C:\\Users\\me"]),
    ("find \\d+", ["find", "\\d+"]),
    ("join #general now", ["join", "#general", "now"]),
])
def test_backslashes_and_hashes_are_ordinary_characters(text: str, words: list[str]) -> None:
    assert split_words(text) == words


def shout(ctx: Context) -> None: ...
def add(ctx: Context, a: int, b: int) -> None: ...
def greet(ctx: Any, name: str = "world", *, loud: bool = False, times: int = 1) -> None: ...
def tag(ctx, first: str, *rest: str) -> None: ...
def mode(ctx, level: Literal["low", "high"]) -> None: ...
def scale(ctx, factor: float, unit=None) -> None: ...
def total(ctx, *numbers: int) -> None: ...
def page(ctx, n: Optional[int] = None, size: int | None = None) -> None: ...  # noqa: UP045
def switch(ctx, on: bool) -> None: ...
def deploy(ctx, *, dry_run: bool = True, env: Literal["dev", "prod"] = "dev", who: str | None = None) -> None: ...
def ticket(ctx, *, priority: int) -> None: ...
def ping(ctx, *, verbose: bool = False) -> None: ...
def pick(ctx, level: Literal[1, 2, 3] = 1) -> None: ...
def limit(ctx, count: int | Literal["all"]) -> None: ...
def everything(ctx, **extra: str) -> None: ...


@pytest.mark.parametrize("function, line", [
    (shout, "shout"),
    (add, "add <a:int> <b:int>"),
    (greet, "greet [name] [--loud] [--times N]"),
    (tag, "tag <first> [rest...]"),
    (mode, "mode <low|high>"),
    (scale, "scale <factor:float> [unit]"),
    (total, "total [numbers:int...]"),
    (page, "page [n:int] [size:int]"),
    (switch, "switch <on:bool>"),
    (deploy, "deploy [--no-dry-run] [--env dev|prod] [--who WHO]"),
    (ticket, "ticket --priority N"),
    (pick, "pick [1|2|3]"),
    (limit, "limit <count:int|all>"),
    (everything, "everything"),
])
def test_usage_is_built_from_the_signature_without_ctx(function: Any, line: str) -> None:
    assert usage(function.__name__, function) == line


class Plugin:
    def add(self, ctx: Any, a: int, b: int) -> None: ...


def test_usage_and_bind_of_a_method_skip_self_and_ctx() -> None:
    method = Plugin().add
    assert usage("add", method) == "add <a:int> <b:int>"
    assert bind(method, ["1", "2"], "add") == ([1, 2], {})


def test_a_handler_with_only_ctx_accepts_any_words() -> None:
    assert bind(shout, ["anything", "--at", "all", "--"], "shout") == ([], {})
    assert bind(everything, ["a", "--b", "c"], "everything") == ([], {})


@pytest.mark.parametrize("function, text, args, kwargs", [
    (add, "1 2", [1, 2], {}),
    (add, "-1 +2", [-1, 2], {}),
    (greet, "", [], {}),
    (greet, "Bob", ["Bob"], {}),
    (greet, "--loud", [], {"loud": True}),
    (greet, "--no-loud", [], {"loud": False}),
    (greet, "Bob --times 3", ["Bob"], {"times": 3}),
    (greet, "--times=3 Bob", ["Bob"], {"times": 3}),
    (greet, "--loud Bob --times 2 --times 4", ["Bob"], {"loud": True, "times": 4}),
    (greet, "\u2014loud \u2014times 3", [], {"loud": True, "times": 3}),
    (greet, "\u201cBob Smith\u201d --loud", ["Bob Smith"], {"loud": True}),
    (greet, "-- --loud", ["--loud"], {}),
    (greet, "--loud=no", [], {"loud": False}),
    (tag, "a", ["a"], {}),
    (tag, "a b c", ["a", "b", "c"], {}),
    (mode, "low", ["low"], {}),
    (mode, "HIGH", ["high"], {}),
    (scale, "1.5", [1.5], {}),
    (scale, "2 cm", [2.0, "cm"], {}),
    (total, "", [], {}),
    (total, "1 2 3", [1, 2, 3], {}),
    (page, "2", [2], {}),
    (page, "2 50", [2, 50], {}),
    (switch, "yes", [True], {}),
    (switch, "Off", [False], {}),
    (deploy, "--no-dry-run --env prod", [], {"dry_run": False, "env": "prod"}),
    (deploy, "--dry_run --env=dev --who ada", [], {"dry_run": True, "env": "dev", "who": "ada"}),
    (ticket, "--priority 2", [], {"priority": 2}),
    (pick, "3", [3], {}),
    (limit, "3", [3], {}),
    (limit, "ALL", ["all"], {}),
])
def test_bind_converts_by_type_hint(function: Any, text: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    assert bind(function, split_words(text), function.__name__) == (args, kwargs)


@pytest.mark.parametrize("function, text, message", [
    (add, "1", "`add` is missing `b`."),
    (add, "", "`add` is missing `a`, `b`."),
    (add, "1 x", "`add` needs a whole number for `b`, got `x`."),
    (add, "1.5 2", "`add` needs a whole number for `a`, got `1.5`."),
    (add, '1 ""', '`add` needs a whole number for `b`, got `""`.'),
    (add, "1 2 3", "`add` takes 2 arguments, got 3 (extra: `3`)."),
    (add, "1 2 3 4", "`add` takes 2 arguments, got 4 (extra: `3 4`)."),
    (greet, "Bob Ann", "`greet` takes at most 1 argument, got 2 (extra: `Ann`)."),
    (ping, "now", "`ping` takes no arguments, got 1 (extra: `now`)."),
    (greet, "--lod", "`greet` has no option `--lod`; did you mean `--loud`?"),
    (greet, "--colour red", "`greet` has no option `--colour`."),
    (greet, "--no-times", "`greet` has no option `--no-times`; did you mean `--times`?"),
    (greet, "--times", "`greet` needs a value after `--times`."),
    (greet, "--times --loud", "`greet` needs a value after `--times`."),
    (greet, "--times x", "`greet` needs a whole number for `--times`, got `x`."),
    (greet, "--times=", '`greet` needs a whole number for `--times`, got `""`.'),
    (greet, "--loud=maybe", "`greet` needs yes or no for `--loud`, got `maybe`."),
    (mode, "", "`mode` is missing `level`."),
    (mode, "mid", "`mode` needs one of `low`, `high` for `level`, got `mid`."),
    (scale, "big", "`scale` needs a number for `factor`, got `big`."),
    (total, "1 two", "`total` needs a whole number for `numbers`, got `two`."),
    (switch, "maybe", "`switch` needs yes or no for `on`, got `maybe`."),
    (deploy, "--env test", "`deploy` needs one of `dev`, `prod` for `--env`, got `test`."),
    (ticket, "", "`ticket` is missing `--priority`."),
    (limit, "x", "`limit` needs a whole number or one of `all` for `count`, got `x`."),
    (add, "1 `x`", "`add` needs a whole number for `b`, got `'x'`."),
])
def test_each_usage_error_names_the_problem_and_the_usage(function: Any, text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        bind(function, split_words(text), function.__name__)
    problem, line = str(caught.value).split("\n")
    assert problem == message
    assert line == f"Usage: `{usage(function.__name__, function)}`"


def test_a_long_word_is_shortened_in_the_error() -> None:
    with pytest.raises(UsageError, match="got `x{39}\u2026`"):
        bind(add, ["1", "x" * 100], "add")


def test_string_annotations_of_the_future_import_are_resolved() -> None:
    assert isinstance(add.__annotations__["a"], str)
    assert bind(add, ["4", "5"], "add") == ([4, 5], {})


def test_an_unresolvable_hint_on_ctx_is_ignored_but_one_on_an_argument_is_a_type_error() -> None:
    def handler(ctx: Context, count: Missing) -> None: ...  # noqa: F821
    with pytest.raises(TypeError, match="cannot resolve the type hints of .*handler.*Missing"):
        bind(handler, ["1"], "handler")
    assert bind(shout, ["x"], "shout") == ([], {})
