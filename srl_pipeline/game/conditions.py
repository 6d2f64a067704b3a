"""The condition and effect language of the rules, compiled to closures for the simulator.

Conditions are parsed once (with errors naming file, record and field), kept as atoms for
static analysis (contradiction detection) and compiled to plain closures `f(state, args)`,
because the simulator evaluates them in RLVR's and the verifier's hot loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import ProblemLog

State = dict[str, Any]
Args = Mapping[str, str]
Check = Callable[[State, Args], bool]
Effect = Callable[[State, Args], None]

VAR_TYPES = ("bool", "int", "enum", "set")
OPS = ("eq", "in", "gte", "lte", "not", "has", "lacks")


@dataclass(frozen=True)
class VarSpec:
    name: str
    type: str
    values: tuple = ()
    min: int = 0
    max: int = 0
    default: Any = None

    def domain(self) -> frozenset:
        if self.type == "bool":
            return frozenset((False, True))
        if self.type == "int":
            return frozenset(range(self.min, self.max + 1))
        return frozenset(self.values)

    def accepts(self, value: Any) -> bool:
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "int":
            return isinstance(value, int) and not isinstance(value, bool) and self.min <= value <= self.max
        if self.type == "enum":
            return value in self.values
        return isinstance(value, (list, tuple, set, frozenset)) and all(v in self.values for v in value)


@dataclass(frozen=True)
class Ref:
    """A reference to an action argument (`$name` in the data)."""

    param: str


@dataclass(frozen=True)
class Atom:
    var: str
    op: str
    value: Any  # constant, frozenset of constants, or Ref


@dataclass
class Condition:
    atoms: list[Atom] = field(default_factory=list)
    any_of: list["Condition"] = field(default_factory=list)
    check: Check = field(default=lambda s, a: True, repr=False, compare=False)

    def refs(self) -> set[str]:
        out = {a.value.param for a in self.atoms if isinstance(a.value, Ref)}
        for sub in self.any_of:
            out |= sub.refs()
        return out


class ConditionParser:
    """Parses conditions and effects against a state schema and an action's parameters."""

    def __init__(self, schema: Mapping[str, VarSpec], log: ProblemLog):
        self.schema = schema
        self.log = log

    # -- values -------------------------------------------------------------------------
    def _value(self, raw: Any, spec: VarSpec, params: Mapping[str, tuple], record: str, fld: str,
               item: bool = False) -> Any:
        """A constant checked against the variable's domain, or a Ref to a parameter."""
        if isinstance(raw, str) and raw.startswith("$"):
            name = raw[1:]
            if name not in params:
                self.log.add(record, fld, f"unknown parameter reference {raw!r}")
                return None
            bad = [v for v in params[name] if not _in_domain(spec, v, item)]
            if bad:
                self.log.add(record, fld, f"parameter {raw} allows {bad} outside the domain of {spec.name!r}")
                return None
            return Ref(name)
        if not _in_domain(spec, raw, item):
            self.log.add(record, fld, f"value {raw!r} is not valid for {spec.type} variable {spec.name!r}")
            return None
        return raw

    # -- conditions ---------------------------------------------------------------------
    def condition(self, raw: Any, record: str, fld: str, params: Mapping[str, tuple] | None = None) -> Condition:
        params = params or {}
        cond = Condition()
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.log.add(record, fld, f"expected a mapping of variable: test, got {type(raw).__name__}")
            return cond
        for var, test in raw.items():
            where = f"{fld}.{var}"
            if var == "any":
                if not isinstance(test, list) or not test:
                    self.log.add(record, where, "`any` takes a non-empty list of conditions")
                    continue
                cond.any_of = [self.condition(t, record, f"{where}[{i}]", params) for i, t in enumerate(test)]
                continue
            spec = self.schema.get(var)
            if spec is None:
                self.log.add(record, where, f"unknown state variable {var!r}")
                continue
            atom = self._atom(spec, test, params, record, where)
            if atom is not None:
                cond.atoms.append(atom)
        cond.check = _compile_condition(cond)
        return cond

    def _atom(self, spec: VarSpec, test: Any, params: Mapping[str, tuple], record: str, where: str) -> Atom | None:
        if isinstance(test, dict):
            if len(test) != 1:
                self.log.add(record, where, f"a test has exactly one operator of {OPS[2:]}, got {sorted(test)}")
                return None
            (op, operand), = test.items()
            if op not in OPS[2:]:
                self.log.add(record, where, f"unknown operator {op!r} (expected one of {OPS[2:]})")
                return None
            if op in ("gte", "lte"):
                if spec.type != "int" or not isinstance(operand, int) or isinstance(operand, bool):
                    self.log.add(record, f"{where}.{op}", f"{op} needs an int variable and an int, got {operand!r}")
                    return None
                return Atom(spec.name, op, operand)
            if op in ("has", "lacks"):
                if spec.type != "set":
                    self.log.add(record, f"{where}.{op}", f"{op} needs a set variable; {spec.name!r} is {spec.type}")
                    return None
                value = self._value(operand, spec, params, record, f"{where}.{op}", item=True)
                return None if value is None else Atom(spec.name, op, value)
            # not
            if spec.type == "set":
                self.log.add(record, f"{where}.not", "use has/lacks on set variables")
                return None
            if isinstance(operand, list):
                values = [self._value(v, spec, params, record, f"{where}.not") for v in operand]
                if any(v is None for v in values):
                    return None
                if any(isinstance(v, Ref) for v in values):
                    self.log.add(record, f"{where}.not", "parameter references cannot appear inside a list")
                    return None
                return Atom(spec.name, "not", frozenset(values))
            value = self._value(operand, spec, params, record, f"{where}.not")
            return None if value is None else Atom(spec.name, "not", value)
        if spec.type == "set":
            self.log.add(record, where, "set variables are tested with {has: item} or {lacks: item}")
            return None
        if isinstance(test, list):
            if not test:
                self.log.add(record, where, "empty list of allowed values")
                return None
            values = [self._value(v, spec, params, record, where) for v in test]
            if any(v is None for v in values):
                return None
            if any(isinstance(v, Ref) for v in values):
                self.log.add(record, where, "parameter references cannot appear inside a list")
                return None
            return Atom(spec.name, "in", frozenset(values))
        value = self._value(test, spec, params, record, where)
        return None if value is None else Atom(spec.name, "eq", value)

    # -- effects ------------------------------------------------------------------------
    def effect(self, raw: Any, record: str, fld: str, params: Mapping[str, tuple]) -> tuple[str, str, Any] | None:
        """Parse one effect into (kind, var, value); None (with a logged problem) when invalid."""
        if not isinstance(raw, dict):
            self.log.add(record, fld, f"an effect is a mapping, got {type(raw).__name__}")
            return None
        kinds = [k for k in ("set", "add", "add_item", "remove_item") if k in raw]
        extra = set(raw) - {"set", "add", "add_item", "remove_item", "value"}
        if len(kinds) != 1 or extra:
            self.log.add(record, fld, "an effect has exactly one of set/add/add_item/remove_item and a value")
            return None
        kind = kinds[0]
        var = raw[kind]
        spec = self.schema.get(var) if isinstance(var, str) else None
        if spec is None:
            self.log.add(record, f"{fld}.{kind}", f"unknown state variable {var!r}")
            return None
        if "value" not in raw:
            self.log.add(record, f"{fld}.value", "missing required field")
            return None
        value = raw["value"]
        if kind == "add":
            if spec.type != "int" or not isinstance(value, int) or isinstance(value, bool):
                self.log.add(record, f"{fld}.value", f"add needs an int variable and an int value, got {value!r}")
                return None
            return (kind, var, value)
        if kind in ("add_item", "remove_item"):
            if spec.type != "set":
                self.log.add(record, f"{fld}.{kind}", f"{kind} needs a set variable; {var!r} is {spec.type}")
                return None
            checked = self._value(value, spec, params, record, f"{fld}.value", item=True)
            return None if checked is None else (kind, var, checked)
        if spec.type == "set":
            self.log.add(record, f"{fld}.set", "set variables change through add_item/remove_item")
            return None
        checked = self._value(value, spec, params, record, f"{fld}.value")
        return None if checked is None else (kind, var, checked)


