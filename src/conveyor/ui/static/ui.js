// conveyor web UI: draws the charts a page carries as JSON (plotly.js, from the installed
// plotly package), and nothing else.
"use strict";
(function () {
  function draw() {
    if (typeof Plotly === "undefined") { return; }
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      var layout = Object.assign({ margin: { t: 30, r: 20, b: 40, l: 50 }, autosize: true }, figure.layout || {});
      Plotly.newPlot(el, figure.data || [], layout, { displaylogo: false, responsive: true });
      el.setAttribute("data-drawn", "true");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
