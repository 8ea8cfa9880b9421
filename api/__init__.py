"""The GraphQL API, the Starlette app and the command line."""
