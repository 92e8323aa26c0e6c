"""Minsky's financing classes — hedge, speculative, Ponzi — per path, quarter and firm.

DESIGN §3: on trailing four-quarter sums,

* **income** = operating revenue (end + loop + non-loop) − uncommitted operating costs (opex);
* **carrying** = interest due + committed contract payments due (treated like
  lease payments);
* **full** = carrying + principal due.

A unit is **hedge** if income ≥ full, **speculative** if carrying ≤ income <
full and **Ponzi** if income < carrying: it must raise new money or sell
assets to pay what it already owes (Minsky 1992).

Decisions where the definition is silent
-----------------------------------------
* **Defaulted firms** are their own class, :attr:`MinskyClass.defaulted`, from
  the quarter of default on; they are not hedge, speculative or Ponzi any more
  (their obligations have been cleared). Shares of paths per class therefore
  sum to one over the four classes; the system Ponzi share counts live units only.
* **Firms with no obligations** (carrying = full = 0) are hedge: with nothing
  to pay, nothing needs refinancing, whatever their income (a cash-burning firm
  without debt or commitments is financed by its owners, not by rolling debt).
  This is the definition's own result for income ≥ 0 and the decision for
  income < 0.
* **The first three quarters** use the quarters available since the start
  (one, two, three): the comparison is between sums over the same window, so
  no annualisation is needed.
* **Ties** within ``atol`` (USD, default 1) count as covered, so rounding noise
  in the engine's sums cannot flip a class.
* **System Ponzi share** weights each live unit by what it owes: debt
  outstanding at the end of the quarter plus the committed contract payments
  still to fall due after the quarter — on that path within the run, plus,
  when the book is known, what binding compute commitments, chip purchases and
  equity investments schedule after the horizon (so the share does not fall
  to zero at the end of the run merely because the run ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["MinskyClass", "MinskyResult", "classify", "minsky_classes"]

_INPUTS = (
    "revenue_end",
    "revenue_loop",
    "revenue_non_loop",
    "opex",
    "interest_due",
    "commitments_due",
    "principal_due",
    "defaulted",
    "debt",
)


def dataset_of(result: Any) -> xr.Dataset:
    """The :class:`xarray.Dataset` of an engine result, or the dataset itself.

    Shared by the answer modules so that each takes either a
    ``SimulationResult`` or a hand-built dataset.
    """
    if isinstance(result, xr.Dataset):
        return result
    data = getattr(result, "data", None)
    if isinstance(data, xr.Dataset):
        return data
    raise TypeError(f"expected a SimulationResult or an xarray.Dataset, not {type(result).__name__}")


def need(ds: xr.Dataset, names: tuple[str, ...] | list[str], what: str) -> None:
    """Raise ``KeyError`` naming every variable ``what`` needs that ``ds`` lacks."""
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise KeyError(f"{what} needs engine variables {', '.join(missing)} (run the engine with them)")


class MinskyClass(IntEnum):
    """Minsky's financing postures, plus the state of having defaulted.

    Examples
    --------
    >>> MinskyClass.ponzi > MinskyClass.speculative > MinskyClass.hedge
    True
    >>> [c.name for c in MinskyClass]
    ['hedge', 'speculative', 'ponzi', 'defaulted']
    """

    hedge = 0
    speculative = 1
    ponzi = 2
    defaulted = 3


def classify(
    income: np.ndarray[Any, Any],
    carrying: np.ndarray[Any, Any],
    full: np.ndarray[Any, Any],
    defaulted: np.ndarray[Any, Any] | None = None,
    *,
    atol: float = 1.0,
) -> np.ndarray[Any, Any]:
    """Classify units from income and commitments (any common shape).

    Parameters
    ----------
    income, carrying, full : numpy.ndarray of float, same shape
        Income, carrying commitments and full commitments, USD over the same window.
    defaulted : numpy.ndarray of bool, optional
        True where the unit has defaulted; those cells get ``MinskyClass.defaulted``.
    atol : float, default 1.0
        USD tolerance: income within ``atol`` below a threshold still covers it.

    Returns
    -------
    numpy.ndarray of int8
        :class:`MinskyClass` codes, same shape as the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> income = np.array([10.0, 5.0, 1.0, -3.0, 7.0]) * 1e9  # USD
    >>> carrying = np.array([2.0, 2.0, 2.0, 0.0, 9.0]) * 1e9
    >>> full = np.array([8.0, 8.0, 8.0, 0.0, 9.0]) * 1e9
    >>> [MinskyClass(c).name for c in classify(income, carrying, full, np.array([0, 0, 0, 0, 1], bool))]
    ['hedge', 'speculative', 'ponzi', 'hedge', 'defaulted']
    """
    inc = np.asarray(income, dtype=float)
    car = np.asarray(carrying, dtype=float)
    ful = np.asarray(full, dtype=float)
    out = np.full(inc.shape, MinskyClass.ponzi, dtype=np.int8)
    out[inc + atol >= car] = MinskyClass.speculative
    out[inc + atol >= ful] = MinskyClass.hedge
    out[ful <= atol] = MinskyClass.hedge  # nothing owed: nothing to refinance
    if defaulted is not None:
        out[np.asarray(defaulted, dtype=bool)] = MinskyClass.defaulted
    return out


def _trailing(a: np.ndarray[Any, Any], window: int) -> np.ndarray[Any, Any]:
    """Sum over the last ``window`` periods along axis 1 (fewer at the start)."""
    out = a.copy()
    for lag in range(1, window):
        out[:, lag:] += a[:, :-lag]
    return out


@dataclass(frozen=True)
class MinskyResult:
    """Minsky classes and the figures behind them.

    Attributes
    ----------
    classes : xarray.DataArray of int8, (path, period, firm)
        :class:`MinskyClass` codes.
    income, carrying, full : xarray.DataArray, (path, period, firm)
        Trailing four-quarter income and commitments, USD.
    obligations : xarray.DataArray, (path, period, firm)
        Debt outstanding plus committed payments still to fall due, USD (the weights
        of the system Ponzi share; see the module docstring).
    shares : xarray.DataArray, (period, firm, minsky_class)
        Share of paths in each class.
    system_ponzi_share : xarray.DataArray, (path, period)
        Share of the obligations of live units owed by Ponzi units.
    """

    classes: xr.DataArray
    income: xr.DataArray
    carrying: xr.DataArray
    full: xr.DataArray
    obligations: xr.DataArray
    shares: xr.DataArray
    system_ponzi_share: xr.DataArray

    @property
    def periods(self) -> list[str]:
        return [str(p) for p in self.classes["period"].values]

    @property
    def firms(self) -> list[str]:
        return [str(f) for f in self.classes["firm"].values]

    def share(self, firm: str, cls: MinskyClass) -> xr.DataArray:
        """Share of paths in which ``firm`` is in class ``cls``, per period."""
        return self.shares.sel(firm=firm, minsky_class=cls.name)

    def to_frame(self) -> Any:
        """Tidy :class:`pandas.DataFrame`: period, firm, class, share of paths."""
        frame = self.shares.rename("share").to_dataframe().reset_index()
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: per firm and class the share of paths per period,
        and the system Ponzi share (mean, 5th and 95th percentiles over paths)."""
        sps = self.system_ponzi_share
        return {
            "periods": self.periods,
            "paths": int(self.classes.sizes["path"]),
            "classes": [c.name for c in MinskyClass],
            "shares": {
                firm: {
                    c.name: [round(float(x), 6) for x in self.shares.sel(firm=firm, minsky_class=c.name).values]
                    for c in MinskyClass
                }
                for firm in self.firms
            },
            "system_ponzi_share": {
                "mean": [round(float(x), 6) for x in sps.mean("path").values],
                "p05": [round(float(x), 6) for x in sps.quantile(0.05, "path").values],
                "p95": [round(float(x), 6) for x in sps.quantile(0.95, "path").values],
            },
        }


