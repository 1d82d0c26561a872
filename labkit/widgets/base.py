"""What every labkit view shares: a live ipywidget, a static HTML export and a stable plain-text form.

Three forms because notebooks are read three ways: live in JupyterLab (the widget), on GitHub/nbviewer
(static HTML, no kernel) and in terminals and nbval comparisons (plain text, identical on every run).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets

from labkit.widgets.style import style_block

if TYPE_CHECKING:
    from IPython.display import HTML


class LabkitView(ipywidgets.VBox):
    """Base class: subclasses implement `body_html()` and `text()`, and call `_refresh()` after a change."""

    css_class = "labkit-view"

    def __init__(self, controls: list[ipywidgets.Widget] | None = None, **kwargs: Any) -> None:
        self._html = self._body_widget()
        super().__init__(children=[*(controls or []), self._html], **kwargs)

    def _body_widget(self) -> ipywidgets.Widget:
        """The child that shows to_html() live (anything with a `value`): plain HTML unless the page talks back."""
        return ipywidgets.HTML()

    # --- what subclasses provide -------------------------------------------------------------------------
    def body_html(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def css_labels(self) -> list[str]:
        """Field labels that get hover rules in the stylesheet."""
        return []

    # --- the three forms ---------------------------------------------------------------------------------
    def to_html(self) -> str:
        """Self-contained static HTML (stylesheet included), the same on every run for the same input."""
        return f'{style_block(self.css_labels())}<div class="{self.css_class}">{self.body_html()}</div>'

    def static_html(self) -> str:
        """The form kept in saved notebooks and pages (text/html, static(), save_html()): to_html() unless a
        view has more to show without a kernel (the checksum walkthrough shows every step there)."""
        return self.to_html()

    def _refresh(self) -> None:
        self._html.value = self.to_html()

    def save_html(self, path: str | Path) -> Path:
        """Write a standalone HTML page, e.g. for slides or a course website."""
        path = Path(path)
        path.write_text(
            f'<!doctype html><meta charset="utf-8"><title>{type(self).__name__}</title>\n{self.static_html()}\n',
            encoding="utf-8",
        )
        return path

    def static(self) -> HTML:
        """An IPython HTML object: display(view.static()) keeps a picture in the saved notebook without a kernel."""
        from IPython.display import HTML

        return HTML(self.static_html())

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        return self.static_html()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # The live widget for JupyterLab, plus HTML and text for renderers without a kernel; ipywidgets alone
        # would give a truncated repr as text/plain.
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.text()
        bundle["text/html"] = self.static_html()
        return bundle
