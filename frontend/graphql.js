// GraphQL over HTTP, shared by the customer portal (portal.js) and the agent console (agent.js): a POST to
// /graphql with the session cookie. A server that cannot be reached, or a GraphQL error, becomes an ApiError
// with a code; each page says in its own words what it means (`offline`, `words`: the portal in the
// customer's language) and what else a code calls for (`onError`: the console signs out on UNAUTHENTICATED).

export class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

export function graphqlClient({ offline, words = (code, message) => message, onError = () => {} }) {
  return async function gql(query, variables = {}) {
    let response;
    try {
      response = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query, variables }),
      });
    } catch (err) {
      throw new ApiError(offline(), "OFFLINE");
    }
    const body = await response.json().catch(() => ({}));
    if (body.errors && body.errors.length) {
      const code = (body.errors[0].extensions && body.errors[0].extensions.code) || "ERROR";
      onError(code);
      throw new ApiError(words(code, body.errors[0].message), code);
    }
    return body.data;
  };
}

// One subscription over graphql-transport-ws (a WebSocket to /graphql): `onAck` once the server took the
// connection (the subscription is sent right after), `onNext(data)` for each result, `onEnd` when the server
// ends it (the session is over, say: the socket is closed without `onClose`), `onClose` when the connection
// drops. How and when to reconnect is the page's own business.
export function subscribe({ id, query, variables, onAck, onNext, onEnd, onClose }) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const socket = new WebSocket(url, "graphql-transport-ws");
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      onAck();
      socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload.data) {
      onNext(message.payload.data);
    } else if (message.type === "error" || message.type === "complete") {
      socket.onclose = null;
      socket.close();
      onEnd();
    }
  };
  socket.onclose = onClose;
  return socket;
}
