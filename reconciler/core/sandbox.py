"""The chart sandbox: Jinja's ImmutableSandboxedEnvironment plus bounds on size and time,
so a template anyone can push (the controller renders every revision and pull request) fails
with its line instead of exhausting the controller. Each failure is a SecurityError (a
TemplateError) at the template line that asked for too much.

Pure: no file, no network; the repository's own charts render exactly as without bounds.

What is bounded, and where:
- `*` `+` `%` `**` (intercepted_binops -> call_binop): the size of str/list/tuple results
  and of ints is checked *before* Python computes them (`'a' * 3000000000` never allocates).
  Intercepting also stops Jinja folding `'a' * N` at compile time.
- `~` (Concat, not interceptable): rewritten in the AST into a call of `guarded_concat`.
- every `for` loop: its iterable is wrapped (AST rewrite) so each item ticks a budget;
  every call (macros, methods, `loop()` of recursive loops) ticks too. A tick checks an
  iteration count and a wall-clock deadline: nested loops stop at the budget.
- calls and filters: int arguments above MAX_LEN are refused (`'a'.ljust(10**9)`,
  `x|center(10**9)`), format widths above MAX_LEN too, `replace`/`join` results are sized
  before they are built, and any str/list result above MAX_LEN is refused after.
- output: `concat` (which builds the final text and every macro / `{% set %}` block) stops
  at MAX_OUTPUT characters while it collects, not after.
- `{% include %}` / `{% import %}` / `{% from %}` / `{% extends %}`: refused at parse time with
  their line, instead of Jinja's `TypeError: no loader for this environment specified`.
"""

from __future__ import annotations

import json
import re
import string
import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_LEN = 1_000_000        # chars or items of any one value a template computes
MAX_OUTPUT = 4_000_000     # chars of one rendered template (or macro / set block)
MAX_INT_BITS = 4_096       # ints beyond this (~1,233 digits) are refused
MAX_PRODUCED = 20_000_000  # chars/items of all values computed in one render (memory bound)
MAX_TICKS = 250_000        # loop items + calls + operators + filters, per render
TIME_BUDGET = 1.0          # seconds of wall clock per render

_SIZED = (str, list, tuple)
_NUMBER = re.compile(r"\d+")


