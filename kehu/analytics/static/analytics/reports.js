// Report charts (report builder, report page, dashboards). Data comes from json_script blocks named by each
// chart element's data-source; no inline JS (Content-Security-Policy). A click on a point opens its records.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof echarts === "undefined") return;
  document.querySelectorAll(".report-chart").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-source"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    el.style.height = el.closest(".dashboard-grid") ? "260px" : "340px";
    var chart = echarts.init(el);
    var option;
    if (data.chart === "pie") {
      var s = data.series[0] || { name: "", data: [], urls: [] };
      option = {
        tooltip: { trigger: "item", renderMode: "richText" },  // canvas text: no inline style (CSP)
        series: [{
          name: s.name, type: "pie", radius: ["30%", "65%"],
          data: data.categories.map(function (c, i) { return { name: c, value: s.data[i] }; }),
        }],
      };
    } else {
      option = {
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { type: "scroll", data: data.series.map(function (s) { return s.name; }) },
        grid: { left: 60, right: 20, bottom: 60 },
        xAxis: { type: "category", data: data.categories, axisLabel: { rotate: data.categories.length > 8 ? 30 : 0 } },
        yAxis: { type: "value" },
        series: data.series.map(function (s) {
          var item = { name: s.name, type: data.chart === "line" ? "line" : "bar", data: s.data };
          if (data.stacked && data.chart === "bar") item.stack = "total";
          return item;
        }),
      };
    }
    chart.setOption(option);
    chart.on("click", function (p) {
      var s = data.series[data.chart === "pie" ? 0 : p.seriesIndex];
      var url = s && s.urls && s.urls[p.dataIndex];
      if (url) window.location.href = url;
    });
    el.setAttribute("data-ready", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
