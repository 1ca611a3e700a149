// castwatch page behaviour. All page script lives here (the Content-Security-Policy forbids inline script).
// Charts: every element with data-chart and data-src is filled from its JSON endpoint; data-state tells tests and
// styles where it stands (pending, ready, empty, error, unavailable).
(function () {
  'use strict';

  var charts = new Map();

  function setState(el, state, message) {
    el.dataset.state = state;
    if (message !== undefined) {
      var chart = charts.get(el);
      if (chart) {
        chart.dispose();
        charts.delete(el);
      }
      el.textContent = '';
      var p = document.createElement('p');
      p.className = 'empty';
      p.textContent = message;
      el.appendChild(p);
    }
  }

  function renderFailedLogons(el, data) {
    if (!data.total) {
      setState(el, 'empty', 'No failed logons in this range.');
      return;
    }
    var points = data.buckets.map(function (b, i) { return [b, data.counts[i]]; });
    var chart = charts.get(el);
    if (!chart) {
      el.textContent = '';
      chart = window.echarts.init(el, null, { renderer: 'canvas' });
      charts.set(el, chart);
    }
    chart.setOption({
      useUTC: true,
      animation: false,
      grid: { left: 48, right: 16, top: 16, bottom: 40 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'time', min: data.from, max: data.to },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{
        name: 'Failed logons',
        type: 'bar',
        itemStyle: { color: '#c2410c' },
        data: points
      }]
    }, true);
    setState(el, 'ready');
  }

  function loadChart(el) {
    if (!window.echarts) {
      setState(el, 'unavailable');
      return;
    }
    setState(el, 'loading');
    fetch(el.dataset.src, { headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) {
          throw new Error('HTTP ' + res.status);
        }
        return res.json();
      })
      .then(function (data) { renderFailedLogons(el, data); })
      .catch(function (err) { setState(el, 'error', 'Could not load the chart (' + err.message + ').'); });
  }

  function init(root) {
    charts.forEach(function (chart, el) {
      if (!document.body.contains(el)) {
        chart.dispose();
        charts.delete(el);
      }
    });
    root.querySelectorAll('[data-chart][data-src]').forEach(loadChart);
  }

  // Every state-changing htmx request carries the session's CSRF token (the server refuses those without it).
  document.addEventListener('htmx:configRequest', function (ev) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && ev.detail.verb !== 'get') {
      ev.detail.headers['X-CSRF-Token'] = meta.content;
    }
  });

  document.addEventListener('DOMContentLoaded', function () {
    init(document);
    // Keep the address bar in step with the range chosen through htmx, so reload and bookmarks show the same view.
    document.body.addEventListener('htmx:afterSwap', function (ev) {
      init(ev.detail.target);
      var ov = ev.detail.target.querySelector('.overview[data-range]');
      if (ov) {
        var url = new URL(window.location.href);
        url.searchParams.set('range', ov.dataset.range);
        window.history.replaceState(null, '', url);
      }
    });
    window.addEventListener('resize', function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  });
})();
