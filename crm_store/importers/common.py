"""What the three CSV importers share: reading the file, parsing cells, reporting rows at fault.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Row = TypeVar("Row")

# What the store's columns hold: Numeric(12, 2) for money, 32-bit integers for counts.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_INT = 2_147_483_647

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
    attribute_columns: list[str] = field(default_factory=list)  # read as products' attributes

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        attributes = (f"; attribute columns: {', '.join(self.attribute_columns)}"
                      if self.attribute_columns else "")
        return f"{self.kind}: {self.rows} rows read; " + ", ".join(parts) + attributes


# Bytes that are not UTF-8 are decoded to these (errors="surrogateescape"), so a bad byte
# can be reported with the row it is in instead of failing the whole read at the first one.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _cell_problems(record: list[str]) -> list[str]:
    problems = []
    for position, cell in enumerate(record, start=1):
        if (bad := _UNDECODABLE.search(cell)) is not None:
            byte = ord(bad.group()) - 0xDC00
            problems.append(f"cell {position} is not UTF-8 text (byte 0x{byte:02X}; "
                            "save the file as UTF-8)")
        if "\x00" in cell:
            problems.append(f"cell {position} contains a NUL character")
    return problems


def read_rows(
    path: Path, *, columns: tuple[str, ...], result: ImportResult, keep_extra: bool = False
) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: stripped cell}) for every non-empty record.

    Missing columns reject the file; extra columns are ignored with a warning, or with
    `keep_extra` returned too under their lower-cased names (a product's attributes). Text that is
    not UTF-8 (a latin-1 export) or holds NUL characters rejects the file, listing every row
    at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportRejected(path, [RowError(None, f"no such file: {path}")])
    with path.open("rb") as raw:
        if raw.read(2) in _UTF16_BOMS:
            raise ImportRejected(path, [RowError(None, "the file is UTF-16 text; save it as "
                                                 "CSV UTF-8")])
    try:
        # utf-8-sig: spreadsheet programs like to start CSV files with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ImportRejected(path, [RowError(None, "the file is empty")])
            if problems := _cell_problems(header):
                raise ImportRejected(path, [RowError(1, "; ".join(problems))])
            names = [h.strip().lower() for h in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise ImportRejected(path, [RowError(1, "missing column(s): " + ", ".join(missing)
                                                     + "; expected " + ",".join(columns))])
            duplicates = sorted({n for n in names if n and names.count(n) > 1})
            if duplicates:
                raise ImportRejected(path, [RowError(1, "repeated column(s): "
                                                     + ", ".join(duplicates))])
            extra = [h for h in names if h and h not in columns]
            if extra and keep_extra:
                result.attribute_columns = extra
            elif extra:
                result.warnings.append("ignored column(s) not in the format: " + ", ".join(extra))
            index = {name: names.index(name) for name in columns}
            if keep_extra:
                index.update({name: names.index(name) for name in extra})
            rows = []
            bad_text: list[RowError] = []
            for number, record in enumerate(reader, start=2):
                if not any(cell.strip() for cell in record):
                    continue
                if problems := _cell_problems(record):
                    bad_text.append(RowError(number, "; ".join(problems)))
                    continue
                if len(record) > len(names):
                    raise ImportRejected(path, [RowError(number, f"{len(record)} cells but the "
                                                         f"header has {len(names)}")])
                record = record + [""] * (len(names) - len(record))
                rows.append((number, {c: record[i].strip() for c, i in index.items()}))
    except csv.Error as exc:
        raise ImportRejected(path, [RowError(None, f"not a readable CSV file: {exc}")]) from exc
    if bad_text:
        raise ImportRejected(path, bad_text)
    result.rows = len(rows)
    return rows


def parse_all(
    path: Path, rows: Iterable[tuple[int, dict[str, str]]], *,
    parse: Callable[[int, dict[str, str]], Row], key: Callable[[Row], str],
    repeated: Callable[[Row, Row, int], tuple[Row, str]], result: ImportResult,
) -> dict[str, Row]:
    """Every row parsed and keyed by `key`, or the whole file refused with each bad row's number.

    A key seen before goes to `repeated(earlier, later, row number)`, which says which row to
    keep and what to warn: a later product or order replaces the earlier, customers merge.
    """
    errors: list[RowError] = []
    parsed: dict[str, Row] = {}
    for number, cells in rows:
        try:
            row = parse(number, cells)
        except RowProblem as exc:
            errors.append(RowError(number, str(exc)))
            continue
        earlier = parsed.get(key(row))
        if earlier is not None:
            row, warning = repeated(earlier, row, number)
            result.warnings.append(warning)
        parsed[key(row)] = row
    if errors:
        raise ImportRejected(path, errors)
    return parsed


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
    if abs(number) > MAX_AMOUNT:
        # Money columns hold 12 digits, 2 of them decimals.
        raise RowProblem(f"{what} {value} is too large (at most {MAX_AMOUNT})")
    return number.quantize(Decimal("0.01"))


def parse_int(value: str, what: str, *, minimum: int | None = None,
              maximum: int = MAX_INT) -> int:
    if len(value) > 20:
        raise RowProblem(f"{what} {value[:20]!r}... is not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise RowProblem(f"{what} {value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise RowProblem(f"{what} {number} is below {minimum}")
    if number > maximum:
        raise RowProblem(f"{what} {number} is too large (at most {maximum})")
    return number


def check_length(value: str | None, what: str, maximum: int, problems: list[str]) -> None:
    """Adds a problem when a cell is longer than its column holds."""
    if value is not None and len(value) > maximum:
        problems.append(f"{what} is too long ({len(value)} characters; at most {maximum})")


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
