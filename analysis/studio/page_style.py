"""The page's own CSS and start-up JavaScript (Gradio's launch(css=..., js=...)): tables that wrap inside the window,
rows that stack on a phone, wide multi-panel plots that scroll sideways there instead of overlapping their titles,
and the click on a confusion-matrix cell that filters the misclassified table."""

CONFUSION_PLOT, CONFUSION_CELL = "confusion-plot", "confusion-cell"  # elem_ids the JavaScript looks for
NARROW_PX = 640  # below this width rows stack and wide plots keep WIDE_PLOT_PX, scrolling sideways
WIDE_PLOT_PX = 720

# Gradio scopes every rule under its own container, so the selectors here name no container.
CSS = f"""
.tab-intro p {{ margin: 0 0 4px 0; font-size: 1.05em; }}
table .cell-wrap span.wrap {{ white-space: normal; overflow-wrap: anywhere; }}
@media (max-width: {NARROW_PX}px) {{
  .row {{ flex-direction: column !important; align-items: stretch; }}
  .row > * {{ min-width: 100% !important; max-width: 100% !important; margin-left: 0 !important; margin-right: 0 !important; }}
  .wide-plot {{ overflow-x: auto !important; }}
  .wide-plot .js-plotly-plot, .wide-plot .plot-container {{ min-width: {WIDE_PLOT_PX}px; }}
  h1 {{ font-size: 1.5em; }}
  .prose table {{ display: block; overflow-x: auto; }}  /* Markdown tables scroll, not one letter a line */
  .prose td, .prose th {{ white-space: nowrap; }}
}}
"""

# Plotly's plotly_click on the confusion matrix writes "gold|predicted|time" into a hidden textbox, whose change
# event (in Python) sets the misclassified table's filters; the time makes a second click on a cell count too.
JS = f"""
() => {{
  const hook = () => {{
    const plot = document.querySelector('#{CONFUSION_PLOT} .js-plotly-plot');
    if (!plot || plot.dataset.linked === '1' || typeof plot.on !== 'function') return;
    plot.dataset.linked = '1';
    plot.on('plotly_click', (ev) => {{
      const box = document.querySelector('#{CONFUSION_CELL} textarea, #{CONFUSION_CELL} input');
      if (!box || !ev.points || !ev.points.length) return;
      const p = ev.points[0];
      const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), 'value').set;
      setter.call(box, `${{p.y}}|${{p.x}}|${{Date.now()}}`);
      box.dispatchEvent(new Event('input', {{ bubbles: true }}));
    }});
  }};
  setInterval(hook, 500);
}}
"""
