"""Widgets for the labs: PacketView, DiffView, ChecksumWalkthrough, Dashboard.

Each is a live ipywidget in JupyterLab, static HTML on GitHub/nbviewer (`to_html()`, `static()`,
`save_html()`), and stable plain text in terminals and nbval (`repr()`), so saved notebooks compare cleanly.
Data attributes (data-offset, data-field, data-hallucinated, data-selected, data-current) let tests and
readers find what each cell means; colours are Okabe–Ito and never the only cue.
"""

from labkit.widgets.checksum_view import ChecksumWalkthrough
from labkit.widgets.dashboard import Dashboard
from labkit.widgets.diff_view import DiffView
from labkit.widgets.packet_view import PacketView

__all__ = ["ChecksumWalkthrough", "Dashboard", "DiffView", "PacketView"]
