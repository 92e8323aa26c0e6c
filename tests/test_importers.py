"""Importers: the two third-party deal lists in shared/external and the generic CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopwatch.cli import main
from loopwatch.errors import DealBookError
from loopwatch.io import load_deal_book, write_deal_book
from loopwatch.io.importers import ImportResult, firm_id, import_deals, is_world
from loopwatch.model import (
    BackstopContract,
    ComputeCommitment,
    ContractType,
    LetterOfIntent,
    LoanContract,
    Period,
    Role,
    Status,
)

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
CDV = EXTERNAL / "circular-deals-visualizer"
BUBBLE = EXTERNAL / "bubble-map"
needs_external = pytest.mark.skipif(not (CDV / "deals.csv").is_file()
                                    or not (BUBBLE / "edges.csv").is_file(),
                                    reason="shared/external not beside the repo")


def _balanced(r: ImportResult) -> None:
    assert r.rows == r.imported + sum(r.skipped.values()) == len(r.skipped_rows) + r.imported


def _written_equal(r: ImportResult, tmp_path: Path) -> None:
    out = tmp_path / "book.yaml"
    write_deal_book(r.book, out)
    assert load_deal_book(out) == r.book


# -- names ---------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("NVIDIA", "nvidia"), ("nvidia", "nvidia"), ("Nvidia", "nvidia"), ("Nvidia Corp.", "nvidia"),
    ("Microsoft (Azure)", "microsoft"), ("Microsoft", "microsoft"),
    ("Amazon Web Services", "amazon"), ("AWS", "amazon"), ("Amazon.com, Inc.", "amazon"),
    ("Google Cloud", "google"), ("Alphabet", "google"), ("OpenAI", "openai"), ("xAI", "xai"),
    ("ScaleAI", "scale-ai"), ("scale-ai", "scale-ai"), ("SK Hynix", "sk-hynix"),
    ("Meta_Hyperion_SPV", "meta-hyperion-spv"), ("BlueOwl", "blue-owl"), ("Blue Owl", "blue-owl"),
])
def test_firm_id_normalises_names(raw: str, expected: str) -> None:
    assert firm_id(raw) == expected


@pytest.mark.parametrize(("raw", "world"), [
    ("SINK_capex", True), ("SINK_bondmarket", True), ("ANTHROPIC_INVESTORS", True),
    ("SpaceX_IPO_Public", True), ("Starlink_Subscribers", True), ("world", True),
    ("Sinkhole Labs", False), ("Oracle", False), ("Meta_Hyperion_SPV", False),
])
def test_world_nodes(raw: str, world: bool) -> None:
    assert is_world(raw) is world


# -- bubble-map, real file -------------------------------------------------------

@needs_external
def test_bubble_map_real_file_counts(tmp_path: Path) -> None:
    r = import_deals("bubble-map", [BUBBLE / "edges.csv"])
    assert (r.rows, r.imported, len(r.book.firms)) == (109, 36, 28)
    assert r.skipped == {
        "cancelled": 2, "no amount": 21, "no money": 24, "outside market": 13,
        "stake value, not a payment": 3, "unsupported instrument": 8,
        "warrant without share data": 2,
    }
    _balanced(r)
    _written_equal(r, tmp_path)
    by_type = {t: len(r.book.of_type(t)) for t in ContractType}
    assert by_type == {
        ContractType.compute_commitment: 9, ContractType.chip_purchase: 1,
        ContractType.equity_investment: 18, ContractType.warrant: 0, ContractType.loan: 5,
        ContractType.bond: 0, ContractType.letter_of_intent: 1, ContractType.backstop: 2,
    }


@needs_external
def test_bubble_map_real_file_edges() -> None:
    book = import_deals("bubble-map", [BUBBLE]).book
    c = book.contract("openai-oracle-compute")
    assert isinstance(c, ComputeCommitment)
    assert (c.payer, c.payee, c.amount) == ("openai", "oracle", 300e9)
    assert (str(c.schedule.start), c.schedule.quarters, c.status) == ("2025Q1", 20, Status.signed)
    assert c.sources[0].note == "bubble-map row 1"
    ids = {f.id for f in book.firms}
    assert "nvidia" in ids and not any(i != "nvidia" and "nvidia" in i for i in ids)
    assert not any(is_world(i) or i.startswith("sink") for i in ids)
    # debt: lender → borrower, maturity 20 quarters after drawdown
    loan = book.contract("blue-owl-meta-hyperion-spv-loan")
    assert isinstance(loan, LoanContract)
    assert (loan.payer, loan.payee, str(loan.maturity)) == ("blue-owl", "meta-hyperion-spv", "2030Q1")
    assert book.firm("blue-owl").role is Role.lender
    assert book.firm("meta-hyperion-spv").role is Role.spv
    # a signed LOI stays a letter of intent, non-binding
    loi = book.contract("nvidia-openai-loi")
    assert isinstance(loi, LetterOfIntent) and not loi.binding
    assert loi.converts_to is ContractType.equity_investment and loi.amount == 100e9
    # cancelable → non-binding; the backstop keeps its direction
    assert not book.contract("google-spacex-compute").binding
    assert isinstance(book.contract("nvidia-coreweave-backstop"), BackstopContract)
    # a firm the table does not know gets its role from its contracts, and says so
    spacex = book.firm("spacex")
    assert spacex.role is Role.cloud and "payee of a compute commitment" in (spacex.notes or "")
    assert "table of known names" in (book.firm("nvidia").notes or "")


# -- circular-deals-visualizer, real files ----------------------------------------

@needs_external
def test_circular_deals_real_files_counts(tmp_path: Path) -> None:
    r = import_deals("circular-deals-visualizer", [CDV / "companies.csv", CDV / "deals.csv"])
    assert (r.rows, r.imported, len(r.book.firms)) == (91, 44, 23)
    assert r.skipped == {"duplicate row": 2, "no amount": 28, "no payer or payee": 16,
                         "warrant without share data": 1}
    _balanced(r)
    _written_equal(r, tmp_path)
    # the folder reads the same two files
    assert import_deals("circular-deals-visualizer", [CDV]).book == r.book


@needs_external
def test_circular_deals_real_files_edges() -> None:
    book = import_deals("circular-deals-visualizer", [CDV]).book
    c = book.contract("oracle-openai-stargate-300b-2025")
    assert isinstance(c, ComputeCommitment)
    assert (c.payer, c.payee, c.amount, str(c.schedule.start)) == ("openai", "oracle", 300e9, "2025Q3")
    assert c.confidence == 1.0 and c.status is Status.announced and c.date == "2025-07-10"
    assert c.sources[0].url and c.sources[0].note and c.sources[0].note == "circular-deals-visualizer row 64"
    # "up to" → the ceiling, confidence lowered
    nv = book.contract("nvidia-openai-investment-2025")
    assert (nv.amount, nv.confidence, nv.type) == (100e9, 0.8, ContractType.equity_investment)
    # ESTIMATED → rumoured; confidence (4 - 1) / 4 × 0.8
    tsmc = book.contract("tsmc-nvidia-chip-manufacturing-2024")
    assert tsmc.status is Status.rumoured and tsmc.confidence == pytest.approx(0.6)
    # dated before the window: starts at 2025Q1 and says so
    ms = book.contract("microsoft-openai-investment-2023")
    assert str(ms.schedule.start) == "2025Q1" and "before the book starts" in (ms.notes or "")
    # length from the text
    assert book.contract("openai-aws-cloud-commitment-2025").schedule.quarters == 28
    assert book.contract("meta-coreweave-infrastructure-2025").schedule.quarters == 26
    # partnership with money → letter of intent; the capacity backstop → backstop
    assert isinstance(book.contract("softbank-openai-stargate-2025"), LetterOfIntent)
    assert isinstance(book.contract("nvidia-coreweave-capacity-backstop-2025"), BackstopContract)
    # duplicates are not imported twice
    ids = {c.id for c in book.contracts}
    assert "amazon-anthropic-investment-2023-2024" not in ids
    assert "nvidia-coreweave-capacity-2025" not in ids
    # companies.csv gives names, public flags and valuations; NVIDIA/nvidia one firm
    nvidia = book.firm("nvidia")
    assert (nvidia.name, nvidia.public, nvidia.valuation) == ("NVIDIA", True, 4.53e12)
    assert book.firm("openai").public is False
    assert book.firm("zoox").role is Role.investor
    assert "default" in (book.firm("zoox").notes or "")
    moved = next(a for a in book.assumptions if a.id == "import-moved")
    assert "microsoft-openai-investment-2023" in moved.applies_to


# -- generic CSV ------------------------------------------------------------------

GENERIC = """\
payer,payee,type,amount,id,start,quarters,binding,status,confidence,source_title,source_url,name,date,maturity
OpenAI,Oracle,compute_commitment,$300B,,,,,,,CNBC,https://example.com/a,Stargate,2025-07-10,
NVIDIA,OpenAI,equity,up to 100bn,,,,,announced,0.9,,,,2025-09-22,
nvidia,CoreWeave,backstop,6.3bn,,2025Q3,28,,,,,,,,
Blue Owl,Meta_Hyperion_SPV,debt,10bn-20bn,,2026Q1,,,definitive,,,,,,2032Q1
AMD,OpenAI,warrant,,,,,,,,,,,,
Meta,SINK_capex,equity,115bn,,,,,,,,,,,
Microsoft (Azure),OpenAI,equity,10bn,,,,,,,,,,2023-01-23,
SoftBank,OpenAI,loi,30bn,,,,,,,,,,,
Nvidia,Oracle,chips,,,,,,,,,,,,
Oracle,Nvidia,gpu_purchase,40bn,oracle-chips,2031Q1,20,false,signed,,,,,,
Oracle,Nvidia,chips,1bn,oracle-chips,,,,,,,,,,
OpenAI,Open AI,compute,1bn,,,,,,,,,,,
Oracle,OpenAI,equity,1bn,openai,,,,,,,,,,
"""


def _generic(tmp_path: Path, text: str = GENERIC, name: str = "deals.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_generic_csv(tmp_path: Path) -> None:
    r = import_deals("csv", [_generic(tmp_path)])
    assert r.book.name == "deals"
    assert (r.rows, r.imported) == (13, 9)
    assert r.skipped == {"no amount": 1, "outside market": 1, "same firm on both sides": 1,
                         "warrant without share data": 1}
    _balanced(r)
    _written_equal(r, tmp_path)
    book = r.book
    # NVIDIA, nvidia and Nvidia are one firm; Microsoft (Azure) is microsoft
    assert sorted(f.id for f in book.firms) == ["blue-owl", "coreweave", "meta-hyperion-spv",
                                                "microsoft", "nvidia", "openai", "oracle",
                                                "softbank"]
    c = book.contract("openai-oracle-compute")
    assert (c.amount, str(c.schedule.start), c.schedule.quarters, c.name) == (300e9, "2025Q3", 20, "Stargate")
    assert c.sources[0].title == "CNBC" and c.sources[0].note == "deals.csv row 1"
    eq = book.contract("nvidia-openai-equity")
    assert eq.amount == 100e9 and eq.confidence == pytest.approx(0.72)
    assert eq.status is Status.announced
    back = book.contract("nvidia-coreweave-backstop")
    assert (str(back.schedule.start), back.schedule.quarters) == ("2025Q3", 28)
    loan = book.contract("blue-owl-meta-hyperion-spv-loan")
    assert isinstance(loan, LoanContract)
    assert loan.amount == 15e9 and str(loan.maturity) == "2032Q1" and loan.status is Status.definitive
    old = book.contract("microsoft-openai-equity")
    assert str(old.schedule.start) == "2025Q1" and "2023Q1" in (old.notes or "")
    loi = book.contract("softbank-openai-loi")
    assert isinstance(loi, LetterOfIntent) and not loi.binding
    assert loi.decision == Period.parse("2026Q1")
    # cut at the horizon: 8 of 20 quarters in the window, amount pro rata
    cut = book.contract("oracle-chips")
    assert (cut.schedule.quarters, cut.amount, cut.binding) == (8, pytest.approx(16e9), False)
    assert "$40B" in (cut.notes or "")
    # duplicate ids get a suffix; an id equal to a firm id too
    assert book.contract("oracle-chips-2").amount == 1e9
    assert book.contract("openai-2").payee == "openai"


def test_generic_csv_folder_and_name(tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    _generic(folder, "payer,payee,type,amount\nA,B,equity,1bn\n", "a.csv")
    _generic(folder, "payer,payee,type,amount\nB,C,loan,2bn\nC,D,equity,0\n", "b.csv")
    r = import_deals("csv", [folder], name="mine")
    assert (r.book.name, r.rows, r.imported, r.skipped) == ("mine", 3, 2, {"no amount": 1})
    assert r.book.contract("b-c-loan").maturity == Period.parse("2030Q1")


# -- bad input ----------------------------------------------------------------------

def test_missing_required_column_names_file_line_and_field(tmp_path: Path) -> None:
    path = _generic(tmp_path, "payer,payee,kind,amount\nA,B,equity,1bn\n")
    with pytest.raises(DealBookError) as err:
        import_deals("csv", [path])
    (p,) = err.value.problems
    assert (p.file, p.line, p.path) == (str(path), 1, "type")
    assert str(err.value) == f"{path}:1: type: required column is missing"


def test_bad_values_name_every_line_and_field(tmp_path: Path) -> None:
    path = _generic(tmp_path, (
        "payer,payee,type,amount,confidence,start\n"
        "A,B,equity,1bn,,\n"
        "A,B,equity,lots,,\n"
        "A,B,swap,1bn,1.5,\n"
        ",B,equity,1bn,,2027Q9\n"))
    with pytest.raises(DealBookError) as err:
        import_deals("csv", [path])
    where = {(p.line, p.path) for p in err.value.problems}
    assert where == {(3, "amount"), (4, "type"), (4, "confidence"), (5, "payer"), (5, "start")}
    lines = str(err.value).splitlines()
    assert len(lines) == 5 and all(line.startswith(f"{path}:") for line in lines)


def test_unknown_column_missing_file_unknown_source(tmp_path: Path) -> None:
    path = _generic(tmp_path, "payer,payee,type,amount,amout_usd\nA,B,equity,1bn,2\n")
    with pytest.raises(DealBookError, match=r":1: amout_usd: unknown column"):
        import_deals("csv", [path])
    with pytest.raises(DealBookError, match="no such file"):
        import_deals("csv", [tmp_path / "nope.csv"])
    with pytest.raises(DealBookError, match="unknown source 'kaggle'"):
        import_deals("kaggle", [path])
    with pytest.raises(DealBookError, match="not a valid book name"):
        import_deals("csv", [_generic(tmp_path, GENERIC, "ok.csv")], name="Bad Name")


def test_bubble_map_bad_and_flipped_rows(tmp_path: Path) -> None:
    head = "from,to,instrument,amount_usd,status,declared_circular,cancelable,source_file\n"
    bad = _generic(tmp_path, head + "A,B,equity,1bn,closed,False,maybe,x.json\n"
                   "A,B,equity,-5,closed,False,False,x.json\n", "edges.csv")
    with pytest.raises(DealBookError) as err:
        import_deals("bubble-map", [bad])
    assert {(p.line, p.path) for p in err.value.problems} == {(2, "cancelable"), (3, "amount_usd")}
    missing = _generic(tmp_path, "from,to,amount_usd\nA,B,1\n", "short.csv")
    with pytest.raises(DealBookError, match=r"short.csv:1: instrument: required column is missing"):
        import_deals("bubble-map", [missing])
    # a borrower → lender debt edge is flipped to lender → borrower
    edges = _generic(tmp_path, head + "Meta_Hyperion_SPV,PIMCO,debt,18bn,closed,False,False,m.json\n"
                     "Meta_Hyperion_SPV,PIMCO,debt,18bn,closed,False,False,m.json\n", "flip.csv")
    r = import_deals("bubble-map", [edges])
    (loan,) = r.book.contracts
    assert (loan.payer, loan.payee) == ("pimco", "meta-hyperion-spv")
    assert "flipped" in (loan.notes or "") and r.skipped == {"duplicate row": 1}


def test_circular_deals_bad_values(tmp_path: Path) -> None:
    head = ("deal_id,announced,deal_type,flow_type,outflow_parties,inflow_parties,amount_usd,"
            "mean_source_confidence\n")
    path = _generic(tmp_path, head + "d1,2025-13-01,INVESTMENT,MONEY,a,b,1e9,5\n"
                    "d2,2025-01-01,INVESTMENT,MONEY,a,b,1e9,7\n", "deals.csv")
    with pytest.raises(DealBookError) as err:
        import_deals("circular-deals-visualizer", [path])
    assert {(p.line, p.path) for p in err.value.problems} == {
        (2, "announced"), (3, "mean_source_confidence")}
    other = _generic(tmp_path, "a,b\n1,2\n", "other.csv")
    with pytest.raises(DealBookError, match="not a circular-deals-visualizer file"):
        import_deals("circular-deals-visualizer", [other])


# -- invariants on random generic rows ------------------------------------------------

_NAMES = st.sampled_from(["NVIDIA", "nvidia", "OpenAI", "Oracle", "SINK_x", "Acme Corp", "AWS"])
_ROWS = st.lists(st.tuples(
    _NAMES, _NAMES,
    st.sampled_from(["equity", "compute", "chips", "debt", "backstop", "loi", "warrant", "bond"]),
    st.sampled_from(["", "0", "1bn", "up to 5bn", "2bn-4bn", "$300B"]),
    st.sampled_from(["", "2020Q1", "2025Q2", "2031Q4", "2033Q1"]),
    st.sampled_from(["", "1", "8", "40"]),
    st.sampled_from(["", "dup"])), max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_ROWS)
def test_any_generic_rows_give_a_valid_book_and_balanced_ledger(tmp_path: Path, rows: list[tuple[str, ...]]) -> None:
    text = "payer,payee,type,amount,start,quarters,id\n" + "".join(
        ",".join(r) + "\n" for r in rows)
    r = import_deals("csv", [_generic(tmp_path, text, "random.csv")])
    _balanced(r)
    assert r.rows == len(rows)
    for c in r.book.contracts:
        assert r.book.start <= c.schedule.start and c.schedule.end <= r.book.horizon
    assert len({c.id for c in r.book.contracts} | {f.id for f in r.book.firms}) == (
        len(r.book.contracts) + len(r.book.firms))


# -- CLI --------------------------------------------------------------------------------

@needs_external
def test_cli_imports_real_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bm.yaml"
    assert main(["deals", "import", "--from", "bubble-map", str(BUBBLE / "edges.csv"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "outside market" in text and "36" in text and "28 firms" in text
    assert len(load_deal_book(out).contracts) == 36
    out2 = tmp_path / "cdv.yaml"
    assert main(["deals", "import", "--from", "circular-deals-visualizer", str(CDV), "-o", str(out2),
                 "--show-skipped"]) == 0
    text = capsys.readouterr().out
    assert "deals.csv:51: duplicate row" in text
    assert load_deal_book(out2).name == "circular-deals-visualizer"


def test_cli_generic_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _generic(tmp_path, GENERIC)
    out = tmp_path / "book.yaml"
    assert main(["deals", "import", "--from", "csv", str(good), "-o", str(out), "--name", "mine"]) == 0
    assert load_deal_book(out).name == "mine"
    bad = _generic(tmp_path, "payer,payee,type,amount\nA,B,equity,lots\n", "bad.csv")
    assert main(["deals", "import", "--from", "csv", str(bad), "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: amount:" in err and "Traceback" not in err
    assert not (tmp_path / "x.yaml").exists()
    assert main(["deals", "import", "--from", "kaggle", str(good), "-o", str(out)]) == 2
    assert main(["deals", "import", "--from", "csv", str(good)]) == 2
    assert main(["deals", "import", "--from", "csv", str(good), "-o", str(tmp_path / "no" / "b.yaml")]) == 2
