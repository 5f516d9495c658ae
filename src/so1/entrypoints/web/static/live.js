// Live parts of SO1's pages, with the browser's own EventSource (server-sent events): no
// library to ship, and pages work without it (they are complete on load).
(function () {
  "use strict";
  function swap(url, id) {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var target = document.getElementById(id);
        if (html !== null && target) { target.innerHTML = html; }
      });
  }
  var board = document.getElementById("incidents-wrap");
  if (board) {
    var dashboard = new EventSource("/events/dashboard");
    dashboard.onmessage = function () { swap("/partials/incidents", "incidents-wrap"); };
  }
  var graphs = document.getElementById("charts-wrap");
  var refreshCharts = function () {};
  if (graphs) {
    var chartsUrl = "/partials/incidents/" + graphs.getAttribute("data-incident") + "/charts";
    refreshCharts = function () { swap(chartsUrl, "charts-wrap"); };
    // Metric samples arrive without timeline events: ask again while the page is in view.
    setInterval(function () { if (!document.hidden) { refreshCharts(); } }, 15000);
  }
  var timeline = document.getElementById("timeline");
  if (timeline) {
    var incident = timeline.getAttribute("data-incident");
    var after = timeline.getAttribute("data-after") || "0";
    var stream = new EventSource("/incidents/" + incident + "/events?after=" + after);
    stream.onmessage = function (event) {
      timeline.insertAdjacentHTML("afterbegin", event.data);
      swap("/partials/incidents/" + incident + "/war-room", "war-room-messages");
      refreshCharts();
    };
  }
})();
