"""Charts (Plotly) and the self-contained HTML report. Imports Plotly lazily."""