class _Guard(NodeTransformer):
    """Rewrites a parsed template: loops tick, `~` is bounded, no loader statements."""

    def __init__(self, env: ImmutableSandboxedEnvironment, name: str | None) -> None:
        self.env, self.name = env, name

    def _call(self, attr: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
        call = nodes.Call(nodes.EnvironmentAttribute(attr, lineno=lineno), args, [], None, None,
                          lineno=lineno)
        call.set_environment(self.env)
        return call

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = self._call("guarded_iter", [cast(nodes.Expr, node.iter)], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return self._call("guarded_concat", list(node.nodes), node.lineno)

    def _refuse(self, node: nodes.Node) -> None:
        words: dict[type[nodes.Node], str] = {
            nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "from",
            nodes.Extends: "extends"}
        word = words[type(node)]
        raise TemplateSyntaxError(f"{{% {word} %}} is not supported in chart templates: a "
                                  f"template cannot read other files (use a macro in the same "
                                  f"file)", node.lineno, self.name)

    visit_Include = visit_Import = visit_FromImport = visit_Extends = _refuse


def _too_big(what: str, size: int, limit: int = MAX_LEN) -> SecurityError:
    return SecurityError(f"{what} would be {size:,} long (the limit is {limit:,})")


def _check_args(args: Iterable[Any]) -> None:
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_LEN:
            raise SecurityError(f"argument {a} is above {MAX_LEN:,}")


def _check_format(fmt: str) -> None:
    """Widths / precisions in str.format or % specs above MAX_LEN."""
    for n in _NUMBER.findall(fmt):
        if len(n) > 7 or int(n) > MAX_LEN:
            raise SecurityError(f"format field width {n} is above {MAX_LEN:,}")


def _check_replace(s: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        hits = s.count(old) if old else len(s) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        size = len(s) + hits * (len(new) - len(old))
        if size > MAX_LEN:
            raise _too_big("the result of replace", size)


def _check_join(items: Any, sep: Any = "") -> None:
    if isinstance(items, (list, tuple)):
        size = sum(len(x) if isinstance(x, str) else 24 for x in items)
        size += max(len(items) - 1, 0) * (len(sep) if isinstance(sep, str) else 0)
        if size > MAX_LEN:
            raise _too_big("the result of join", size)


class ChartEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = float("inf")
        self.ticks = self.produced = 0
        self.template: Any = None
        for name, f in list(self.filters.items()):
            self.filters[name] = self._guard_filter(name, f)

    # -- budget -------------------------------------------------------------------------
    def start(self, budget: float = TIME_BUDGET) -> None:
        self.deadline, self.ticks, self.produced = time.monotonic() + budget, 0, 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks > MAX_TICKS:
            raise SecurityError(f"the template takes more than {MAX_TICKS:,} steps "
                                f"(nested loops?)")
        if not self.ticks & 1023 and time.monotonic() > self.deadline:
            raise SecurityError(f"the template takes longer than {TIME_BUDGET}s to render")

    def sized(self, value: Any) -> Any:
        """Every value an operator, call or filter computed: its size, and their total."""
        if isinstance(value, _SIZED):
            if len(value) > MAX_LEN:
                raise _too_big(f"a {type(value).__name__}", len(value))
            self.produced += len(value)
            if self.produced > MAX_PRODUCED:
                raise SecurityError(f"the template computes more than {MAX_PRODUCED:,} "
                                    f"characters or items in all")
        elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"an integer of {value.bit_length()} bits (limit {MAX_INT_BITS})")
        return value

    def guarded_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item

    def guarded_concat(self, *parts: Any) -> str:
        # `~`: every part is turned to str the way Jinja's str_join does
        strs = [p if isinstance(p, str) else str(p) for p in parts]
        size = sum(map(len, strs))
        if size > MAX_LEN:
            raise _too_big("the result of ~", size)
        joined: str = self.sized("".join(strs))
        return joined

    def concat(self, parts: Iterable[str]) -> str:
        out, size = [], 0
        for p in parts:
            size += len(p)
            if size > MAX_OUTPUT:
                exc = _too_big("the rendered text", size, MAX_OUTPUT)
                frame = getattr(parts, "gi_frame", None)  # the template code, paused at a yield
                if frame is not None and self.template is not None:
                    exc.lineno = self.template.get_corresponding_lineno(frame.f_lineno)  # type: ignore[attr-defined]
                raise exc
            out.append(p)
        return "".join(out)

    # -- operators ------------------------------------------------------------------------
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, _SIZED) and isinstance(n, int) and len(seq) * n > MAX_LEN:
                    raise _too_big(f"{type(seq).__name__} * {n}", len(seq) * n)
            if isinstance(left, int) and isinstance(right, int):
                bits = left.bit_length() + right.bit_length()
                if bits > MAX_INT_BITS:
                    raise SecurityError(f"an integer of about {bits} bits (limit {MAX_INT_BITS})")
        elif (operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED)
              and len(left) + len(right) > MAX_LEN):
            raise _too_big("the result of +", len(left) + len(right))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                bits = max(left.bit_length(), 1) * right
                if abs(left) > 1 and bits > MAX_INT_BITS:
                    raise SecurityError(f"{left} ** {right} has about {bits} bits "
                                        f"(limit {MAX_INT_BITS})")
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
        return self.sized(self.binop_table[operator](left, right))

    # -- calls and filters ----------------------------------------------------------------
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__self__", None) is __self:  # guarded_iter / guarded_concat
            return __obj(*args)
        __self.tick()
        _check_args(args)
        _check_args(kwargs.values())
        name = getattr(__obj, "__name__", "")
        target = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(target, str):
            if name in ("format", "format_map"):
                for _, _field, spec, _ in string.Formatter().parse(target):
                    if spec:
                        _check_format(spec)
            elif name == "replace":
                _check_replace(target, *args, **kwargs)
            elif name == "join" and args:
                _check_join(list(args[0]) if not isinstance(args[0], (list, tuple)) else args[0],
                            target)
        return __self.sized(super().call(__context, __obj, *args, **kwargs))

    def _guard_filter(self, name: str, f: Any) -> Any:
        passes = getattr(f, "jinja_pass_arg", None) is not None
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            _check_args(args)
            _check_args(kwargs.values())
            plain = args[1:] if passes else args  # without the context / environment
            if name == "replace" and len(plain) >= 3:
                _check_replace(*plain[:4])
            elif name == "join" and plain:
                _check_join(plain[0], plain[1] if len(plain) > 1 else kwargs.get("d", ""))
            elif name == "format" and plain and isinstance(plain[0], str):
                _check_format(plain[0])
            return self.sized(f(*args, **kwargs))

        guarded.__dict__.update(getattr(f, "__dict__", {}))  # keeps jinja_pass_arg
        guarded.__name__ = getattr(f, "__name__", name)
        return guarded


def _json(value: Any) -> str:
    """JSON (which is YAML) of a value; an undefined one fails as undefined, with its hint."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, sort_keys=True)


def chart_env() -> ChartEnvironment:
    """The environment charts render in: strict about undefined values, no autoescape, the
    `tojson`/`toyaml` filters (JSON is YAML, inline), bounded."""
    env = ChartEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["tojson"] = env._guard_filter("tojson", _json)
    env.filters["toyaml"] = env._guard_filter("toyaml", _json)
    return env


def render_chart(env: ChartEnvironment, source: str, context: dict[str, Any],
                 name: str | None = None, budget: float = TIME_BUDGET) -> str:
    """Parse, rewrite, compile and render one template under the budget."""
    tree = env.parse(source, name)
    tree = _Guard(env, name).visit(tree)
    template = env.from_string(tree)
    env.template = template
    env.start(budget)
    return template.render(context)
