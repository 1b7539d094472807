"""Static count of the modules the training config's path visits.

Start: minbert.train.loop.fit with its parameter `cfg` tainted. In a function, an expression "carries the config"
if it mentions a tainted name outside any nested call (cfg, cfg.field, cfg.seed * 31 + epoch, (cfg.a, cfg.b)), except
conversions (Path(cfg.out_dir), int, float, str, bool, tuple, list, min, max), which pass the value on; a
name is tainted if it is a tainted parameter or is bound (assignment, for target, comprehension target, closure)
to such an expression. A call whose arguments carry the config is followed into the callee (project code only:
minbert/, analysis/), with the matching parameters tainted; a method call on a tainted object (cfg.model_config())
goes to its class's method with self tainted; a class call goes to __init__ / __post_init__. Results of calls are
not tainted. Reported: the functions reached (each "receives cfg or a field of it") and their modules.

    python -m tests.config_path [ROOT] [fields|no-conversions|object]

fields (the default) follows values converted from the config (Path(cfg.out_dir)) as the config; no-conversions counts
them as new values; object follows the config object itself only. Used by tests/test_source.py.
"""
import ast
import sys
from pathlib import Path

ROOT = Path(".").resolve()
MODE = "fields"  # fields | no-conversions | object (cfg itself only)
PKGS = ("minbert", "analysis")
M = {}