def _in_domain(spec: VarSpec, value: Any, item: bool) -> bool:
    if item or spec.type in ("enum",):
        return value in spec.values
    return spec.accepts(value)


def _compile_atom(atom: Atom) -> Check:
    var, op, val = atom.var, atom.op, atom.value
    if isinstance(val, Ref):
        p = val.param
        if op == "eq":
            return lambda s, a: s[var] == a[p]
        if op == "not":
            return lambda s, a: s[var] != a[p]
        if op == "has":
            return lambda s, a: a[p] in s[var]
        return lambda s, a: a[p] not in s[var]  # lacks
    if op == "eq":
        return lambda s, a: s[var] == val
    if op == "in":
        return lambda s, a: s[var] in val
    if op == "gte":
        return lambda s, a: s[var] >= val
    if op == "lte":
        return lambda s, a: s[var] <= val
    if op == "not":
        if isinstance(val, frozenset):
            return lambda s, a: s[var] not in val
        return lambda s, a: s[var] != val
    if op == "has":
        return lambda s, a: val in s[var]
    return lambda s, a: val not in s[var]  # lacks


def _compile_condition(cond: Condition) -> Check:
    checks = [_compile_atom(a) for a in cond.atoms]
    if cond.any_of:
        alternatives = [c.check for c in cond.any_of]
        checks.append(lambda s, a: any(alt(s, a) for alt in alternatives))
    if not checks:
        return lambda s, a: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        c0, c1 = checks
        return lambda s, a: c0(s, a) and c1(s, a)

    def check_all(s: State, a: Args) -> bool:
        for c in checks:
            if not c(s, a):
                return False
        return True

    return check_all


