// GraphiQL for Backorder Desk: queries and mutations over HTTP POST to /graphql, subscriptions over the
// same address's websocket (graphql-transport-ws). Signed in to the agent console, the session cookie
// goes with both; otherwise put {"Authorization": "Bearer bd_..."} in the Headers tab (it is sent as
// the websocket's connection_init payload too).
(function () {
  "use strict";
  var http = location.origin + "/graphql";
  var ws = http.replace(/^http/, "ws");
  var fetcher = GraphiQL.createFetcher({ url: http, subscriptionUrl: ws });
  var DEFAULT_QUERY = [
    "# Backorder Desk. Signed in at /agent, your session is used here; or put your API token",
    "# in Headers below as {\"Authorization\": \"Bearer bd_...\"}.",
    "#",
    "# Run: Ctrl-Enter. Autocomplete: Ctrl-Space. Docs: the book icon.",
    "",
    "{",
    "  viewer { name role }",
    "  kpis { openBackorders unitsWaiting overdueBackorders fillRate meanWaitDays }",
    "}",
    "",
  ].join("\n");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: DEFAULT_QUERY,
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: false,  // a pasted token stays in this tab, not in localStorage
  }));
})();
