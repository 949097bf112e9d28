"""The schema. Alembic owns it (alembic/versions); these models describe it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def table(model: type[SQLModel]) -> Table:
    """A model's Core table, for statements built once (typed, unlike `model.__table__`)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


class Gateway(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    module: str = Field(max_length=255)
    description: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # SHA-256 (hex) of the token in its delivery report URL; "" while it has none.
    dlr_token: str = Field(default="", max_length=64)


class GatewayOption(SQLModel, table=True):
    __tablename__ = "gateway_option"
    __table_args__ = (UniqueConstraint("gateway_id", "kind", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway_id: int = Field(
        sa_column=Column(Integer, ForeignKey("gateway.id", ondelete="CASCADE"), index=True)
    )
    kind: str = Field(max_length=10)  # "option" or "header"
    key: str = Field(max_length=255)
    value: str = Field(default="", sa_type=Text)
    secret: bool = False


class Admin(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    password_hash: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    # Moves on with every password change; a JWT carries the value it was issued under,
    # so tokens issued before the change stop working.
    token_generation: int = 0


class LoginFailure(SQLModel, table=True):
    """Failed logins per attempted user name (existing or not), shared by all workers."""

    __tablename__ = "login_failure"

    username: str = Field(max_length=255, primary_key=True)
    failures: int = 0
    last_failure: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


class Policy(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    scope: str = Field(max_length=32)
    action: str = Field(default="", sa_type=Text)  # comma-separated, as privacyIDEA stores it
    adminuser: str = Field(default="", sa_type=Text)  # comma-separated; empty = every admin
    realm: str = Field(default="", sa_type=Text)  # comma-separated; empty = every realm
    user: str = Field(default="", sa_type=Text)  # comma-separated; empty = every user
    active: bool = True
    priority: int = 1
    description: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(default="", max_length=255)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", sa_type=Text)
    success: bool = True
    info: str = Field(default="", sa_type=Text)
    client_ip: str = Field(default="", max_length=64)
    serial: str = Field(default="", max_length=64)
    user: str = Field(default="", max_length=255)
    realm: str = Field(default="", max_length=255)


class MessageLog(SQLModel, table=True):
    """The outbox: one row per message, written before it is sent, in the same transaction
    as its cause. Never an OTP: a challenge's text is rebuilt from its token and counter;
    a /sms/send body is sealed and wiped once the message is final."""

    __tablename__ = "message"
    __table_args__ = (
        # An Idempotency-Key is the caller's; NULL (no key) never collides.
        Index("ix_message_idempotency", "caller", "idempotency_key", unique=True),
        Index("ix_message_due", "status", "not_before"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    # The route's current gateway; looked up by ix_message_gateway_id, whose first column
    # it is (an index of its own would only cost every write).
    gateway: str = Field(max_length=255)
    phone: str = Field(max_length=64)  # masked
    # queued -> sending -> sent | failed | expired; sent -> delivered | undeliverable | unknown
    status: str = Field(max_length=16)  # looked up by ix_message_due (status, not_before)
    attempts: int = 1
    parts: int = 0
    latency_ms: float = 0.0
    provider_ids: str = Field(default="", sa_type=Text)
    error: str = Field(default="", sa_type=Text)
    source: str = Field(default="api", max_length=16)
    serial: str = Field(default="", max_length=64)
    transaction_id: str = Field(default="", max_length=64, index=True)
    route: str = Field(default="", sa_type=Text)  # gateway names, comma-separated, in order
    hop: int = 0  # index into route of the current gateway
    hop_tries: int = 0  # attempts on the current gateway
    deadline: datetime | None = None  # nothing is attempted after it
    not_before: datetime | None = None  # a queued message is due from then on
    lease_owner: str = Field(default="", max_length=128)
    lease_until: datetime | None = None
    destination: str = Field(default="", sa_type=Text)  # the number, sealed; wiped when final
    body: str = Field(default="", sa_type=Text)  # /sms/send text, sealed; wiped when final
    # Not unique, not a foreign key: SQLite reuses the id of a deleted challenge.
    challenge_id: int | None = Field(default=None, index=True)
    caller: str = Field(default="", max_length=255)
    idempotency_key: str | None = Field(default=None, max_length=255)
    request_hash: str = Field(default="", max_length=64)
    # Delivery reports: the time of the report that made it final; and, for a message sent
    # through a gateway that reports, when it turns `unknown` if no final report came.
    reported_at: datetime | None = None
    report_due: datetime | None = None


class DeliveryReport(SQLModel, table=True):
    """One part of a message as its gateway reports it, matched by the gateway's id.

    The accepted attempt writes a row per provider id (state ""); a receipt that comes
    before that is kept with no message (the attempt adopts it when it writes its ids).
    """

    __tablename__ = "delivery_report"
    __table_args__ = (UniqueConstraint("gateway", "provider_id"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway: str = Field(max_length=255)
    provider_id: str = Field(max_length=255)
    message_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("message.id", ondelete="CASCADE"), index=True, nullable=True
        ),
    )
    part: int = 0
    state: str = Field(default="", max_length=16)  # "" until a report comes
    provider_status: str = Field(default="", max_length=64)
    error: str = Field(default="", max_length=255)
    reported_at: datetime | None = None  # when the gateway says it happened
    received_at: datetime | None = Field(default=None, index=True)


class DeliveryAttempt(SQLModel, table=True):
    """One try of one message through one gateway."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(
        sa_column=Column(Integer, ForeignKey("message.id", ondelete="CASCADE"), index=True)
    )
    gateway: str = Field(max_length=255)
    node: str = Field(max_length=128)  # host:pid of the process that made it
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    outcome: str = Field(default="", max_length=16)  # "" while in flight
    error: str = Field(default="", sa_type=Text)
    provider_ids: str = Field(default="", sa_type=Text)
    parts: int = 0


class ModemOwner(SQLModel, table=True):
    """Which process may send to a GSM modem; the epoch grows with every new owner."""

    __tablename__ = "modem_owner"

    device: str = Field(max_length=255, primary_key=True)
    epoch: int = 0
    owner: str = Field(default="", max_length=128)
    renewed_at: datetime = Field(default_factory=utcnow)


class Token(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=64, unique=True, index=True)
    tokentype: str = Field(default="sms", max_length=16)
    username: str = Field(default="", max_length=255, index=True)
    realm: str = Field(default="", max_length=255, index=True)
    description: str = Field(default="", sa_type=Text)
    active: bool = True
    failcount: int = 0
    maxfail: int = 10
    last_fail: datetime | None = None  # the fail counter clears some time after it
    otplen: int = 6
    counter: int = 0
    otpkey: str = Field(sa_type=Text)  # sealed with the secret box
    pin_hash: str = Field(default="", sa_type=Text)
    phone: str = Field(default="", max_length=64)
    sms_identifier: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class Challenge(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    transaction_id: str = Field(max_length=64, index=True)
    serial: str = Field(max_length=64, index=True)
    counter: int  # the HOTP counter whose OTP was sent; the OTP itself is never stored
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    answered: bool = False


class ConfigEntry(SQLModel, table=True):
    __tablename__ = "config"

    key: str = Field(max_length=255, primary_key=True)
    value: str = Field(default="", sa_type=Text)


# Traffic control (app/traffic). Rules, Geo permissions, the safe list and the settings
# are small and read through a cache; counters and gateway state change on every send.


class TrafficRule(SQLModel, table=True):
    """A counting rule; a row named like a built-in default overrides that default."""

    __tablename__ = "traffic_rule"

    name: str = Field(max_length=64, primary_key=True)
    scope: str = Field(max_length=16)  # number | prefix | country | ip | user
    window: int  # seconds
    limit: int
    mode: str = Field(default="enforce", max_length=8)  # enforce | monitor
    active: bool = True


class TrafficCountry(SQLModel, table=True):
    """A Geo permission: what challenges to numbers of one country may do."""

    __tablename__ = "traffic_country"

    code: str = Field(max_length=2, primary_key=True)  # ISO 3166-1 alpha-2
    permission: str = Field(max_length=8)  # allow | deny | monitor
    hourly_cap: int | None = None


class TrafficSafe(SQLModel, table=True):
    """A number or number prefix that no rule blocks."""

    __tablename__ = "traffic_safe"

    entry: str = Field(max_length=16, primary_key=True)  # '+' and digits
    note: str = Field(default="", sa_type=Text)


class TrafficSetting(SQLModel, table=True):
    """The settings that are not rules (number types, cooldown, conversion guard), as JSON."""

    __tablename__ = "traffic_setting"

    key: str = Field(max_length=64, primary_key=True)
    value: str = Field(default="", sa_type=Text)


class TrafficCounter(SQLModel, table=True):
    """One counter of one rule for one subject (a number, a prefix, an IP...).

    A window starts at the first hit and ends `window` seconds later; the next hit after
    that starts a new one. Times are seconds since the epoch, so the one upsert that moves
    every counter of a challenge compares numbers on both SQLite and PostgreSQL.
    """

    __tablename__ = "traffic_counter"
    # Clustered on its key in SQLite: one b-tree to write per counter, not two.
    __table_args__ = {"sqlite_with_rowid": False}

    rule: str = Field(max_length=64, primary_key=True)
    subject: str = Field(max_length=255, primary_key=True)
    started_at: float
    expires_at: float  # no index: only the purge, once a minute, looks for ended windows
    hits: int = 0
    answered: int = 0  # the conversion guard's answered challenges
    ref: str = Field(default="", max_length=64)  # the resend cooldown's open transaction
    blocked_until: float | None = None
    strikes: int = 0  # blocks so far: each one lasts twice as long as the one before


class GatewayLimit(SQLModel, table=True):
    """A gateway's contract (rate, concurrency, daily cap) and the shared state enforcing it.

    The rate is GCRA: `tat` is the theoretical arrival time of the next message, so one
    conditional UPDATE per send admits it (and reserves its slot) in every process at once.
    """

    __tablename__ = "gateway_limit"

    gateway: str = Field(max_length=255, primary_key=True)
    max_concurrency: int | None = None
    rate: float | None = None  # messages per second
    burst: int = 0  # messages beyond the rate that may go at once
    daily_cap: int | None = None
    tat: float = 0.0
    day: int = 0  # days since the epoch (UTC) that day_count counts
    day_count: int = 0


class ApiKey(SQLModel, table=True):
    """A service's credential. Only a keyed hash of the key is stored."""

    __tablename__ = "apikey"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    key_hash: str = Field(max_length=64, index=True)  # HMAC-SHA-256, hex
    actions: str = Field(default="", sa_type=Text)  # comma-separated
    created_by: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


# Gateway health and the circuit breaker read a gateway's newest attempts, the message list
# a gateway's newest messages: without these PostgreSQL sorts every row of the gateway to
# find them (33 ms at 20,000 rows).
Index(
    "ix_message_gateway_id",
    table(MessageLog).c.gateway,
    table(MessageLog).c.id,
)
Index(
    "ix_delivery_attempt_gateway_id",
    table(DeliveryAttempt).c.gateway,
    table(DeliveryAttempt).c.id,
)
# The sweep that turns silent messages `unknown` finds them here; a message of a gateway
# that does not report has no entry, so its writes cost this index nothing.
Index(
    "ix_message_report_due",
    table(MessageLog).c.report_due,
    sqlite_where=table(MessageLog).c.report_due.is_not(None),
    postgresql_where=table(MessageLog).c.report_due.is_not(None),
)
