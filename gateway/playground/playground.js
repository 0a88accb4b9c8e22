/*
 * The Mercato playground: GraphiQL on this gateway's /graphql, with the access token
 * from the bar above it (kept in this browser's localStorage) sent as
 * Authorization: Bearer …, a tab per example operation (examples.graphql), and a
 * graphql-ws client for subscriptions on the same URL.
 */
(function () {
  'use strict';
  var TOKEN_KEY = 'mercato.playground.token';
  var input = document.getElementById('mercato-token');
  var who = document.getElementById('mercato-who');
  var url = window.location.origin + window.location.pathname;
  var wsUrl = url.replace(/^http/, 'ws');

  function token() {
    try { return window.localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  /* The claims of a JWT, for showing who the token is (never trusted: the gateway checks it). */
  function describe(t) {
    if (!t) return 'anonymous';
    try {
      var part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var claims = JSON.parse(window.atob(part + '==='.slice((part.length + 3) % 4)));
      var exp = claims.exp ? new Date(claims.exp * 1000) : null;
      return (claims.role || '?') + ' ' + (claims.sub || '?') +
        (exp ? (exp < new Date() ? ' (expired)' : ' until ' + exp.toLocaleTimeString()) : '');
    } catch (e) {
      return 'token (unreadable)';
    }
  }

  function setToken(t) {
    t = (t || '').trim().replace(/^Bearer\s+/i, '');
    try {
      if (t) window.localStorage.setItem(TOKEN_KEY, t); else window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* private mode: the token lives until the page closes */ }
    input.value = t;
    who.textContent = describe(t);
  }

  document.getElementById('mercato-token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    setToken(input.value);
  });
  document.getElementById('mercato-token-clear').addEventListener('click', function () { setToken(''); });
  setToken(token());

  var wsClient = window.graphqlWs.createClient({
    url: wsUrl,
    lazy: true,
    connectionParams: function () {
      var t = token();
      return t ? { Authorization: 'Bearer ' + t } : {};
    },
  });
  var base = GraphiQL.createFetcher({ url: url, wsClient: wsClient });
  /* The token of the bar, unless the headers editor sets Authorization itself. */
  function fetcher(params, opts) {
    var headers = Object.assign({}, (opts && opts.headers) || {});
    var has = Object.keys(headers).some(function (k) { return k.toLowerCase() === 'authorization'; });
    if (!has && token()) headers.Authorization = 'Bearer ' + token();
    return base(params, Object.assign({}, opts || {}, { headers: headers }));
  }

  /* examples.graphql: operations separated by lines of "# ---"; each becomes a tab. */
  function tabs(text) {
    return text.split(/^# ---.*$/m).map(function (s) { return s.trim(); }).filter(Boolean)
      .map(function (q) { return { query: q + '\n' }; });
  }

  function render(defaultTabs) {
    var root = ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: defaultTabs,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    }));
  }

  fetch('/graphql/assets/examples.graphql')
    .then(function (r) { return r.ok ? r.text() : ''; })
    .then(function (t) { render(tabs(t)); }, function () { render(undefined); });
})();
