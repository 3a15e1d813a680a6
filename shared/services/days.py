"""A range of calendar days, as exports and accuracy reports filter by them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Days:
    """Days in UTC, both ends included; an end that is None is open."""

    since: date | None = None
    until: date | None = None  # not before since (shared.http.days checks it)

    @property
    def start(self) -> datetime | None:
        """The first instant of the range."""
        return datetime.combine(self.since, time(), UTC) if self.since else None

    @property
    def end(self) -> datetime | None:
        """The first instant after the range."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None

    def as_json(self) -> dict[str, str | None]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}
