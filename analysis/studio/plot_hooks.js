// Plotly in the studio page, loaded from <head> (analysis/studio/page_style.py) before Gradio loads Plotly:
// 1. every figure Gradio replaces or removes is purged and its WebGL contexts are released at once, so the
//    browser's limit of about 16 live contexts is never reached (Gradio re-creates a plot's <div> for each new
//    figure and leaves the old one to the garbage collector, WebGL contexts and all);
// 2. on a narrow window a figure is redrawn for its box: its title and notes wrapped, its legend in rows under it,
//    side-by-side panels stacked one per row, each the full width of the box (colour bars and subplot titles move
//    with their panel); grids of more than stackMax panels keep their grid, with square cells in the box's width.
// MINBERT_PAGE (defined before this file) carries the numbers page_style.py owns.
(() => {
  const { narrowPx, panelPx, stackMax } = window.MINBERT_PAGE;
  const LINE_PX = 17;  // one line of a title or note
  const LABEL_ROOM = 38;  // px at the top of the box for Gradio's floating block label, above the figure's title
  const narrow = () => window.innerWidth <= narrowPx;
  const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

  // --- 1. release what a removed figure holds ------------------------------------------------------------------
  function contexts(gd) {
    const out = [];
    const layers = gd._fullLayout && gd._fullLayout._glcanvas;
    if (layers && layers.each) layers.each((d) => { if (d && d.regl && d.regl._gl) out.push(d.regl._gl); });
    return out;
  }

  function release(gd) {
    if (gd.isConnected || gd.dataset.released) return;
    gd.dataset.released = '1';
    const gls = contexts(gd);
    try { window.Plotly.purge(gd); } catch (e) { /* a half-drawn figure: its contexts still go below */ }
    for (const gl of gls) {
      const ext = gl.getExtension('WEBGL_lose_context');
      if (ext && !gl.isContextLost()) ext.loseContext();
    }
  }

  new MutationObserver((records) => {
    for (const r of records) {
      for (const node of r.removedNodes) {
        if (node.nodeType !== 1) continue;
        const plots = node.matches('.js-plotly-plot') ? [node] : [...node.querySelectorAll('.js-plotly-plot')];
        // a node moved elsewhere in the page is connected again by the next task: only the really gone are purged
        if (plots.length) setTimeout(() => plots.forEach(release), 0);
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });

  // --- 2. the narrow variant of a multi-panel figure -------------------------------------------------------------
  function panels(layout) {
    const out = [];
    for (const key of Object.keys(layout)) {
      const m = key.match(/^xaxis(\d*)$/);
      if (!m || !layout[key] || !layout[key].domain) continue;
      const yKey = 'yaxis' + ((layout[key].anchor || 'y' + m[1]).slice(1));
      if (!layout[yKey] || !layout[yKey].domain) continue;
      out.push({ x: key, y: yKey, x0: layout[key].domain[0], x1: layout[key].domain[1],
                 y0: layout[yKey].domain[0], y1: layout[yKey].domain[1] });
    }
    return out;
  }

  function nearest(list, x, y) {  // the panel whose box is closest to a paper point
    let best = null, bestD = Infinity;
    for (const p of list) {
      const dx = Math.max(p.x0 - x, 0, x - p.x1), dy = Math.max(p.y0 - y, 0, y - p.y1);
      const d = dx * dx + dy * dy;
      if (d < bestD) { best = p; bestD = d; }
    }
    return best;
  }

  function moveY(p, y) { return p.Y0 + (y - p.y0) * (p.Y1 - p.Y0) / ((p.y1 - p.y0) || 1); }

  function moveX(p, x) {
    if (x > p.x1) return p.X1 + 0.02;  // right of its panel (a colour bar): right of the full-width panel
    return p.X0 + (x - p.x0) * (p.X1 - p.X0) / ((p.x1 - p.x0) || 1);
  }

  function moveColorbar(bar, list) {
    if (!bar) return bar;
    const x = bar.x === undefined ? 1.02 : bar.x, y = bar.y === undefined ? 0.5 : bar.y;
    const p = nearest(list, x, y);
    const len = (bar.len === undefined ? 1 : bar.len) * (p.Y1 - p.Y0) / ((p.y1 - p.y0) || 1);
    return Object.assign({}, bar, { x: moveX(p, x), xanchor: 'left', y: moveY(p, y), yanchor: 'middle',
                                    len: Math.min(len, p.Y1 - p.Y0), lenmode: 'fraction' });
  }

  function wrapTitle(title, width) {
    const text = typeof title === 'string' ? title : title && title.text;
    if (!text) return { title, lines: 0 };
    const perLine = Math.max(16, Math.floor(width / 7.4));  // 13 px font: about 7.4 px a character
    const lines = [];
    for (const part of text.split(/<br\s*\/?>/i)) {
      let line = '';
      for (const word of part.split(' ')) {
        if (line && (line + ' ' + word).length > perLine) { lines.push(line); line = word; }
        else line = line ? line + ' ' + word : word;
      }
      lines.push(line);
    }
    const base = typeof title === 'string' ? {} : title;
    return { title: Object.assign({}, base, { text: lines.join('<br>'), font: { size: 13 }, x: 0.02, xanchor: 'left' }),
             lines: lines.length };
  }

  function placeTitle(layout) {  // under the block label, whatever the figure's height
    if (layout.title && typeof layout.title === 'object' && layout.height) {
      Object.assign(layout.title, { yref: 'container', y: 1 - LABEL_ROOM / layout.height, yanchor: 'top' });
    }
  }

  function legendBelow(out, traces, width, margin) {  // a legend in rows under the figure, not beside a panel
    const legend = out.legend || {};
    if (out.showlegend === false || legend.orientation === 'h') return 0;
    const names = traces.filter((t) => t.showlegend !== false && t.name).map((t) => String(t.name));
    if (!names.length) return 0;
    const itemsPx = names.reduce((sum, n) => sum + n.length * 6.6 + 46, 0);
    const rows = Math.ceil(itemsPx / Math.max(width - margin.l - margin.r, 100)) + (names.length > 1 ? 1 : 0);
    out.legend = Object.assign({}, legend, { orientation: 'h', x: 0, xanchor: 'left', y: 0, yanchor: 'bottom',
                                             yref: 'container', font: { size: 11 } });
    return rows * 19 + 6;
  }

  function wrapNotes(out, width, fontSize) {  // notes placed on the page (not on a point) wrap within the box;
    let above = 0;                             // returns the lines of those above the plot area
    for (const a of out.annotations || []) {
      if ((a.xref || 'paper') !== 'paper' || typeof a.text !== 'string' || a.showarrow) continue;
      const wrapped = wrapTitle(a.text, width * 0.9);
      if (wrapped.lines > 1) a.text = wrapped.title.text;
      if (fontSize) a.font = Object.assign({}, a.font || {}, { size: fontSize });
      if ((a.yref || 'paper') === 'paper' && a.y >= 1) {
        Object.assign(a, { y: 1, yanchor: 'bottom', yshift: 2 });
        above = Math.max(above, wrapped.lines);
      }
    }
    return above;
  }

  function axisRoom(traces) {  // px under a stacked panel: ticks and the axis title; long category names stand upright
    let longest = 0;
    for (const t of traces) {
      for (const v of Array.isArray(t.x) ? t.x : []) if (typeof v === 'string') longest = Math.max(longest, v.length);
    }
    return 64 + (longest > 8 ? Math.min(longest * 6, 110) : 0);
  }

  function titleRoom(out) {  // px above a stacked panel: its subplot title (the tallest one)
    let lines = 1;
    for (const a of out.annotations || []) {
      if (typeof a.text === 'string') lines = Math.max(lines, a.text.split(/<br\s*\/?>/i).length);
    }
    return 14 + lines * LINE_PX;
  }

  function stack(out, traces, list, margin) {  // panels one per row, full width; what sat on them moves with them
    list.sort((a, b) => (b.y1 - a.y1) || (a.x0 - b.x0));  // top row first, then left to right
    const TITLE_ROOM = titleRoom(out), AXIS_ROOM = axisRoom(traces);
    const slot = TITLE_ROOM + panelPx + AXIS_ROOM;
    const area = list.length * slot - AXIS_ROOM + 10;
    list.forEach((p, k) => {
      p.X0 = 0; p.X1 = 1;
      p.Y1 = 1 - (k * slot + TITLE_ROOM) / area; p.Y0 = p.Y1 - panelPx / area;
      out[p.x].domain = [p.X0, p.X1];
      out[p.y].domain = [p.Y0, p.Y1];
    });
    for (const a of out.annotations || []) {  // subplot titles and other notes placed on the page
      if ((a.xref || 'paper') !== 'paper' || (a.yref || 'paper') !== 'paper') continue;
      const p = nearest(list, a.x, a.y);
      a.x = moveX(p, a.x); a.y = moveY(p, a.y);
    }
    for (const t of traces) {
      const scaled = /heatmap|contour|histogram2d/.test(t.type || '') && t.showscale !== false && !t.coloraxis;
      if (t.colorbar || scaled) t.colorbar = moveColorbar(t.colorbar || {}, list);
    }
    for (const k of Object.keys(out)) {
      if (/^coloraxis\d*$/.test(k) && out[k].colorbar) out[k].colorbar = moveColorbar(out[k].colorbar, list);
    }
    margin.b = AXIS_ROOM;
    return area;
  }

  // The figure as drawn in a box `width` px wide on a narrow window: its title wrapped, its legend in rows under it,
  // side-by-side panels stacked (a large grid kept, with square cells).
  function narrowed(data, layout, width) {
    const out = clone(layout), traces = clone(data);
    const margin = Object.assign({ t: 100, b: 80, l: 80, r: 80 }, out.margin || {});
    const { title, lines } = wrapTitle(out.title, width - 10);
    if (lines) out.title = title;
    margin.t = LABEL_ROOM + lines * LINE_PX + 8;
    margin.l = Math.min(margin.l, 50);
    const bars = traces.some((t) => t.colorbar && t.showscale !== false && /heatmap|contour/.test(t.type || ''))
      || Object.keys(out).some((k) => /^coloraxis\d*$/.test(k) && out[k].showscale !== false);
    margin.r = bars ? 70 : Math.min(margin.r, 20);
    const list = panels(out), columns = new Set(list.map((p) => p.x0.toFixed(3)));
    const grid = list.length > stackMax && columns.size > 1;
    const above = wrapNotes(out, width, grid ? 9 : 0);
    if (!(list.length > 1 && columns.size > 1)) margin.t += above * LINE_PX;  // a single panel: notes over it
    const m0 = layout.margin || {};
    let area = Math.max((layout.height || 450) - (m0.t === undefined ? 100 : m0.t) - (m0.b === undefined ? 80 : m0.b),
                        panelPx);  // the plot area as the figure had it
    if (grid) {  // a grid (layers x heads): square cells in the box's width, small row and column titles
      const rows = new Set(list.map((p) => p.y0.toFixed(3))).size;
      area = rows * (width - margin.l - margin.r) / columns.size;
    } else if (list.length > 1 && columns.size > 1) {
      area = stack(out, traces, list, margin);
    }
    margin.b += legendBelow(out, traces, width, margin);
    out.margin = margin;
    out.height = Math.round(margin.t + margin.b + area);
    placeTitle(out);
    return { data: traces, layout: out };
  }

  function fitted(gd, data, layout) {
    if (!layout || !narrow()) return { data, layout };
    const box = gd.parentElement || gd;
    return narrowed(data, layout, box.getBoundingClientRect().width || window.innerWidth);
  }

  function wrap(P) {
    if (P.__minbert) return;
    P.__minbert = true;
    for (const name of ['react', 'newPlot']) {
      const original = P[name];
      P[name] = function (gd, data, layout, config) {
        if (gd && gd.nodeType === 1 && Array.isArray(data)) {
          gd.__minbertFigure = { data, layout, config, narrow: narrow() };  // redrawn if the window crosses narrowPx
          const f = fitted(gd, data, layout);
          return original.call(this, gd, f.data, f.layout, config);
        }
        return original.apply(this, arguments);
      };
    }
  }

  let plotly = window.Plotly;
  if (plotly) wrap(plotly);
  Object.defineProperty(window, 'Plotly', {
    configurable: true, get: () => plotly, set: (v) => { plotly = v; if (v) wrap(v); },
  });

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const gd of document.querySelectorAll('.js-plotly-plot')) {
        const f = gd.__minbertFigure;
        if (f && f.narrow !== narrow()) window.Plotly.react(gd, f.data, f.layout, f.config);
      }
    }, 250);
  });
})();
