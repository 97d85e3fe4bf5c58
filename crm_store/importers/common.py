"""What the three CSV importers share: reading the file, parsing cells, reporting rows at fault.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})


@dataclass(frozen=True)
class RowError:
    row: int | None  # None: about the file as a whole
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}" if self.row is not None else self.message


class ImportRejected(Exception):
    """The file was not imported at all; `errors` lists every problem found."""

    def __init__(self, path: Path, errors: list[RowError]):
        self.path = path
        self.errors = errors
        rows = sorted({e.row for e in errors if e.row is not None})
        summary = f"{len(rows)} bad row{'s' if len(rows) != 1 else ''}" if rows else "bad file"
        lines = [f"{path.name} rejected ({summary}); nothing was written:"]
        lines += [f"  {e}" for e in errors]
        super().__init__("\n".join(lines))


class RowProblem(ValueError):
    """Raised by the cell parsers; the importer adds the row number."""


@dataclass
class ImportResult:
    """What an import did. Keys are SKUs, emails or order numbers depending on the file."""

    kind: str
    path: Path
    rows: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        return f"{self.kind}: {self.rows} rows read; " + ", ".join(parts)


def read_rows(
    path: Path, *, columns: tuple[str, ...], result: ImportResult
) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: stripped cell}) for every non-empty record.

    Missing columns reject the file; extra columns are ignored with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportRejected(path, [RowError(None, f"no such file: {path}")])
    try:
        # utf-8-sig: spreadsheet programs like to start CSV files with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ImportRejected(path, [RowError(None, "the file is empty")])
            names = [h.strip().lower() for h in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise ImportRejected(path, [RowError(1, "missing column(s): " + ", ".join(missing)
                                                     + "; expected " + ",".join(columns))])
            duplicates = sorted({n for n in names if n and names.count(n) > 1})
            if duplicates:
                raise ImportRejected(path, [RowError(1, "repeated column(s): "
                                                     + ", ".join(duplicates))])
            extra = [h for h in names if h not in columns]
            if extra:
                result.warnings.append("ignored column(s) not in the format: " + ", ".join(extra))
            index = {name: names.index(name) for name in columns}
            rows = []
            for number, record in enumerate(reader, start=2):
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) > len(names):
                    raise ImportRejected(path, [RowError(number, f"{len(record)} cells but the "
                                                         f"header has {len(names)}")])
                record = record + [""] * (len(names) - len(record))
                rows.append((number, {c: record[i].strip() for c, i in index.items()}))
    except UnicodeDecodeError as exc:
        raise ImportRejected(path, [RowError(None, f"not UTF-8 text ({exc.reason} at byte "
                                             f"{exc.start})")]) from exc
    except csv.Error as exc:
        raise ImportRejected(path, [RowError(None, f"not a readable CSV file: {exc}")]) from exc
    result.rows = len(rows)
    return rows


def parse_decimal(value: str, what: str, *, allow_negative: bool = False) -> Decimal:
    if not value:
        raise RowProblem(f"{what} is empty")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RowProblem(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise RowProblem(f"{what} {value!r} is not a number")
    if number < 0 and not allow_negative:
        raise RowProblem(f"{what} {value} is negative")
    if number.as_tuple().exponent < -2:
        raise RowProblem(f"{what} {value} has more than 2 decimals")
    return number.quantize(Decimal("0.01"))


def parse_int(value: str, what: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RowProblem(f"{what} {value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise RowProblem(f"{what} {number} is below {minimum}")
    return number


def parse_bool(value: str, what: str) -> bool | None:
    """None for an empty cell (not given)."""
    word = value.lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RowProblem(f"{what} {value!r} is not true/false")


def parse_datetime(value: str, what: str) -> datetime | None:
    """ISO 8601 date or date-time; no zone means UTC. None for an empty cell."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowProblem(f"{what} {value!r} is not an ISO date (like 2025-03-14 or "
                         "2025-03-14T09:30:00)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def split_list(value: str) -> list[str]:
    """'a; b;;c' -> ['a', 'b', 'c'], order kept, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in value.split(";"):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def report_progress(progress: Progress | None, done: int, total: int, every: int = 1000) -> None:
    if progress is not None and (done % every == 0 or done == total):
        progress(done, total)
