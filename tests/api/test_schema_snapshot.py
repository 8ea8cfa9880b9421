"""The committed SDL is the API's contract: any change to the schema shows up in review as a diff."""

from pathlib import Path

from api.schema import build_schema

COMMITTED = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code():
    current = str(build_schema()) + "\n"
    assert current == COMMITTED.read_text(), (
        "schema.graphql is out of date with the code: run `backorder export-schema -o schema.graphql` "
        "and commit the result")
