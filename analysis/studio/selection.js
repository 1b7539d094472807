// A click on a point of the Embeddings tab's dev maps selects that example (analysis/studio/selection.py): the map,
// the point's coordinates and its task's name (hover data) go as JSON into a hidden textbox, whose change event (in
// Python) opens the example in its task's tab. The time makes a second click on the same point count too.
// MINBERT_SELECT (defined before this file, in page_style.py) names the elements: maps (map -> its gr.Plot's
// elem_id) and point (the hidden textbox).
(() => {
  const { maps: selectMaps, point: selectPoint } = window.MINBERT_SELECT;

  function report(map, ev) {
    const p = ev && ev.points && ev.points[0];
    // the placed sentence's star has no hover data: it is not a dev example
    if (!p || !Array.isArray(p.customdata) || p.customdata.length < 2) return;
    const box = document.querySelector(`#${selectPoint} textarea, #${selectPoint} input`);
    if (!box) return;
    const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), 'value').set;
    setter.call(box, JSON.stringify({ map, x: p.x, y: p.y, task: p.customdata[1], t: Date.now() }));
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function hook() {
    for (const [map, id] of Object.entries(selectMaps)) {
      // Gradio draws each new figure into a new <div>: the flag is on the figure's own element
      const gd = document.querySelector(`#${id} .js-plotly-plot`);
      if (!gd || gd.dataset.selects === '1' || typeof gd.on !== 'function') continue;
      gd.dataset.selects = '1';
      gd.on('plotly_click', (ev) => report(map, ev));
    }
  }

  setInterval(hook, 500);
})();
