"""The slices a recorded range is told in (`domain.model.served.ByCustomer`, issue 15): whole customers in email
order, each in exactly one slice, none over the size unless one customer alone is, the same from wherever a crash
left it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.model.served import ByCustomer, Covered


def _covered(emails: list[str]) -> list[Covered]:
    return [Covered(f"b{n}", f"o{n}", email, 1, 0, "WAITING", "r", None, False) for n, email in enumerate(emails)]


@given(st.lists(st.sampled_from(["a@x", "b@x", "B@x", "é@x", "c@x", "zz@x"]), min_size=1, max_size=40),
       st.integers(1, 12), st.integers(0, 5))
def test_slices_are_whole_customers_once_each_in_email_order(emails: list[str], most: int, resume_after: int) -> None:
    covered = _covered(emails)
    by = ByCustomer.of(covered)
    slices: list[list[Covered]] = []
    through: str | None = None
    while True:
        part, last = by.slice_after(through, most)
        if not part:
            assert last is None and by.is_last(through)
            break
        slices.append(part)
        assert len(part) <= most or len({c.customer_email for c in part}) == 1
        through = last
        if by.is_last(through):
            assert by.slice_after(through, most) == ([], None)
            break
        if len(slices) == resume_after:  # a crash here: a new reading resumes where it was told through
            by = ByCustomer.of(covered)
    told = [c for part in slices for c in part]
    assert sorted(c.id for c in told) == sorted(c.id for c in covered)  # each once
    order = [c.customer_email for c in told]
    assert order == sorted(order)  # customers in code-point order, each one's backorders together
    for part in slices:
        for email in {c.customer_email for c in part}:
            assert [c for c in part if c.customer_email == email] == [c for c in covered if c.customer_email == email]
