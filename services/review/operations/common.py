"""Helpers shared by the operations: validation mapping and list paging."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from services.common.errors import TokenMartError
from services.review import errors
from services.review.domain import pagination, validation

T = TypeVar("T")

_INVALID_BY_REASON: dict[str, type[errors.InvalidField]] = {
    cls.reason: cls
    for cls in (
        errors.PageSizeInvalid,
        errors.PageTokenInvalid,
        errors.TitleInvalid,
        errors.DescriptionInvalid,
        errors.RewardNotPositive,
        errors.RewardTooLarge,
        errors.ReviewerRewardInvalid,
        errors.MaxClaimsInvalid,
        errors.DeadlineInvalid,
        errors.TrustTierInvalid,
        errors.ReasonRequired,
        errors.ReasonInvalid,
        errors.SubmissionInvalid,
        errors.NotesTooLong,
        errors.SameAgent,
        errors.AmountMustBePositive,
        errors.AmountTooLarge,
        errors.LimitInvalid,
        errors.EntryIdsInvalid,
    )
}


def invalid(reason: str, field: str) -> TokenMartError:
    """The INVALID_ARGUMENT error of a domain validation failure (``FIELD_INVALID`` if generic)."""
    error_class = _INVALID_BY_REASON.get(reason)
    if error_class is None:
        assert reason == errors.FieldInvalid.reason, f"no error class for reason {reason}"
        return errors.FieldInvalid(field)
    return error_class(field)


def checked(check: Callable[[], T]) -> T:
    """Run a domain validation, turning :class:`validation.Invalid` into the API error."""
    try:
        return check()
    except validation.Invalid as failure:
        raise invalid(failure.reason, failure.field) from None


def uuid_of(raw: str, *, field: str) -> uuid.UUID:
    return checked(lambda: validation.uuid_field(raw, field=field))


def optional_uuid_of(raw: str, *, field: str) -> uuid.UUID | None:
    return checked(lambda: validation.optional_uuid_field(raw, field=field))


def page_size(requested: int) -> int:
    return checked(lambda: pagination.page_size(requested))


Position = tuple[datetime.datetime, uuid.UUID]


def decode_position(token: str, *, list_name: str, filters: Mapping[str, Any]) -> Position | None:
    raw = checked(lambda: pagination.decode(token, list_name=list_name, filters=filters, width=2))
    if raw is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw[0])
        position = uuid.UUID(raw[1])
    except ValueError:
        raise errors.PageTokenInvalid() from None
    if moment.tzinfo is None:
        raise errors.PageTokenInvalid()
    return moment, position


def next_page_token(
    rows: Sequence[T],
    *,
    page_size: int,
    list_name: str,
    filters: Mapping[str, Any],
    position: Callable[[T], Position],
) -> str:
    """A token after the last row when the page is full (the caller fetched page_size + 1)."""
    if len(rows) <= page_size:
        return ""
    last_time, last_id = position(rows[page_size - 1])
    return pagination.encode(
        list_name=list_name, filters=filters, position=(last_time.isoformat(), str(last_id))
    )
