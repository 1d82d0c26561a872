"""Widgets for the labs: PacketView, DiffView, ChecksumWalkthrough, Dashboard.

Each is a live ipywidget in JupyterLab, static HTML on GitHub/nbviewer (`to_html()`, `static()`,
`save_html()`), and stable plain text in terminals (`repr()`), so saved notebooks compare cleanly.
"""

from labkit.widgets.packet_view import PacketView

__all__ = ["PacketView"]
