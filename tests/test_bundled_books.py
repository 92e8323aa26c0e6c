"""The bundled deal books: they validate, round-trip, and the default book is complete.

``ai-compute-2025`` is the default book of the whole product, so its
coverage of the research data is tested here: every firm role, every deal of
``deals.csv`` that moves money or shares, a source on every contract, an
assumption behind every figure no source gives, and the double counts the
mapping promises to avoid.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from loopwatch.io import bundled_books, dump_deal_book, load_deal_book, validate_deal_book
from loopwatch.io.yamlfile import read_yaml_text
from loopwatch.model import (
    BackstopContract,
    ChipPurchase,
    ComputeCommitment,
    ContractType,
    DealBook,
    Firm,
    LetterOfIntent,
    LoanContract,
    Metric,
    Role,
    Warrant,
)

DEFAULT = "ai-compute-2025"
# CI checks shared/ out beside the repository (../shared from the repo root).
DEALS_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "deals.csv"
DEAL_ID = re.compile(r"\bD(\d{2})\b")
# deal types in deals.csv that carry neither money nor shares (none today; the
# external lists have governance and partnership rows of this kind)
NON_MONEY_TYPES = ("partnership", "governance", "relationship", "litigation")


@pytest.fixture(scope="module")
def book() -> DealBook:
    return load_deal_book(DEFAULT)


def _deal_ids(book: DealBook) -> set[str]:
    """Deal ids named in the ``deals.csv Dxx`` notes of contract sources."""
    ids: set[str] = set()
    for c in book.contracts:
        for s in c.sources:
            if s.note and "deals.csv" in s.note:
                ids.update(f"D{m}" for m in DEAL_ID.findall(s.note))
    return ids


# ---------------------------------------------------------------- every bundled book


def test_the_default_book_is_bundled() -> None:
    assert DEFAULT in bundled_books()


@pytest.mark.parametrize("name", bundled_books())
def test_bundled_book_validates(name: str) -> None:
    book = load_deal_book(name)
    assert book.name == name
    assert book.firms and book.contracts


@pytest.mark.parametrize("name", bundled_books())
def test_bundled_book_round_trips(name: str) -> None:
    book = load_deal_book(name)
    text = dump_deal_book(book)
    data, lines, problems = read_yaml_text(text, f"{name}.dumped.yaml")
    again = validate_deal_book(data, file=f"{name}.dumped.yaml", lines=lines, problems=problems)
    assert again == book


# ---------------------------------------------------------------- ai-compute-2025: size and coverage


def test_default_book_size(book: DealBook) -> None:
    assert len(book.firms) >= 15
    assert len(book.contracts) >= 45
    assert str(book.start) == "2025Q1" and str(book.horizon) == "2032Q4"


def test_every_role_family_is_present(book: DealBook) -> None:
    assert {f.role for f in book.firms} == set(Role)


def test_every_contract_type_is_used(book: DealBook) -> None:
    assert {c.type for c in book.contracts} == set(ContractType)


def test_every_contract_has_a_source_with_a_title_and_link(book: DealBook) -> None:
    for c in book.contracts:
        assert c.sources, c.id
        assert all(s.title and s.url for s in c.sources), c.id
        assert any(s.note and "deals.csv" in s.note for s in c.sources), c.id


def test_every_contract_has_the_descriptive_fields(book: DealBook) -> None:
    for c in book.contracts:
        assert c.name and c.date, c.id
        assert 0 < c.confidence <= 1, c.id


def test_sourced_share_of_contract_value_is_complete(book: DealBook) -> None:
    total = sum(c.amount for c in book.contracts)
    sourced = sum(c.amount for c in book.contracts if c.sources)
    assert total > 1e12
    assert sourced == pytest.approx(total, rel=0, abs=0)


@pytest.mark.skipif(not DEALS_CSV.exists(), reason=f"{DEALS_CSV} not present")
def test_every_money_moving_deal_is_mapped(book: DealBook) -> None:
    with DEALS_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 48
    moving = {r["id"] for r in rows
              if not any(k in r["type"].lower() for k in NON_MONEY_TYPES)}
    missing = sorted(moving - _deal_ids(book))
    assert not missing, f"deals with no contract: {missing}"


def test_source_notes_name_only_real_deal_ids(book: DealBook) -> None:
    ids = _deal_ids(book)
    assert ids and all(1 <= int(d[1:]) <= 48 for d in ids)


# ---------------------------------------------------------------- assumptions


def test_assumption_ids_are_unique_and_referenced_ones_exist(book: DealBook) -> None:
    ids = [a.id for a in book.assumptions]
    assert len(ids) == len(set(ids))
    for c in book.contracts:
        for a in c.assumptions:
            assert a in ids, (c.id, a)


def test_every_assumption_applies_to_existing_ids(book: DealBook) -> None:
    known = {f.id for f in book.firms} | {c.id for c in book.contracts}
    for a in book.assumptions:
        for ref in a.applies_to:
            assert ref in known, (a.id, ref)


def test_assumption_links_go_both_ways(book: DealBook) -> None:
    by_id = {a.id: a for a in book.assumptions}
    for c in book.contracts:
        for a in c.assumptions:
            assert c.id in by_id[a].applies_to, (c.id, a)
    for a in book.assumptions:
        for ref in a.applies_to:
            if ref in book.contract_index:
                assert a.id in book.contract(ref).assumptions, (a.id, ref)


def test_assumption_priced_contracts_name_their_assumption(book: DealBook) -> None:
    """A contract whose amount no source backs must list the assumption that sets it."""
    priced = [c for c in book.contracts if not any("amount" in s.figures for s in c.sources)]
    for d in ("openai-amd-first-gw", "openai-broadcom-accelerators", "anthropic-google-tpu",
              "oracle-amd-mi450", "microsoft-nscale-compute"):
        assert d in {c.id for c in priced}  # D10, D12, D28, D45, D48 have no published value
    for c in priced:
        assert c.assumptions, c.id


def test_every_source_says_which_figures_it_backs(book: DealBook) -> None:
    for c in book.contracts:
        assert all(s.figures for s in c.sources), c.id
    for f in book.firms:
        assert all(s.figures for s in f.sources), f.id


def test_firm_figures_are_sourced_or_assumed(book: DealBook) -> None:
    skip = {"id", "name", "role", "public", "sources", "notes"}
    fields = [k for k in Firm.model_fields if k not in skip]
    for f in book.firms:
        assert f.sources, f.id
        backed = {x for s in f.sources for x in s.figures}
        assumed = any(f.id in a.applies_to for a in book.assumptions)
        loose = [k for k in fields
                 if getattr(f, k) != Firm.model_fields[k].default and k not in backed]
        assert not loose or assumed, (f.id, loose)


# ---------------------------------------------------------------- the mapping decisions


def test_openai_opening_figures(book: DealBook) -> None:
    openai = book.firm("openai")
    assert openai.end_revenue == 13e9 and openai.role is Role.model_developer
    oracle = book.firm("oracle")
    assert 55e9 <= oracle.non_loop_revenue <= 60e9 and oracle.ai_share < 0.3
    assert book.firm("nvidia").ai_share >= 0.85


def test_nvidia_letter_of_intent(book: DealBook) -> None:
    loi = book.contract("nvidia-openai-loi")
    assert isinstance(loi, LetterOfIntent) and not loi.binding
    assert loi.converts_to is ContractType.equity_investment
    assert loi.amount == 100e9 and loi.conversion_probability <= 0.2
    assert sum(t.amount for t in loi.tranches) == loi.amount
    assert all(cd.metric is Metric.gw_deployed for t in loi.tranches for cd in t.conditions)


def test_amd_split_and_warrant(book: DealBook) -> None:
    first = book.contract("openai-amd-first-gw")
    rest = book.contract("openai-amd-loi")
    assert isinstance(first, ChipPurchase) and first.binding and first.capacity_gw == 1
    assert isinstance(rest, LetterOfIntent) and not rest.binding and rest.capacity_gw == 5
    assert rest.converts_to is ContractType.chip_purchase
    w = book.contract("amd-openai-warrant")
    assert isinstance(w, Warrant) and w.payer == "amd" and w.payee == "openai"
    assert w.shares == 160e6 and w.strike == 0.01 and w.order == first.id
    assert sum(t.shares for t in w.tranches) == pytest.approx(160e6)
    gw = [cd.threshold for t in w.tranches for cd in t.conditions
          if cd.metric is Metric.gw_bought and cd.vendor == "amd"]
    price = [cd.threshold for t in w.tranches for cd in t.conditions
             if cd.metric is Metric.share_price]
    assert gw == [1, 2, 3, 4, 5, 6] and max(price) == 600


def test_guarantees_are_backstops(book: DealBook) -> None:
    backstops = {c.id: c for c in book.contracts if isinstance(c, BackstopContract)}
    assert {c.payer for c in backstops.values()} == {"nvidia", "google", "meta"}
    for c in backstops.values():
        if c.covers:
            covered = book.contract(c.covers)
            assert isinstance(covered, ComputeCommitment) or (
                isinstance(covered, LetterOfIntent)
                and covered.converts_to == ContractType.compute_commitment), c.id


def test_chip_purchases_that_build_a_commitment_serve_it(book: DealBook) -> None:
    abilene = book.contract("oracle-nvidia-abilene")
    assert isinstance(abilene, ChipPurchase) and abilene.serves == "openai-oracle-compute"
    for c in book.contracts:
        if isinstance(c, ChipPurchase) and c.payer in ("oracle", "iren", "xai_colossus"):
            assert c.serves, c.id


def test_compute_commitments_carry_build_out_terms(book: DealBook) -> None:
    for c in book.contracts:
        if isinstance(c, ComputeCommitment):
            assert "capex_intensity" in c.model_fields_set, c.id
            assert "lead_time" in c.model_fields_set, c.id
            assert "vendor_mix" in c.model_fields_set, c.id
    assert book.contract("openai-oracle-compute").vendor_mix == {"nvidia": 0.8, "amd": 0.2}


def test_project_loans_link_to_what_they_fund(book: DealBook) -> None:
    loans = [c for c in book.contracts if isinstance(c, LoanContract) and c.payee in
             ("abilene", "vantage", "jupiter", "xai_colossus")]
    assert len(loans) >= 5
    for c in loans:
        assert c.serves and c.collateral, c.id
    lois = {c.id for c in book.contracts if isinstance(c, LetterOfIntent)}
    on_loi = [c.id for c in book.contracts if isinstance(c, LoanContract)
              and (c.depends_on in lois or set(c.collateral) & lois)]
    assert "vantage-wisconsin-loan" in on_loi
    # the Hyperion bond rests on the first lease and Meta's residual value guarantee, which
    # covers the renewal (a letter of intent): a lapsed renewal does not call the bond
    assert "beignet-bond" not in on_loi
    rvg = book.contract("meta-beignet-rvg")
    assert rvg.covers == "meta-beignet-renewal"
    assert set(book.contract("beignet-bond").collateral) == {"meta-beignet-lease", rvg.id}


def test_long_bonds_draw_inside_the_horizon(book: DealBook) -> None:
    bond = book.contract("beignet-bond")
    assert isinstance(bond, LoanContract)
    assert bond.schedule.end <= book.horizon < bond.maturity


def test_oracle_bond_is_the_issued_18bn(book: DealBook) -> None:
    notes = [c for c in book.contracts if c.id.startswith("oracle-notes-")]
    assert sum(c.amount for c in notes) == pytest.approx(18e9)
    avg = sum(c.amount * (c.rate or 0) for c in notes) / 18e9
    assert avg == pytest.approx(0.0535, abs=0.001)


def test_double_counts_are_not_double_counted(book: DealBook) -> None:
    # D43 includes D42's option: only the increment is booked
    assert book.contract("meta-coreweave-2026").amount < 21e9
    # Nvidia's xAI money once (D19), not again in the Series E (D20)
    assert not any(c.payer == "nvidia" and c.payee == "xai" for c in book.contracts)
    # Stargate's intent excludes the capacity contracted through Oracle (D06-D08)
    assert book.contract("stargate-intent").amount < 500e9


def test_every_schedule_fits_the_horizon(book: DealBook) -> None:
    for c in book.contracts:
        assert book.start <= c.schedule.start and c.schedule.end <= book.horizon, c.id


# ---------------------------------------------------------------- docs/deal-book.md stays true

DOC = Path(__file__).resolve().parents[1] / "docs" / "deal-book.md"


def test_the_documented_example_validates_and_uses_every_type() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
                 if b.startswith("name: "))
    data, lines, problems = read_yaml_text(block, "docs/deal-book.md example")
    example = validate_deal_book(data, file="example", lines=lines, problems=problems)
    assert {c.type for c in example.contracts} == set(ContractType)


def test_the_documented_mapping_matches_the_book(book: DealBook) -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (D\d\d) \|[^|]*\|(.*)\|$", text, flags=re.M)
    assert [d for d, _ in rows] == [f"D{i:02d}" for i in range(1, 49)]
    extra = re.findall(r"^\| (S\d\d) \|[^|]*\|(.*)\|$", text, flags=re.M)
    named = {cid for _, cell in [*rows, *extra]
             for cid in re.findall(r"`([a-z0-9][a-z0-9_\-]*)`", cell)}
    contract_ids = {c.id for c in book.contracts}
    assert named <= contract_ids, sorted(named - contract_ids)
    assert contract_ids <= named, sorted(contract_ids - named)
    for a in book.assumptions:
        assert f"`{a.id}`" in text, a.id


def test_the_documented_counts_match_the_book(book: DealBook) -> None:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"\*\*Size\.\*\* (\d+) firms, (\d+) contracts, (\d+) assumptions", text)
    assert m is not None
    assert tuple(map(int, m.groups())) == (len(book.firms), len(book.contracts),
                                           len(book.assumptions))
