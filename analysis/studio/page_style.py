"""The page's own CSS and JavaScript (Gradio's launch(css=..., js=..., head=...)): tables that wrap inside the
window, and on a phone scroll sideways (a hint at the right edge) rather than break a word; rows that stack on a phone;
multi-panel plots whose panels stack there (plot_hooks.js); figures purged when replaced, so WebGL contexts never
run out; the click on a confusion-matrix cell (the dev sets' or the user's file's) that filters its misclassified
table; and box or lasso selections on the dev maps that score a slice (map_slice.js)."""
import json
from pathlib import Path

CONFUSION_PLOT, CONFUSION_CELL = "confusion-plot", "confusion-cell"  # elem_ids the JavaScript looks for
MAP_SLICE = "map-slice"  # the hidden textbox map_slice.js writes a map's box or lasso selection into
OWN_CONFUSION_PLOT, OWN_CONFUSION_CELL = "own-confusion-plot", "own-confusion-cell"  # the user's file's matrix
CONFUSION_LINKS = {CONFUSION_PLOT: CONFUSION_CELL, OWN_CONFUSION_PLOT: OWN_CONFUSION_CELL}
JOB_STATUS = "job-status"  # class of the message under a long job's button, where its progress and queue show
JOB_IDLE_PX, JOB_BUSY_PX = 24, 72  # its height empty, and while a job waits or runs (Gradio's bar, text and timer)
NARROW_PX = 640  # at this width and below, rows stack, panels stack and tables scroll sideways
PANEL_PX = 230  # height of one stacked panel on a narrow window
STACK_MAX = 6  # figures with more panels (the layers x heads grid) keep their grid on a narrow window
READABLE_PX = 150  # least width of a column of running text on a narrow window

# Gradio scopes every rule under its own container, so the selectors here name no container.
CSS = f"""
.tab-intro p {{ margin: 0 0 4px 0; font-size: 1.05em; }}
table .cell-wrap span.wrap {{ white-space: normal; overflow-wrap: break-word; word-break: normal; }}
.table-wrap.scrolls::after, .table-scroll.scrolls::after {{
  content: "scroll →"; position: absolute; top: 0; right: 0; bottom: 0; width: 5.5em; pointer-events: none;
  display: flex; align-items: center; justify-content: flex-end; padding-right: 4px; z-index: 5;
  font-size: 12px; font-weight: 600; color: #444;
  background: linear-gradient(to right, rgba(255, 255, 255, 0), rgba(255, 255, 255, 0.95) 55%);
}}
.table-scroll {{ position: relative; }}
.{JOB_STATUS} {{ min-height: {JOB_IDLE_PX}px; }}
.{JOB_STATUS}:has(> [data-testid=status-tracker]:not(.hide)) {{ min-height: {JOB_BUSY_PX}px; }}
@media (max-width: {NARROW_PX}px) {{
  .row {{ flex-direction: column !important; align-items: stretch; }}
  .row > * {{ min-width: 100% !important; max-width: 100% !important; margin-left: 0 !important; margin-right: 0 !important; }}
  h1 {{ font-size: 1.5em; }}
  .table-wrap > .upload-container {{ overflow-x: auto !important; }}  /* Dataframes scroll (table_fit.js sizes them) */
  .prose table {{ display: block; overflow-x: auto; }}  /* Markdown tables scroll, not one letter a line */
  .prose td, .prose th {{ white-space: nowrap; }}
  .file-preview .filename .stem {{ white-space: normal; text-overflow: clip; }}  /* a file name wraps at its hyphens */
}}
"""

_HERE = Path(__file__).resolve().parent
_NUMBERS = dict(narrowPx=NARROW_PX, panelPx=PANEL_PX, stackMax=STACK_MAX, readablePx=READABLE_PX, mapSlice=MAP_SLICE)
# In <head>, so that plot_hooks.js is in place before Gradio loads Plotly (it wraps Plotly as it arrives).
HEAD = (f"<script>window.MINBERT_PAGE = {json.dumps(_NUMBERS)};</script>\n"
        + "".join(f"<script>\n{(_HERE / name).read_text()}</script>\n"
                  for name in ("plot_hooks.js", "table_fit.js", "map_slice.js")))

# Plotly's plotly_click on a confusion matrix writes "gold|predicted|time" into its hidden textbox, whose change
# event (in Python) sets the misclassified table's filters; the time makes a second click on a cell count too.
JS = f"""
() => {{
  const links = {json.dumps(CONFUSION_LINKS)};  // plot elem_id -> its hidden textbox's elem_id
  const hook = (plotId, cellId) => {{
    const plot = document.querySelector(`#${{plotId}} .js-plotly-plot`);
    if (!plot || plot.dataset.linked === '1' || typeof plot.on !== 'function') return;
    plot.dataset.linked = '1';
    plot.on('plotly_click', (ev) => {{
      const box = document.querySelector(`#${{cellId}} textarea, #${{cellId}} input`);
      if (!box || !ev.points || !ev.points.length) return;
      const p = ev.points[0];
      const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), 'value').set;
      setter.call(box, `${{p.y}}|${{p.x}}|${{Date.now()}}`);
      box.dispatchEvent(new Event('input', {{ bubbles: true }}));
    }});
  }};
  setInterval(() => Object.entries(links).forEach(([plot, cell]) => hook(plot, cell)), 500);
}}
"""

# The selected example (analysis/studio/selection.py): a click on a dev-map point reaches Python through selection.js.
SELECT_MAPS = {"finetuned": "dev-map-finetuned", "base": "dev-map-base"}  # selection.js: a click on a point selects it
SELECT_POINT = "select-point"  # the hidden textbox selection.js writes the clicked point into
HEAD += (f"<script>window.MINBERT_SELECT = {json.dumps(dict(maps=SELECT_MAPS, point=SELECT_POINT))};</script>\n"
         f"<script>\n{(_HERE / 'selection.js').read_text()}</script>\n")
