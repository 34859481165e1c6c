// Interactive spectrum viewer (uPlot, vendored in static/vendor/uplot). Reads the JSON named by
// data-url on #spectrum-plot: drag to zoom x, double-click to reset, shift-drag or the buttons
// to pan, Ctrl+wheel to zoom, legend entries toggle curves, peak labels drawn on the plot.
// After every redraw the visible x range is written to data-x-min / data-x-max (test hook).
(() => {
  const COLOURS = ["#1d4f91", "#b3261e", "#1e7b34", "#8a4baf", "#a64b00", "#00707a", "#555555"];
  const HEIGHT = 420;

  const fmt = (v) => (v == null || !Number.isFinite(v) ? "—" : Number(v.toPrecision(6)).toString());

  // Linear interpolation of one curve (x ascending) at x; null outside it.
  function valueAt(xs, ys, x) {
    if (!xs.length || x < xs[0] || x > xs[xs.length - 1]) return null;
    let lo = 0, hi = xs.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] <= x) lo = mid; else hi = mid;
    }
    const [x0, x1, y0, y1] = [xs[lo], xs[hi], ys[lo], ys[hi]];
    if (y0 == null || y1 == null) return y0 ?? y1;
    return x1 === x0 ? y0 : y0 + (y1 - y0) * (x - x0) / (x1 - x0);
  }

  // Vertical lines from each curve's own baseline (its stacking offset) for stick spectra.
  function sticks(base) {
    return (u, seriesIdx, idx0, idx1) => {
      const path = new Path2D();
      const xs = u.data[0], ys = u.data[seriesIdx];
      const y0 = u.valToPos(base, "y", true);
      for (let i = idx0; i <= idx1; i++) {
        if (ys[i] == null) continue;
        const px = u.valToPos(xs[i], "x", true);
        path.moveTo(px, y0);
        path.lineTo(px, u.valToPos(ys[i], "y", true));
      }
      return { stroke: path, fill: null, clip: null, band: null, gaps: null, flags: 0 };
    };
  }

  // Excluded regions of the recipe (left out of the library search) as grey bands.
  function drawMasks(u, masks) {
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.fillStyle = "rgba(80, 90, 95, 0.12)";
    for (const [a, b] of masks) {
      const left = u.valToPos(Math.min(a, b), "x", true), right = u.valToPos(Math.max(a, b), "x", true);
      ctx.fillRect(Math.min(left, right), top, Math.abs(right - left), height);
    }
    ctx.restore();
  }

  // Peak labels, most prominent first; a label that would overlap one already drawn is left out
  // (the peak table lists every peak).
  function drawPeaks(u, peaks) {
    const { ctx } = u;
    const ratio = uPlot.pxRatio;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.font = `${11 * ratio}px "Liberation Sans", "DejaVu Sans", sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3 * ratio;
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#222";
    const taken = [];
    const visible = peaks.filter((p) => p.x >= u.scales.x.min && p.x <= u.scales.x.max)
      .sort((a, b) => b.prominence - a.prominence);
    for (const peak of visible) {
      const px = u.valToPos(peak.x, "x", true), py = u.valToPos(peak.y, "y", true);
      if (taken.some((x) => Math.abs(x - px) < 13 * ratio)) continue;
      taken.push(px);
      ctx.beginPath();
      ctx.moveTo(px, py - 3 * ratio);
      ctx.lineTo(px - 3.5 * ratio, py - 10 * ratio);
      ctx.lineTo(px + 3.5 * ratio, py - 10 * ratio);
      ctx.closePath();
      ctx.fill();
      ctx.save();
      ctx.translate(px, py - 13 * ratio);
      ctx.rotate(-Math.PI / 2);
      ctx.strokeText(peak.label, 0, 0);
      ctx.fillText(peak.label, 0, 0);
      ctx.restore();
    }
    ctx.restore();
  }

  function build(container, data) {
    const readout = document.getElementById("cursor-readout");
    const tables = data.series.map((s) => [s.x, s.y]);
    const joined = tables.length === 1 ? tables[0] : uPlot.join(tables);
    const all = data.series.flatMap((s) => [s.x[0], s.x[s.x.length - 1]]).filter(Number.isFinite);
    const full = { min: Math.min(...all), max: Math.max(...all) };
    const hasSticks = data.series.some((s) => s.kind === "peaks");
    const dir = data.reverse_x ? -1 : 1;
    const sample = data.series[0];

    const series = [{ label: data.x_unit, value: (u, v) => fmt(v) }].concat(data.series.map((s, i) => ({
      label: s.label,
      stroke: COLOURS[i % COLOURS.length],
      width: 1.25,
      spanGaps: true,
      points: { show: false },
      value: (u, v) => fmt(v == null ? v : (v - s.offset) / s.scale),
      ...(s.kind === "peaks" ? { paths: sticks(s.offset) } : {}),
    })));

    const opts = {
      width: container.clientWidth || 800,
      height: HEIGHT,
      scales: {
        x: { time: false, dir },
        y: {
          range: (u, min, max) => {
            const lo = hasSticks ? Math.min(0, min) : min;
            const pad = (max - lo) * 0.05 || 1;  // more room on top for the peak labels
            return [lo - (hasSticks ? 0 : pad), max + pad * 4];
          },
        },
      },
      axes: [
        { label: data.x_unit, stroke: "#222", grid: { stroke: "#e3e3e3" } },
        { label: data.y_unit + (data.stacked ? " (offset)" : ""), stroke: "#222", size: 80,
          grid: { stroke: "#e3e3e3" }, values: (u, splits) => splits.map(fmt) },
      ],
      cursor: { drag: { x: true, y: false, setScale: true }, points: { show: false } },
      legend: { live: true },
      series,
      hooks: {
        draw: [(u) => {
          drawMasks(u, data.recipe.masks);
          drawPeaks(u, data.peaks);
          container.dataset.xMin = u.scales.x.min;
          container.dataset.xMax = u.scales.x.max;
        }],
        setCursor: [(u) => {
          const { left } = u.cursor;
          if (left == null || left < 0) return;
          const x = u.posToVal(left, "x");
          const y = valueAt(sample.x, sample.y, x);
          const value = y == null ? null : (y - sample.offset) / sample.scale;
          readout.textContent = `x = ${fmt(x)} ${data.x_unit} · y = ${fmt(value)} ${sample.y_unit}`;
        }],
      },
    };
    container.replaceChildren();
    const plot = new uPlot(opts, joined, container);

    const setX = (min, max) => {
      const span = max - min;
      if (!(span > 0)) return;
      if (span >= full.max - full.min) { min = full.min; max = full.max; }
      else if (min < full.min) { max += full.min - min; min = full.min; }
      else if (max > full.max) { min -= max - full.max; max = full.max; }
      plot.setScale("x", { min, max });
    };
    const pan = (fraction) => {
      const { min, max } = plot.scales.x;
      const shift = (max - min) * fraction * dir;
      setX(min + shift, max + shift);
    };
    const tools = document.querySelector("[data-viewer-tools]");
    tools.hidden = false;
    tools.addEventListener("click", (event) => {
      const action = event.target.closest("[data-action]")?.dataset.action;
      const { min, max } = plot.scales.x;
      if (action === "zoom-out") setX(min - (max - min) / 2, max + (max - min) / 2);
      else if (action === "pan-left") pan(-0.25);
      else if (action === "pan-right") pan(0.25);
      else if (action === "reset") setX(full.min, full.max);
    });

    // Shift-drag pans; caught on the root before uPlot's own drag-to-zoom sees it.
    plot.root.addEventListener("mousedown", (event) => {
      if (!event.shiftKey || !plot.over.contains(event.target)) return;
      event.stopPropagation();
      event.preventDefault();
      const start = { x: event.clientX, min: plot.scales.x.min, max: plot.scales.x.max };
      const perPixel = (start.max - start.min) / plot.over.clientWidth;
      const move = (e) => {
        const shift = -(e.clientX - start.x) * perPixel * dir;
        setX(start.min + shift, start.max + shift);
      };
      const up = () => {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    }, true);

    plot.over.addEventListener("wheel", (event) => {
      if (!event.ctrlKey) return;  // plain wheel keeps scrolling the page
      event.preventDefault();
      const rect = plot.over.getBoundingClientRect();
      const centre = plot.posToVal(event.clientX - rect.left, "x");
      const factor = event.deltaY < 0 ? 0.8 : 1.25;
      const { min, max } = plot.scales.x;
      setX(centre - (centre - min) * factor, centre + (max - centre) * factor);
    }, { passive: false });

    window.addEventListener("resize", () => plot.setSize({ width: container.clientWidth, height: HEIGHT }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const container = document.getElementById("spectrum-plot");
    if (!container || typeof uPlot === "undefined") return;
    fetch(container.dataset.url, { headers: { Accept: "application/json" } })
      .then(async (response) => {
        const body = await response.json();
        if (!response.ok) throw new Error(body.error || response.statusText);
        build(container, body);
      })
      .catch((error) => {
        const message = document.createElement("p");
        message.className = "error-message";
        message.textContent = `The interactive plot could not be drawn: ${error.message}`;
        container.prepend(message);
      });
  });
})();