def compile_effect(kind: str, var: str, value: Any, spec: VarSpec) -> Effect:
    if kind == "add":
        lo, hi = spec.min, spec.max

        def add(s: State, a: Args) -> None:
            v = s[var] + value
            s[var] = lo if v < lo else hi if v > hi else v

        return add
    if isinstance(value, Ref):
        p = value.param
        if kind == "set":
            def set_ref(s: State, a: Args) -> None:
                s[var] = a[p]
            return set_ref
        if kind == "add_item":
            return lambda s, a: s.__setitem__(var, s[var] | {a[p]})
        return lambda s, a: s.__setitem__(var, s[var] - {a[p]})
    if kind == "set":
        def set_const(s: State, a: Args) -> None:
            s[var] = value
        return set_const
    if kind == "add_item":
        return lambda s, a: s.__setitem__(var, s[var] | {value})
    return lambda s, a: s.__setitem__(var, s[var] - {value})


def allowed_values(atoms: list[Atom], spec: VarSpec) -> frozenset | None:
    """Values of `spec` satisfying every constant atom on it (None when unconstrained).

    Used to find contradictory rules: an empty result means the atoms can never hold together.
    For set variables the result is a 'virtual' check: has X and lacks X together give empty.
    For int variables it never enumerates the variable's range: bounds are intersected as an
    interval and the result holds at most (number of atoms + 1) witnesses, empty exactly when the
    atoms cannot hold together, however wide the range.
    """
    mine = [a for a in atoms if a.var == spec.name and not isinstance(a.value, Ref)]
    if not mine:
        return None
    if spec.type == "set":
        has = {a.value for a in mine if a.op == "has"}
        lacks = {a.value for a in mine if a.op == "lacks"}
        return frozenset() if has & lacks else frozenset(has | {"<ok>"})
    if spec.type == "int":
        return _allowed_ints(mine, spec)
    allowed = spec.domain()
    for a in mine:
        if a.op == "eq":
            allowed = allowed & {a.value}
        elif a.op == "in":
            allowed = allowed & a.value
        elif a.op == "not":
            allowed = allowed - (a.value if isinstance(a.value, frozenset) else {a.value})
    return allowed


def _allowed_ints(atoms: list[Atom], spec: VarSpec) -> frozenset:
    lo, hi = spec.min, spec.max
    candidates: frozenset | None = None  # a finite set named by eq / in
    excluded: set = set()
    for a in atoms:
        if a.op == "eq":
            candidates = frozenset({a.value}) if candidates is None else candidates & {a.value}
        elif a.op == "in":
            candidates = a.value if candidates is None else candidates & a.value
        elif a.op == "gte":
            lo = max(lo, a.value)
        elif a.op == "lte":
            hi = min(hi, a.value)
        elif a.op == "not":
            excluded |= a.value if isinstance(a.value, frozenset) else {a.value}
    if candidates is not None:
        return frozenset(v for v in candidates if lo <= v <= hi and v not in excluded)
    witnesses = range(lo, min(hi, lo + len(excluded)) + 1)  # len(excluded) + 1 values at most
    return frozenset(v for v in witnesses if v not in excluded)
