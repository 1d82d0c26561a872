"""PickGrid: a view's HTML drawn in the page by a short ES module that also tells Python which field was picked.

ipywidgets.HTML only sets innerHTML, so nothing a student clicks in it can reach the kernel. anywidget runs an
ES module with the widget's model in hand: a byte's radio button (grid.py) changing sets the synced `selected`
trait, so `view.selected` and `view.observe(..., names="selected")` follow the page. Without a kernel (a saved
notebook reopened) the radio buttons and style.pick_css still select on the page; only Python hears nothing.
"""

from __future__ import annotations

import anywidget
import traitlets

# Redrawing from Python (a new `value`) would drop the keyboard focus: the module puts it back on the byte of the
# same offset (and checks that byte if Python's drawing selects its field), so walking the bytes with the arrow
# keys survives the kernel's answer. Python's HTML stays the truth about which field is selected.
PICK_ESM = """
function draw(model, el) {
  const focused = el.contains(document.activeElement) ? document.activeElement.closest("td[data-offset]") : null;
  el.innerHTML = model.get("value");
  const input = focused && el.querySelector(`td[data-offset="${focused.dataset.offset}"] input[data-pick]`);
  if (input) {
    const checked = el.querySelector("input[data-pick]:checked");
    if (checked && checked.dataset.pick === input.dataset.pick) input.checked = true;
    input.focus();
  }
}

function render({ model, el }) {
  el.classList.add("labkit-live");
  const pick = (event) => {
    const field = event.target.dataset ? event.target.dataset.pick : undefined;
    if (!field) return;
    model.set("selected", field);
    try {
      model.save_changes();
    } catch (error) {
      // no kernel (a notebook reopened from its saved state): the page's own CSS still shows the selection
    }
  };
  model.on("change:value", () => draw(model, el));
  el.addEventListener("change", pick);
  draw(model, el);
  return () => el.removeEventListener("change", pick);
}

export default { render };
"""


class PickGrid(anywidget.AnyWidget):
    """Shows `value` (HTML) like ipywidgets.HTML; `selected` is the field of the byte last picked on the page."""

    _esm = PICK_ESM
    value = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)
