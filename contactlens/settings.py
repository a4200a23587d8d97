"""One settings class, read from `CONTACTLENS_*` environment variables and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROLES = ("logger", "reviewer", "analyst")


class Settings(BaseSettings):
    """Everything the CLI and the service can be configured with."""

    model_config = SettingsConfigDict(env_prefix="CONTACTLENS_", extra="ignore")

    home: Path = Field(Path("models"), description="Folder for trained artifacts and the local MLflow store.")
    mlflow_tracking_uri: str | None = Field(None, description="Default: a SQLite file under `home`.")
    registered_model_name: str = "contactlens"
    model_uri: str | None = Field(
        None, description="`models:/NAME@ALIAS` or an artifact directory. Default: the champion alias."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL. Default: a SQLite file under `home`.")
    review_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Below this top confidence a contact needs review. Default: the model's.",
    )
    api_keys: str = Field("", description="Bootstrap keys: comma-separated `key:role` pairs.")
    store_raw_text: bool = Field(False, description="Store verbatims unredacted (not recommended).")
    reload_poll_seconds: float = Field(0.0, ge=0.0, description="Poll the registry alias; 0 disables.")
    encoder_threads: int = Field(1, ge=1, le=64)
    blas_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="Threads of numpy's BLAS (OpenBLAS) in the service. 1: a suggest's matrix products are "
        "small, and OpenBLAS's own threads waiting on a busy core made each one cost milliseconds.",
    )
    max_text_chars: int = Field(10_000, ge=100)
    retention_days: int = Field(
        1095, ge=1, description="Keep contacts this many days (FCA complaint records: at least 3 years)."
    )
    purge_daily: bool = Field(False, description="The service purges contacts past retention once a day.")
    max_request_chars: int = Field(
        100_000,
        ge=1_000,
        description="Characters of verbatim one request may carry in all (a batch); more is refused with "
        "413. Request bodies are refused beyond 8 bytes per character of this (plus 64 KiB).",
    )
    max_request_tokens: int = Field(
        10_000,
        ge=1_000,
        description="What one batch may cost to score, in encoder tokens (each text's tokens up to the "
        "encoder's 256, all of them again for its clauses, plus `tokens_per_text`); more is refused with "
        "413. About 0.3 ms of CPU a token: the default keeps a batch under about 4 s of CPU.",
    )
    tokens_per_text: int = Field(
        16, ge=0, description="The fixed cost of a text in a batch (cleaning, heads, storage), in tokens."
    )
    request_time_budget_seconds: float = Field(
        30.0, gt=0, description="A batch still scoring after this long stops and answers 503."
    )
    suggest_batch_max: int = Field(
        32,
        ge=1,
        le=256,
        description="Concurrent /v1/suggest calls answered by one model call (1: no batching).",
    )
    suggest_batch_workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Threads answering /v1/suggest batches at once (ONNX Runtime and numpy release the GIL): "
        "2 took one worker from 119 to 191 requests/s at concurrency 8 on 2 cores. Unset, "
        "`serve --workers N` (N > 1) gives each worker the cores shared out, at least 1.",
    )
    suggest_batch_wait_ms: float = Field(
        0.0, ge=0.0, le=50.0, description="Hold a batch that has company this long for more calls (0: never)."
    )
    suggestion_log_queue: int = Field(
        10_000,
        ge=0,
        description="Suggestion logs are written behind the answer by a thread, at most this many waiting "
        "(beyond that a log is dropped and counted, never waited for); 0: inline, one INSERT per batch on "
        "the answer's path. Contacts are always written before their 201.",
    )
    suggestion_log_linger_ms: float = Field(
        50.0,
        ge=0.0,
        le=1000.0,
        description="The write-behind log holds a row up to this long for others to share its INSERT "
        "(0: write each at once): at low rates a transaction a row took 0.4-0.7 ms of CPU. A contact "
        "naming a suggestion still held, and shutdown, write it at once.",
    )
    suggest_short_cut: bool = Field(
        True,
        description="Answer an ordinary /v1/suggest (a known key, a valid body, no query) without FastAPI's "
        "routing, validation and serialisation layers (`service.fastpath`); anything else takes the route.",
    )
    session_secret: str | None = Field(None, description="Signs the review pages' session cookie.")

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: str) -> str:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            key, _, role = pair.rpartition(":")
            if not key or role not in ROLES:
                raise ValueError(
                    f"CONTACTLENS_API_KEYS entry {pair[:4]}... must be key:role with role in {ROLES}"
                )
        return value

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI, defaulting to a SQLite store under `home`."""
        return self.mlflow_tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def resolved_model_uri(self) -> str:
        """The model to serve, defaulting to the registry's champion alias."""
        return self.model_uri or f"models:/{self.registered_model_name}@champion"

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to a SQLite file under `home`."""
        return self.database_url or f"sqlite:///{(self.home / 'contactlens.db').resolve()}"

    def bootstrap_keys(self) -> dict[str, str]:
        """The `key -> role` pairs from CONTACTLENS_API_KEYS."""
        pairs = (p.strip().rpartition(":") for p in self.api_keys.split(",") if p.strip())
        return {key: role for key, _, role in pairs}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests override with `get_settings.cache_clear()` and env vars."""
    return Settings()
