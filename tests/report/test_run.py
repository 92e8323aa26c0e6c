"""End to end: ``loopwatch run`` on the three-party loop — report, summary, charts, store."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from loopwatch.cli import main
from loopwatch.report.build import SECTION_IDS
from loopwatch.report.job import SUMMARY_KEYS
from loopwatch.store import RunStore

ARGS = ["run", "three-party-loop", "--scenarios", "base,bear", "--paths", "200", "--seed", "3"]


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.plots = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.append(str(a["id"]))
        if tag == "script":
            self.scripts.append(a)
        if tag == "link":
            self.links.append(a)
        if tag == "div" and "plotly-graph-div" in (a.get("class") or ""):
            self.plots += 1


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main([*ARGS, "--out", str(out / "a"), "--store", str(out / "runs.duckdb")])
    assert code == 0
    return out


def test_summary_has_every_documented_key(run_dir: Path) -> None:
    summary = json.loads((run_dir / "a" / "summary.json").read_text(encoding="utf-8"))
    assert list(summary) == list(SUMMARY_KEYS)
    assert summary["deal_book"]["name"] == "three-party-loop"
    assert set(summary["default_probability"]) == {"base", "bear"}
    assert summary["run"] == {"scenarios": ["base", "bear"], "paths": 200, "seed": 3,
                              "version": summary["run"]["version"], "alpha": 0.05}
    assert 0.0 <= summary["round_trip_share"]["nvidia"]["round_trip_share"] <= 1.0
    assert summary["cycles"]["sccs"] == [["nvidia", "openai", "oracle"]]


def test_report_is_self_contained_with_every_section(run_dir: Path) -> None:
    text = (run_dir / "a" / "report.html").read_text(encoding="utf-8")
    parser = _Sections()
    parser.feed(text)
    assert parser.sections == list(SECTION_IDS)
    assert all(not s.get("src") for s in parser.scripts), "no external scripts (offline, no CDN)"
    assert not parser.links
    assert "<script src=" not in text.replace(" ", "")  # plotly.js itself mentions its CDN in comments
    assert parser.plots >= 8
    assert "Plotly.newPlot" in text


def test_charts_written_as_png(run_dir: Path) -> None:
    pngs = sorted((run_dir / "a" / "charts").glob("*.png"))
    assert len(pngs) >= 8
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_same_command_and_seed_give_identical_summary(run_dir: Path) -> None:
    assert main([*ARGS, "--out", str(run_dir / "b"), "--no-store", "--no-png"]) == 0
    first = (run_dir / "a" / "summary.json").read_bytes()
    assert (run_dir / "b" / "summary.json").read_bytes() == first


def test_run_recorded_in_store(run_dir: Path) -> None:
    with RunStore(run_dir / "runs.duckdb", read_only=True) as store:
        runs = store.list_runs()
        assert len(runs) == 1 and runs[0].paths == 200 and runs[0].scenarios == "base,bear"
        _, summary, params = store.run(runs[0].run_id)
        assert summary == json.loads((run_dir / "a" / "summary.json").read_text(encoding="utf-8"))
        assert params["seed"] == 3
        q = store.table("quantiles", runs[0].run_id)
        assert set(q["variable"]) >= {"cash", "market_value"}
        assert (q["q05"] <= q["q95"] + 1e-6).all()


def test_json_flag_prints_summary_only(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main([*ARGS, "--out", str(run_dir / "c"), "--no-store", "--no-png", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == list(SUMMARY_KEYS)
