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
