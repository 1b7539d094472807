// Slices on the Embeddings tab's dev maps, loaded from <head> (analysis/studio/page_style.py): a Box Select or
// Lasso Select on a map (the figures whose layout.meta is "dev-map:<which>", analysis/embedding_map.py) writes
// the selected dev examples into a hidden textbox as JSON {"ids": ["task:id", ...], "map": "...", "t": time},
// whose change event (in Python) scores them as a slice. The points' trace ids are "task:id:k" (k: the sentence
// of a pair); the slice is of examples, so ":k" is dropped and both sentences of a pair count once.
// Works for SVG (scatter) and WebGL (scattergl) traces alike: both report their points' ids. Gradio re-creates or
// redraws a map's <div> for each new figure, and plot_hooks.js purges replaced ones (their listeners go too), so
// the maps are looked for again every half second and a map without this listener gets it.
// A click on a point (the click-to-open of selection.js) or a double click that clears a selection sends no
// points: the slice shown stays.
(() => {
  const BOX = window.MINBERT_PAGE.mapSlice;  // elem_id of the hidden textbox (page_style.MAP_SLICE)
  const MAP = /^dev-map:(\w+)$/;

  function pointId(pt) {
    if (typeof pt.id === 'string') return pt.id;
    const ids = (pt.data && pt.data.ids) || (pt.fullData && pt.fullData.ids);
    return ids ? ids[pt.pointNumber] : undefined;
  }

  const which = (gd) => {
    const m = gd.layout && typeof gd.layout.meta === 'string' && gd.layout.meta.match(MAP);
    return m ? m[1] : null;
  };

  function send(gd, ev) {
    if (!ev || !ev.points || !ev.points.length) return;
    const ids = [...new Set(ev.points.map(pointId).filter((id) => typeof id === 'string')
      .map((id) => id.replace(/:\d+$/, '')))];
    const box = document.querySelector(`#${BOX} textarea, #${BOX} input`);
    if (!ids.length || !box) return;
    const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), 'value').set;
    setter.call(box, JSON.stringify({ ids, map: which(gd) === 'base' ? 'base' : 'fine-tuned', t: Date.now() }));
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function link() {
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      if (!which(gd) || !gd._ev || typeof gd.on !== 'function') continue;
      if (!gd.__minbertSlice) gd.__minbertSlice = (ev) => send(gd, ev);
      if (!gd._ev.listeners('plotly_selected').includes(gd.__minbertSlice)) gd.on('plotly_selected', gd.__minbertSlice);
      gd.dataset.sliceLinked = '1';
    }
  }

  setInterval(link, 500);
})();
