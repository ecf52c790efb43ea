// Draws every chart of a Neural Notebooks page from its figure JSON with the plotly.js file
// shipped beside the pages (loaded before this file). Runs no output's own scripts.
(() => {
  "use strict";
  const draw = () => {
    for (const figure of document.querySelectorAll("figure.nn-chart")) {
      const plot = figure.querySelector(".nn-plot");
      const json = figure.querySelector("script.nn-figure");
      if (!plot || !json) continue;
      const Plotly = globalThis.Plotly;
      if (!Plotly) {
        plot.textContent = "plotly.js did not load: plotly.min.js must sit beside this page.";
        plot.classList.add("nn-plot-missing");
        continue;
      }
      try {
        const fig = JSON.parse(json.textContent);
        Plotly.newPlot(plot, fig.data || [], fig.layout || {}, {
          responsive: true,
          displaylogo: false,
        });
      } catch (error) {
        plot.textContent = `This chart could not be drawn: ${error}`;
        plot.classList.add("nn-plot-missing");
      }
    }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
