"""The events table: one row per state change worth naming (a default, a tranche, a lapse...).

Events are collected as numpy arrays while the quarters run and become a
tidy :class:`pandas.DataFrame` at the end, with columns ``path``,
``period``, ``firm``, ``event``, ``amount`` (USD, or shares for
``warrant_vested``), ``counterparty`` (a firm id, ``"world"`` or ``""``)
and ``round`` (the cascade round of a default within its quarter; 0
otherwise).

======================  ==============  =====================  ==================================
event                   firm            counterparty           amount
======================  ==============  =====================  ==================================
``default``             the defaulter   ``""``                 claims on it (due + accelerated)
``funding_<source>``    the raiser      ``world``              USD raised (facility, debt, ...)
``loi_converted``       payer           payee                  the deal's value
``loi_lapsed``          payer           payee                  the deal's value
``loan_called``         borrower        lender or ``world``    principal called after a lapse
``tranche_paid``        investor        investee               USD paid
``tranche_lapsed``      investor        investee               milestone tranche it could not fund
``warrant_vested``      holder          issuer                 shares vested
``warrant_exercised``   holder          issuer                 USD realised (price − strike)
``contract_terminated`` payer           payee                  value left unpaid
``stake_written_off``   holder          investee               carrying value lost
======================  ==============  =====================  ==================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["EVENTS", "EventLog"]

EVENTS = (
    "default", "funding_facility", "funding_debt", "funding_equity", "funding_warrant",
    "funding_stake_sale", "loi_converted", "loi_lapsed", "loan_called", "tranche_paid",
    "warrant_vested", "warrant_exercised", "contract_terminated", "stake_written_off",
    "tranche_lapsed",
)
_CODE = {e: i for i, e in enumerate(EVENTS)}


class EventLog:
    """Collects events of one chunk of paths (rows are local path indices).

    Examples
    --------
    >>> import numpy as np
    >>> log = EventLog()
    >>> log.add(3, "default", np.array([[0.0], [5.0]]), firm=np.array([0, 1]))
    >>> log.frame(["2025Q1"] * 4, ["a", "b"], offset=10)[["path", "period", "firm", "event"]].values.tolist()
    [[10, '2025Q1', 'b', 'default']]
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._rows: list[dict[str, NDArray[np.generic]]] = []
        self._cols: NDArray[np.int64] | None = None  # local → chunk path index

    def on(self, cols: NDArray[np.int64]) -> EventLog:
        """A view that records into this log, for a sub-state holding paths ``cols``."""
        view = EventLog(self.enabled)
        view._rows = self._rows
        view._cols = cols if self._cols is None else self._cols[cols]
        return view

    def add(self, t: int, event: str, amount: NDArray[np.float64], *, firm: NDArray[np.int64],
            counterparty: NDArray[np.int64] | None = None,
            mask: NDArray[np.bool_] | None = None,
            round_: NDArray[np.int64] | None = None) -> None:
        """Record an event wherever ``mask`` (default ``amount != 0``) holds.

        Parameters
        ----------
        t : int
            Quarter index.
        amount : ndarray, shape (k, P)
        firm, counterparty : ndarray, shape (k,)
            Firm index of each row (counterparty: ``F`` = world, -1 = none).
        round_ : ndarray, shape (k, P), optional
        """
        if not self.enabled:
            return
        hit = (amount != 0) if mask is None else mask
        if not hit.any():
            return
        k, p = np.nonzero(hit)
        path = p.astype(np.int64) if self._cols is None else self._cols[p]
        self._rows.append({
            "path": path, "period": np.full(len(p), t, np.int64),
            "firm": np.asarray(firm)[k], "event": np.full(len(p), _CODE[event], np.int64),
            "amount": amount[k, p].astype(float),
            "counterparty": (np.full(len(k), -1, np.int64) if counterparty is None
                             else np.asarray(counterparty)[k]),
            "round": np.zeros(len(p), np.int64) if round_ is None else round_[k, p],
        })

    def __len__(self) -> int:
        return sum(len(r["path"]) for r in self._rows)

    def frame(self, periods: list[str], firms: list[str], offset: int = 0) -> pd.DataFrame:
        """The events as a tidy table, paths shifted by ``offset``."""
        cols = ("path", "period", "firm", "event", "amount", "counterparty", "round")
        if not self._rows:
            return empty_events()
        data = {c: np.concatenate([r[c] for r in self._rows]) for c in cols}
        names = np.array([*firms, "world", ""], dtype=object)
        out = pd.DataFrame({
            "path": data["path"] + offset,
            "period": np.array(periods, dtype=object)[data["period"]],
            "firm": names[data["firm"]],
            "event": np.array(EVENTS, dtype=object)[data["event"]],
            "amount": data["amount"],
            "counterparty": names[np.where(data["counterparty"] < 0, len(firms) + 1,
                                           data["counterparty"])],
            "round": data["round"],
        })
        return out.sort_values(["path", "period", "round"], kind="stable").reset_index(drop=True)


def empty_events() -> pd.DataFrame:
    """An events table with no rows and the right columns.

    The text columns have pandas' string dtype (``"str"``), the dtype :meth:`EventLog.frame`
    gets for them: a run's table is the same whether a chunk with no events joins it or
    not (with object columns here, pandas 3 made the text columns of a chunked run object
    and those of one chunk ``str``). On pandas 2, ``"str"`` is object, as the frame's.
    """
    return pd.DataFrame({
        "path": pd.Series(dtype=np.int64), "period": pd.Series(dtype="str"),
        "firm": pd.Series(dtype="str"), "event": pd.Series(dtype="str"),
        "amount": pd.Series(dtype=float), "counterparty": pd.Series(dtype="str"),
        "round": pd.Series(dtype=np.int64),
    })
