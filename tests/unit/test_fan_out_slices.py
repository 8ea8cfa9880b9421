"""The slices a recorded range is told in (`domain.model.served.ArrivingByCustomer`, issue 15): whole customers in
email order, each in exactly one slice, none over the size unless one customer alone is, the same from wherever a
crash left it; and, read a piece at a time, the slices of the range read whole."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.model.served import ArrivingByCustomer, Covered


@dataclass(frozen=True)
class ByCustomer:
    """The slices of a range read whole: its backorders grouped by customer, the customers in code-point order of
    their emails (each one's backorders in queue order), a slice of whole customers at a time. The rule the fan-out
    follows, stated as plainly as it can be: the fan-out cuts the same slices from what it has read so far
    (`ArrivingByCustomer`), which the second test holds it to."""

    emails: tuple[str, ...]
    theirs: dict[str, tuple[Covered, ...]]

    @classmethod
    def of(cls, covered: Sequence[Covered]) -> ByCustomer:
        theirs: dict[str, list[Covered]] = {}
        for c in covered:
            theirs.setdefault(c.customer_email, []).append(c)
        return cls(tuple(sorted(theirs)), {email: tuple(mine) for email, mine in theirs.items()})

    def slice_after(self, through: str | None, most: int) -> tuple[list[Covered], str | None]:
        """The next slice after customer `through` (None: from the first): whole customers, in email order, up to
        `most` backorders (at least one customer), and the last customer in it (None: none left)."""
        start = 0 if through is None else bisect_right(self.emails, through)
        out: list[Covered] = []
        last = None
        for email in self.emails[start:]:
            if out and len(out) + len(self.theirs[email]) > most:
                break
            out.extend(self.theirs[email])
            last = email
        return out, last

    def is_last(self, email: str | None) -> bool:
        return email is None or bisect_right(self.emails, email) == len(self.emails)


def _covered(emails: list[str]) -> list[Covered]:
    return [Covered(f"b{n}", f"o{n}", email, 1, 0, "WAITING", "r", None, False) for n, email in enumerate(emails)]


def _read_whole(covered: list[Covered]) -> ArrivingByCustomer:
    """The range read back in customer order (as the database sends it) in one piece."""
    arriving = ArrivingByCustomer()
    arriving.add(sorted(covered, key=lambda c: c.customer_email))  # stable: each one's in queue order
    arriving.end()
    return arriving


@given(st.lists(st.sampled_from(["a@x", "b@x", "B@x", "é@x", "c@x", "zz@x"]), min_size=1, max_size=40),
       st.integers(1, 12), st.integers(0, 5))
def test_slices_are_whole_customers_once_each_in_email_order(emails: list[str], most: int, resume_after: int) -> None:
    covered = _covered(emails)
    by = _read_whole(covered)
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
            by = _read_whole(covered)
    told = [c for part in slices for c in part]
    assert sorted(c.id for c in told) == sorted(c.id for c in covered)  # each once
    order = [c.customer_email for c in told]
    assert order == sorted(order)  # customers in code-point order, each one's backorders together
    for part in slices:
        for email in {c.customer_email for c in part}:
            assert [c for c in part if c.customer_email == email] == [c for c in covered if c.customer_email == email]


@given(st.lists(st.sampled_from(["a@x", "b@x", "B@x", "é@x", "c@x", "zz@x"]), min_size=0, max_size=40),
       st.integers(1, 12), st.lists(st.integers(1, 9), min_size=1, max_size=8), st.lists(st.integers(0, 3)))
def test_slices_cut_as_the_backorders_arrive_are_those_cut_from_the_whole_range(
        emails: list[str], most: int, pieces: list[int], jumps: list[int]) -> None:
    """Read a piece at a time in customer order (`ArrivingByCustomer`: a cursor's pieces of any size), the slices are
    those `ByCustomer` cuts from the whole range, and so is where each ends. When another fan-out told slices
    meanwhile (`jumps`: the told-through mark moved on by that many slices of the whole range), a slice may be
    shorter (fewer whole customers than `most` allows: what had arrived past the mark) or, with none whole yet,
    empty: every customer is still told once, whole, in order."""
    whole = ByCustomer.of(_covered(emails))
    ordered = [c for email in whole.emails for c in whole.theirs[email]]  # as the database sends them
    arriving = ArrivingByCustomer()
    sizes = iter(pieces * (len(ordered) + 1))
    read = 0
    through: str | None = None
    jumps_left = list(jumps)
    jumped = False
    told: list[Covered] = []
    for _ in range(2 * len(ordered) + len(jumps) + 3):
        while arriving.wants(most):
            if read >= len(ordered):
                arriving.end()
            else:
                size = next(sizes)
                arriving.add(ordered[read:read + size])
                read += size
        for _ in range(jumps_left.pop(0) if jumps_left else 0):  # another fan-out told on meanwhile
            part, last = whole.slice_after(through, most)
            if part:
                told.extend(part)
                through, jumped = last, True
        part, last = arriving.slice_after(through, most)
        expected, expected_last = whole.slice_after(through, most)
        if not jumped:
            assert (part, last) == (expected, expected_last)
        elif part:  # a prefix of whole customers of the slice from the whole range
            assert part == expected[:len(part)] and last is not None and last <= str(expected_last)
            assert len(part) == len(expected) or expected[len(part)].customer_email != last
        else:
            assert (last, arriving.ended) == (through, False) or (expected, last) == ([], None)
        told.extend(part)
        if last is not None:
            through = last
        assert arriving.is_last(last) == (arriving.ended and whole.is_last(last))
        if arriving.is_last(last):
            break
    else:
        raise AssertionError("never told to the end")
    assert told == ordered  # each once, whole, in order


def test_backorders_arriving_out_of_customer_order_are_refused() -> None:
    arriving = ArrivingByCustomer()
    arriving.add(_covered(["a@x", "b@x"]))
    with pytest.raises(ValueError, match="out of customer order"):
        arriving.add(_covered(["a@x"]))
