// Starts GraphiQL on Cartograph's page. Configuration comes from the
// data-* attributes of #graphiql (set by the Go handler), so the page needs
// no inline script and its CSP can allow scripts from 'self' only.
(function () {
  'use strict';
  var el = document.getElementById('graphiql');
  function fail(message) {
    el.className = 'cartograph-message';
    el.textContent = 'GraphiQL could not start: ' + message +
      '. The GraphQL endpoint still answers at ' + el.dataset.endpoint + '.';
  }
  try {
    if (!window.React || !window.ReactDOM || !window.GraphiQL) {
      fail('its scripts did not load (run `make assets` and rebuild)');
      return;
    }
    var props = {
      fetcher: window.GraphiQL.createFetcher({ url: el.dataset.endpoint }),
      defaultQuery: el.dataset.defaultQuery,
      shouldPersistHeaders: false,
    };
    if (el.dataset.defaultHeaders) {
      props.defaultHeaders = el.dataset.defaultHeaders;
      // Show the headers pane so the shop the requests go to is visible.
      props.defaultEditorToolsVisibility = 'headers';
    }
    el.textContent = '';
    window.ReactDOM.createRoot(el).render(window.React.createElement(window.GraphiQL, props));
  } catch (e) {
    fail(String(e && e.message || e));
  }
})();
