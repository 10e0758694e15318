"""Domain errors. Raised deep in the code; the CLI and the UI turn them into messages for the user."""


class RagError(Exception):
    """Base class: every message says what went wrong and what to do."""


class ConfigError(RagError):
    """A setting or environment variable has a bad value. Seen by whoever configured it."""


class ModelMismatchError(RagError):
    """The store was built with another embedding model than the one configured. Seen by the CLI user."""


class StoreLockedError(RagError):
    """Another process is writing to the same embedded store. Seen by the second `rag ingest`."""


class StoreError(RagError):
    """The store cannot be opened or is inconsistent. Seen by the CLI user."""


class ReadError(RagError):
    """A file cannot be read as an article. Becomes a per-file 'failed' status, never aborts a run."""


class SkipFile(RagError):
    """A file is deliberately not ingested (empty, too large, outside the root). Becomes 'skipped'."""


class LLMError(RagError):
    """The LLM backend failed (down, timeout, unknown model). The pipeline falls back to extractive."""
