"""Validation of deal books and scenarios: every problem at once, one line each.

Structure and types are checked by pydantic, item by item (so one bad
contract does not hide the others); references and cross-field rules are
checked here on the items that passed. Each problem is reported as
``FILE:LINE: dotted.path: message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from loopwatch.errors import DealBookError, Problem, ScenarioError
from loopwatch.io.yamlfile import LineMap, dotted, line_of
from loopwatch.model import (
    Assumption,
    ContractType,
    DealBook,
    EquityInvestment,
    Firm,
    LetterOfIntent,
    LoanContract,
    Metric,
    Period,
    Scenario,
    Warrant,
)
from loopwatch.model.contracts import (
    BackstopContract,
    ChipPurchase,
    ComputeCommitment,
    Contract,
)

__all__ = ["validate_deal_book", "validate_scenario"]

_CONTRACT = TypeAdapter(Contract)
_TAGS = {t.value for t in ContractType}
_BOOK_KEYS = {"name", "title", "description", "start", "horizon", "firms", "contracts", "assumptions"}


def _message(err: Any) -> str:
    kind, msg, value = str(err["type"]), str(err["msg"]), err.get("input")
    if kind in ("greater_than_equal", "greater_than") and isinstance(value, int | float):
        if value < 0:
            bound = err["ctx"].get("ge", err["ctx"].get("gt"))
            sign = "≥" if "ge" in err["ctx"] else ">"
            return f"negative value {value!r} (must be {sign} {bound:g})"
    if kind == "enum":
        return f"unknown value {value!r} (expected {err['ctx']['expected']})"
    if kind == "union_tag_invalid":
        return f"unknown contract type {value.get('type') if isinstance(value, dict) else value!r} (expected one of {', '.join(sorted(_TAGS))})"
    if kind == "union_tag_not_found":
        return "missing 'type' (one of " + ", ".join(sorted(_TAGS)) + ")"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    return str(msg)


def _pydantic_problems(exc: ValidationError, prefix: tuple[Any, ...], file: str,
                       lines: LineMap) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = list(err["loc"])
        # drop discriminator tags pydantic inserts into the location
        loc = [p for p in loc if not (isinstance(p, str) and p in _TAGS)] if loc else loc
        if err["type"] == "union_tag_invalid":
            loc.append("type")
        path = (*prefix, *loc)
        metric_loc = loc and loc[-1] == "metric"
        msg = _message(err)
        if metric_loc and err["type"] == "enum":
            msg = f"milestone on unknown metric {err.get('input')!r} (known: {', '.join(m.value for m in Metric)})"
        out.append(Problem(file, line_of(lines, path), dotted(path), msg))
    return out


def _items(data: dict[str, Any], key: str, file: str, lines: LineMap,
           problems: list[Problem]) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem(file, line_of(lines, (key,)), key, "must be a list"))
        return []
    return value


def validate_deal_book(data: Any, *, file: str = "<book>", lines: LineMap | None = None,
                       problems: Iterable[Problem] = ()) -> DealBook:
    """Turn parsed YAML into a :class:`DealBook` or raise with every problem.

    Raises
    ------
    DealBookError
        Listing every problem found, one per line.
    """
    lines = lines or {}
    found: list[Problem] = list(problems)
    if not isinstance(data, dict):
        raise DealBookError([*found, Problem(file, line_of(lines, ()), "", "a deal book must be a mapping with 'name', 'firms' and 'contracts'")])
    for key in data:
        if key not in _BOOK_KEYS:
            found.append(Problem(file, line_of(lines, (key,)), str(key), "unknown field"))

    firms: list[tuple[int, Firm]] = []
    for i, raw in enumerate(_items(data, "firms", file, lines, found)):
        try:
            firms.append((i, Firm.model_validate(raw)))
        except ValidationError as exc:
            found += _pydantic_problems(exc, ("firms", i), file, lines)
    contracts: list[tuple[int, Any]] = []
    broken: list[tuple[int, Any]] = []
    for i, raw in enumerate(_items(data, "contracts", file, lines, found)):
        try:
            contracts.append((i, _CONTRACT.validate_python(raw)))
        except ValidationError as exc:
            found += _pydantic_problems(exc, ("contracts", i), file, lines)
            broken.append((i, raw))
    assumptions: list[tuple[int, Assumption]] = []
    for i, raw in enumerate(_items(data, "assumptions", file, lines, found)):
        try:
            assumptions.append((i, Assumption.model_validate(raw)))
        except ValidationError as exc:
            found += _pydantic_problems(exc, ("assumptions", i), file, lines)
    head = {k: data[k] for k in ("name", "title", "description", "start", "horizon") if k in data}
    try:
        shell = DealBook.model_validate(head)
    except ValidationError as exc:
        found += _pydantic_problems(exc, (), file, lines)
        shell = None

    if shell is not None:
        found += _cross_checks(shell.start, shell.horizon, firms, contracts, assumptions, file, lines)
        # items that failed their own checks still get their firm references checked
        known = {f.id for _, f in firms}
        reported = {p.path for p in found}
        for i, raw in broken:
            for key in ("payer", "payee"):
                ref = raw.get(key) if isinstance(raw, dict) else None
                where = dotted(("contracts", i, key))
                if isinstance(ref, str) and ref not in known and where not in reported:
                    found.append(Problem(file, line_of(lines, ("contracts", i, key)), where,
                                         f"unknown firm {ref!r}"))
    if found:
        raise DealBookError(sorted(found, key=lambda p: (p.line or 0, p.path)))
    assert shell is not None
    return DealBook.model_validate(
        {**head, "firms": [f for _, f in firms], "contracts": [c for _, c in contracts],
         "assumptions": [a for _, a in assumptions]}
    )


def _cross_checks(start: Period, horizon: Period, firms: list[tuple[int, Firm]],
                  contracts: list[tuple[int, Any]], assumptions: list[tuple[int, Assumption]],
                  file: str, lines: LineMap) -> list[Problem]:
    out: list[Problem] = []

    def say(path: tuple[Any, ...], msg: str) -> None:
        out.append(Problem(file, line_of(lines, path), dotted(path), msg))

    firm_ids: dict[str, Firm] = {}
    for i, f in firms:
        if f.id in firm_ids:
            say(("firms", i, "id"), f"duplicate firm id {f.id!r}")
        firm_ids[f.id] = f
    contract_ids: dict[str, Any] = {}
    for i, c in contracts:
        if c.id in contract_ids:
            say(("contracts", i, "id"), f"duplicate contract id {c.id!r}")
        if c.id in firm_ids:
            say(("contracts", i, "id"), f"contract id {c.id!r} is also a firm id")
        contract_ids[c.id] = c

    def firm_ref(path: tuple[Any, ...], fid: str | None) -> None:
        if fid is not None and fid not in firm_ids:
            say(path, f"unknown firm {fid!r}")

    def contract_ref(path: tuple[Any, ...], cid: str | None, *types: ContractType) -> None:
        if cid is None:
            return
        if cid not in contract_ids:
            say(path, f"unknown contract {cid!r}")
        elif types and contract_ids[cid].type not in types:
            say(path, f"contract {cid!r} is a {contract_ids[cid].type.value}, expected {' or '.join(t.value for t in types)}")

    def in_horizon(path: tuple[Any, ...], p: Period) -> None:
        if p < start:
            say(path, f"{p} is before the book's start {start}")
        elif p > horizon:
            say(path, f"{p} is after the book's horizon {horizon}")

    for i, c in contracts:
        at = ("contracts", i)
        firm_ref((*at, "payer"), c.payer)
        firm_ref((*at, "payee"), c.payee)
        if c.payer == c.payee:
            say((*at, "payee"), f"payer and payee are the same firm {c.payer!r}")
        in_horizon((*at, "schedule", "start"), c.schedule.start)
        if c.schedule.start >= start and c.schedule.end > horizon:
            say((*at, "schedule", "quarters"),
                f"schedule ends {c.schedule.end}, after the book's horizon {horizon}")
        if c.schedule.weights is not None and len(c.schedule.weights) != c.schedule.quarters:
            say((*at, "schedule", "weights"),
                f"{len(c.schedule.weights)} weights for {c.schedule.quarters} quarters")
        contract_ref((*at, "depends_on"), c.depends_on)
        if isinstance(c, EquityInvestment | LetterOfIntent) and c.tranches:
            total = sum(t.amount for t in c.tranches)
            if total > c.amount * (1 + 1e-9):
                say((*at, "tranches"), f"tranches sum to {total:,.0f}, more than the amount {c.amount:,.0f}")
            for k, t in enumerate(c.tranches):
                in_horizon((*at, "tranches", k, "at"), t.at)
                for m, cond in enumerate(t.conditions):
                    firm_ref((*at, "tranches", k, "conditions", m, "firm"), cond.firm)
                    firm_ref((*at, "tranches", k, "conditions", m, "vendor"), cond.vendor)
        if isinstance(c, Warrant):
            issuer = firm_ids.get(c.payer)
            if issuer is not None and not issuer.shares_outstanding:
                say((*at, "payer"), f"warrant issuer {c.payer!r} has no shares_outstanding")
            total = sum(t.shares for t in c.tranches)
            if total > c.shares * (1 + 1e-9):
                say((*at, "tranches"), f"tranches vest {total:,.0f} shares, more than the {c.shares:,.0f} granted")
            for k, wt in enumerate(c.tranches):
                for m, cond in enumerate(wt.conditions):
                    firm_ref((*at, "tranches", k, "conditions", m, "firm"), cond.firm)
                    firm_ref((*at, "tranches", k, "conditions", m, "vendor"), cond.vendor)
            contract_ref((*at, "order"), c.order)
        if isinstance(c, ComputeCommitment):
            for vendor in c.vendor_mix:
                firm_ref((*at, "vendor_mix", vendor), vendor)
            share = sum(c.vendor_mix.values())
            if c.vendor_mix and abs(share - 1.0) > 1e-6:
                say((*at, "vendor_mix"), f"vendor shares sum to {share:g}, not 1")
        if isinstance(c, ChipPurchase):
            contract_ref((*at, "serves"), c.serves, ContractType.compute_commitment,
                         ContractType.letter_of_intent)
        if isinstance(c, LoanContract):
            contract_ref((*at, "serves"), c.serves, ContractType.compute_commitment,
                         ContractType.letter_of_intent)
            if c.maturity < c.schedule.start:
                say((*at, "maturity"), f"maturity {c.maturity} is before the first drawdown {c.schedule.start}")
            for k, col in enumerate(c.collateral):
                if col != "compute_assets":
                    contract_ref((*at, "collateral", k), col)
        if isinstance(c, BackstopContract):
            contract_ref((*at, "covers"), c.covers, ContractType.compute_commitment,
                         ContractType.letter_of_intent)
            covered = contract_ids.get(c.covers) if c.covers is not None else None
            if isinstance(covered, LetterOfIntent) and \
                    covered.converts_to != ContractType.compute_commitment:
                say((*at, "covers"), f"letter of intent {c.covers!r} converts to a "
                                     f"{covered.converts_to.value}: a backstop covers capacity")
        if isinstance(c, LetterOfIntent):
            in_horizon((*at, "decision"), c.decision)
    for i, a in assumptions:
        for k, ref in enumerate(a.applies_to):
            if ref not in firm_ids and ref not in contract_ids:
                say(("assumptions", i, "applies_to", k), f"unknown firm or contract {ref!r}")
    return out


def validate_scenario(data: Any, *, file: str = "<scenario>", lines: LineMap | None = None,
                      problems: Iterable[Problem] = ()) -> Scenario:
    """Turn parsed YAML into a :class:`Scenario` or raise with every problem.

    Raises
    ------
    ScenarioError
        Listing every problem found, one per line.
    """
    lines = lines or {}
    found = list(problems)
    if not isinstance(data, dict):
        raise ScenarioError([*found, Problem(file, line_of(lines, ()), "", "a scenario must be a mapping with a 'name'")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        found += _pydantic_problems(exc, (), file, lines)
    if found:
        raise ScenarioError(sorted(found, key=lambda p: (p.line or 0, p.path)))
    return scenario