def _tail(book: Any, last: str, firms: list[str]) -> np.ndarray[Any, Any]:
    """Committed payments each firm's binding contracts schedule after quarter ``last`` (USD)."""
    from loopwatch.model import ContractType, Period

    end = Period.parse(last)
    out = np.zeros(len(firms))
    where = {f: i for i, f in enumerate(firms)}
    kinds = (ContractType.compute_commitment, ContractType.chip_purchase, ContractType.equity_investment)
    for c in book.contracts:
        if not c.binding or c.type not in kinds or c.payer not in where or c.schedule.end <= end:
            continue
        tranches = getattr(c, "tranches", ())
        if tranches:
            after = sum(t.amount for t in tranches if t.at > end)
        else:
            after = c.amount * sum(
                f for k, f in enumerate(c.schedule.fractions()) if c.schedule.start + k > end
            )
        out[where[c.payer]] += after
    return out


def minsky_classes(result: Any, *, window: int = 4, atol: float = 1.0) -> MinskyResult:
    """Classify every firm in every quarter of every path (hedge / speculative / Ponzi).

    Parameters
    ----------
    result : SimulationResult or xarray.Dataset
        Engine output, or a dataset with (path, period, firm) variables
        ``revenue_end, revenue_loop, revenue_non_loop, opex, interest_due,
        commitments_due, principal_due, defaulted, debt`` (flows in USD per quarter).
    window : int, default 4
        Trailing window in quarters.
    atol : float, default 1.0
        USD tolerance for ties (see :func:`classify`).

    Returns
    -------
    MinskyResult
        Classes, the trailing sums, shares of paths per class and the system Ponzi share.

    Raises
    ------
    KeyError
        If a needed variable is missing from the dataset.

    Notes
    -----
    O(paths × periods × firms). See the module docstring for how defaulted
    firms and firms without obligations are classed.

    References
    ----------
    .. [1] H. P. Minsky, "The Financial Instability Hypothesis", Levy Economics
       Institute Working Paper No. 74 (1992).

    Examples
    --------
    A firm whose income never covers its interest is Ponzi in every quarter:

    >>> import numpy as np, xarray as xr
    >>> dims = ("path", "period", "firm")
    >>> z = np.zeros((1, 4, 1))
    >>> ds = xr.Dataset({k: (dims, z.copy()) for k in
    ...     ["revenue_loop", "revenue_non_loop", "commitments_due", "principal_due", "debt"]},
    ...     coords={"period": ["2025Q1", "2025Q2", "2025Q3", "2025Q4"], "firm": ["a"]})
    >>> ds["revenue_end"] = (dims, np.full((1, 4, 1), 10.0))
    >>> ds["opex"] = (dims, np.full((1, 4, 1), 8.0))
    >>> ds["interest_due"] = (dims, np.full((1, 4, 1), 5.0))
    >>> ds["defaulted"] = (dims, np.zeros((1, 4, 1), bool))
    >>> [MinskyClass(c).name for c in minsky_classes(ds).classes.values[0, :, 0]]
    ['ponzi', 'ponzi', 'ponzi', 'ponzi']
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 quarter, not {window}")
    ds = dataset_of(result)
    need(ds, _INPUTS, "Minsky classes")
    arr = {k: np.asarray(ds[k].transpose("path", "period", "firm").values) for k in _INPUTS}
    revenue = arr["revenue_end"] + arr["revenue_loop"] + arr["revenue_non_loop"]
    income = _trailing(revenue - arr["opex"], window)
    carrying = _trailing(arr["interest_due"] + arr["commitments_due"], window)
    full = carrying + _trailing(arr["principal_due"], window)
    defaulted = arr["defaulted"].astype(bool)
    codes = classify(income, carrying, full, defaulted, atol=atol)

    # still to fall due after each quarter: reverse cumulative sum, excluding the quarter itself
    commitments = arr["commitments_due"]
    remaining = np.flip(np.cumsum(np.flip(commitments, axis=1), axis=1), axis=1) - commitments
    book = None if isinstance(result, xr.Dataset) else getattr(result, "book", None)
    if book is not None:
        remaining = remaining + _tail(book, str(ds["period"].values[-1]),
                                      [str(f) for f in ds["firm"].values])[None, None, :]
    obligations = np.maximum(arr["debt"], 0.0) + np.maximum(remaining, 0.0)
    live = codes != MinskyClass.defaulted
    owed_live = np.where(live, obligations, 0.0).sum(axis=2)
    owed_ponzi = np.where(codes == MinskyClass.ponzi, obligations, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        system = np.where(owed_live > 0, owed_ponzi / np.where(owed_live > 0, owed_live, 1.0), 0.0)

    coords3 = {"path": ds["path"].values if "path" in ds.coords else np.arange(codes.shape[0]),
               "period": ds["period"].values, "firm": ds["firm"].values}
    dims = ("path", "period", "firm")
    counts = np.stack([(codes == c).mean(axis=0) for c in MinskyClass], axis=-1)
    shares = xr.DataArray(
        counts,
        dims=("period", "firm", "minsky_class"),
        coords={"period": coords3["period"], "firm": coords3["firm"],
                "minsky_class": [c.name for c in MinskyClass]},
        name="share",
    )
    return MinskyResult(
        classes=xr.DataArray(codes, dims=dims, coords=coords3, name="minsky_class"),
        income=xr.DataArray(income, dims=dims, coords=coords3, name="income"),
        carrying=xr.DataArray(carrying, dims=dims, coords=coords3, name="carrying"),
        full=xr.DataArray(full, dims=dims, coords=coords3, name="full"),
        obligations=xr.DataArray(obligations, dims=dims, coords=coords3, name="obligations"),
        shares=shares,
        system_ponzi_share=xr.DataArray(
            system, dims=("path", "period"),
            coords={"path": coords3["path"], "period": coords3["period"]},
            name="system_ponzi_share",
        ),
    )