def modname(p: Path) -> str:
    parts = list(p.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Mod:
    def __init__(self, name, tree):
        self.name, self.defs, self.classes, self.imports = name, {}, {}, {}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defs[node.name] = node
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    pkg = name.split(".") if (ROOT / name.replace(".", "/")).is_dir() else name.split(".")[:-1]
                    base = ".".join(pkg[:len(pkg) - node.level + 1] + [node.module])
                for a in node.names:
                    self.imports[a.asname or a.name] = (base, a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    self.imports[a.asname or a.name.split(".")[0]] = (a.name if a.asname else a.name.split(".")[0], None)


def lookup(mod: str, name: str, depth=0):
    """('func', mod, node) / ('class', mod, node) / ('module', modname) / None for a name in a module."""
    if depth > 10 or mod not in M:
        return None
    m = M[mod]
    if name in m.defs:
        return ("func", mod, m.defs[name])
    if name in m.classes:
        return ("class", mod, m.classes[name])
    if name in m.imports:
        base, attr = m.imports[name]
        if attr is None:
            return ("module", base) if base in M or base.split(".")[0] in PKGS else None
        if f"{base}.{attr}" in M:
            return ("module", f"{base}.{attr}")
        return lookup(base, attr, depth + 1)
    return None


def resolve_expr(mod: str, e):
    if isinstance(e, ast.Name):
        return lookup(mod, e.id)
    if isinstance(e, ast.Attribute):
        base = resolve_expr(mod, e.value)
        if base and base[0] == "module":
            if f"{base[1]}.{e.attr}" in M:
                return ("module", f"{base[1]}.{e.attr}")
            return lookup(base[1], e.attr)
        if base and base[0] == "class":
            meth = method(base[1], base[2], e.attr)
            return ("method-static", base[1], meth) if meth else None
    return None


def method(mod, cls, name):
    for n in cls.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name:
            return n
    for b in cls.bases:  # project base classes
        r = resolve_expr(mod, b)
        if r and r[0] == "class":
            found = method(r[1], r[2], name)
            if found:
                return found
    return None


CONVERSIONS = ("Path", "str", "int", "float", "bool", "tuple", "list", "min", "max")


def names_outside_calls(e):
    """Names an expression reads, not counting those inside nested calls' arguments (a call's result is new)."""
    out = []

    def walk(n):
        if isinstance(n, ast.Call):
            if isinstance(n.func, ast.Name) and n.func.id in CONVERSIONS and MODE == "fields":  # the same value, converted
                for a in n.args:
                    walk(a)
            return
        if isinstance(n, ast.IfExp):  # the value is one branch; the test only picks it
            walk(n.body), walk(n.orelse)
            return
        if isinstance(n, ast.Name):
            out.append(n.id)
        for c in ast.iter_child_nodes(n):
            walk(c)
    walk(e)
    return out


def carries(e, tainted):
    if MODE == "object":  # the config object itself, by name
        return isinstance(e, ast.Name) and e.id in tainted
    return any(n in tainted for n in names_outside_calls(e))


def targets_of(t):
    if isinstance(t, ast.Name):
        return [t.id]
    if isinstance(t, (ast.Tuple, ast.List)):
        return [n for x in t.elts for n in targets_of(x)]
    if isinstance(t, ast.Starred):
        return targets_of(t.value)
    return []


def tainted_names(fn, params):
    tainted = set(params)
    changed = True
    while changed:
        changed = False
        for n in ast.walk(fn):
            pairs = []
            if isinstance(n, ast.Assign):
                pairs = [(t, n.value) for t in n.targets]
            elif isinstance(n, (ast.AnnAssign, ast.AugAssign)) and n.value is not None:
                pairs = [(n.target, n.value)]
            elif isinstance(n, (ast.For, ast.comprehension)):
                pairs = [(n.target, n.iter)]
            elif isinstance(n, ast.NamedExpr):
                pairs = [(n.target, n.value)]
            elif isinstance(n, ast.withitem) and n.optional_vars is not None:
                pairs = [(n.optional_vars, n.context_expr)]
            split = []
            for t, v in pairs:  # (a, b) = (x, y): element by element
                if isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple) and len(t.elts) == len(v.elts):
                    split += list(zip(t.elts, v.elts))
                else:
                    split.append((t, v))
            for t, v in split:
                if carries(v, tainted):
                    new = set(targets_of(t)) - tainted
                    if new:
                        tainted |= new
                        changed = True
    return tainted


def params_of(fn):
    a = fn.args
    return [x.arg for x in a.posonlyargs + a.args], [x.arg for x in a.kwonlyargs], a.vararg, a.kwarg


def map_args(fn, call, tainted, skip_self):
    pos, kwonly, vararg, kwarg = params_of(fn)
    if skip_self and pos:
        pos = pos[1:]
    out = set()
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            if carries(arg.value, tainted):
                out |= set(pos[i:]) | ({vararg.arg} if vararg else set())
            continue
        if carries(arg, tainted):
            if i < len(pos):
                out.add(pos[i])
            elif vararg:
                out.add(vararg.arg)
    for kw in call.keywords:
        if kw.arg is None:
            if carries(kw.value, tainted):
                out |= set(pos) | set(kwonly) | ({kwarg.arg} if kwarg else set())
            continue
        if carries(kw.value, tainted):
            if kw.arg in pos or kw.arg in kwonly:
                out.add(kw.arg)
            elif kwarg:
                out.add(kwarg.arg)
    return out


TRAIN_CONFIG = None  # ("recipe module", ClassDef) for cfg.method() calls


def visit(mod, fn, params, seen, order, cls=None):
    key = (mod, fn.name, fn.lineno)
    if key in seen and params <= seen[key]:
        return
    seen[key] = seen.get(key, set()) | params
    if key not in order:
        order.append(key)
    tainted = tainted_names(fn, seen[key])
    local = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.ImportFrom) and n.module and not n.level:
            local.update({a.asname or a.name: (n.module, a.name) for a in n.names})
    for call in ast.walk(fn):
        if not isinstance(call, ast.Call):
            continue
        f = call.func
        if isinstance(f, ast.Name) and f.id == "partial" and call.args:  # partial(f, *a, **k): a call of f
            call = ast.Call(func=call.args[0], args=call.args[1:], keywords=call.keywords)
            f = call.func
        # cfg.method(...): a method of the config's class with self tainted
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in tainted and TRAIN_CONFIG:
            meth = method(TRAIN_CONFIG[0], TRAIN_CONFIG[1], f.attr)
            if meth:
                visit(TRAIN_CONFIG[0], meth, {params_of(meth)[0][0]} | map_args(meth, call, tainted, True), seen, order)
            continue
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" and cls:
            meth = method(mod, cls, f.attr)
            if meth:
                p = map_args(meth, call, tainted, True)
                if p:
                    visit(mod, meth, p, seen, order, cls)
            continue
        if not any(carries(a.value if isinstance(a, ast.Starred) else a, tainted) for a in call.args) and \
                not any(carries(k.value, tainted) for k in call.keywords):
            continue
        r = resolve_expr(mod, f)
        if isinstance(f, ast.Name) and r is None and f.id in local:  # a function-level import
            base, attr = local[f.id]
            r = ("module", base) if attr is None else (("module", f"{base}.{attr}") if f"{base}.{attr}" in M
                                                       else lookup(base, attr))
        if isinstance(f, ast.Name) and r is None:  # a nested def in this function
            for n in ast.walk(fn):
                if isinstance(n, ast.FunctionDef) and n.name == f.id and n is not fn:
                    r = ("func", mod, n)
        if r is None:
            continue
        if r[0] == "func":
            visit(r[1], r[2], map_args(r[2], call, tainted, False), seen, order)
        elif r[0] == "method-static":
            visit(r[1], r[2], map_args(r[2], call, tainted, True), seen, order)
        elif r[0] == "class":
            init = method(r[1], r[2], "__init__") or method(r[1], r[2], "__post_init__")
            if init is not None and init.name == "__init__":
                visit(r[1], init, map_args(init, call, tainted, True), seen, order, r[2])
            else:
                k = (r[1], r[2].name, r[2].lineno)
                seen.setdefault(k, set())
                if k not in order:
                    order.append(k)
    # closures: nested defs see the tainted names
    for n in ast.walk(fn):
        if isinstance(n, ast.FunctionDef) and n is not fn:
            pass  # analysed through the enclosing walk (ast.walk covers their bodies)


def config_path(root: Path, mode: str = "fields") -> dict[str, list[str]]:
    """{module: [functions]} on the training config's path from minbert.train.loop.fit, in discovery order."""
    global ROOT, MODE, TRAIN_CONFIG
    ROOT, MODE = Path(root).resolve(), mode
    M.clear()
    for pkg in PKGS:
        for p in (ROOT / pkg).rglob("*.py"):
            M[modname(p)] = Mod(modname(p), ast.parse(p.read_text(), str(p)))
    loop = "minbert.train.loop"
    r = lookup(loop, "TrainConfig")
    TRAIN_CONFIG = (r[1], r[2])
    seen, order = {}, []
    visit(loop, M[loop].defs["fit"], {"cfg"}, seen, order)
    path = {}
    for m, name, _ in order:
        path.setdefault(m, []).append(name)
    return path


if __name__ == "__main__":
    path = config_path(Path(sys.argv[1] if len(sys.argv) > 1 else "."), sys.argv[2] if len(sys.argv) > 2 else "fields")
    for m, names in path.items():
        print(f"{m:40s} " + ", ".join(names))
    print(f"{len(path)} modules, {sum(map(len, path.values()))} functions")
