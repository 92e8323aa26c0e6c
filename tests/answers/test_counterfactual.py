"""The counterfactual book: which links are vendor financing, and how they are replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwatch.analysis.counterfactual import counterfactual_book, vendor_links, vendors_of
from loopwatch.io import load_deal_book, write_deal_book
from loopwatch.model import ContractType, DealBook, EquityInvestment, Metric, Role

SRC = [{"title": "test"}]


def book(firms: list[tuple[str, str]], contracts: list[dict[str, object]]) -> DealBook:
    return DealBook.model_validate({
        "name": "t", "start": "2025Q1", "horizon": "2027Q4",
        "firms": [{"id": i, "name": i.title(), "role": r, "cash": 1e10} for i, r in firms],
        "contracts": contracts,
    })


FIRMS = [("nvidia", "chip_vendor"), ("amd", "chip_vendor"), ("oracle", "cloud"),
         ("coreweave", "cloud"), ("openai", "model_developer"), ("softbank", "investor"),
         ("bank", "lender")]


def web() -> DealBook:
    q = {"start": "2025Q1", "quarters": 4}
    return book(FIRMS, [
        {"id": "oa-oracle", "type": "compute_commitment", "payer": "openai", "payee": "oracle",
         "amount": 4e10, "schedule": q, "vendor_mix": {"nvidia": 1.0}},
        {"id": "oa-amd-chips", "type": "chip_purchase", "payer": "openai", "payee": "amd",
         "amount": 1e10, "schedule": q},
        {"id": "cw-nvidia-chips", "type": "chip_purchase", "payer": "coreweave", "payee": "nvidia",
         "amount": 5e9, "schedule": q},
        {"id": "nvda-oa-equity", "type": "equity_investment", "payer": "nvidia", "payee": "openai",
         "amount": 1e10, "schedule": {"start": "2025Q1"}},
        {"id": "sb-oa-equity", "type": "equity_investment", "payer": "softbank", "payee": "openai",
         "amount": 3e10, "schedule": {"start": "2025Q1"}},
        {"id": "amd-warrant", "type": "warrant", "payer": "amd", "payee": "openai", "amount": 8e9,
         "schedule": {"start": "2025Q2"}, "shares": 1.6e8, "strike": 0.01, "order": "oa-amd-chips",
         "tranches": [
             {"shares": 4e7, "conditions": [{"metric": "gw_bought", "threshold": 1, "vendor": "amd"}]},
             {"shares": 1.2e8, "conditions": [{"metric": "gw_bought", "threshold": 6, "vendor": "amd"},
                                              {"metric": "share_price", "threshold": 600}]},
         ]},
        {"id": "nvda-cw-backstop", "type": "backstop", "payer": "nvidia", "payee": "coreweave",
         "amount": 6e9, "schedule": {"start": "2025Q1", "quarters": 12}},
        {"id": "bank-oracle-loan", "type": "loan", "payer": "bank", "payee": "oracle",
         "amount": 1.8e10, "schedule": {"start": "2025Q1"}, "maturity": "2027Q4"},
        {"id": "nvda-oa-loi", "type": "letter_of_intent", "payer": "nvidia", "payee": "openai",
         "amount": 1e11, "schedule": {"start": "2026Q1", "quarters": 4}, "decision": "2025Q4",
         "converts_to": "equity_investment"},
    ])


def test_vendors_follow_purchases_through_intermediaries() -> None:
    v = vendors_of(web())
    assert v["openai"] == {"oracle", "nvidia", "amd"}
    assert v["coreweave"] == {"nvidia"}
    assert v["oracle"] == {"nvidia"}
    assert "softbank" not in v and "nvidia" not in v


def test_links_found() -> None:
    links = {x.contract: x for x in vendor_links(web())}
    assert set(links) == {"nvda-oa-equity", "amd-warrant", "nvda-cw-backstop", "nvda-oa-loi"}
    assert links["nvda-oa-equity"].route == ("openai", "oracle", "nvidia")
    assert links["amd-warrant"].route == ("openai", "amd")
    assert links["nvda-oa-loi"].type == "letter_of_intent→equity_investment"


def test_counterfactual_replaces_links_only() -> None:
    original = web()
    cf = counterfactual_book(original)
    assert cf.name == "t-counterfactual"
    out = cf.firm("outside_investors")
    assert out.role is Role.investor
    assert out.cash == pytest.approx(1e10 + 8e9 + 6e9 + 1e11)
    for cid in ("nvda-oa-equity", "nvda-cw-backstop", "nvda-oa-loi"):
        before, after = original.contract(cid), cf.contract(cid)
        assert after.payer == "outside_investors"
        assert (after.payee, after.amount, after.schedule, after.type) == (
            before.payee, before.amount, before.schedule, before.type)
    for cid in ("sb-oa-equity", "bank-oracle-loan", "oa-oracle", "oa-amd-chips", "cw-nvidia-chips"):
        assert cf.contract(cid) == original.contract(cid)
    assert [a.id for a in cf.assumptions] == ["counterfactual-outside-investors"]
    assert set(cf.assumptions[0].applies_to) == {"nvda-oa-equity", "amd-warrant", "nvda-cw-backstop", "nvda-oa-loi"}


def test_warrant_becomes_outside_equity_on_the_same_milestones() -> None:
    eq = counterfactual_book(web()).contract("amd-warrant")
    assert isinstance(eq, EquityInvestment) and eq.type is ContractType.equity_investment
    assert (eq.payer, eq.payee, eq.amount) == ("outside_investors", "openai", 8e9)
    assert [t.amount for t in eq.tranches] == pytest.approx([2e9, 6e9])
    assert [[(c.metric, c.threshold, c.vendor) for c in t.conditions] for t in eq.tranches] == [
        [(Metric.gw_bought, 1, "amd")], [(Metric.gw_bought, 6, "amd")]]  # price hurdle dropped
    assert eq.notes is not None and "warrant issued by amd" in eq.notes


def test_no_vendor_financing_leaves_the_book_unchanged() -> None:
    b = book(FIRMS, [c.model_dump(mode="json") for c in web().contracts
                     if c.id in ("oa-oracle", "sb-oa-equity", "bank-oracle-loan")])
    cf = counterfactual_book(b)
    assert vendor_links(b) == []
    assert cf.firms == b.firms and cf.contracts == b.contracts and cf.assumptions == b.assumptions


def test_written_counterfactual_reads_back_equal(tmp_path: Path) -> None:
    for original in (web(), load_deal_book("three-party-loop")):
        cf = counterfactual_book(original)
        write_deal_book(cf, tmp_path / "cf.yaml")
        assert load_deal_book(tmp_path / "cf.yaml") == cf


def test_existing_outside_investor_must_be_an_investor() -> None:
    b = book([*FIRMS, ("outside_investors", "lender")], [c.model_dump(mode="json") for c in web().contracts])
    with pytest.raises(ValueError, match="role lender"):
        counterfactual_book(b)
    ok = book([*FIRMS, ("outside_investors", "investor")], [c.model_dump(mode="json") for c in web().contracts])
    assert counterfactual_book(ok).firm("outside_investors").cash == pytest.approx(1e10 + 1.24e11)
