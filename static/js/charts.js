// The run and compare pages' line charts, drawn again with uPlot (static/vendor/uplot-*): a value for every
// curve where the pointer is, drag across to zoom into epochs (double-click to zoom out), click a legend entry
// to hide its curve. The numbers come from the server's SVG (data-series), which stays as it is without script.
(function () {
  "use strict";

  var COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#c26b00", "#495057"];
  var AXIS_FONT = "13px system-ui, sans-serif";

  function build(svg) {
    var data;
    try {
      data = JSON.parse(svg.getAttribute("data-series"));
    } catch (error) {
      return;  // the SVG stays
    }
    var xs = [];
    data.series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (xs.indexOf(p[0]) < 0) {
          xs.push(p[0]);
        }
      });
    });
    if (!xs.length || typeof uPlot === "undefined") {
      return;
    }
    xs.sort(function (a, b) { return a - b; });
    var columns = [xs];
    var series = [{label: "epoch"}];
    data.series.forEach(function (s) {
      var byX = {};
      s.points.forEach(function (p) { byX[p[0]] = p[1]; });
      columns.push(xs.map(function (x) { return x in byX ? byX[x] : null; }));
      var color = COLORS[s.color % COLORS.length];
      series.push({label: s.name, stroke: color, width: 2, dash: s.dashed ? [6, 4] : undefined,
                   points: {show: true, size: 5, fill: color}, spanGaps: true,
                   value: function (u, v) { return v == null ? "—" : v.toPrecision(4); }});
    });
    var box = document.createElement("div");
    box.className = "uplot-box";
    svg.parentNode.insertBefore(box, svg);
    var width = Math.max(260, box.clientWidth || svg.parentNode.clientWidth || 520);
    var chart = new uPlot({
      width: width, height: Math.round(Math.min(340, Math.max(240, width * 0.6))),
      scales: {x: {time: false}, y: {range: function (u, min, max) { return [Math.min(0, min), max * 1.05]; }}},
      axes: [{label: data.x_label, font: AXIS_FONT, labelFont: AXIS_FONT, incrs: [1, 2, 5, 10, 20, 50, 100]},
             {label: data.y_label, font: AXIS_FONT, labelFont: AXIS_FONT, size: 56}],
      series: series,
      cursor: {drag: {x: true, y: false}},
    }, columns, box);
    // The picture is an image with the SVG's words; its legend (each curve's name and value) stays text a screen
    // reader reads, outside the image.
    var picture = box.querySelector(".u-wrap");
    if (picture) {
      picture.setAttribute("role", "img");
      picture.setAttribute("aria-label", svg.getAttribute("aria-label") || "chart");
    }
    svg.style.display = "none";
    box.uplot = chart;
  }

  window.addEventListener("resize", function () {
    document.querySelectorAll(".uplot-box").forEach(function (box) {
      var w = Math.max(260, box.clientWidth);
      box.uplot.setSize({width: w, height: Math.round(Math.min(340, Math.max(240, w * 0.6)))});
    });
  });

  function start() {
    document.querySelectorAll("svg.line-chart[data-series]").forEach(build);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  // The run page's live part is swapped in by htmx every few seconds: draw the charts it brought.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("svg.line-chart[data-series]").forEach(function (svg) {
      if (svg.style.display !== "none") {
        build(svg);
      }
    });
  });
})();
