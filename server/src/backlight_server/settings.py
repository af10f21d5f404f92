"""Settings, declared as data: each has a type, a default, an env var and help text.

The CLI flags of ``backlight serve`` and docs/configuration.md are generated from
``SETTINGS`` (a test checks that the docs match), so they cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/backlight``, else ``~/.local/share/backlight``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "backlight"


def _meta(help_text: str, flag: bool = True) -> dict[str, Any]:
    return {"help": help_text, "flag": flag}


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata=_meta("Address to listen on."))
    port: int = field(default=8082, metadata=_meta("Port for ingest, API, UI and SDK file."))
    data_dir: Path = field(
        default_factory=default_data_dir,
        metadata=_meta(
            "Where the SQLite database and the token live. "
            "Default: $XDG_DATA_HOME/backlight or ~/.local/share/backlight."
        ),
    )
    auth_token: str = field(
        default="",
        metadata=_meta(
            "Access token for the UI and query API. Empty: generated on the "
            "first start and kept in DATA_DIR/auth_token.",
            flag=False,
        ),
    )
    public_url: str = field(
        default="",
        metadata=_meta(
            "Base URL used in links handed out (session URLs). Empty: derived from each request."
        ),
    )
    sdk_dir: str = field(
        default="",
        metadata=_meta(
            "Folder the browser SDK's files (backlight.js, backlight.esm.js) are served from "
            "at /sdk/. Empty: the copy packaged with the server, else a checkout's "
            "sdk/browser/dist."
        ),
    )
    retention_days: int = field(
        default=30, metadata=_meta("Days to keep data; older data is purged hourly. 0 keeps all.")
    )
    max_body_bytes: int = field(
        default=5 * MiB, metadata=_meta("Largest ingest request body, as sent (bytes).")
    )
    max_decompressed_bytes: int = field(
        default=32 * MiB,
        metadata=_meta("Largest ingest body after gzip decompression (bytes)."),
    )
    queue_max_jobs: int = field(
        default=512,
        metadata=_meta("Write-queue capacity in requests; beyond it ingest answers 503."),
    )
    queue_max_bytes: int = field(
        default=256 * MiB,
        metadata=_meta("Write-queue capacity in decoded bytes; beyond it ingest answers 503."),
    )
    store: str = field(
        default="",
        metadata=_meta(
            "Where data lives: sqlite:///DIR (default: DATA_DIR), chdb:///DIR (the ClickHouse "
            "engine embedded in the process) or clickhouse://[user:pass@]host:8123/db "
            "(a ClickHouse server; https: clickhouses://). See docs/scaling.md."
        ),
    )
    clickhouse_cluster: str = field(
        default="",
        metadata=_meta(
            "ClickHouse cluster name: tables are created ON CLUSTER with Replicated engines."
        ),
    )
    replay_retention_days: int = field(
        default=0,
        metadata=_meta(
            "ClickHouse stores: days to keep sessions and replays, if shorter than "
            "retention_days. 0: as retention_days."
        ),
    )
    sqlite_synchronous: str = field(
        default="normal",
        metadata=_meta(
            "SQLite synchronous mode: 'normal' survives a process crash; "
            "'full' also survives power loss, at a cost per commit."
        ),
    )
    query_timeout_ms: int = field(
        default=5000, metadata=_meta("Time limit of one query-API database query (ms).")
    )
    otlp_grpc_port: int = field(
        default=4317, metadata=_meta("Port for OTLP over gRPC (same host); 0 turns it off.")
    )
    alert_interval_s: float = field(
        default=2.0,
        metadata=_meta(
            "Seconds between two evaluations of the alert rules (and deliveries of due "
            "messages), on the one server holding the alerts lease. 0.05 to 3600."
        ),
    )
    alerts_file: str = field(
        default="",
        metadata=_meta(
            "A TOML file of alert rules, synced into the store at start (rules kept in git; "
            "read-only through the API). See docs/alerts.md#rules-in-a-file. Empty: none."
        ),
    )
    log_level: str = field(default="info", metadata=_meta("Server log level."))
    trust_proxy_headers: bool = field(
        default=False,
        metadata=_meta(
            "Take the request scheme (https) from X-Forwarded-Proto. Only behind a "
            "TLS proxy that sets that header and is the only way in: a client could "
            "send it too."
        ),
    )
    public_metrics: bool = field(
        default=False,
        metadata=_meta(
            "Serve /metrics without the access token (default: bearer token or "
            "login session required)."
        ),
    )
    public_api_docs: bool = field(
        default=False,
        metadata=_meta(
            "Serve /api/docs and /api/openapi.json without the access token "
            "(default: bearer token or login session required)."
        ),
    )
    sourcemap_max_file_bytes: int = field(
        default=64 * MiB,
        metadata=_meta(
            "Largest source map or script one upload may store (bytes); larger ones are "
            "refused with 413. See docs/sourcemaps.md."
        ),
    )
    sourcemap_max_release_files: int = field(
        default=10_000,
        metadata=_meta(
            "Most files one release of a project may hold; a new name past it is refused."
        ),
    )
    sourcemap_max_project_bytes: int = field(
        default=4096 * MiB,
        metadata=_meta(
            "Most bytes a project's uploaded files may take (each distinct file counted "
            "once); an upload past it is refused until releases are deleted or expire."
        ),
    )
    sourcemap_retention_days: int = field(
        default=180,
        metadata=_meta(
            "Days a release's uploaded files are kept after that release's newest upload; "
            "purged hourly with the other data. 0 keeps them until deleted."
        ),
    )
    sourcemap_fetch_allow_private: bool = field(
        default=False,
        metadata=_meta(
            "Let the source-map fetch path connect to loopback, private, link-local and "
            "other non-public addresses (for tests and intranets; never on a server whose "
            "projects you do not trust). See docs/sourcemaps.md#fetching-maps."
        ),
    )
    sourcemap_fetch_max_bytes: int = field(
        default=32 * MiB,
        metadata=_meta(
            "Largest script or source map the fetch path reads (bytes); the download stops "
            "there and the frame stays minified."
        ),
    )
    sourcemap_fetch_timeout_s: float = field(
        default=10.0,
        metadata=_meta(
            "Total time of one fetch (the script or the map, every redirect, every byte); "
            "a slower server is cut there. 0.05 to 120."
        ),
    )
    sourcemap_fetch_connect_timeout_s: float = field(
        default=3.0,
        metadata=_meta("Time to connect, per fetch of the source-map fetch path (s)."),
    )
    sourcemap_fetch_concurrency: int = field(
        default=4,
        metadata=_meta("Most source-map fetches in flight at once on this server."),
    )
    sourcemap_fetch_ttl_s: float = field(
        default=600.0,
        metadata=_meta(
            "Seconds a fetched map is used before its script is fetched again (per project "
            "and script URL)."
        ),
    )
    sourcemap_fetch_failure_ttl_s: float = field(
        default=60.0,
        metadata=_meta(
            "Seconds a failed or refused fetch is remembered, so its script is not asked "
            "for again on every read."
        ),
    )

    @property
    def db_path(self) -> Path:
        return self.data_dir / "backlight.db"


def env_name(name: str) -> str:
    return "BACKLIGHT_" + name.upper()


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of {', '.join(TRUE_WORDS + FALSE_WORDS)}, got {raw!r}")


def _coerce(kind: Any, raw: str) -> Any:
    if kind in (bool, "bool"):
        return parse_bool(raw)
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (Path, "Path"):
        return Path(raw).expanduser()
    return raw


def settings_from_env(
    overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Settings from defaults, then ``BACKLIGHT_*`` env vars, then explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(env_name(f.name))
        if raw is not None and raw != "":
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError as exc:
                raise SystemExit(f"{env_name(f.name)}: {exc}") from None
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = Settings(**values)
    if settings.sqlite_synchronous not in ("normal", "full"):
        raise SystemExit("sqlite_synchronous must be 'normal' or 'full'")
    if not 0.05 <= settings.alert_interval_s <= 3600:
        raise SystemExit("alert_interval_s must be between 0.05 and 3600 seconds")
    _check_fetch(settings)
    return settings


def _check_fetch(s: Settings) -> None:
    if not 0.05 <= s.sourcemap_fetch_timeout_s <= 120:
        raise SystemExit("sourcemap_fetch_timeout_s must be between 0.05 and 120 seconds")
    if not 0.05 <= s.sourcemap_fetch_connect_timeout_s <= 120:
        raise SystemExit("sourcemap_fetch_connect_timeout_s must be between 0.05 and 120 seconds")
    if not 1 <= s.sourcemap_fetch_concurrency <= 256:
        raise SystemExit("sourcemap_fetch_concurrency must be between 1 and 256")
    if not 1 <= s.sourcemap_fetch_max_bytes <= 1024 * MiB:
        raise SystemExit("sourcemap_fetch_max_bytes must be between 1 and 1 GiB")
    if s.sourcemap_fetch_ttl_s < 0 or s.sourcemap_fetch_failure_ttl_s < 0:
        raise SystemExit("sourcemap_fetch_ttl_s and sourcemap_fetch_failure_ttl_s must be >= 0")


def describe() -> list[tuple[str, str, str, str]]:
    """(name, env var, default, help) for every setting, for docs and --help."""
    rows = []
    for f in fields(Settings):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if f.name == "data_dir":
            default = "~/.local/share/backlight"
        elif isinstance(default, bool):
            default = "true" if default else "false"
        rows.append((f.name, env_name(f.name), str(default), str(f.metadata["help"])))
    return rows


def markdown_table() -> str:
    """The settings as the Markdown table in docs/configuration.md (a test keeps them equal)."""
    lines = ["| setting | flag | env var | default | meaning |", "|---|---|---|---|---|"]
    for f in fields(Settings):
        name, env, default, help_text = next(r for r in describe() if r[0] == f.name)
        flag = "--" + name.replace("_", "-") if f.metadata["flag"] else "—"
        if f.metadata["flag"] and f.type in (bool, "bool"):
            flag = "--[no-]" + name.replace("_", "-")
        lines.append(f"| `{name}` | `{flag}` | `{env}` | `{default}` | {help_text} |")
    return "\n".join(lines)
