// Dashboard pages (templates/pages/dashboard.html): every panel placeholder is filled from its JSON endpoint
// (GET /api/v1/dashboards/{id}/panels/{panel}) and drawn with ECharts by kind; every panel has a table view and a
// CSV link; a click on a drill-down panel sets a tab parameter and loads the panels that need it.
(function () {
  'use strict';

  var OTHER = 'Other';
  var root = document.getElementById('dashboard');
  if (!root) return;
  var form = document.getElementById('dash-form');
  var panels = Array.prototype.slice.call(root.querySelectorAll('section.panel'));
  var charts = {};

  // paramInputs maps parameter names to their form inputs (text boxes and the hidden drill-down values).
  function paramInputs() {
    var out = {};
    form.querySelectorAll('[data-param]').forEach(function (el) { out[el.dataset.param] = el; });
    return out;
  }

  function paramValues() {
    var out = {};
    var inputs = paramInputs();
    Object.keys(inputs).forEach(function (k) { out[k] = inputs[k].value; });
    return out;
  }

  function needsOf(panel) {
    return (panel.dataset.needs || '').split(' ').filter(Boolean);
  }

  function query(values) {
    var q = new URLSearchParams();
    q.set('range', form.elements.range.value);
    Object.keys(values).forEach(function (k) { if (values[k] !== '') q.set(k, values[k]); });
    return q;
  }

  function fillTitle(title, values) {
    return title.replace(/\{([A-Za-z0-9_]+)\}/g, function (m, k) { return values[k] !== undefined && values[k] !== '' ? values[k] : '…'; });
  }

  function setState(panel, state, message) {
    panel.dataset.state = state;
    panel.querySelector('.panel-status').textContent = message || '';
  }

  function cellText(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function isNumber(v) { return typeof v === 'number'; }

  // renderTable draws rows as a sortable table; clicks on rows drill down when the panel drills.
  function renderTable(panel, data) {
    var wrap = panel.querySelector('.table-wrap');
    wrap.textContent = '';
    var table = document.createElement('table');
    table.className = 'data';
    var thead = table.createTHead().insertRow();
    data.columns.forEach(function (c, i) {
      var th = document.createElement('th');
      th.textContent = c;
      th.dataset.col = i;
      th.tabIndex = 0;
      th.title = 'Sort';
      thead.appendChild(th);
    });
    var tbody = table.createTBody();
    var rows = data.rows.slice();
    function fill() {
      tbody.textContent = '';
      rows.forEach(function (r) {
        var tr = tbody.insertRow();
        tr.dataRow = r;
        r.forEach(function (v) {
          var td = tr.insertCell();
          td.textContent = cellText(v);
          if (isNumber(v)) td.className = 'num';
        });
      });
      if (rows.length === 0) {
        var td = tbody.insertRow().insertCell();
        td.colSpan = Math.max(1, data.columns.length);
        td.className = 'empty';
        td.textContent = 'No data in this time range.';
      }
      applyFilter(panel);
    }
    var sortCol = -1, asc = true;
    thead.addEventListener('click', function (ev) {
      var th = ev.target.closest('th');
      if (!th) return;
      var c = Number(th.dataset.col);
      asc = sortCol === c ? !asc : true;
      sortCol = c;
      rows.sort(function (a, b) {
        var x = a[c], y = b[c];
        var r = isNumber(x) && isNumber(y) ? x - y : cellText(x).localeCompare(cellText(y));
        return asc ? r : -r;
      });
      thead.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      fill();
    });
    if (panel.dataset.drillParam && data.kind === 'table') {
      table.classList.add('drill');
      tbody.addEventListener('click', function (ev) {
        var tr = ev.target.closest('tr');
        if (tr && tr.dataRow) drill(panel, cellText(tr.dataRow[Number(panel.dataset.drillColumn || 0)]));
      });
    }
    fill();
    wrap.appendChild(table);
    if (data.truncated) {
      var p = document.createElement('p');
      p.className = 'small muted truncated';
      p.textContent = 'Showing the first ' + data.rows.length + ' rows; download the CSV or narrow the time range for the rest.';
      wrap.appendChild(p);
    }
  }

  function applyFilter(panel) {
    var box = panel.querySelector('.table-filter');
    var needle = box ? box.value.trim().toLowerCase() : '';
    panel.querySelectorAll('.table-wrap tbody tr').forEach(function (tr) {
      tr.hidden = needle !== '' && tr.textContent.toLowerCase().indexOf(needle) < 0;
    });
  }

  // pivot turns long rows (x, series, value) into x labels and one data array per series.
  function pivot(rows, timeX) {
    var xs = [], xi = {}, series = {}, names = [];
    rows.forEach(function (r) {
      var x = timeX ? shortTime(r[0]) : cellText(r[0]);
      if (!(x in xi)) { xi[x] = xs.length; xs.push(x); }
      var s = cellText(r[1]);
      if (!(s in series)) { series[s] = []; names.push(s); }
    });
    names.forEach(function (s) { for (var i = 0; i < xs.length; i++) series[s].push(0); });
    rows.forEach(function (r) {
      var x = timeX ? shortTime(r[0]) : cellText(r[0]);
      series[cellText(r[1])][xi[x]] = r[2];
    });
    return { xs: xs, names: names, series: series };
  }

  function shortTime(iso) {
    // 2025-10-22T18:00:00Z → 10-22 18:00 (hourly) or 2025-10-22 (daily)
    var s = String(iso);
    return s.slice(11, 16) === '00:00' ? s.slice(0, 10) : s.slice(5, 10) + ' ' + s.slice(11, 16);
  }

  function chartOption(data) {
    var base = { animation: false, tooltip: { trigger: data.kind === 'pie' || data.kind === 'map' ? 'item' : 'axis', confine: true },
      grid: { left: 50, right: 20, top: 30, bottom: 60, containLabel: true } };
    var rows = data.rows;
    switch (data.kind) {
      case 'bar':
        base.xAxis = { type: 'category', data: rows.map(function (r) { return cellText(r[0]); }), axisLabel: { rotate: rows.length > 6 ? 30 : 0, interval: 0 } };
        base.yAxis = { type: 'value' };
        base.series = [{ type: 'bar', name: data.columns[1], data: rows.map(function (r) { return r[1]; }) }];
        return base;
      case 'stacked-bar':
      case 'timeseries': {
        var pv = pivot(rows, data.kind === 'timeseries' || /^\d{4}-\d\d-\d\dT/.test(cellText(rows[0] && rows[0][0])));
        base.legend = { type: 'scroll', bottom: 0 };
        base.xAxis = { type: 'category', data: pv.xs };
        base.yAxis = { type: 'value' };
        base.series = pv.names.map(function (s) {
          return data.kind === 'timeseries' ? { type: 'line', name: s, data: pv.series[s], showSymbol: false }
            : { type: 'bar', name: s, stack: 'total', data: pv.series[s] };
        });
        return base;
      }
      case 'pie':
        base.legend = { type: 'scroll', bottom: 0 };
        base.series = [{ type: 'pie', radius: ['30%', '65%'], center: ['50%', '45%'],
          data: rows.map(function (r) { return { name: cellText(r[0]), value: r[1] }; }) }];
        return base;
      case 'map': {
        var placed = rows.filter(function (r) { return r[2] !== null && r[3] !== null; });
        var max = Math.max.apply(null, [1].concat(placed.map(function (r) { return r[4]; })));
        base.xAxis = { type: 'value', min: -180, max: 180, name: 'longitude', splitLine: { show: true } };
        base.yAxis = { type: 'value', min: -90, max: 90, name: 'latitude', splitLine: { show: true } };
        base.tooltip.formatter = function (p) { return p.data.name + ': ' + p.data.value[2]; };
        base.visualMap = { min: 0, max: max, dimension: 2, orient: 'horizontal', left: 'center', bottom: 0,
          inRange: { color: ['#2e7d32', '#f9a825', '#c62828'] }, calculable: true };
        base.series = [{ type: 'scatter', data: placed.map(function (r) {
          return { name: cellText(r[1]), value: [r[3], r[2], r[4]], code: r[0] };
        }), symbolSize: function (v) { return 8 + 32 * Math.sqrt(v[2] / max); } }];
        return base;
      }
    }
    return base;
  }

  function renderTile(panel, data) {
    var el = panel.querySelector('.panel-chart');
    el.textContent = '';
    var v = document.createElement('div');
    v.className = 'tile-value';
    v.textContent = data.rows.length ? cellText(data.rows[0][0]) : '—';
    el.appendChild(v);
    if (data.rows.length && data.rows[0].length > 1) {
      var c = document.createElement('div');
      c.className = 'tile-caption muted';
      c.textContent = cellText(data.rows[0][1]);
      el.appendChild(c);
    }
    if (panel.dataset.drillParam) {
      el.classList.add('drill');
      el.tabIndex = 0;
      el.setAttribute('role', 'button');
      el.onclick = function () {
        if (data.rows.length) drill(panel, panel.dataset.drillValue || cellText(data.rows[0][0]));
      };
      el.onkeydown = function (ev) { if (ev.key === 'Enter') el.onclick(); };
    }
  }

  function renderChart(panel, data) {
    var el = panel.querySelector('.panel-chart');
    if (!el) return;
    if (data.kind === 'tile') { renderTile(panel, data); return; }
    if (!window.echarts) {
      el.textContent = 'Chart unavailable: front-end assets not built (run make web). The table view shows the data.';
      showTable(panel, true);
      return;
    }
    if (charts[panel.dataset.panel]) charts[panel.dataset.panel].dispose();
    el.textContent = '';
    if (data.rows.length === 0) {
      var p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'No data in this time range.';
      el.appendChild(p);
      return;
    }
    var chart = window.echarts.init(el, null, { renderer: 'canvas' });
    chart.setOption(chartOption(data));
    if (panel.dataset.drillParam) {
      chart.on('click', function (p) {
        if (p.name && p.name !== OTHER) drill(panel, p.name);
      });
    }
    charts[panel.dataset.panel] = chart;
    if (data.kind === 'map') {
      var unplaced = data.rows.filter(function (r) { return r[2] === null || r[3] === null; })
        .reduce(function (n, r) { return n + r[4]; }, 0);
      if (unplaced > 0) setState(panel, 'ready', unplaced + ' without a known location (see the table view).');
    }
  }

  function showTable(panel, on) {
    var btn = panel.querySelector('.view-toggle');
    var chart = panel.querySelector('.panel-chart');
    panel.querySelector('.panel-table').hidden = !on;
    if (chart) chart.hidden = on;
    if (btn) {
      btn.setAttribute('aria-pressed', on ? 'true' : 'false');
      btn.textContent = on ? 'Chart' : 'Table';
    }
    if (!on && charts[panel.dataset.panel]) charts[panel.dataset.panel].resize();
  }

  function load(panel) {
    var values = paramValues();
    var q = query(values);
    var url = panel.dataset.src + '?' + q.toString();
    panel.querySelector('.panel-title').textContent = fillTitle(panel.dataset.title, values);
    panel.querySelector('.panel-hint').hidden = true;
    q.set('format', 'csv');
    panel.querySelector('a.csv').href = panel.dataset.src + '?' + q.toString();
    setState(panel, 'loading', 'Loading…');
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) throw new Error(body.error || ('HTTP ' + resp.status));
          return body;
        });
      })
      .then(function (data) {
        panel.dataset.rows = data.rows.length;
        setState(panel, data.rows.length ? 'ready' : 'empty', '');
        renderTable(panel, data);
        renderChart(panel, data);
      })
      .catch(function (err) { setState(panel, 'error', 'Could not load: ' + err.message); });
  }

  function wait(panel) {
    if (charts[panel.dataset.panel]) { charts[panel.dataset.panel].dispose(); delete charts[panel.dataset.panel]; }
    var chart = panel.querySelector('.panel-chart');
    if (chart) chart.textContent = '';
    panel.querySelector('.table-wrap').textContent = '';
    panel.querySelector('.panel-title').textContent = fillTitle(panel.dataset.title, paramValues());
    panel.querySelector('.panel-hint').hidden = false;
    setState(panel, 'waiting', '');
  }

  function refresh(panel) {
    var values = paramValues();
    var ready = needsOf(panel).every(function (n) { return values[n]; });
    if (ready) load(panel); else wait(panel);
  }

  // drill sets the panel's parameter, clears the parameters set further down the chain, and reloads the panels
  // that need any of them.
  function drill(panel, value) {
    var inputs = paramInputs();
    var changed = [panel.dataset.drillParam];
    inputs[panel.dataset.drillParam].value = value;
    for (var i = 0; i < changed.length; i++) {
      panels.forEach(function (p) {
        var down = p.dataset.drillParam;
        if (down && needsOf(p).indexOf(changed[i]) >= 0 && changed.indexOf(down) < 0) {
          inputs[down].value = '';
          changed.push(down);
        }
      });
    }
    var url = new URL(window.location.href);
    changed.forEach(function (n) { if (inputs[n].value) url.searchParams.set(n, inputs[n].value); else url.searchParams.delete(n); });
    window.history.replaceState(null, '', url.toString());
    panels.forEach(function (p) {
      if (needsOf(p).some(function (n) { return changed.indexOf(n) >= 0; })) refresh(p);
    });
    var first = panels.filter(function (p) { return needsOf(p).indexOf(changed[0]) >= 0; })[0];
    if (first && first.scrollIntoView) first.scrollIntoView({ block: 'nearest' });
  }

  panels.forEach(function (panel) {
    var btn = panel.querySelector('.view-toggle');
    if (btn) btn.addEventListener('click', function () { showTable(panel, btn.getAttribute('aria-pressed') !== 'true'); });
    var box = panel.querySelector('.table-filter');
    if (box) box.addEventListener('input', function () { applyFilter(panel); });
    refresh(panel);
  });
  form.elements.range.addEventListener('change', function () { form.submit(); });
  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
})();
