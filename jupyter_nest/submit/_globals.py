"""Which notebook globals a cell reads: the names it may load before it binds them itself.

Only those are shipped to the worker. The analysis follows Python's scoping:
names bound by the cell (assignments, imports, ``def``, ``class``, loop and
``with`` targets) are not read from the notebook once they are certainly bound;
comprehension variables and function parameters are local to their scope.
Names used inside functions, lambdas and methods defined in the cell count as
read unless the cell binds them at its top level, because such code usually runs
after the cell has defined what it needs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _params(args: ast.arguments) -> set[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _evaluated_at_definition(node: ast.AST) -> list[ast.AST]:
    """The parts of a def, class, lambda or comprehension that run in the enclosing scope."""
    if isinstance(node, _FUNCTIONS):
        args = node.args
        parts: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
        if not isinstance(node, ast.Lambda):
            parts += node.decorator_list
            parts += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                                             args.vararg, args.kwarg) if a is not None and a.annotation]
            parts += [node.returns] if node.returns else []
        return parts
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
    assert isinstance(node, _COMPREHENSIONS)
    return [node.generators[0].iter]


class _Scope:
    """Bindings and loads of one scope, not looking into the scopes nested in it."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.loads: set[str] = set()
        self.declared_global: set[str] = set()
        self.nested_free: set[str] = set()
        self.walrus: set[str] = set()

    def scan(self, nodes: Iterable[ast.AST]) -> _Scope:
        for node in nodes:
            self.visit(node)
        return self

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef, *_COMPREHENSIONS)):
            self.scan(_evaluated_at_definition(node))
            self.nested_free |= free_names(node)
            if isinstance(node, _COMPREHENSIONS):
                self.walrus |= _walrus_targets(node)
            elif not isinstance(node, ast.Lambda):
                self.bound.add(node.name)
            return
        if isinstance(node, ast.Name):
            (self.loads if isinstance(node.ctx, ast.Load) else self.bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.bound |= _imported(node)
        elif isinstance(node, ast.Global):
            self.declared_global |= set(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bound.add(node.rest)
        elif isinstance(node, ast.NamedExpr):
            self.walrus.add(node.target.id)
        for child in ast.iter_child_nodes(node):
            self.visit(child)


def _walrus_targets(node: ast.AST) -> set[str]:
    """``:=`` targets in a comprehension, which bind in the enclosing scope."""
    return {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}


def _imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    return {alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*"}


def free_names(node: ast.AST) -> set[str]:
    """Names a function, lambda, class body or comprehension reads from outside itself.

    Examples
    --------
    >>> sorted(free_names(ast.parse("lambda x: x + y + len(z)", mode="eval").body))
    ['len', 'y', 'z']
    """
    if isinstance(node, _FUNCTIONS):
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        scope = _Scope().scan(body)
        local = (scope.bound | scope.walrus | _params(node.args)) - scope.declared_global
        return (scope.loads | scope.nested_free) - local
    if isinstance(node, ast.ClassDef):
        # Names bound in a class body are not visible inside its methods.
        scope = _Scope().scan(node.body)
        return ((scope.loads - scope.bound) | scope.nested_free) - (scope.walrus - scope.bound)
    assert isinstance(node, _COMPREHENSIONS)
    scope = _Scope()
    first, *rest = node.generators
    scope.scan([first.target, *first.ifs])
    for gen in rest:
        scope.scan([gen.iter, gen.target, *gen.ifs])
    scope.scan([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt])
    return (scope.loads | scope.nested_free) - scope.bound


class _Flow:
    """Walks the cell's top level in execution order, tracking names certainly bound so far."""

    def __init__(self) -> None:
        self.definite: set[str] = set()
        self.reads: dict[str, None] = {}  # insertion-ordered set
        self.deferred: dict[str, None] = {}

    def expr(self, *nodes: ast.AST | None) -> None:
        """Names loaded by expressions evaluated now, then the names their ``:=`` binds."""
        scope = _Scope().scan(n for n in nodes if n is not None)
        self.load(*sorted(scope.loads | scope.nested_free))
        self.definite |= scope.walrus

    def load(self, *names: str) -> None:
        for name in names:
            if name not in self.definite:
                self.reads.setdefault(name)

    def bind(self, *targets: ast.AST) -> None:
        """Bind assignment targets; subscripts and attributes in them are reads."""
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, (ast.Subscript, ast.Attribute)):
                    self.expr(node.value, getattr(node, "slice", None))
            self.definite |= {n.id for n in ast.walk(target)
                              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    def block(self, statements: list[ast.stmt]) -> set[str]:
        """Walk a nested block from the current state; return what it certainly binds."""
        saved, self.definite = self.definite, set(self.definite)
        self.body(statements)
        bound, self.definite = self.definite, saved
        return bound

    def body(self, statements: list[ast.stmt]) -> None:
        for stmt in statements:
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.expr(*_evaluated_at_definition(node))
            if isinstance(node, ast.ClassDef):
                self._class_body(node)
            else:
                self.deferred.update(dict.fromkeys(sorted(free_names(node))))
            self.definite.add(node.name)
        elif isinstance(node, ast.Assign):
            self.expr(node.value)
            self.bind(*node.targets)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value)
            self.load(*([node.target.id] if isinstance(node.target, ast.Name) else []))
            self.bind(node.target)
        elif isinstance(node, ast.AnnAssign):
            self.expr(node.value, node.annotation)
            if node.value is not None:
                self.bind(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.definite |= _imported(node)
        elif isinstance(node, ast.If):
            self.expr(node.test)
            both = self.block(node.body) & self.block(node.orelse)
            self.definite = both
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            saved = set(self.definite)
            self.bind(node.target)
            self.block(node.body)
            self.definite = saved
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            self.expr(node.test)
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars)
            self.body(node.body)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self._try(node)  # type: ignore[arg-type]  # TryStar has Try's fields
        elif isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                saved = set(self.definite)
                pattern = _Scope().scan([case.pattern])
                self.load(*sorted(pattern.loads))
                self.definite |= pattern.bound
                self.expr(case.guard)
                self.block(case.body)
                self.definite = saved
        elif isinstance(node, ast.Delete):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            self.load(*names)
            self.bind(*(t for t in node.targets if not isinstance(t, ast.Name)))
            self.definite -= set(names)
        else:  # expressions, assert, raise, return, pass, global...
            self.expr(node)

    def _class_body(self, node: ast.ClassDef) -> None:
        # The class body runs now, in its own scope; its methods run later.
        scope = _Scope().scan(node.body)
        self.load(*sorted(scope.loads - scope.bound))
        self.deferred.update(dict.fromkeys(sorted(scope.nested_free)))

    def _try(self, node: ast.Try) -> None:
        after_body = self.block(node.body + node.orelse)
        outcomes = [after_body]
        for handler in node.handlers:
            self.expr(handler.type)
            saved = set(self.definite)
            if handler.name:
                self.definite.add(handler.name)
            outcomes.append(self.block(handler.body))
            self.definite = saved
        self.definite = set.intersection(*outcomes)
        self.body(node.finalbody)


def _top_level_bindings(tree: ast.Module) -> set[str]:
    """Every name the cell binds at its top level, in any branch."""
    scope = _Scope().scan(tree.body)
    return scope.bound | scope.walrus


def globals_read(tree: ast.Module) -> list[str]:
    """The names a cell may read from the notebook, in the order it first reads them.

    Builtins are included when used; the caller keeps only names the notebook
    actually defines.

    Examples
    --------
    >>> globals_read(ast.parse("import math\\ny = math.sqrt(x)\\n[i * k for i in y]"))
    ['x', 'k']
    >>> globals_read(ast.parse("def f(n):\\n    return g(n) + n\\nf(data)"))
    ['data', 'g']
    """
    flow = _Flow()
    flow.body(tree.body)
    bound_anywhere = _top_level_bindings(tree)
    names = dict(flow.reads)
    names.update((n, None) for n in flow.deferred if n not in bound_anywhere)
    return list(names)
