"""The engine's public surface: options, errors, recorded variables, events, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import loopwatch
from loopwatch.cli import main
from loopwatch.engine import VARIABLES, SimulationResult, core_firms, simulate
from loopwatch.engine import valuation as valuation_module
from loopwatch.errors import AccountingError, DealBookError, ScenarioError
from loopwatch.io import bundled_scenarios, validate_deal_book, validate_scenario


@pytest.fixture(scope="module")
def book():
    return loopwatch.load_deal_book("three-party-loop")


@pytest.fixture(scope="module")
def base():
    return loopwatch.load_scenario("base")


def test_result_shape_and_labels(book, base) -> None:
    res = simulate(book, base, paths=5, seed=3)
    assert isinstance(res, SimulationResult)
    assert res.periods == [f"{y}Q{q}" for y in (2025, 2026) for q in (1, 2, 3, 4)]
    assert res.firms == ["nvidia", "openai", "oracle"] and res.paths == 5
    d = res.data
    assert d["cash"].dims == ("path", "period", "firm")
    assert d["paid"].dims == ("path", "period", "contract")
    assert d["sentiment"].dims == ("path", "period")
    assert d["losses"].dims == ("path", "firm", "counterparty")
    assert list(d["counterparty"].values) == [*res.firms, "world"]
    assert list(d["mechanism"].values) == ["unpaid_contracts", "stakes", "loans",
                                           "stranded_capacity"]
    assert d["defaulted"].dtype == bool and d["default_period"].dtype.kind == "i"
    assert (d["share_price"].sel(firm="openai") == 0).all()  # private: no shares
    assert list(res.events.columns)[:6] == ["path", "period", "firm", "event", "amount",
                                            "counterparty"]
    assert "tranche_paid" in set(res.events["event"])


def test_variables_select_what_is_recorded(book, base) -> None:
    res = simulate(book, base, paths=2, variables=["cash", "losses"])
    assert set(res.data.data_vars) == {"cash", "losses", "default_period"}
    full = simulate(book, base, paths=2, variables="all")
    assert set(full.data.data_vars) == set(VARIABLES)
    with pytest.raises(ValueError, match="unknown variable"):
        simulate(book, base, paths=1, variables=["nope"])


def test_float32_storage_and_no_events(book, base) -> None:
    res = simulate(book, base, paths=3, variables=["cash"], dtype="float32", events=False)
    assert res.data["cash"].dtype == np.float32 and res.events.empty


def test_seed_reproducible_and_seeds_differ(book, base) -> None:
    a = simulate(book, base, paths=4, seed=1, variables=["revenue_end"])
    b = simulate(book, base, paths=4, seed=np.random.SeedSequence(1), variables=["revenue_end"])
    c = simulate(book, base, paths=4, seed=2, variables=["revenue_end"])
    assert np.array_equal(a.data["revenue_end"], b.data["revenue_end"])
    assert not np.array_equal(a.data["revenue_end"], c.data["revenue_end"])


def test_demand_multiplier_scales_end_revenue_with_the_same_shocks(book, base) -> None:
    one = simulate(book, base, paths=4, seed=9, variables=["revenue_end"])
    per_path = simulate(book, base, paths=4, seed=9, variables=["revenue_end"],
                        demand_multiplier=np.array([1.0, 2.0, 0.5, 1.0]))
    ratio = (per_path.data["revenue_end"] / one.data["revenue_end"]).sel(firm="openai")
    np.testing.assert_allclose(ratio.isel(path=1), 2.0, rtol=1e-12)
    np.testing.assert_allclose(ratio.isel(path=2), 0.5, rtol=1e-12)


def test_deterministic_override_gives_identical_paths(book, base) -> None:
    res = simulate(book, base, paths=3, deterministic=True, variables=["cash"])
    assert res.scenario.deterministic
    assert np.array_equal(res.data["cash"].isel(path=0), res.data["cash"].isel(path=2))


def test_horizon_as_quarter_or_count(book, base) -> None:
    assert simulate(book, base, horizon="2025Q4", variables=[]).periods[-1] == "2025Q4"
    assert len(simulate(book, base, horizon=3, variables=[]).periods) == 3
    assert simulate(book, base, horizon="2027Q4", variables=[]).periods[-1] == "2027Q4"


@pytest.mark.parametrize("kwargs, field", [
    ({"paths": 0}, "paths"), ({"chunk": 0}, "chunk"), ({"horizon": "2024Q4"}, "horizon"),
    ({"horizon": "soon"}, "horizon"), ({"demand_multiplier": -1.0}, "demand_multiplier"),
    ({"demand_multiplier": np.ones(3)}, "demand_multiplier"), ({"dtype": "int8"}, "dtype"),
])
def test_bad_options_are_one_line_scenario_errors(book, base, kwargs, field) -> None:
    with pytest.raises(ScenarioError) as err:
        simulate(book, base, paths=kwargs.pop("paths", 2), **kwargs)
    assert field in str(err.value) and "\n" not in str(err.value)


def test_bad_scenario_file_is_a_scenario_error(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ncredit: {base_rate: -1}\n")
    with pytest.raises(ScenarioError, match="base_rate"):
        loopwatch.load_scenario(path)


def test_loi_converting_to_a_warrant_is_a_deal_book_error(base) -> None:
    book = validate_deal_book({
        "name": "x", "start": "2025Q1", "horizon": "2025Q4",
        "firms": [{"id": "a", "name": "A", "role": "investor", "shares_outstanding": 1e9,
                   "share_price": 1.0},
                  {"id": "b", "name": "B", "role": "cloud"}],
        "contracts": [{"id": "l", "type": "letter_of_intent", "payer": "a", "payee": "b",
                       "amount": 1e9, "schedule": {"start": "2025Q1"}, "decision": "2025Q2",
                       "converts_to": "warrant"}]})
    with pytest.raises(DealBookError, match="cannot convert to a warrant"):
        simulate(book, base)


def test_an_accounting_break_raises_instead_of_returning_numbers(book, base, monkeypatch) -> None:
    real = valuation_module.depreciate

    def leaky(plan, st, t):  # changes an asset without the matching entry
        out = real(plan, st, t)
        st.ledger.bal[1][2] += 1e6
        return out

    monkeypatch.setattr("loopwatch.engine.step.depreciate", leaky)
    with pytest.raises(AccountingError) as err:
        simulate(book, base, paths=2)
    assert err.value.period == "2025Q1" and err.value.firm == "oracle"
    assert err.value.residual == pytest.approx(1e6)


def test_core_firms_is_the_loop(book) -> None:
    assert core_firms(book) == ["nvidia", "openai", "oracle"]
    chain = validate_deal_book({
        "name": "chain", "firms": [{"id": f, "name": f, "role": "cloud"} for f in "abc"],
        "contracts": [{"id": "x", "type": "compute_commitment", "payer": "a", "payee": "b",
                       "amount": 1, "schedule": {"start": "2025Q1"}}]})
    assert core_firms(chain) == []


@pytest.mark.parametrize("name", bundled_scenarios())
def test_every_bundled_scenario_runs_on_the_loop(book, name) -> None:
    sc = loopwatch.load_scenario(name)
    res = simulate(book, sc, paths=16, seed=1, variables=["cash"])
    assert np.isfinite(res.data["cash"]).all()


def test_scenarios_are_ordered_by_demand(book) -> None:
    # deterministic end revenue in the last year: bull > base > bear > adoption-stall
    def revenue(name: str) -> float:
        sc = loopwatch.load_scenario(name)
        d = simulate(book, sc, deterministic=True, variables=["revenue_end"], horizon=24).data
        return float(d["revenue_end"].isel(period=slice(-4, None)).sum())

    r = {n: revenue(n) for n in ("bull", "base", "bear", "adoption-stall")}
    assert r["bull"] > r["base"] > r["bear"] > r["adoption-stall"]


def test_loi_collapse_lapses_every_open_letter() -> None:
    book = validate_deal_book({
        "name": "lois", "start": "2025Q1", "horizon": "2026Q4",
        "firms": [{"id": "a", "name": "A", "role": "investor", "cash": 100e9},
                  {"id": "b", "name": "B", "role": "model_developer", "cash": 1e9,
                   "end_revenue": 4e9}],
        "contracts": [{"id": "l", "type": "letter_of_intent", "payer": "a", "payee": "b",
                       "amount": 10e9, "schedule": {"start": "2026Q3"}, "decision": "2026Q3",
                       "conversion_probability": 1.0}]})
    sc = loopwatch.load_scenario("loi-collapse")
    res = simulate(book, sc, paths=3, variables=["cash"])
    lapsed = res.events[res.events.event == "loi_lapsed"]
    assert len(lapsed) == 3 and set(lapsed["period"]) == {"2026Q1"}
    kept = simulate(book, validate_scenario({"name": "s"}), paths=3, variables=["cash"])
    assert set(kept.events[kept.events.event == "loi_converted"]["period"]) == {"2026Q3"}


def test_cli_simulate_json(capsys) -> None:
    assert main(["simulate", "three-party-loop", "--paths", "20", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["book"] == "three-party-loop" and out["paths"] == 20
    assert {f["firm"] for f in out["firms"]} == {"nvidia", "openai", "oracle"}
    assert all(0.0 <= f["default_probability"] <= 1.0 for f in out["firms"])


def test_cli_simulate_table_and_bad_scenario(capsys) -> None:
    assert main(["simulate", "three-party-loop", "--paths", "10"]) == 0
    out = capsys.readouterr().out
    assert "P(at least one default)" in out and "nvidia" in out
    assert main(["simulate", "three-party-loop", "--scenario", "nope"]) == 2


def _guaranteed_renewal(p_convert: float, converts_to: str = "compute_commitment"):
    return validate_deal_book({
        "name": "rvg", "start": "2025Q1", "horizon": "2027Q4",
        "firms": [{"id": "a", "name": "A", "role": "investor", "cash": 100e9},
                  {"id": "b", "name": "B", "role": "model_developer", "cash": 20e9},
                  {"id": "c", "name": "C", "role": "cloud", "cash": 50e9}],  # (builds it)
        "contracts": [
            {"id": "l", "type": "letter_of_intent", "payer": "b", "payee": "c", "amount": 8e9,
             "schedule": {"start": "2026Q1", "quarters": 8}, "decision": "2025Q4",
             "conversion_probability": p_convert, "converts_to": converts_to},
            {"id": "g", "type": "backstop", "payer": "a", "payee": "c", "amount": 100e9,
             "covers": "l", "threshold": 1.0, "schedule": {"start": "2026Q1", "quarters": 8}}]})


def test_a_residual_value_guarantee_pays_for_a_lapsed_renewal(base) -> None:
    # deterministic: a deal converts iff its probability > 1/2. Lapsed, the guarantor pays
    # the renewal's scheduled rent, 8e9 / 8 = 1e9 a quarter; converted, the tenant pays it
    # and the guarantee pays nothing
    for p, guarantor, tenant in ((0.1, 1e9, 0.0), (0.9, 0.0, 1e9)):
        res = simulate(_guaranteed_renewal(p), base, deterministic=True, variables=["paid"])
        paid = res.data["paid"].isel(path=0)
        later = [q for q in res.periods if q >= "2026Q1"]
        np.testing.assert_allclose(paid.sel(contract="g", period=later), guarantor)
        np.testing.assert_allclose(paid.sel(contract="l", period=later), tenant)
        assert float(paid.sel(contract="g").sum()) == pytest.approx(8 * guarantor)


def test_a_backstop_covers_capacity_only() -> None:
    with pytest.raises(DealBookError, match=r"contracts\[1\]\.covers.*converts to a equity"):
        _guaranteed_renewal(0.5, converts_to="equity_investment")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_staged_record_equals_quarter_by_quarter_writes(dtype: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # 11 quarters: one full block of staged quarters and a partial one; chunks of 7 and a rest
    from loopwatch import load_deal_book, load_scenario
    from loopwatch.engine.record import Recorder

    book, sc = load_deal_book("ai-compute-2025"), load_scenario("bear")
    kw = dict(paths=17, seed=2, chunk=7, horizon=11, variables="all", dtype=dtype)
    staged = simulate(book, sc, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(Recorder, "BLOCK", 1)  # every quarter written out at once
    direct = simulate(book, sc, **kw)  # type: ignore[arg-type]
    assert len(staged.periods) == 11
    for name in staged.data.data_vars:
        np.testing.assert_array_equal(staged.data[name].values, direct.data[name].values, name)
