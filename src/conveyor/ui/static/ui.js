// conveyor web UI: draws the charts a page carries as JSON with plotly.js (from the
// installed plotly package), loading plotly.js only on pages that have a chart.
"use strict";
(function () {
  function draw() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      var layout = Object.assign({ margin: { t: 30, r: 20, b: 40, l: 50 }, autosize: true }, figure.layout || {});
      Plotly.newPlot(el, figure.data || [], layout, { displaylogo: false, responsive: true });
      el.setAttribute("data-drawn", "true");
    });
  }
  function start() {
    if (!document.querySelector("[data-figure]")) { return; }
    if (typeof Plotly !== "undefined") { draw(); return; }
    var script = document.createElement("script");
    script.src = "/static/plotly.min.js";
    script.onload = draw;
    document.head.appendChild(script);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
