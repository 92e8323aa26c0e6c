"""Hypothesis strategies: random, valid deal books and scenarios for property tests.

:func:`deal_books` draws small books (2–5 firms, 4–8 quarters) with every
contract kind — compute commitments with vendor mixes and take-or-pay,
chip purchases that serve them, equity investments with milestone tranches,
warrants with GW and price hurdles, loans and bonds (some secured on letters
of intent), letters of intent converting to several kinds, backstops — and
``depends_on`` links. Every book goes through the real validator, so it is
valid by construction. :func:`scenarios` draws scenarios with any mix of
shocks. Keep them small: each property runs hundreds of examples in CI.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from loopwatch.io import validate_deal_book, validate_scenario
from loopwatch.model import DealBook, Period, Scenario

__all__ = ["deal_books", "scenarios"]

START = Period.parse("2025Q1")

ROLES = ("chip_vendor", "cloud", "model_developer", "investor", "lender", "spv")


def _money(lo: float, hi: float) -> st.SearchStrategy[float]:
    """USD amounts: whole dollars and up (or exactly ``lo`` when that is 0)."""
    amounts = st.floats(min_value=max(lo, 1.0), max_value=hi, allow_nan=False,
                        allow_infinity=False)
    return st.one_of(st.just(0.0), amounts) if lo <= 0 else amounts


@st.composite
def _firm(draw: st.DrawFn, fid: str, role: str) -> dict[str, Any]:
    public = draw(st.booleans())
    f: dict[str, Any] = {
        "id": fid, "name": fid.upper(), "role": role, "public": public,
        "cash": draw(_money(0, 40e9)),
        "compute_assets": draw(_money(0, 30e9)),
        "useful_life_years": draw(st.sampled_from([1.0, 2.5, 5.0])),
        "other_assets": draw(_money(0, 10e9)),
        "debt": draw(_money(0, 40e9)),
        "debt_rate": draw(st.floats(0, 0.1)),
        "debt_maturity_years": draw(st.sampled_from([1.0, 3.0, 10.0])),
        "credit_facility": draw(_money(0, 10e9)),
        "non_loop_revenue": draw(_money(0, 60e9)),
        "non_loop_growth": draw(st.floats(-0.2, 0.5)),
        "ai_share": draw(st.floats(0, 1)),
        "opex_fixed": draw(_money(0, 20e9)),
        "opex_ratio": draw(st.floats(0, 0.9)),
        "opex_growth": draw(st.floats(0, 0.3)),
        "min_cash": draw(_money(0, 3e9)),
    }
    if role == "model_developer" or draw(st.booleans()):
        f["end_revenue"] = draw(_money(0, 20e9))
    if public or draw(st.booleans()):
        f["shares_outstanding"] = draw(st.floats(1e8, 2e10))
        f["share_price"] = draw(st.floats(1, 500))
    else:
        f["valuation"] = draw(_money(0, 300e9))
    return f


def _schedule(draw: st.DrawFn, quarters: int) -> dict[str, Any]:
    q = draw(st.integers(1, quarters))
    start = draw(st.integers(0, quarters - q))
    return {"start": str(START + start), "quarters": q,
            "shape": draw(st.sampled_from(["flat", "ramp", "bullet", "upfront"]))}


def _conditions(draw: st.DrawFn, ids: list[str], quarters: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        metric = draw(st.sampled_from(["gw_deployed", "gw_bought", "share_price", "end_revenue"]))
        threshold = {"gw_deployed": st.floats(0, 2), "gw_bought": st.floats(0, 2),
                     "share_price": st.floats(0, 600), "end_revenue": _money(0, 40e9)}[metric]
        c: dict[str, Any] = {"metric": metric, "threshold": draw(threshold)}
        if draw(st.booleans()):
            c["firm"] = draw(st.sampled_from(ids))
        if metric.startswith("gw") and draw(st.booleans()):
            c["vendor"] = draw(st.sampled_from(ids))
        out.append(c)
    return out


@st.composite
def deal_books(draw: st.DrawFn, *, max_firms: int = 5, max_contracts: int = 8,
               max_quarters: int = 8) -> DealBook:
    """A random valid :class:`DealBook` with every contract kind possible.

    Parameters
    ----------
    max_firms, max_contracts, max_quarters : int
        Size bounds (keep them small for fast properties).
    """
    quarters = draw(st.integers(4, max_quarters))
    n = draw(st.integers(2, max_firms))
    ids = [f"f{i}" for i in range(n)]
    firms = [draw(_firm(fid, draw(st.sampled_from(ROLES)))) for fid in ids]
    share_ids = [f["id"] for f in firms if "shares_outstanding" in f]
    contracts: list[dict[str, Any]] = []
    kinds = ["compute_commitment", "chip_purchase", "equity_investment", "warrant", "loan",
             "bond", "letter_of_intent", "backstop"]
    for k in range(draw(st.integers(1, max_contracts))):
        kind = draw(st.sampled_from(kinds))
        payer, payee = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
        c: dict[str, Any] = {
            "id": f"c{k}", "type": kind, "payer": payer, "payee": payee,
            "amount": draw(_money(0, 60e9)), "schedule": _schedule(draw, quarters),
            "confidence": draw(st.floats(0, 1)),
        }
        earlier = [x for x in contracts]
        ccs = [x["id"] for x in earlier if x["type"] == "compute_commitment"]
        lois = [x["id"] for x in earlier if x["type"] == "letter_of_intent"]
        if kind != "letter_of_intent" and draw(st.integers(0, 5)) == 0:
            c["binding"] = False
        if earlier and draw(st.integers(0, 4)) == 0:
            c["depends_on"] = draw(st.sampled_from([x["id"] for x in earlier]))
        if kind == "compute_commitment":
            c["capacity_gw"] = draw(st.floats(0, 2))
            c["take_or_pay"] = draw(st.floats(0.3, 1))
            c["cancellation_penalty"] = draw(st.floats(0, 0.5))
            c["capex_intensity"] = draw(st.floats(0, 1.2))
            c["lead_time"] = draw(st.integers(0, 3))
            vendors = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
            if vendors:
                w = [draw(st.floats(0.1, 1)) for _ in vendors]
                c["vendor_mix"] = {v: x / sum(w) for v, x in zip(vendors, w, strict=True)}
        elif kind == "chip_purchase":
            c["capacity_gw"] = draw(st.floats(0, 2))
            c["useful_life_years"] = draw(st.sampled_from([1.0, 4.0]))
            if ccs and draw(st.booleans()):
                c["serves"] = draw(st.sampled_from(ccs))
        elif kind == "equity_investment":
            if draw(st.booleans()):
                c["post_money_valuation"] = draw(_money(1e9, 500e9))
            if draw(st.booleans()):
                parts = draw(st.integers(1, 3))
                c["tranches"] = [
                    {"amount": c["amount"] / parts,
                     "at": str(START + draw(st.integers(0, quarters - 1))),
                     "conditions": _conditions(draw, ids, quarters)}
                    for _ in range(parts)]
        elif kind == "warrant":
            if payer not in share_ids:
                if not share_ids:
                    continue
                payer = draw(st.sampled_from(share_ids))
                if payer == payee:
                    continue
                c["payer"] = payer
            shares = draw(st.floats(1e6, 5e8))
            c["shares"] = shares
            c["strike"] = draw(st.floats(0, 300))
            if draw(st.booleans()):
                c["expiry"] = str(START + draw(st.integers(0, quarters - 1)))
            parts = draw(st.integers(0, 3))
            c["tranches"] = [{"shares": shares / max(parts, 1),
                              "conditions": _conditions(draw, ids, quarters)}
                             for _ in range(parts)]
        elif kind in ("loan", "bond"):
            end = Period.parse(c["schedule"]["start"]) + c["schedule"]["quarters"]
            c["maturity"] = str(end + draw(st.integers(0, 12)))
            if draw(st.booleans()):
                c["rate"] = draw(st.floats(0, 0.15))
            else:
                c["spread"] = draw(st.floats(0, 0.08))
            c["amortisation"] = draw(st.sampled_from(["bullet", "linear"]))
            coll = []
            if draw(st.booleans()):
                coll.append("compute_assets")
            if lois and draw(st.booleans()):
                coll.append(draw(st.sampled_from(lois)))
            c["collateral"] = coll
            if (ccs or lois) and draw(st.integers(0, 3)) == 0:
                c["serves"] = draw(st.sampled_from(ccs + lois))
        elif kind == "letter_of_intent":
            c["converts_to"] = draw(st.sampled_from(
                ["compute_commitment", "chip_purchase", "equity_investment", "loan", "backstop"]))
            c["decision"] = str(START + draw(st.integers(0, quarters - 1)))
            c["conversion_probability"] = draw(st.floats(0, 1))
            if c["converts_to"] in ("compute_commitment", "chip_purchase"):
                c["capacity_gw"] = draw(st.floats(0, 2))
        elif kind == "backstop":
            c["threshold"] = draw(st.floats(0, 1))
            if ccs and draw(st.booleans()):
                c["covers"] = draw(st.sampled_from(ccs))
        contracts.append(c)
    data = {"name": "random", "start": str(START), "horizon": str(START + quarters - 1),
            "firms": firms, "contracts": contracts}
    return validate_deal_book(data)


@st.composite
def scenarios(draw: st.DrawFn, *, deterministic: bool | None = None,
              shocks: bool = True) -> Scenario:
    """A random valid :class:`Scenario` (optionally forced deterministic, with shocks)."""
    data: dict[str, Any] = {
        "name": "random",
        "deterministic": draw(st.booleans()) if deterministic is None else deterministic,
        "demand": {"default": {
            "growth": draw(st.floats(-0.3, 1.5)), "growth_decay": draw(st.floats(0, 0.5)),
            "long_run_growth": draw(st.floats(-0.1, 0.2)),
            "persistence": draw(st.floats(0, 0.95)),
            "volatility": draw(st.floats(0, 0.8)), "correlation": draw(st.floats(0, 1)),
            **({"saturation": draw(_money(1e9, 100e9))} if draw(st.booleans()) else {}),
        }},
        "credit": {
            "base_rate": draw(st.floats(0, 0.08)), "spread": draw(st.floats(0, 0.05)),
            "advance_compute": draw(st.floats(0, 0.8)),
            "advance_receivables": draw(st.floats(0, 0.5)),
            "advance_loi": draw(st.floats(0, 0.3)),
            "stress_response": draw(st.floats(0, 2)),
            "refinance_share": draw(st.floats(0, 1)),
            "max_debt_to_revenue": draw(st.floats(0.5, 8)),
            "recovery_assets": draw(st.floats(0, 1)),
            "recovery_receivables": draw(st.floats(0, 1)),
        },
        "equity": {
            "issuance_appetite": draw(st.floats(0, 0.1)),
            "stake_haircut": draw(st.floats(0, 0.6)),
            "price_volatility": draw(st.floats(0, 0.8)),
            "sentiment_default": draw(st.floats(0, 3)),
        },
        "rerent": {"spot_price": draw(st.floats(0, 1.2)), "utilisation": draw(st.floats(0, 1))},
        "loi": {"lapse_withdraws_credit": draw(st.booleans())},
    }
    if draw(st.booleans()):
        data["loi"]["conversion_probability"] = draw(st.floats(0, 1))
    if shocks:
        kinds = ["demand", "non_loop", "credit", "equity", "loi_lapse", "rerent"]
        data["shocks"] = [
            {"kind": draw(st.sampled_from(kinds)),
             "period": str(START + draw(st.integers(0, 6))),
             "size": draw(st.floats(-0.8, 0.5)), "quarters": draw(st.integers(0, 3))}
            for _ in range(draw(st.integers(0, 2)))]
    return validate_scenario(data)
